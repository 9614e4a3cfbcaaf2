package main

import (
	"testing"
	"time"
)

func TestBudgetSchedule(t *testing.T) {
	flat := func(n int, d time.Duration) []stack {
		g := make([]stack, n)
		for i := range g {
			g[i] = stack{time: d}
		}
		return g
	}
	chain := []stack{{time: time.Second}, {time: 2 * time.Second, deps: []int{0}, level: 1}, {time: time.Second, deps: []int{1}, level: 2}}
	for _, c := range []struct {
		name  string
		g     []stack
		rate  float64
		burst int
		want  time.Duration
	}{
		// 10 submissions at once, then one every 0.5 s: the 30th at 10 s.
		{"thirty in one target", flat(30, time.Second), 2, 10, 11 * time.Second},
		{"within the burst", flat(10, time.Second), 2, 10, time.Second},
		{"a chain is its critical path", chain, 2, 10, 4 * time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := budgetSchedule(c.g, 1, c.rate, c.burst, tails(c.g, false))
			if d := got - c.want; d < -time.Millisecond || d > time.Millisecond {
				t.Errorf("budgetSchedule = %v, want %v", got, c.want)
			}
		})
	}
}

func TestReversed(t *testing.T) {
	g := []stack{{name: "a"}, {name: "b", deps: []int{0}, level: 1}, {name: "c", deps: []int{0, 1}, level: 2}}
	r := reversed(g, 3)
	if len(r[0].deps) != 2 || r[0].deps[0] != 1 || r[0].deps[1] != 2 || len(r[1].deps) != 1 || r[1].deps[0] != 2 || len(r[2].deps) != 0 {
		t.Errorf("reversed deps = %v %v %v", r[0].deps, r[1].deps, r[2].deps)
	}
	if r[0].level != 2 || r[2].level != 0 {
		t.Errorf("reversed levels = %d %d", r[0].level, r[2].level)
	}
	if len(g[0].deps) != 0 {
		t.Error("reversed changed its input")
	}
}
