package graph

import (
	"fmt"
	"sort"
	"strings"
)

// suggestion returns ` (did you mean "x"?)`, or ` (known: a, b, c)` when
// nothing is close, or "" when there are no names at all.
func suggestion(name string, names []string) string {
	near := Nearest(name, names, 3)
	switch {
	case len(near) == 1:
		return fmt.Sprintf(" (did you mean %q?)", near[0])
	case len(near) > 1:
		q := make([]string, len(near))
		for i, n := range near {
			q[i] = fmt.Sprintf("%q", n)
		}
		return " (did you mean " + strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1] + "?)"
	case len(names) == 0:
		return " (the config has no stacks or targets)"
	}
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	if len(sorted) > 8 {
		sorted = append(sorted[:8], "...")
	}
	return " (known: " + strings.Join(sorted, ", ") + ")"
}

// Nearest returns up to max names closest to name: those at the smallest
// edit distance (optimal string alignment, case-insensitive), if that
// distance is at most a third of the longer name (at least 2); ties in name
// order.
func Nearest(name string, names []string, max int) []string {
	type cand struct {
		name string
		dist int
	}
	var cands []cand
	lname := strings.ToLower(name)
	for _, n := range names {
		d := levenshtein(lname, strings.ToLower(n))
		limit := max2(len(n), len(name)) / 3
		if limit < 2 {
			limit = 2
		}
		if d <= limit {
			cands = append(cands, cand{n, d})
		}
	}
	sort.Slice(cands, func(i, j int) bool {
		if cands[i].dist != cands[j].dist {
			return cands[i].dist < cands[j].dist
		}
		return cands[i].name < cands[j].name
	})
	var out []string
	for _, c := range cands {
		if len(out) == max || c.dist > cands[0].dist {
			break
		}
		out = append(out, c.name)
	}
	return out
}

func max2(a, b int) int {
	if a > b {
		return a
	}
	return b
}

// levenshtein is the optimal string alignment distance: insertions,
// deletions, substitutions and adjacent transpositions cost 1.
func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	rows := make([][]int, len(ra)+1)
	for i := range rows {
		rows[i] = make([]int, len(rb)+1)
		rows[i][0] = i
	}
	for j := range rows[0] {
		rows[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d := min(rows[i-1][j]+1, rows[i][j-1]+1, rows[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d = min(d, rows[i-2][j-2]+1)
			}
			rows[i][j] = d
		}
	}
	return rows[len(ra)][len(rb)]
}
