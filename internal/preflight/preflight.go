// Package preflight checks stacks before anything changes: every stack
// whose inputs are known is rendered and its template validated locally
// (size limits, parameters declared, required parameters supplied, allowed
// values, patterns and lengths). `build --outline`, `build --dump` and the
// start of `build` run the same checks, so a misspelt template_path in one
// stack of three stops the run before the other two are touched.
//
// A stack whose variables use outputs of stacks in this config cannot be
// rendered before those outputs exist; it is checked when its own step
// renders it, before its first call.
package preflight

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/stacker-go/stacker/blueprint"
	"github.com/stacker-go/stacker/internal/config"
	"github.com/stacker-go/stacker/internal/lookup"
	"github.com/stacker-go/stacker/internal/suggest"
	"github.com/stacker-go/stacker/internal/template"
)

// Problem is one thing wrong with a stack, at the stack's position in the
// config (or the variable's, when one variable is at fault).
type Problem = config.Error

// Problems are every problem the checks found; the run must not start.
// Error() prints one per line, and errors.As finds each *config.Error.
type Problems struct{ config.Errors }

// Unwrap lets errors.As find each *config.Error.
func (p *Problems) Unwrap() []error { return p.Errors.Unwrap() }

// Options say what to check and how to resolve variables.
type Options struct {
	Config  *config.Config
	Lookups *lookup.Registry
	// Stacks are the config names to check, in order (targets are skipped).
	Stacks []string
	// Env returns the lookup environment of a stack. Offline runs return
	// one with Offline set.
	Env func(st *config.Stack) *lookup.Env
	// Exists, when set, tells whether a stack exists already (so omitted
	// parameters without a Default keep their previous values); without it
	// a missing required parameter is reported as a warning.
	Exists func(ctx context.Context, st *config.Stack) (bool, error)
	// Defer, when set, names stacks to leave to their own step (inputs
	// that exist only once the run has started, such as hook data).
	Defer func(st *config.Stack) bool
	// Offline: lookups give placeholders, so a stack whose variables hold
	// any lookup is only checked for its template file.
	Offline bool
}

// Report is what the checks found.
type Report struct {
	Problems config.Errors
	Warnings []string
	// Deferred are the stacks whose variables need outputs of this run.
	Deferred []string
}

// Err returns the problems as an error, or nil.
func (r *Report) Err() error {
	if len(r.Problems) == 0 {
		return nil
	}
	sort.SliceStable(r.Problems, func(i, j int) bool {
		a, b := r.Problems[i].Pos, r.Problems[j].Pos
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	return &Problems{r.Problems}
}

// Run checks every stack of o.Stacks.
func Run(ctx context.Context, o Options) *Report {
	rep := &Report{}
	for _, name := range o.Stacks {
		if ctx.Err() != nil {
			break
		}
		st := o.Config.Stack(name)
		if st == nil || !st.Enabled || st.ClassPath == "" && st.TemplatePath == "" {
			continue
		}
		deps, err := o.Lookups.Dependencies(st.Variables)
		if err != nil {
			rep.Problems = append(rep.Problems, &Problem{Pos: st.Pos, Msg: fmt.Sprintf("stack %q: %v", name, err)})
			continue
		}
		if len(deps) > 0 || o.Offline && hasLookups(o.Lookups, st.Variables) || o.Defer != nil && o.Defer(st) {
			// Rendered when its dependencies' outputs exist; the template
			// itself must still be there.
			rep.Deferred = append(rep.Deferred, name)
			if st.TemplatePath != "" {
				if _, err := template.Find(o.Config, st); err != nil {
					rep.Problems = append(rep.Problems, asProblem(st, err))
				}
			}
			continue
		}
		w, err := Stack(ctx, o, st)
		rep.Warnings = append(rep.Warnings, w...)
		if err != nil {
			rep.Problems = append(rep.Problems, asProblem(st, err))
		}
	}
	return rep
}

func asProblem(st *config.Stack, err error) *Problem {
	var ce *config.Error
	if errors.As(err, &ce) && ce.Pos.File != "" {
		return ce
	}
	return &Problem{Pos: st.Pos, Msg: err.Error()}
}

// Stack resolves, renders and checks one stack. The error joins every
// problem found in its template's parameters.
func Stack(ctx context.Context, o Options, st *config.Stack) ([]string, error) {
	vars := map[string]any{}
	if len(st.Variables) > 0 {
		resolved, err := o.Lookups.Resolve(ctx, st.Variables, o.Env(st))
		if err != nil {
			return nil, fmt.Errorf("stack %q: resolve variables: %w", st.Name, err)
		}
		if m, ok := resolved.(map[string]any); ok {
			vars = m
		}
	}
	tpl, err := template.Render(ctx, o.Config, st, vars)
	if err != nil {
		return nil, err
	}
	if err := template.CheckSize(tpl, o.Config.BucketName() == ""); err != nil {
		return nil, fmt.Errorf("stack %q: %w", st.Name, err)
	}
	exists := func() (bool, error) { return false, nil }
	known := o.Exists != nil
	if known {
		exists = func() (bool, error) { return o.Exists(ctx, st) }
	}
	return Parameters(st, tpl, vars, exists, known)
}

// Parameters checks a rendered template's parameter values: every value
// within its declared constraints, every parameter without a Default
// given a value (unless the stack exists: then CloudFormation keeps the
// previous value). Variables that match no parameter of a raw template
// are warnings (stacker ignored them; a .j2 template may use them itself).
func Parameters(st *config.Stack, tpl *blueprint.Template, vars map[string]any, exists func() (bool, error), existsKnown bool) ([]string, error) {
	var warns, errs []string
	names := make([]string, len(tpl.Parameters))
	for i, p := range tpl.Parameters {
		names[i] = p.Name
	}
	if st.TemplatePath != "" && !strings.HasSuffix(st.TemplatePath, ".j2") {
		declared := map[string]bool{}
		for _, n := range names {
			declared[n] = true
		}
		for _, k := range slices.Sorted(maps.Keys(vars)) {
			if !declared[k] {
				warns = append(warns, fmt.Sprintf("%s: stack %q: variable %q matches no parameter of %s and is not sent%s",
					posOf(st, k), st.Name, k, st.TemplatePath, suggest.DidYouMean(suggest.Find(k, names, suggest.Options{Limit: suggest.Fraction(3, 2), Max: 3}))))
			}
		}
	}
	var missing []string
	for _, p := range tpl.Parameters {
		v, ok := tpl.ParameterValues[p.Name]
		if !ok {
			if !p.HasDefault {
				missing = append(missing, p.Name)
			}
			continue
		}
		if msg := constraint(p, v); msg != "" {
			shown := strconv.Quote(v)
			if p.NoEcho {
				shown = "(NoEcho value not shown)"
			}
			errs = append(errs, fmt.Sprintf("parameter %s = %s: %s", p.Name, shown, msg))
		}
	}
	if len(missing) > 0 {
		ex, err := exists()
		switch {
		case err != nil:
			errs = append(errs, fmt.Sprintf("required parameters %s have no value and whether the stack exists is unknown: %v", strings.Join(missing, ", "), err))
		case !ex && existsKnown:
			errs = append(errs, fmt.Sprintf("required parameters have no value and no Default: %s (add them to the stack's variables)", strings.Join(missing, ", ")))
		case !ex:
			warns = append(warns, fmt.Sprintf("%s: stack %q: parameters %s have no value and no Default: creating the stack fails unless they are given (an existing stack keeps its previous values)",
				posOf(st, ""), st.Name, strings.Join(missing, ", ")))
		}
	}
	if len(errs) > 0 {
		return warns, fmt.Errorf("stack %q: %s", st.Name, strings.Join(errs, "; "))
	}
	return warns, nil
}

func posOf(st *config.Stack, variable string) string {
	p := st.Pos
	if vp, ok := st.VariablePos[variable]; ok && variable != "" {
		p = vp
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// constraint returns why v breaks p's constraints, or "".
func constraint(p blueprint.Parameter, v string) string {
	list := strings.HasPrefix(p.Type, "List<") || p.Type == "CommaDelimitedList"
	items := []string{v}
	if list {
		items = strings.Split(v, ",")
	}
	for _, it := range items {
		if list {
			it = strings.TrimSpace(it)
		}
		if len(p.AllowedValues) > 0 && !contains(p.AllowedValues, it) {
			return "not one of the AllowedValues " + strings.Join(p.AllowedValues, ", ")
		}
		if p.AllowedPattern != "" {
			re, err := regexp.Compile("^(?:" + p.AllowedPattern + ")$")
			if err == nil && !re.MatchString(it) {
				return "does not match the AllowedPattern " + p.AllowedPattern
			}
		}
	}
	n := utf8.RuneCountInString(v)
	if p.MinLength != nil && n < *p.MinLength {
		return fmt.Sprintf("shorter than MinLength %d", *p.MinLength)
	}
	if p.MaxLength != nil && n > *p.MaxLength {
		return fmt.Sprintf("longer than MaxLength %d", *p.MaxLength)
	}
	if p.Type == "Number" || p.MinValue != nil || p.MaxValue != nil {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || math.IsNaN(f) {
			if p.Type == "Number" {
				return "not a number"
			}
			return ""
		}
		if p.MinValue != nil && f < *p.MinValue {
			return fmt.Sprintf("less than MinValue %g", *p.MinValue)
		}
		if p.MaxValue != nil && f > *p.MaxValue {
			return fmt.Sprintf("more than MaxValue %g", *p.MaxValue)
		}
	}
	return ""
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// hasLookups reports whether any string in v holds a lookup.
func hasLookups(r *lookup.Registry, v any) bool {
	switch t := v.(type) {
	case string:
		ok, err := r.Parse(t)
		return ok || err != nil
	case []any:
		for _, e := range t {
			if hasLookups(r, e) {
				return true
			}
		}
	case map[string]any:
		for _, e := range t {
			if hasLookups(r, e) {
				return true
			}
		}
	}
	return false
}
