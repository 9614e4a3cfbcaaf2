package blueprint

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/stacker-go/stacker/internal/suggest"
)

var registry = struct {
	sync.RWMutex
	m map[string]func() Blueprint
}{m: map[string]func() Blueprint{}}

// Register adds a blueprint factory under a class path (the value a config
// gives as a stack's class_path). Call it from an init function.
//
// Register panics when the class path is empty, the factory is nil or the
// class path is already registered: those are programming errors found the
// first time the binary starts.
func Register(classPath string, factory func() Blueprint) {
	if classPath == "" {
		panic("blueprint.Register: empty class path")
	}
	if factory == nil {
		panic("blueprint.Register: nil factory for " + classPath)
	}
	registry.Lock()
	defer registry.Unlock()
	if _, dup := registry.m[classPath]; dup {
		panic("blueprint.Register: class path " + classPath + " registered twice")
	}
	registry.m[classPath] = factory
}

// Lookup returns a new blueprint for a class path. An unknown class path is
// an error that lists the nearest registered names.
func Lookup(classPath string) (Blueprint, error) {
	registry.RLock()
	f, ok := registry.m[classPath]
	registry.RUnlock()
	if !ok {
		msg := fmt.Sprintf("unknown blueprint class_path %q", classPath)
		if near := nearest(classPath, Names(), 3); len(near) > 0 {
			msg += "; did you mean " + quoteJoin(near) + "?"
		}
		return nil, &LookupError{ClassPath: classPath, msg: msg}
	}
	bp := f()
	if bp == nil {
		return nil, fmt.Errorf("blueprint %q: factory returned nil", classPath)
	}
	return bp, nil
}

// LookupError is returned by Lookup for an unknown class path.
type LookupError struct {
	ClassPath string
	msg       string
}

func (e *LookupError) Error() string { return e.msg }

// Names returns every registered class path, sorted.
func Names() []string {
	registry.RLock()
	defer registry.RUnlock()
	out := make([]string, 0, len(registry.m))
	for k := range registry.m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func quoteJoin(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, ", ")
}

// nearest returns up to n names closest to s (ties by name). A class path
// whose class name matches is a good hint even when the module path differs
// ("blueprints.VPC" vs "stacker_blueprints.vpc.VPC"), so it counts as one
// edit; names further than half their length away are not suggestions.
func nearest(s string, names []string, n int) []string {
	return suggest.Find(s, names, suggest.Options{
		Max:    n,
		Ranked: true,
		Limit:  func(w, c string) int { return max(len(w), len(c))/2 + 1 },
		Alike:  func(w, c string) bool { return lastElem(strings.ToLower(w)) == lastElem(strings.ToLower(c)) },
	})
}

func lastElem(s string) string {
	if i := strings.LastIndexAny(s, ".:/"); i >= 0 {
		return s[i+1:]
	}
	return s
}
