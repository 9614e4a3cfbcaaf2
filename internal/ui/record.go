package ui

import (
	"sort"
	"strings"
	"time"

	"github.com/stacker-go/stacker/internal/event"
)

// RunRecord is what a run's events have told so far: the plan, each
// stack's state, timings, the resource changing and the failure. Every
// renderer other than Plain (the live view, the summary, the timeline, the
// JSON summary) is a function of a RunRecord, so each is a pure function of
// the events seen. It is not safe for concurrent use; renderers lock.
type RunRecord struct {
	Action      event.Action
	MaxParallel int
	Started     time.Time
	Finished    time.Time // zero until RunFinished
	Err         error     // the run's error, from RunFinished
	Interrupted bool
	// Stacks are in plan order (dependency order), then in the order first
	// seen for stacks the plan did not list.
	Stacks []*StackRecord
	byName map[string]*StackRecord
}

// StackRecord is one stack of a RunRecord.
type StackRecord struct {
	event.Stack
	Deps      []string
	State     event.State
	Reason    string
	CFNStatus string
	Outcome   event.Outcome
	// Begun is when the run began work on the stack (StackStarted, else
	// its first status); Ended when it was done. Zero when not yet.
	Begun, Ended time.Time
	// Current is the last resource event of a resource still changing
	// (zero LogicalID when none is).
	Current event.ResourceEvent
	// Resources is each resource's last status, by logical id.
	Resources map[string]string
	// Failure is the root cause of a CloudFormation failure
	// (FailureReason), and FirstFailed the resource event it comes from.
	Failure     string
	FirstFailed event.FailedResource
	Err         error
}

// NewRunRecord returns an empty record.
func NewRunRecord() *RunRecord { return &RunRecord{byName: map[string]*StackRecord{}} }

// Stack returns the record of a stack by config name (nil if unknown).
func (r *RunRecord) Stack(name string) *StackRecord { return r.byName[name] }

func (r *RunRecord) stack(s event.Stack) *StackRecord {
	st, ok := r.byName[s.Name]
	if !ok {
		st = &StackRecord{Stack: s, Resources: map[string]string{}}
		r.byName[s.Name] = st
		r.Stacks = append(r.Stacks, st)
	}
	// Later events know more (the account once credentials resolve).
	if s.Target.Account != "" || st.Target.Region == "" {
		st.Target = s.Target
	}
	if s.FQN != "" {
		st.FQN = s.FQN
	}
	return st
}

// Apply folds one event into the record.
func (r *RunRecord) Apply(e event.Event) {
	switch e := e.(type) {
	case event.RunStarted:
		r.Action, r.MaxParallel, r.Started = e.Action, e.MaxParallel, e.Time
		for _, p := range e.Stacks {
			r.stack(p.Stack).Deps = p.Deps
		}
	case event.StackStarted:
		st := r.stack(e.Stack)
		if st.Begun.IsZero() {
			st.Begun = e.Time
		}
	case event.StackStatus:
		st := r.stack(e.Stack)
		if st.Begun.IsZero() && !(e.State == event.Pending && e.Outcome != "") {
			st.Begun = e.Time
		}
		st.State, st.Reason, st.Outcome = e.State, e.Reason, e.Outcome
		if e.CFNStatus != "" {
			st.CFNStatus = e.CFNStatus
		}
		if e.Err != nil {
			st.Err = e.Err
		}
		if e.Outcome != "" && st.Ended.IsZero() {
			st.Ended = e.Time
			if st.Begun.IsZero() {
				st.Begun = e.Time
			}
			st.Current = event.ResourceEvent{}
		}
	case event.ResourceEvent:
		st := r.stack(e.Stack)
		if e.StackLevel {
			st.CFNStatus = e.Status
			return
		}
		st.Resources[e.LogicalID] = e.Status
		if strings.HasSuffix(e.Status, "_IN_PROGRESS") {
			st.Current = e
		} else if st.Current.LogicalID == e.LogicalID {
			st.Current = event.ResourceEvent{}
		}
		if strings.HasSuffix(e.Status, "_FAILED") && st.FirstFailed.LogicalID == "" &&
			!strings.Contains(e.Reason, "Resource creation cancelled") {
			st.FirstFailed = event.FailedResource{EventTime: e.EventTime, LogicalID: e.LogicalID, ResourceType: e.ResourceType, Status: e.Status, Reason: e.Reason}
		}
	case event.FailureReason:
		st := r.stack(e.Stack)
		st.Failure = e.Reason
		if e.Resource.LogicalID != "" {
			st.FirstFailed = e.Resource
		}
	case event.Interrupted:
		r.Interrupted = true
	case event.RunFinished:
		r.Finished, r.Err = e.Time, e.Err
		names := make([]string, 0, len(e.Final))
		for n := range e.Final {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			f := e.Final[n]
			st := r.stack(f.Stack)
			if st.Outcome == "" || f.Outcome != "" {
				st.State, st.Reason, st.Outcome = f.State, f.Reason, f.Outcome
			}
			if st.Ended.IsZero() && f.Outcome != "" && !st.Begun.IsZero() {
				st.Ended = e.Time
			}
		}
	}
}

// Counts are the stacks by outcome; stacks not done count as cancelled
// once the run has finished.
func (r *RunRecord) Counts() map[event.Outcome]int {
	out := map[event.Outcome]int{}
	for _, st := range r.Stacks {
		o := st.Outcome
		if o == "" {
			if r.Finished.IsZero() {
				continue
			}
			o = event.OutcomeCancelled
		}
		out[o]++
	}
	return out
}

// Duration is how long the run took (so far, at now, while it runs).
func (r *RunRecord) Duration(now time.Time) time.Duration {
	end := r.Finished
	if end.IsZero() {
		end = now
	}
	if r.Started.IsZero() {
		return 0
	}
	return end.Sub(r.Started)
}

// Duration is how long the stack took (so far, at now, while it runs);
// 0 for a stack never begun.
func (s *StackRecord) Duration(now time.Time) time.Duration {
	if s.Begun.IsZero() {
		return 0
	}
	end := s.Ended
	if end.IsZero() {
		end = now
	}
	return end.Sub(s.Begun)
}

// InFlight reports whether the stack has begun and is not done.
func (s *StackRecord) InFlight() bool { return !s.Begun.IsZero() && s.Ended.IsZero() }

// ResourceCounts counts the stack's resources by state: done (a COMPLETE
// or SKIPPED status), changing (IN_PROGRESS) and failed.
func (s *StackRecord) ResourceCounts() (done, changing, failed int) {
	for _, st := range s.Resources {
		switch {
		case strings.HasSuffix(st, "_IN_PROGRESS"):
			changing++
		case strings.HasSuffix(st, "_FAILED"):
			failed++
		default:
			done++
		}
	}
	return
}

// Slowest returns up to n stacks that took longest, longest first (ties
// by plan order); stacks never begun are left out.
func (r *RunRecord) Slowest(n int, now time.Time) []*StackRecord {
	var out []*StackRecord
	for _, st := range r.Stacks {
		if !st.Begun.IsZero() {
			out = append(out, st)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Duration(now) > out[j].Duration(now) })
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// CriticalPath is the chain of dependencies that ended last: from the
// stack that ended last, back through the dependency of each that ended
// last, to a stack with none. It is what bounded the run's wall time.
// Names are returned first to last.
func (r *RunRecord) CriticalPath() []string {
	var last *StackRecord
	for _, st := range r.Stacks {
		if st.Begun.IsZero() {
			continue
		}
		if last == nil || st.end().After(last.end()) {
			last = st
		}
	}
	var path []string
	seen := map[string]bool{}
	for last != nil && !seen[last.Name] {
		seen[last.Name] = true
		path = append(path, last.Name)
		var next *StackRecord
		for _, d := range last.Deps {
			ds := r.byName[d]
			if ds == nil || ds.Begun.IsZero() {
				continue
			}
			if next == nil || ds.end().After(next.end()) {
				next = ds
			}
		}
		last = next
	}
	for i, j := 0, len(path)-1; i < j; i, j = i+1, j-1 {
		path[i], path[j] = path[j], path[i]
	}
	return path
}

func (s *StackRecord) end() time.Time {
	if s.Ended.IsZero() {
		return s.Begun
	}
	return s.Ended
}

// TargetLabel names a stack's target for people: the profile (or
// "default"), the account id when known, and the region:
// "prod 222222222222 eu-west-1".
func TargetLabel(t event.Target) string {
	p := t.Profile
	if p == "" {
		p = "default"
	}
	parts := []string{p}
	if t.Account != "" {
		parts = append(parts, t.Account)
	}
	if t.Region != "" {
		parts = append(parts, t.Region)
	}
	return strings.Join(parts, " ")
}
