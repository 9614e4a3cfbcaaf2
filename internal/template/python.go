package template

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"

	"github.com/stacker-go/stacker/blueprint"
	"github.com/stacker-go/stacker/internal/config"
	"github.com/stacker-go/stacker/internal/pybridge"
)

// renderPython renders a class_path that is not a Go blueprint with the
// run's Python bridge: the class gets the resolved variables and stacker's
// context; its template and CloudFormation parameter values come back and
// are handled like any other template. notGo is why the Go registry had
// no blueprint (it carries "did you mean" for near Go names).
func renderPython(ctx context.Context, cfg *config.Config, st *config.Stack, vars map[string]any, hookData map[string]map[string]any, notGo *blueprint.LookupError) (*blueprint.Template, error) {
	b := pybridge.FromContext(ctx)
	if b == nil {
		return nil, &config.Error{Pos: st.Pos, Msg: fmt.Sprintf("stack %q: %v (and Python blueprints are not available here: no Python bridge in this run)", st.Name, notGo)}
	}
	if b.Settings() == nil {
		b.Configure(cfg.PythonSettings())
	}
	pc := cfg.PythonContext()
	pc.HookData = hookData
	r, err := b.Render(ctx, pybridge.RenderRequest{
		Stack:       st.Name,
		ClassPath:   st.ClassPath,
		Description: st.Description,
		Variables:   vars,
		Context:     pc,
	})
	if err != nil {
		return nil, withGoSuggestion(err, notGo)
	}
	t, err := Parse([]byte(r.Template))
	if err != nil {
		return nil, fmt.Errorf("stack %q: Python blueprint %s rendered a template that does not parse: %w", st.Name, st.ClassPath, err)
	}
	values := make(map[string]any, len(r.Parameters))
	for k, v := range r.Parameters {
		values[k] = v
	}
	t.ParameterValues, err = ParameterValues(t.Parameters, values)
	if err != nil {
		return nil, fmt.Errorf("stack %q: Python blueprint %s: %w", st.Name, st.ClassPath, err)
	}
	t.RequiresChangeSet = t.RequiresChangeSet || r.RequiresChangeSet
	warnUndeclared(st, r.DefinedVariables, vars)
	return t, nil
}

// withGoSuggestion adds the near Go blueprint names to a Python error that
// says the class was not found, so a misspelt Go class_path still gets
// its "did you mean".
func withGoSuggestion(err error, notGo *blueprint.LookupError) error {
	var pe *pybridge.Error
	if !errors.As(err, &pe) || notGo == nil {
		return err
	}
	switch pe.Kind {
	case pybridge.KindModuleNotFound, pybridge.KindNotFound, pybridge.KindNoPython:
		if msg := notGo.Error(); strings.Contains(msg, "did you mean") {
			pe.Hint += "; " + msg + " among the Go blueprints"
		}
	}
	return err
}

// warnUndeclared warns about variables the Python blueprint does not
// declare (stacker ignored them silently).
func warnUndeclared(st *config.Stack, defined []string, vars map[string]any) {
	if len(defined) == 0 {
		return
	}
	var extra []string
	for k := range vars {
		if !slices.Contains(defined, k) {
			extra = append(extra, k)
		}
	}
	if len(extra) == 0 {
		return
	}
	sort.Strings(extra)
	slog.Warn("blueprint does not declare these variables; they are ignored", "stack", st.Name, "class_path", st.ClassPath, "variables", extra)
}
