package engine

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
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
