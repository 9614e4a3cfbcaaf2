package engine

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stacker-go/stacker/internal/priority"
)

func TestWalkOrderFailuresAndBranches(t *testing.T) {
	// a <- b <- c ; a <- d ; e independent; b fails.
	nodes := []Node{{Name: "a"}, {Name: "b", Deps: []string{"a"}}, {Name: "c", Deps: []string{"b"}}, {Name: "d", Deps: []string{"a"}}, {Name: "e"}}
	var mu sync.Mutex
	var started []string
	res := Walk(context.Background(), nodes, func(ctx context.Context, name string, report func(Status)) Status {
		mu.Lock()
		started = append(started, name)
		mu.Unlock()
		if name == "b" {
			return Status{State: Failed, Reason: "boom"}
		}
		report(Status{State: Submitted, Reason: "creating new stack"})
		return Status{State: Complete, Reason: "creating new stack"}
	}, Options{})
	want := map[string]Status{
		"a": {State: Complete, Reason: "creating new stack"}, "b": {State: Failed, Reason: "boom"}, "c": {State: Failed, Reason: ReasonDependencyFailed},
		"d": {State: Complete, Reason: "creating new stack"}, "e": {State: Complete, Reason: "creating new stack"},
	}
	for k, v := range want {
		if res.Status[k] != v {
			t.Errorf("%s: got %+v want %+v", k, res.Status[k], v)
		}
	}
	if slices.Contains(started, "c") {
		t.Error("c ran although its dependency failed")
	}
	if got := res.Failed(nodes); !slices.Equal(got, []string{"b", "c"}) {
		t.Errorf("failed %v", got)
	}
}

func TestWalkSkippedDependencyIsOK(t *testing.T) {
	nodes := []Node{{Name: "a"}, {Name: "b", Deps: []string{"a"}}}
	res := Walk(context.Background(), nodes, func(ctx context.Context, name string, report func(Status)) Status {
		if name == "a" {
			return Status{State: Skipped, Reason: "nochange"}
		}
		return Status{State: Complete, Reason: ""}
	}, Options{})
	if res.Status["b"].State != Complete {
		t.Errorf("b: %+v", res.Status["b"])
	}
}

func TestWalkMaxParallel(t *testing.T) {
	var nodes []Node
	for _, n := range []string{"a", "b", "c", "d", "e", "f"} {
		nodes = append(nodes, Node{Name: n})
	}
	var cur, peak atomic.Int32
	Walk(context.Background(), nodes, func(ctx context.Context, name string, report func(Status)) Status {
		n := cur.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(10 * time.Millisecond)
		cur.Add(-1)
		return Status{State: Complete, Reason: ""}
	}, Options{MaxParallel: 2})
	if peak.Load() > 2 {
		t.Errorf("peak %d > 2", peak.Load())
	}
}

func TestWalkCancelStartsNothingNew(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	nodes := []Node{{Name: "a"}, {Name: "b", Deps: []string{"a"}}}
	var statuses []string
	var mu sync.Mutex
	res := Walk(ctx, nodes, func(ctx context.Context, name string, report func(Status)) Status {
		cancel()
		<-ctx.Done()
		return Status{State: Failed, Reason: ReasonInterrupted}
	}, Options{OnStatus: func(name string, s Status) {
		mu.Lock()
		statuses = append(statuses, name+" "+s.State.String())
		mu.Unlock()
	}})
	if res.Status["b"].State != Pending || res.Status["b"].Reason != ReasonInterrupted {
		t.Errorf("b: %+v", res.Status["b"])
	}
	if !slices.Equal(statuses, []string{"a failed"}) {
		t.Errorf("statuses %v", statuses)
	}
}

func TestReportPrintsOnlyChanges(t *testing.T) {
	var got []Status
	Walk(context.Background(), []Node{{Name: "a"}}, func(ctx context.Context, name string, report func(Status)) Status {
		report(Status{State: Submitted, Reason: "x"})
		report(Status{State: Submitted, Reason: "x"})
		return Status{State: Complete, Reason: "x"}
	}, Options{OnStatus: func(name string, s Status) { got = append(got, s) }})
	if len(got) != 2 {
		t.Errorf("got %v", got)
	}
}

func TestPriorities(t *testing.T) {
	// a <- b <- c ; a <- d ; e alone; x depends on a name not walked.
	nodes := []Node{{Name: "a"}, {Name: "b", Deps: []string{"a"}}, {Name: "c", Deps: []string{"b"}}, {Name: "d", Deps: []string{"a"}}, {Name: "e"}, {Name: "x", Deps: []string{"gone"}}}
	weights := map[string]float64{"a": 1, "b": 1, "c": 1, "d": 5, "e": 2, "x": 1}
	for _, tc := range []struct {
		name   string
		weight func(string) float64
		want   map[string]float64
	}{
		{"by count", nil, map[string]float64{"a": 3, "b": 2, "c": 1, "d": 1, "e": 1, "x": 1}},
		{"by weight", func(n string) float64 { return weights[n] }, map[string]float64{"a": 6, "b": 2, "c": 1, "d": 5, "e": 2, "x": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Priorities(nodes, tc.weight)
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s: %v, want %v (all %v)", k, got[k], v, got)
				}
			}
		})
	}
}

// Every step's context carries its node's priority, capped or not, so the
// API budget can serve the critical chain's calls first.
func TestWalkPassesPriorityToStep(t *testing.T) {
	// a <- b <- c ; a <- d ; e alone.
	nodes := []Node{{Name: "a"}, {Name: "b", Deps: []string{"a"}}, {Name: "c", Deps: []string{"b"}}, {Name: "d", Deps: []string{"a"}}, {Name: "e"}}
	weights := map[string]float64{"a": 1, "b": 1, "c": 1, "d": 5, "e": 2}
	for _, tc := range []struct {
		name string
		opts Options
		want map[string]float64
	}{
		{"unlimited", Options{}, map[string]float64{"a": 3, "b": 2, "c": 1, "d": 1, "e": 1}},
		{"capped", Options{MaxParallel: 1}, map[string]float64{"a": 3, "b": 2, "c": 1, "d": 1, "e": 1}},
		{"weighted", Options{Weight: func(n string) float64 { return weights[n] }}, map[string]float64{"a": 6, "b": 2, "c": 1, "d": 5, "e": 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			got := map[string]float64{}
			Walk(context.Background(), nodes, func(ctx context.Context, name string, report func(Status)) Status {
				mu.Lock()
				got[name] = priority.From(ctx)
				mu.Unlock()
				return Status{State: Complete}
			}, tc.opts)
			if len(got) != len(tc.want) {
				t.Fatalf("steps run: %v", got)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s: priority %v, want %v (all %v)", k, got[k], v, got)
				}
			}
		})
	}
}

// With -j binding, the ready node with the longest remaining chain starts
// first: the chain's next link overtakes short independent nodes given
// earlier, so the chain is never delayed behind them.
func TestWalkMaxParallelStartsLongestChainFirst(t *testing.T) {
	nodes := []Node{{Name: "s1"}, {Name: "s2"}, {Name: "s3"}, {Name: "c1"}, {Name: "c2", Deps: []string{"c1"}}, {Name: "c3", Deps: []string{"c2"}},
		{Name: "c4", Deps: []string{"c3"}}, {Name: "t1", Deps: []string{"s1"}}}
	for _, tc := range []struct {
		name string
		max  int
		want []string
	}{
		// Remaining chains: c1 4, c2 3, c3 2, s1 2 (t1 after it), the rest 1;
		// equal chains go in the order given.
		{"one slot", 1, []string{"c1", "c2", "s1", "c3", "s2", "s3", "c4", "t1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var started []string
			Walk(context.Background(), nodes, func(ctx context.Context, name string, report func(Status)) Status {
				mu.Lock()
				started = append(started, name)
				mu.Unlock()
				return Status{State: Complete}
			}, Options{MaxParallel: tc.max})
			if !slices.Equal(started, tc.want) {
				t.Errorf("started %v, want %v", started, tc.want)
			}
		})
	}
}

// simulate walks nodes with fake steps that take their weight in virtual
// time: it lets the walk start what it wants, waits until nothing more
// starts, then finishes the running step that ends first. It returns the
// virtual makespan.
func simulate(t *testing.T, nodes []Node, w map[string]float64, opts Options) float64 {
	t.Helper()
	type run struct {
		name    string
		release chan struct{}
	}
	startedCh := make(chan run)
	walked := make(chan struct{})
	go func() {
		defer close(walked)
		Walk(context.Background(), nodes, func(ctx context.Context, name string, report func(Status)) Status {
			r := run{name, make(chan struct{})}
			startedCh <- r
			<-r.release
			return Status{State: Complete}
		}, opts)
	}()
	now := 0.0
	ends := map[string]float64{}
	rel := map[string]chan struct{}{}
	for {
		// Collect every start until the walk is quiet.
	collect:
		for {
			select {
			case r := <-startedCh:
				ends[r.name], rel[r.name] = now+w[r.name], r.release
			case <-walked:
				return now
			case <-time.After(30 * time.Millisecond):
				break collect
			}
		}
		if len(rel) == 0 {
			t.Fatal("nothing running and the walk is not over")
		}
		first := ""
		for n := range rel {
			if first == "" || ends[n] < ends[first] || (ends[n] == ends[first] && n < first) {
				first = n
			}
		}
		now = ends[first]
		close(rel[first])
		delete(rel, first)
	}
}

// Two slots, a chain of three (3 each) and four independent nodes (2
// each) given first: by critical path the walk takes 9, the chain's length
// and the best possible; in the order given it would take 13.
func TestWalkMaxParallelMeetsTheCriticalPath(t *testing.T) {
	nodes := []Node{{Name: "i1"}, {Name: "i2"}, {Name: "i3"}, {Name: "i4"}, {Name: "c1"}, {Name: "c2", Deps: []string{"c1"}}, {Name: "c3", Deps: []string{"c2"}}}
	w := map[string]float64{"i1": 2, "i2": 2, "i3": 2, "i4": 2, "c1": 3, "c2": 3, "c3": 3}
	for _, tc := range []struct {
		name   string
		weight func(string) float64
	}{
		{"weights", func(n string) float64 { return w[n] }},
		{"stack counts", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := simulate(t, nodes, w, Options{MaxParallel: 2, Weight: tc.weight}); got != 9 {
				t.Errorf("makespan %v, want 9", got)
			}
		})
	}
}

// Backlog is told each change of how many ready nodes wait for a slot:
// five independent nodes under -j 2 queue three, then two, one, none.
func TestWalkReportsTheBacklog(t *testing.T) {
	var nodes []Node
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		nodes = append(nodes, Node{Name: n})
	}
	var mu sync.Mutex
	var got []int
	Walk(context.Background(), nodes, func(ctx context.Context, name string, report func(Status)) Status {
		return Status{State: Complete}
	}, Options{MaxParallel: 2, Backlog: func(n int) {
		mu.Lock()
		got = append(got, n)
		mu.Unlock()
	}})
	want := []int{3, 2, 1, 0}
	if !slices.Equal(got, want) {
		t.Errorf("Backlog calls = %v, want %v", got, want)
	}
}
