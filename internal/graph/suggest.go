package graph

import (
	"sort"
	"strings"

	"github.com/stacker-go/stacker/internal/suggest"
)

// suggestion returns ` (did you mean "x"?)`, or ` (known: a, b, c)` when
// nothing is close, or "" when there are no names at all.
func suggestion(name string, names []string) string {
	if near := Nearest(name, names); len(near) > 0 {
		return suggest.DidYouMean(near)
	}
	if len(names) == 0 {
		return " (the config has no stacks or targets)"
	}
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	if len(sorted) > 8 {
		sorted = append(sorted[:8], "...")
	}
	return " (known: " + strings.Join(sorted, ", ") + ")"
}

// Nearest returns up to three stack or target names closest to name: those
// at the smallest edit distance, if that is at most a third of the longer
// name (at least 2); ties in name order.
func Nearest(name string, names []string) []string {
	return suggest.Find(name, names, suggest.Options{Max: 3, Limit: suggest.Fraction(3, 2)})
}
