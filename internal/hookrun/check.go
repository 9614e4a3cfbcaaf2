package hookrun

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/stacker-go/stacker/hooks"
	"github.com/stacker-go/stacker/internal/config"
	"github.com/stacker-go/stacker/internal/lookup"
	"github.com/stacker-go/stacker/internal/suggest"
)

// Hooks returns the hooks of a stage.
func Hooks(cfg *config.Config, stage string) []config.Hook {
	switch stage {
	case PreBuild:
		return cfg.PreBuild
	case PostBuild:
		return cfg.PostBuild
	case PreDestroy:
		return cfg.PreDestroy
	case PostDestroy:
		return cfg.PostDestroy
	}
	return nil
}

// Check reports, as config errors at each hook's position, every enabled
// hook of the given stages whose path is neither a registered Go hook nor
// runnable by fb (nil: no fallback), and two enabled hooks of the stages
// sharing a data_key (stacker failed on that only when the second hook had
// run). It runs before anything changes.
func Check(ctx context.Context, cfg *config.Config, fb Fallback, stages ...string) error {
	var errs config.Errors
	keys := map[string]config.Hook{}
	for _, stage := range stages {
		for i, h := range Hooks(cfg, stage) {
			if !h.Enabled {
				continue
			}
			label := fmt.Sprintf("%s[%d]", stage, i)
			if msg := unknownPath(ctx, h.Path, fb); msg != "" {
				errs = append(errs, &config.Error{Pos: h.Pos, Msg: fmt.Sprintf("%s: path %q: %s", label, h.Path, msg)})
			}
			if h.DataKey == "" {
				continue
			}
			if first, dup := keys[h.DataKey]; dup {
				errs = append(errs, &config.Error{Pos: h.Pos, Msg: fmt.Sprintf("%s: Hook data for key %s already exists, each hook must have a unique data_key. (first set by %s at %s:%d:%d)",
					label, h.DataKey, first.Path, first.Pos.File, first.Pos.Line, first.Pos.Col)})
				continue
			}
			keys[h.DataKey] = h
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// unknownPath says why path cannot run, or "" when it can.
func unknownPath(ctx context.Context, path string, fb Fallback) string {
	if _, ok := hooks.Lookup(path); ok {
		return ""
	}
	why := "no Go hook is registered under this path"
	if fb == nil {
		why += " and Python hooks cannot run here"
	} else {
		ok, err := fb.HasHook(ctx, path)
		if ok {
			return ""
		}
		if err != nil {
			why += " and the Python bridge cannot run it: " + err.Error()
		} else {
			why += " and the Python bridge cannot import it"
		}
	}
	return why + nearest(path, hooks.Names())
}

// nearest offers up to three names; a hook path whose last element (the
// function name) matches counts as one edit away, as blueprint class paths.
func nearest(name string, names []string) string {
	return suggest.DidYouMean(suggest.Find(name, names, suggest.Options{
		Max: 3, Limit: suggest.Fraction(3, 2), Ranked: true,
		Alike: func(w, c string) bool { return lastElem(w) == lastElem(c) },
	}))
}

func lastElem(s string) string { return s[strings.LastIndex(s, ".")+1:] }

// CheckHookData reports, at the variable's position, every
// ${hook_data key::field} in the variables of the named enabled stacks
// whose key no enabled pre_build hook stores (stacks are resolved after
// pre_build and before post_build, so only pre_build data exists then).
// Keys built by nested lookups are checked when the stack is resolved.
func CheckHookData(cfg *config.Config, reg *lookup.Registry, names []string) error {
	produced := map[string]bool{}
	var keys []string
	for _, h := range cfg.PreBuild {
		if h.Enabled && h.DataKey != "" {
			produced[h.DataKey] = true
			keys = append(keys, h.DataKey)
		}
	}
	sort.Strings(keys)
	var errs config.Errors
	for _, name := range names {
		st := cfg.Stack(name)
		if st == nil || !st.Enabled {
			continue
		}
		vars := make([]string, 0, len(st.Variables))
		for v := range st.Variables {
			vars = append(vars, v)
		}
		sort.Strings(vars)
		for _, v := range vars {
			refs, err := reg.Refs(st.Variables[v], "hook_data")
			if err != nil {
				continue // Load has reported bad lookups already
			}
			for _, ref := range refs {
				if !ref.Literal {
					continue
				}
				key, _, ok := strings.Cut(ref.Data, "::")
				if !ok || produced[key] {
					continue
				}
				pos, ok := st.VariablePos[v]
				if !ok {
					pos = st.Pos
				}
				msg := fmt.Sprintf("stack %q: variable %s: %s: no enabled pre_build hook stores data under data_key %q", st.Name, v, ref.Raw, key)
				if len(keys) == 0 {
					msg += " (no pre_build hook sets a data_key)"
				} else {
					msg += nearest(key, keys)
					if !strings.Contains(msg, "did you mean") {
						msg += " (data_keys: " + strings.Join(keys, ", ") + ")"
					}
				}
				errs = append(errs, &config.Error{Pos: pos, Msg: msg})
			}
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}
