// Package suggest owns "did you mean": the edit distance between a word the
// user wrote and the names the tool knows, and the choice of which names to
// offer. Every "did you mean" in the tool (lookup types, file codecs, config
// keys, stack and target names, blueprint class paths) goes through here, so
// a typo is judged the same way everywhere. It knows nothing of configs or
// stacks.
package suggest

import (
	"fmt"
	"sort"
	"strings"
)

// Distance is the optimal string alignment distance between a and b,
// compared case-insensitively over runes: insertions, deletions,
// substitutions and swaps of two adjacent characters cost one edit each
// ("Output" is one edit from "output", "outptu" one from "output").
func Distance(a, b string) int {
	ra, rb := []rune(strings.ToLower(a)), []rune(strings.ToLower(b))
	// Three rolling rows: the transposition looks two rows back.
	prev2 := make([]int, len(rb)+1)
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
			d := min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d = min(d, prev2[j-2]+1)
			}
			cur[j] = d
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

// Limit is the most edits a candidate may be from the word to be offered.
type Limit func(word, candidate string) int

// Within accepts candidates at most n edits away.
func Within(n int) Limit { return func(string, string) int { return n } }

// Fraction accepts candidates at most len/div edits away, len being the
// longer of word and candidate in bytes, and never fewer than floor edits.
func Fraction(div, floor int) Limit {
	return func(word, cand string) int { return max(max(len(word), len(cand))/div, floor) }
}

// Options say which candidates Find offers.
type Options struct {
	// Max is the most names offered (0 means one).
	Max int
	// Limit is how far a candidate may be; nil means Within(2).
	Limit Limit
	// Ranked offers every candidate within the limit, closest first;
	// otherwise only those at the smallest distance are offered.
	Ranked bool
	// Alike, when set, counts a candidate it accepts as one edit away
	// whatever its distance (a class path with the same class name).
	Alike func(word, candidate string) bool
}

// Find returns the candidates to offer for word, closest first and, at equal
// distance, in name order. A candidate equal to word is never offered.
func Find(word string, candidates []string, o Options) []string {
	limit := o.Limit
	if limit == nil {
		limit = Within(2)
	}
	type match struct {
		name string
		dist int
	}
	var ms []match
	for _, c := range candidates {
		if c == word {
			continue
		}
		d := Distance(word, c)
		if o.Alike != nil && o.Alike(word, c) {
			d = min(d, 1)
		}
		if d <= limit(word, c) {
			ms = append(ms, match{c, d})
		}
	}
	sort.Slice(ms, func(i, j int) bool {
		if ms[i].dist != ms[j].dist {
			return ms[i].dist < ms[j].dist
		}
		return ms[i].name < ms[j].name
	})
	n := max(o.Max, 1)
	var out []string
	for _, m := range ms {
		if len(out) == n || !o.Ranked && m.dist > ms[0].dist {
			break
		}
		out = append(out, m.name)
	}
	return out
}

// One returns the single nearest candidate within maxDist edits, or "".
func One(word string, candidates []string, maxDist int) string {
	if found := Find(word, candidates, Options{Limit: Within(maxDist)}); len(found) > 0 {
		return found[0]
	}
	return ""
}

// Quoted joins names as `"a"`, `"a" or "b"`, `"a", "b" or "c"`.
func Quoted(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	if len(q) <= 1 {
		return strings.Join(q, "")
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// DidYouMean returns ` (did you mean "a" or "b"?)` for names, or "" when
// there are none.
func DidYouMean(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return " (did you mean " + Quoted(names) + "?)"
}
