package blueprint

import (
	"fmt"
	"sort"
	"strings"
	"sync"
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

// nearest returns up to n names closest to s by edit distance (case
// insensitive), ties broken by name. Names further than half their length
// away are not suggestions.
func nearest(s string, names []string, n int) []string {
	type cand struct {
		name string
		d    int
	}
	ls := strings.ToLower(s)
	var cs []cand
	for _, name := range names {
		d := levenshtein(ls, strings.ToLower(name))
		// A class path whose last element matches is a good hint even when
		// the module path differs ("blueprints.VPC" vs "stacker_blueprints.vpc.VPC").
		if lastElem(ls) == lastElem(strings.ToLower(name)) {
			d = min(d, 1)
		}
		limit := max(len(name), len(s))/2 + 1
		if d <= limit {
			cs = append(cs, cand{name, d})
		}
	}
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].d != cs[j].d {
			return cs[i].d < cs[j].d
		}
		return cs[i].name < cs[j].name
	})
	var out []string
	for i := 0; i < len(cs) && i < n; i++ {
		out = append(out, cs[i].name)
	}
	return out
}

func lastElem(s string) string {
	if i := strings.LastIndexAny(s, ".:/"); i >= 0 {
		return s[i+1:]
	}
	return s
}

func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
