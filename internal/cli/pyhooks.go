package cli

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/stacker-go/stacker/hooks"
	"github.com/stacker-go/stacker/internal/hookrun"
	"github.com/stacker-go/stacker/internal/pybridge"
)

// pyHooks runs the hooks whose path is not a registered Go hook through a
// bridge: it is the hook runner's fallback (hookrun.Fallback). A Python
// hook is called as stacker calls it, fn(context=, provider=, **args),
// with the run's context (hook data of the hooks before it included) and
// its target's region and credentials.
type pyHooks struct {
	b *pybridge.Bridge

	mu      sync.Mutex
	checked map[string]error // HasHook answers, by path
}

var _ hookrun.Fallback = (*pyHooks)(nil)

// HasHook imports path in the Python process (starting it). The error
// says why it cannot be run: no interpreter, no such module or function,
// an import that raises, or a value that is not callable.
func (h *pyHooks) HasHook(ctx context.Context, path string) (bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err, ok := h.checked[path]; ok {
		return err == nil, err
	}
	problems, err := h.b.CheckHooks(ctx, []string{path})
	if err != nil {
		return false, err // the interpreter itself: not cached, a later call says the same
	}
	if h.checked == nil {
		h.checked = map[string]error{}
	}
	h.checked[path] = problems[path]
	return problems[path] == nil, problems[path]
}

// CallHook runs the Python hook. Failing to import it is a
// *hookrun.LoadError (stacker's "Unable to load method at <path>"); an
// exception it raises is a *pybridge.Error naming the hook, the exception and the
// line of the user's code. Hook data the hook stored itself with
// context.set_hook_data is added to in.Context.HookData, with stacker's
// error for a key that exists.
func (h *pyHooks) CallHook(ctx context.Context, path string, in *hooks.Input) (any, error) {
	call := pybridge.HookCall{Path: path, Args: in.Args}
	if s := h.b.Settings(); s != nil {
		call.Context = s.Context
	}
	if c := in.Context; c != nil {
		call.Context.Namespace = c.Namespace
		call.Context.NamespaceDelimiter = c.NamespaceDelimiter
		if c.Environment != nil {
			call.Context.Environment = c.Environment
		}
		call.Context.HookData = c.HookData
		call.Context.BucketName = c.BucketName
		call.Context.BucketRegion = c.BucketRegion
		if c.ConfigDir != "" {
			call.Context.ConfigDir = c.ConfigDir
		}
	}
	if in.AWS != nil {
		cfg, err := in.AWS(ctx)
		if err != nil {
			return nil, err
		}
		call.AWS = &cfg
	}
	res, err := h.b.CallHook(ctx, call)
	if err != nil {
		var pe *pybridge.Error
		if errors.As(err, &pe) {
			switch pe.Kind {
			case pybridge.KindModuleNotFound, pybridge.KindNotFound, pybridge.KindImportError, pybridge.KindMissingTroposphere, pybridge.KindNotCallable, pybridge.KindNoPython:
				return nil, &hookrun.LoadError{Err: err}
			}
		}
		return nil, err
	}
	if len(res.Stored) > 0 && in.Context != nil {
		if in.Context.HookData == nil {
			in.Context.HookData = map[string]map[string]any{}
		}
		for k, v := range res.Stored {
			if _, dup := in.Context.HookData[k]; dup {
				//lint:ignore ST1005 stacker 1.7's exact message
				return nil, fmt.Errorf("Hook data for key %s already exists, each hook must have a unique data_key.", k)
			}
			m, ok := v.(map[string]any)
			if !ok {
				// ${hook_data} reads fields of mappings only.
				in.UI.Infof("Hook %s stored a %T, not a mapping, under hook data key %s; ignored", path, v, k)
				continue
			}
			in.Context.HookData[k] = m
		}
	}
	return res.Value, nil
}

// hookFallback is the fallback of the run's hooks: the run's Python
// bridge, or nil when the run has none.
func hookFallback(ctx context.Context) hookrun.Fallback {
	b := pybridge.FromContext(ctx)
	if b == nil {
		return nil
	}
	return &pyHooks{b: b}
}
