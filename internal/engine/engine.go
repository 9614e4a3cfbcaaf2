// Package engine walks a dependency graph concurrently: each node starts as
// soon as its dependencies are done, at most MaxParallel run at once (the
// ready nodes with the longest remaining chain first), a failed node fails
// its dependants with "dependency has failed" while independent branches
// go on, and cancellation stops new work. It knows nothing of
// CloudFormation or credentials: a Step does the work.
package engine

import (
	"container/heap"
	"context"
	"sync"

	"github.com/stacker-go/stacker/internal/event"
	"github.com/stacker-go/stacker/internal/priority"
)

// State is a step's state (stacker's status codes, in order); it is the
// event package's State, so statuses flow to renderers unconverted.
type State = event.State

// States.
const (
	Pending   = event.Pending
	Submitted = event.Submitted
	Complete  = event.Complete
	Skipped   = event.Skipped
	Failed    = event.Failed
)

// Status is a state with its reason, e.g. skipped (nochange), and for a
// failure the error behind it (nil when the failure is not an error, such
// as a rollback or a failed dependency).
type Status struct {
	State  State
	Reason string
	Err    error
}

// Same reports whether two statuses would print the same line (state and
// reason; the error is not compared).
func (s Status) Same(o Status) bool { return s.State == o.State && s.Reason == o.Reason }

// Done reports whether the step is finished.
func (s Status) Done() bool { return s.State >= Complete }

// OK reports whether dependants may run (complete or skipped).
func (s Status) OK() bool { return s.State == Complete || s.State == Skipped }

// Common reasons.
const (
	ReasonDependencyFailed = "dependency has failed"
	ReasonInterrupted      = "interrupted"
)

// Node is one step of the walk.
type Node struct {
	Name string
	// Deps are the names of the nodes that must be done first. Names not in
	// the walk are ignored.
	Deps []string
}

// Step runs one node to completion. It may report intermediate statuses
// (submitted, pending (waiting)) through report; its return value is the
// final status. A Step must return promptly once ctx is cancelled. Its ctx
// carries the node's priority (priority.From: its longest remaining chain,
// Priorities), which the API budget uses to serve the calls of the
// critical chain first when it binds.
type Step func(ctx context.Context, name string, report func(Status)) Status

// Options tune a walk.
type Options struct {
	// MaxParallel caps the nodes running at once; 0 means unlimited.
	// When it binds, ready nodes start by priority (Priorities): those
	// with the longest remaining chain first, ties in the order given.
	// Capped or not, each step's context carries its node's priority.
	MaxParallel int
	// Weight is a node's expected duration in any unit, for the
	// priorities (nil: every node weighs 1, so a chain's length is its
	// number of nodes).
	Weight func(name string) float64
	// OnStatus is called (serially per node) on every status change,
	// including the final one. It is not called for nodes that never start
	// because the walk was cancelled.
	OnStatus func(name string, s Status)
	// Backlog, when set, is told how many ready nodes wait for a slot
	// (MaxParallel binds) each time that number changes.
	Backlog func(queued int)
}

// Result is the outcome of a walk.
type Result struct {
	// Status of each node; nodes never started because of cancellation
	// are Pending with reason "interrupted".
	Status map[string]Status
}

// Failed returns the failed nodes in the order given.
func (r Result) Failed(order []Node) []string {
	var out []string
	for _, n := range order {
		if r.Status[n.Name].State == Failed {
			out = append(out, n.Name)
		}
	}
	return out
}

// Priorities is each node's longest remaining chain: its weight plus the
// heaviest chain of nodes depending on it, directly or not (weight 1 per
// node when weight is nil). Dependencies on names not in nodes are
// ignored; a cycle does not loop (its back edge is not followed).
func Priorities(nodes []Node, weight func(string) float64) map[string]float64 {
	g := newGraph(nodes)
	p := g.tails(weight)
	out := make(map[string]float64, len(nodes))
	for i, n := range nodes {
		out[n.Name] = p[i]
	}
	return out
}

// graph is nodes by index with their dependencies and dependants.
type graph struct {
	nodes      []Node
	deps       [][]int
	dependants [][]int
}

func newGraph(nodes []Node) *graph {
	idx := make(map[string]int, len(nodes))
	for i, n := range nodes {
		idx[n.Name] = i
	}
	g := &graph{nodes: nodes, deps: make([][]int, len(nodes)), dependants: make([][]int, len(nodes))}
	for i, n := range nodes {
		seen := map[int]bool{}
		for _, d := range n.Deps {
			j, ok := idx[d]
			if !ok || seen[j] || j == i {
				continue
			}
			seen[j] = true
			g.deps[i] = append(g.deps[i], j)
			g.dependants[j] = append(g.dependants[j], i)
		}
	}
	return g
}

// tails computes the longest remaining chain of every node.
func (g *graph) tails(weight func(string) float64) []float64 {
	t := make([]float64, len(g.nodes))
	state := make([]byte, len(g.nodes)) // 0 new, 1 in progress, 2 done
	var visit func(i int) float64
	visit = func(i int) float64 {
		switch state[i] {
		case 1:
			return 0
		case 2:
			return t[i]
		}
		state[i] = 1
		var m float64
		for _, j := range g.dependants[i] {
			m = max(m, visit(j))
		}
		w := 1.0
		if weight != nil {
			w = weight(g.nodes[i].Name)
		}
		t[i] = m + w
		state[i] = 2
		return t[i]
	}
	for i := range g.nodes {
		visit(i)
	}
	return t
}

// readyQueue orders ready nodes: highest priority first, then input order.
type readyQueue struct {
	idx  []int
	prio []float64
}

func (q *readyQueue) Len() int { return len(q.idx) }
func (q *readyQueue) Less(a, b int) bool {
	x, y := q.idx[a], q.idx[b]
	if q.prio[x] != q.prio[y] {
		return q.prio[x] > q.prio[y]
	}
	return x < y
}
func (q *readyQueue) Swap(a, b int) { q.idx[a], q.idx[b] = q.idx[b], q.idx[a] }
func (q *readyQueue) Push(x any)    { q.idx = append(q.idx, x.(int)) }
func (q *readyQueue) Pop() any {
	n := len(q.idx) - 1
	v := q.idx[n]
	q.idx = q.idx[:n]
	return v
}

// Walk runs step for every node, dependencies first. One scheduler
// decides what starts: a node becomes ready when its last dependency is
// done, and ready nodes start, by priority, while fewer than MaxParallel
// run.
func Walk(ctx context.Context, nodes []Node, step Step, opts Options) Result {
	g := newGraph(nodes)
	q := &readyQueue{prio: g.tails(opts.Weight)}
	var (
		mu     sync.Mutex
		status = make(map[string]Status, len(nodes))
		wg     sync.WaitGroup
	)
	set := func(name string, s Status, notify bool) {
		mu.Lock()
		status[name] = s
		mu.Unlock()
		if notify && opts.OnStatus != nil {
			opts.OnStatus(name, s)
		}
	}
	get := func(name string) Status {
		mu.Lock()
		defer mu.Unlock()
		return status[name]
	}
	left := make([]int, len(nodes))
	for i := range nodes {
		left[i] = len(g.deps[i])
	}
	finished := make(chan int)
	running := 0
	backlog := 0 // ready nodes waiting for a slot, as last told to opts.Backlog
	// resolve handles a node whose dependencies are all done: queued to
	// run, or (cancelled, a dependency failed) done at once, which in turn
	// resolves its dependants.
	var resolve, done func(i int)
	resolve = func(i int) {
		name := nodes[i].Name
		if ctx.Err() != nil {
			// Interrupted: start nothing new, and do not blame dependencies.
			set(name, Status{State: Pending, Reason: ReasonInterrupted}, false)
			done(i)
			return
		}
		for _, d := range g.deps[i] {
			if !get(nodes[d].Name).OK() {
				set(name, Status{State: Failed, Reason: ReasonDependencyFailed}, true)
				done(i)
				return
			}
		}
		heap.Push(q, i)
	}
	done = func(i int) {
		for _, j := range g.dependants[i] {
			if left[j]--; left[j] == 0 {
				resolve(j)
			}
		}
	}
	start := func(i int) {
		running++
		wg.Add(1)
		go func(n Node) {
			defer wg.Done()
			var last Status
			report := func(s Status) {
				if s.Same(last) {
					return
				}
				last = s
				set(n.Name, s, true)
			}
			final := step(priority.With(ctx, q.prio[i]), n.Name, report)
			set(n.Name, final, !final.Same(last))
			finished <- i
		}(nodes[i])
	}
	for i := range nodes {
		if left[i] == 0 {
			resolve(i)
		}
	}
	cancelled := ctx.Done()
	for {
		for q.Len() > 0 && (opts.MaxParallel <= 0 || running < opts.MaxParallel) && ctx.Err() == nil {
			start(heap.Pop(q).(int))
		}
		if opts.Backlog != nil && q.Len() != backlog {
			backlog = q.Len()
			opts.Backlog(backlog)
		}
		if ctx.Err() != nil {
			// Nothing queued starts: it is interrupted, and so is
			// everything after it.
			for q.Len() > 0 {
				i := heap.Pop(q).(int)
				set(nodes[i].Name, Status{State: Pending, Reason: ReasonInterrupted}, false)
				done(i)
			}
		}
		if running == 0 {
			break
		}
		select {
		case i := <-finished:
			running--
			done(i)
		case <-cancelled:
			cancelled = nil
		}
	}
	wg.Wait()
	// Nodes never reached (a dependency cycle) are reported as interrupted.
	for _, n := range nodes {
		if _, ok := status[n.Name]; !ok {
			status[n.Name] = Status{State: Pending, Reason: ReasonInterrupted}
		}
	}
	return Result{Status: status}
}
