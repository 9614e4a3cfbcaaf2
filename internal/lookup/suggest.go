package lookup

import "strings"

// Distance is the Levenshtein edit distance between a and b, counted in
// bytes and compared case-insensitively (so "Output" is one edit from
// "output", not six).
func Distance(a, b string) int {
	a, b = strings.ToLower(a), strings.ToLower(b)
	if len(a) < len(b) {
		a, b = b, a
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Suggest returns the candidate nearest to word when it is within maxDist
// edits, or "" when none is. Ties go to the earlier candidate.
func Suggest(word string, candidates []string, maxDist int) string {
	best, bestD := "", maxDist+1
	for _, c := range candidates {
		if c == word {
			continue
		}
		// A length gap larger than the budget can never fit it.
		if d := len(c) - len(word); d > maxDist || -d > maxDist {
			continue
		}
		if d := Distance(word, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}
