package lookup

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/stacker-go/stacker/internal/suggest"
)

// Registry maps lookup types to handlers. Register and SetEnvironment are
// set-up calls; once set up, a Registry is safe for concurrent use.
type Registry struct {
	handlers map[string]Handler
	types    []string // sorted names, rebuilt on Register
	// env is the config environment used to work out dependencies whose
	// stack name comes from a nested lookup (${output ${default s::vpc}::Id}).
	env       map[string]any
	configDir string
}

// DataChecker is implemented by handlers that can check the syntax of their
// data without resolving it; Validate calls it for lookups whose data holds
// no nested lookup.
type DataChecker interface {
	CheckData(data string) error
}

// NewRegistry returns a registry with the built-in handlers: output, xref,
// rxref, default, envvar, file, split, kms, ssmstore, dynamodb, ami and
// hook_data.
func NewRegistry() *Registry {
	r := &Registry{handlers: map[string]Handler{}}
	r.Register("output", outputHandler{})
	r.Register("xref", xrefHandler{})
	r.Register("rxref", xrefHandler{relative: true})
	r.Register("default", defaultHandler{})
	r.Register("envvar", envvarHandler{})
	r.Register("file", fileHandler{})
	r.Register("split", splitHandler{})
	r.Register("hook_data", hookDataHandler{})
	r.Register("kms", kmsHandler{})
	r.Register("ssmstore", ssmHandler{})
	r.Register("dynamodb", dynamoHandler{})
	r.Register("ami", amiHandler{})
	return r
}

// Register adds or replaces a handler.
func (r *Registry) Register(name string, h Handler) {
	if r.handlers == nil {
		r.handlers = map[string]Handler{}
	}
	r.handlers[name] = h
	r.types = r.types[:0:0]
	for n := range r.handlers {
		r.types = append(r.types, n)
	}
	sort.Strings(r.types)
}

// Types returns the registered lookup types, sorted.
func (r *Registry) Types() []string { return slices.Clone(r.types) }

// SetEnvironment gives the registry the config environment and directory,
// which Dependencies uses to resolve nested lookups in an output lookup's
// stack name. Call it before the registry is shared.
func (r *Registry) SetEnvironment(env map[string]any, configDir string) {
	r.env, r.configDir = env, configDir
}

func (r *Registry) parse(s string) ([]part, error) {
	p := parser{
		s:     s,
		known: func(t string) bool { _, ok := r.handlers[t]; return ok },
		types: func() []string { return r.types },
	}
	return p.parse()
}

// Parse reports whether s holds lookups, checking their syntax. It is what
// Validate does for one string.
func (r *Registry) Parse(s string) (hasLookups bool, err error) {
	if !strings.Contains(s, "${") {
		return false, nil
	}
	parts, err := r.parse(s)
	if err != nil {
		return false, err
	}
	_, lit := literal(parts)
	return !lit, nil
}

// ---- custom handlers ----------------------------------------------------

var (
	customMu sync.RWMutex
	custom   = map[string]Handler{}
)

// RegisterCustom makes a handler available to configs under name: a
// config's `lookups: {mytype: name}` then registers it as type mytype. It
// is what the public package github.com/stacker-go/stacker/lookup calls
// (teams register from an init function in their own build of stacker); a
// bridge to handlers written in another language registers the same way.
// An empty name, a nil handler or a name already registered is an error.
func RegisterCustom(name string, h Handler) error {
	if name == "" {
		return errors.New("custom lookup handler: empty name")
	}
	if h == nil {
		return fmt.Errorf("custom lookup handler %q: nil handler", name)
	}
	customMu.Lock()
	defer customMu.Unlock()
	if _, dup := custom[name]; dup {
		return fmt.Errorf("custom lookup handler %q registered twice", name)
	}
	custom[name] = h
	return nil
}

// CustomNames returns the names given to RegisterCustom, sorted.
func CustomNames() []string {
	customMu.RLock()
	defer customMu.RUnlock()
	names := make([]string, 0, len(custom))
	for n := range custom {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// UseCustom registers the custom handler named handler as lookup type typ.
// An unknown handler name is an error listing the registered ones.
func (r *Registry) UseCustom(typ, handler string) error {
	customMu.RLock()
	h, ok := custom[handler]
	customMu.RUnlock()
	if !ok {
		names := CustomNames()
		msg := fmt.Sprintf("lookup handler %q is not built into this stacker binary", handler)
		if len(names) == 0 {
			return errors.New(msg + " (no custom lookup handlers are registered; a Go program registers them with lookup.Register from github.com/stacker-go/stacker/lookup)")
		}
		if sug := suggest.One(handler, names, 3); sug != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", sug)
		}
		return fmt.Errorf("%s; registered custom handlers: %s", msg, strings.Join(names, ", "))
	}
	r.Register(typ, h)
	return nil
}

// ---- walking values -----------------------------------------------------

// walkStrings calls fn for every string in v (strings, []any, []string,
// map[string]any, map[string]string), with a path naming where it is.
func walkStrings(v any, path string, fn func(path, s string) error) error {
	switch t := v.(type) {
	case string:
		return fn(path, t)
	case []any:
		for i, e := range t {
			if err := walkStrings(e, path+"["+strconv.Itoa(i)+"]", fn); err != nil {
				return err
			}
		}
	case []string:
		for i, e := range t {
			if err := fn(path+"["+strconv.Itoa(i)+"]", e); err != nil {
				return err
			}
		}
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(t)) {
			if err := walkStrings(t[k], joinPath(path, k), fn); err != nil {
				return err
			}
		}
	case map[string]string:
		for _, k := range slices.Sorted(maps.Keys(t)) {
			if err := fn(joinPath(path, k), t[k]); err != nil {
				return err
			}
		}
	}
	return nil
}

func joinPath(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

// wrapPath prefixes an error with the variable it came from.
func wrapPath(path string, err error) error {
	if path == "" {
		return err
	}
	return fmt.Errorf("variable %s: %w", path, err)
}

// ---- Validate -----------------------------------------------------------

// Validate parses every lookup in v without resolving anything: unknown
// (misspelt) types, and data a handler can check on its own (a missing
// "::" in an output lookup, an unknown file codec...).
func (r *Registry) Validate(v any) error {
	return walkStrings(v, "", func(path, s string) error {
		if err := r.ValidateString(s); err != nil {
			return wrapPath(path, err)
		}
		return nil
	})
}

// ValidateString is Validate for one string.
func (r *Registry) ValidateString(s string) error {
	if !strings.Contains(s, "${") {
		return nil
	}
	parts, err := r.parse(s)
	if err != nil {
		return err
	}
	return r.checkCalls(parts)
}

func (r *Registry) checkCalls(parts []part) error {
	return walkCalls(parts, func(c *call) error {
		data, lit := literal(c.data)
		if !lit {
			return nil
		}
		if dc, ok := r.handlers[c.typ].(DataChecker); ok {
			if err := dc.CheckData(data); err != nil {
				return fmt.Errorf("%s: %w", c.raw, err)
			}
		}
		return nil
	})
}

// CheckString does ValidateString and StringDependencies with one parse.
func (r *Registry) CheckString(s string) ([]string, error) {
	if !strings.Contains(s, "${") {
		return nil, nil
	}
	parts, err := r.parse(s)
	if err != nil {
		return nil, err
	}
	if err := r.checkCalls(parts); err != nil {
		return nil, err
	}
	return r.callDependencies(parts)
}

// ---- Dependencies -------------------------------------------------------

// Dependencies returns the stacks that lookups in v depend on (output
// lookups, nested ones included), sorted and without repeats. When a
// stack name is itself built by nested lookups, they are resolved from the
// environment given to SetEnvironment if that needs no AWS, outputs or hook
// data; otherwise that dependency cannot be known before the run and is
// left out.
func (r *Registry) Dependencies(v any) ([]string, error) {
	var deps []string
	err := walkStrings(v, "", func(path, s string) error {
		d, err := r.StringDependencies(s)
		if err != nil {
			return wrapPath(path, err)
		}
		deps = append(deps, d...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(deps)
	return slices.Compact(deps), nil
}

// StringDependencies is Dependencies for one string, unsorted.
func (r *Registry) StringDependencies(s string) ([]string, error) {
	if !strings.Contains(s, "${") {
		return nil, nil
	}
	parts, err := r.parse(s)
	if err != nil {
		return nil, err
	}
	return r.callDependencies(parts)
}

func (r *Registry) callDependencies(parts []part) ([]string, error) {
	var deps []string
	err := walkCalls(parts, func(c *call) error {
		dh, ok := r.handlers[c.typ].(DependencyHandler)
		if !ok {
			return nil
		}
		data, lit := literal(c.data)
		if !lit {
			// Nested lookups in the data: resolvable only from the
			// environment, with no outputs, hook data or AWS.
			env := &Env{Environment: r.env, ConfigDir: r.configDir}
			v, err := r.evalParts(context.Background(), c.data, env)
			if err != nil {
				return nil // not knowable before the run
			}
			str, ok := v.(string)
			if !ok {
				return nil
			}
			data = str
		}
		d, err := dh.Dependencies(data)
		if err != nil {
			return fmt.Errorf("%s: %w", c.raw, err)
		}
		deps = append(deps, d...)
		return nil
	})
	return deps, err
}

// ---- Resolve ------------------------------------------------------------

// Resolve returns a copy of v with every lookup resolved: strings, []any,
// []string and maps at any depth. A value that is exactly one lookup takes
// the lookup's result whatever its type; lookups concatenated with other
// text must return strings.
func (r *Registry) Resolve(ctx context.Context, v any, env *Env) (any, error) {
	if env == nil {
		env = &Env{}
	}
	if env.Cache == nil {
		e := *env
		e.Cache = NewCache()
		env = &e
	}
	return r.resolve(ctx, v, "", env)
}

func (r *Registry) resolve(ctx context.Context, v any, path string, env *Env) (any, error) {
	switch t := v.(type) {
	case string:
		out, err := r.ResolveString(ctx, t, env)
		if err != nil {
			return nil, wrapPath(path, err)
		}
		return out, nil
	case []any:
		return resolveList(ctx, r, t, path, env)
	case []string:
		return resolveList(ctx, r, t, path, env)
	case map[string]any:
		return resolveMap(ctx, r, t, path, env)
	case map[string]string:
		return resolveMap(ctx, r, t, path, env)
	default:
		return v, nil
	}
}

// ResolveString resolves the lookups in one string.
func (r *Registry) ResolveString(ctx context.Context, s string, env *Env) (any, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	parts, err := r.parse(s)
	if err != nil {
		return nil, err
	}
	if env == nil {
		env = &Env{}
	}
	return r.evalParts(ctx, parts, env)
}

// evalParts evaluates parsed text: a lone lookup keeps its result type,
// anything else is concatenated text.
func (r *Registry) evalParts(ctx context.Context, parts []part, env *Env) (any, error) {
	if len(parts) == 1 && parts[0].call != nil {
		return r.evalCall(ctx, parts[0].call, env)
	}
	var b strings.Builder
	for _, pt := range parts {
		if pt.call == nil {
			b.WriteString(pt.lit)
			continue
		}
		v, err := r.evalCall(ctx, pt.call, env)
		if err != nil {
			return nil, err
		}
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("lookup %s returned %s, not a string: a lookup with a non-string result must be the whole value, but here it is part of %q",
				pt.call.raw, describe(v), rawText(parts))
		}
		b.WriteString(s)
	}
	return b.String(), nil
}

func (r *Registry) evalCall(ctx context.Context, c *call, env *Env) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	dv, err := r.evalParts(ctx, c.data, env)
	if err != nil {
		return nil, err
	}
	data, ok := dv.(string)
	if !ok {
		return nil, fmt.Errorf("lookup %s: its data must be text, but a nested lookup returned %s", c.raw, describe(dv))
	}
	h := r.handlers[c.typ]
	v, err := h.Handle(ctx, data, env)
	if err != nil {
		return nil, fmt.Errorf("lookup %s: %w", c.raw, err)
	}
	return v, nil
}

func rawText(parts []part) string {
	var b strings.Builder
	for _, pt := range parts {
		if pt.call != nil {
			b.WriteString(pt.call.raw)
		} else {
			b.WriteString(pt.lit)
		}
	}
	return b.String()
}

func describe(v any) string {
	switch v.(type) {
	case nil:
		return "nothing (null)"
	case []any, []string:
		return "a list"
	case map[string]any, map[string]string:
		return "a mapping"
	case bool:
		return "a boolean"
	case int, int64, float64:
		return "a number"
	default:
		return fmt.Sprintf("a %T", v)
	}
}

// ---- cache --------------------------------------------------------------

// Cache keeps stack outputs read by xref and rxref during one run, keyed by
// credentials target, region and stack name. Safe for concurrent use.
type Cache struct {
	mu sync.Mutex
	m  map[string]map[string]string
}

// NewCache returns an empty cache.
func NewCache() *Cache { return &Cache{m: map[string]map[string]string{}} }

func (c *Cache) get(key string) (map[string]string, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[key]
	return v, ok
}

func (c *Cache) put(key string, v map[string]string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[key] = v
}

// resolveList resolves every element of a list; the result is always []any.
func resolveList[T any](ctx context.Context, r *Registry, list []T, path string, env *Env) (any, error) {
	out := make([]any, len(list))
	for i, e := range list {
		x, err := r.resolve(ctx, e, path+"["+strconv.Itoa(i)+"]", env)
		if err != nil {
			return nil, err
		}
		out[i] = x
	}
	return out, nil
}

// resolveMap resolves every value of a map, in key order so the first error
// reported is deterministic; the result is always map[string]any.
func resolveMap[T any](ctx context.Context, r *Registry, m map[string]T, path string, env *Env) (any, error) {
	out := make(map[string]any, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		x, err := r.resolve(ctx, m[k], joinPath(path, k), env)
		if err != nil {
			return nil, err
		}
		out[k] = x
	}
	return out, nil
}
