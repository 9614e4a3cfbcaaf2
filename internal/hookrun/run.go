// Package hookrun runs a config's hooks with stacker 1.7's semantics
// (handle_hooks): one stage at a time, in order, disabled hooks skipped,
// required hooks stopping the run, falsy results failing, mapping results
// stored under their data_key. It finds a hook in the public Go registry
// (package hooks), else asks a Fallback (the Python bridge). It knows
// nothing of CloudFormation; AWS credentials come from the caller per
// target.
package hookrun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stacker-go/stacker/hooks"
	"github.com/stacker-go/stacker/internal/config"
	"github.com/stacker-go/stacker/internal/target"
)

// Stages, in the order a build or destroy runs them.
const (
	PreBuild    = "pre_build"
	PostBuild   = "post_build"
	PreDestroy  = "pre_destroy"
	PostDestroy = "post_destroy"
)

// Fallback runs hooks whose path is not registered in Go: stacker's Python
// hooks, through the Python bridge.
type Fallback interface {
	// HasHook reports whether path names a function the fallback can call.
	// An error says why it cannot (no Python interpreter, no such module,
	// an import that raises).
	HasHook(ctx context.Context, path string) (bool, error)
	// CallHook calls the function with the hook's args and returns its
	// result converted to Go values (a mapping as map[string]any).
	CallHook(ctx context.Context, path string, in *hooks.Input) (any, error)
}

// LoadError is a Fallback's failure to import a hook's function
// (stacker's "Unable to load method at <path>:").
type LoadError struct{ Err error }

func (e *LoadError) Error() string { return e.Err.Error() }
func (e *LoadError) Unwrap() error { return e.Err }

// Console is where hook lines and prompts go (internal/ui.Console).
type Console interface {
	Infof(format string, args ...any)
	Prompt(label string, secret, allowPipe bool) (string, error)
	IsTerminal() bool
}

// Runner runs the hooks of one build or destroy. Hooks of a run share one
// Context, so data stored by pre_build is seen by post_build.
type Runner struct {
	Console Console
	// Context is given to every hook; its HookData collects the results.
	Context *hooks.Context
	// AWS returns the aws.Config of a target (the run's factory, with its
	// call counting).
	AWS func(ctx context.Context, k target.Key) (aws.Config, error)
	// Fallback runs hooks not registered in Go; nil means none.
	Fallback Fallback
	// Log receives debug lines; nil means slog.Default().
	Log *slog.Logger
	// Streams given to hooks that run programs.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// FailedError is a required hook's failure: the run stops (exit 1).
type FailedError struct {
	Stage string
	Hook  config.Hook
	Err   error
}

func (e *FailedError) Error() string {
	return fmt.Sprintf("%s hook %s (%s:%d:%d) failed: %v", e.Stage, e.Hook.Path, e.Hook.Pos.File, e.Hook.Pos.Line, e.Hook.Pos.Col, e.Err)
}

func (e *FailedError) Unwrap() error { return e.Err }

// errFalsy is the error of a required hook whose result was falsy.
type errFalsy struct{ result string }

func (e errFalsy) Error() string { return "it returned " + e.result }

func (r *Runner) log() *slog.Logger {
	if r.Log != nil {
		return r.Log
	}
	return slog.Default()
}

// Run runs the hooks of one stage, in order. A required hook that fails
// returns a *FailedError and no later hook runs; a non-required one is
// reported and the stage goes on.
func (r *Runner) Run(ctx context.Context, stage string, list []config.Hook) error {
	if len(list) == 0 {
		r.log().Debug("No " + stage + " hooks defined.")
		return nil
	}
	paths := make([]string, len(list))
	for i, h := range list {
		paths[i] = h.Path
	}
	r.Console.Infof("Executing %s hooks: %s", stage, strings.Join(paths, ", "))
	if r.Context.HookData == nil {
		r.Context.HookData = map[string]map[string]any{}
	}
	for _, h := range list {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !h.Enabled {
			r.log().Debug(fmt.Sprintf("hook with method %s is disabled, skipping", h.Path))
			continue
		}
		if err := r.one(ctx, stage, h); err != nil {
			return err
		}
	}
	return nil
}

func (r *Runner) one(ctx context.Context, stage string, h config.Hook) error {
	fail := func(err error) error { return &FailedError{Stage: stage, Hook: h, Err: err} }
	in := r.input(h)
	var result any
	var err error
	if fn, ok := hooks.Lookup(h.Path); ok {
		result, err = callSafely(ctx, fn, in)
	} else if r.Fallback != nil {
		result, err = r.Fallback.CallHook(ctx, h.Path, in)
		var le *LoadError
		if errors.As(err, &le) {
			r.Console.Infof("Unable to load method at %s: %v", h.Path, le.Err)
			if h.Required {
				return fail(err)
			}
			return nil
		}
	} else {
		err = &LoadError{Err: fmt.Errorf("no hook is registered under %s", h.Path)}
		r.Console.Infof("Unable to load method at %s: %v", h.Path, err)
		if h.Required {
			return fail(err)
		}
		return nil
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.Console.Infof("Method %s threw an exception: %v", h.Path, err)
		if h.Required {
			return fail(err)
		}
		return nil
	}
	if !Truthy(result) {
		if h.Required {
			r.Console.Infof("Required hook %s failed. Return value: %s", h.Path, Repr(result))
			return fail(errFalsy{Repr(result)})
		}
		r.Console.Infof("Non-required hook %s failed. Return value: %s", h.Path, Repr(result))
		return nil
	}
	m, isMap := AsMapping(result)
	switch {
	case !isMap:
	case h.DataKey == "":
		r.log().Debug(fmt.Sprintf("Hook %s returned result data, but no data key set, so ignoring.", h.Path))
	default:
		if _, dup := r.Context.HookData[h.DataKey]; dup {
			//lint:ignore ST1005 stacker 1.7's exact message
			return fail(fmt.Errorf("Hook data for key %s already exists, each hook must have a unique data_key.", h.DataKey))
		}
		r.log().Debug(fmt.Sprintf("Adding result for hook %s to context in data_key %s.", h.Path, h.DataKey))
		r.Context.HookData[h.DataKey] = m
	}
	return nil
}

// callSafely turns a hook's panic into an error: hooks are user code.
func callSafely(ctx context.Context, fn hooks.Func, in *hooks.Input) (result any, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return fn(ctx, in)
}

// HookTarget is the target a hook runs with: the default target unless
// its args name a profile or region (strings).
func HookTarget(h config.Hook) target.Key {
	var k target.Key
	if s, ok := h.Args["profile"].(string); ok {
		k.Profile = s
	}
	if s, ok := h.Args["region"].(string); ok {
		k.Region = s
	}
	return k
}

func (r *Runner) input(h config.Hook) *hooks.Input {
	k := HookTarget(h)
	args := h.Args
	if args == nil {
		args = map[string]any{}
	}
	return &hooks.Input{
		Path:    h.Path,
		Args:    args,
		Context: r.Context,
		Target:  k.String(),
		AWS: func(ctx context.Context) (aws.Config, error) {
			cfg, err := r.AWS(ctx, k)
			if err != nil {
				return cfg, fmt.Errorf("credentials for %s: %w", k, err)
			}
			return cfg, nil
		},
		UI:     consoleUI{r.Console},
		Stdin:  r.Stdin,
		Stdout: r.Stdout,
		Stderr: r.Stderr,
	}
}

// consoleUI adapts the run's console to hooks.UI.
type consoleUI struct{ c Console }

func (u consoleUI) Infof(format string, args ...any) { u.c.Infof(format, args...) }
func (u consoleUI) CanPrompt() bool                  { return u.c.IsTerminal() }
func (u consoleUI) Prompt(label string) (string, error) {
	s, err := u.c.Prompt(label, false, false)
	if err != nil && !u.c.IsTerminal() {
		return "", fmt.Errorf("%w: %q needs an answer", hooks.ErrNoTerminal, strings.TrimSpace(label))
	}
	return s, err
}

// Truthy is Python's truth value of a hook result: nil, false, zero
// numbers, empty strings, maps, slices are false; everything else true.
func Truthy(v any) bool {
	if v == nil {
		return false
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Bool:
		return rv.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int() != 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return rv.Uint() != 0
	case reflect.Float32, reflect.Float64:
		return rv.Float() != 0
	case reflect.String, reflect.Map, reflect.Slice, reflect.Array:
		return rv.Len() != 0
	case reflect.Pointer, reflect.Interface:
		return !rv.IsNil()
	}
	return true
}

// AsMapping returns a result that is a mapping with string keys as a
// map[string]any (stacker stores only Mapping results).
func AsMapping(v any) (map[string]any, bool) {
	if m, ok := v.(map[string]any); ok {
		return m, true
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Map || rv.Type().Key().Kind() != reflect.String {
		return nil, false
	}
	out := make(map[string]any, rv.Len())
	it := rv.MapRange()
	for it.Next() {
		out[it.Key().String()] = it.Value().Interface()
	}
	return out, true
}

// Repr formats a value as Python's str() would in stacker's messages:
// None, False, True, {}, [], 'text' inside containers.
func Repr(v any) string { return repr(v, false) }

func repr(v any, nested bool) string {
	if v == nil {
		return "None"
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Bool:
		if rv.Bool() {
			return "True"
		}
		return "False"
	case reflect.String:
		if nested {
			return "'" + strings.ReplaceAll(rv.String(), "'", `\'`) + "'"
		}
		return rv.String()
	case reflect.Slice, reflect.Array:
		parts := make([]string, rv.Len())
		for i := range parts {
			parts[i] = repr(rv.Index(i).Interface(), true)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case reflect.Map:
		keys := rv.MapKeys()
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			parts = append(parts, repr(k.Interface(), true)+": "+repr(rv.MapIndex(k).Interface(), true))
		}
		sort.Strings(parts)
		return "{" + strings.Join(parts, ", ") + "}"
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return "None"
		}
		return repr(rv.Elem().Interface(), nested)
	}
	return fmt.Sprint(v)
}
