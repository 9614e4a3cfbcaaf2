// Package engine walks a dependency graph concurrently: each node starts as
// soon as its dependencies are done, at most MaxParallel run at once, a
// failed node fails its dependants with "dependency has failed" while
// independent branches go on, and cancellation stops new work. It knows
// nothing of CloudFormation or credentials: a Step does the work.
package engine

import (
	"context"
	"sync"

	"github.com/stacker-go/stacker/internal/event"
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
// final status. A Step must return promptly once ctx is cancelled.
type Step func(ctx context.Context, name string, report func(Status)) Status

// Options tune a walk.
type Options struct {
	// MaxParallel caps the nodes running at once; 0 means unlimited.
	MaxParallel int
	// OnStatus is called (serially per node) on every status change,
	// including the final one. It is not called for nodes that never start
	// because the walk was cancelled.
	OnStatus func(name string, s Status)
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

// Walk runs step for every node, dependencies first.
func Walk(ctx context.Context, nodes []Node, step Step, opts Options) Result {
	done := make(map[string]chan struct{}, len(nodes))
	for _, n := range nodes {
		done[n.Name] = make(chan struct{})
	}
	var (
		mu     sync.Mutex
		status = make(map[string]Status, len(nodes))
		wg     sync.WaitGroup
	)
	var sem chan struct{}
	if opts.MaxParallel > 0 {
		sem = make(chan struct{}, opts.MaxParallel)
	}
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
	for _, n := range nodes {
		wg.Add(1)
		go func(n Node) {
			defer wg.Done()
			defer close(done[n.Name])
			for _, d := range n.Deps {
				ch, ok := done[d]
				if !ok {
					continue
				}
				select {
				case <-ch:
				case <-ctx.Done():
					set(n.Name, Status{State: Pending, Reason: ReasonInterrupted}, false)
					return
				}
			}
			if ctx.Err() != nil {
				// Interrupted: start nothing new, and do not blame dependencies.
				set(n.Name, Status{State: Pending, Reason: ReasonInterrupted}, false)
				return
			}
			for _, d := range n.Deps {
				if _, ok := done[d]; ok && !get(d).OK() {
					set(n.Name, Status{State: Failed, Reason: ReasonDependencyFailed}, true)
					return
				}
			}
			if sem != nil {
				select {
				case sem <- struct{}{}:
					defer func() { <-sem }()
				case <-ctx.Done():
					set(n.Name, Status{State: Pending, Reason: ReasonInterrupted}, false)
					return
				}
			}
			if ctx.Err() != nil {
				set(n.Name, Status{State: Pending, Reason: ReasonInterrupted}, false)
				return
			}
			var last Status
			report := func(s Status) {
				if s.Same(last) {
					return
				}
				last = s
				set(n.Name, s, true)
			}
			final := step(ctx, n.Name, report)
			if !final.Same(last) {
				set(n.Name, final, true)
			} else {
				set(n.Name, final, false)
			}
		}(n)
	}
	wg.Wait()
	return Result{Status: status}
}
