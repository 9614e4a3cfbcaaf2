// Package event defines the typed events a run emits while it works, from
// the moment it starts to the moment it ends: stack status changes,
// CloudFormation resource events (--tail), failure reasons, interruption.
// They are the one seam between the work (internal/deploy, internal/cfn,
// internal/engine) and what a person or a program sees (internal/ui renders
// them as stacker's plain lines; live TTY views, JSON lines, summaries and
// timelines are other Sinks over the same events).
//
// Events are values: they carry typed fields (the stack's config name and
// CloudFormation name, its target account, region and profile, the state,
// the reason, the time, the error value) and never a pre-formatted line.
// Rendering them is the Sink's job; deciding from them (the exit code, the
// summary) never needs to parse text.
//
// The package knows nothing else of the tool and imports nothing of it, so
// every layer may depend on it.
package event

import "time"

// State is the state of one stack in a run (stacker's status codes, in
// their order: a stack moves forward through them).
type State int

// States. Pending is the zero value: not started, or waiting (for a stack
// CloudFormation is still changing, for the API budget, for -j).
const (
	Pending State = iota
	Submitted
	Complete
	Skipped
	Failed
)

// String is stacker's lower-case name of the state ("submitted").
func (s State) String() string {
	switch s {
	case Pending:
		return "pending"
	case Submitted:
		return "submitted"
	case Complete:
		return "complete"
	case Skipped:
		return "skipped"
	case Failed:
		return "failed"
	}
	return "unknown"
}

// Done reports whether a stack in this state is finished.
func (s State) Done() bool { return s >= Complete }

// Target is where a stack lives: the AWS account and region its
// credentials resolve to, and the profile (or alias) that names them.
type Target struct {
	// Account is the 12-digit account id; "" when it is not known (the
	// credentials could not be resolved, or the run made no AWS call yet).
	Account string
	// Region is the stack's region ("" only when neither the stack, the
	// profile nor --region gives one).
	Region string
	// Profile is the resolved profile name (the stack's profile, else
	// --profile, AWS_PROFILE, AWS_DEFAULT_PROFILE); "" is the SDK's default
	// credential chain.
	Profile string
}

// String is "profile/region" (or "default/region"), with the account in
// brackets when known: "prod/eu-west-1 [222222222222]".
func (t Target) String() string {
	p := t.Profile
	if p == "" {
		p = "default"
	}
	s := p
	if t.Region != "" {
		s += "/" + t.Region
	}
	if t.Account != "" {
		s += " [" + t.Account + "]"
	}
	return s
}

// Stack names one stack of a run.
type Stack struct {
	// Name is the stack's name in the config (what status lines print).
	Name string
	// FQN is its CloudFormation name (namespace-delimiter-name, or
	// stack_name).
	FQN string
	// Target is where it lives.
	Target Target
}

// Event is one of the event types of this package: RunStarted,
// StackStarted, StackStatus, ResourceEvent, FailureReason, Message, Interrupted and
// RunFinished. Renderers switch on the concrete type and ignore types they
// do not know, so new event types can be added without breaking them.
type Event interface {
	// When is the time the event happened (or was observed).
	When() time.Time
}

// Sink receives events. Emit is called from many goroutines (one per stack
// in flight) and must serialize its own output; it must not block for
// long, since stacks wait for it.
type Sink interface {
	Emit(Event)
}

// SinkFunc adapts a function to a Sink.
type SinkFunc func(Event)

// Emit calls f(e).
func (f SinkFunc) Emit(e Event) { f(e) }

// Multi returns a Sink that emits every event to each of sinks in order
// (nil sinks are skipped).
func Multi(sinks ...Sink) Sink {
	var out multi
	for _, s := range sinks {
		if s != nil {
			out = append(out, s)
		}
	}
	return out
}

type multi []Sink

func (m multi) Emit(e Event) {
	for _, s := range m {
		s.Emit(e)
	}
}

// Discard is a Sink that drops every event.
var Discard Sink = SinkFunc(func(Event) {})

// Action names what a run does to its stacks.
type Action string

// Actions.
const (
	Build   Action = "build"
	Destroy Action = "destroy"
	Diff    Action = "diff"
)

// PlannedStack is one stack of a run's plan, as RunStarted lists it.
type PlannedStack struct {
	Stack
	// Deps are the config names of the stacks this one waits for in this
	// run (for destroy: its dependants, since they are deleted first).
	Deps []string
}

// RunStarted opens a run, before any stack starts.
type RunStarted struct {
	Time   time.Time
	Action Action
	// Stacks are the stacks the run may touch, in dependency order (config
	// targets, which do no work, are left out).
	Stacks []PlannedStack
	// MaxParallel is -j (0: only the graph limits the run).
	MaxParallel int
}

// When implements Event.
func (e RunStarted) When() time.Time { return e.Time }

// StackStarted says the run began working on a stack: its dependencies
// are done and a -j slot is free. Status events follow; the time between
// this and the first is spent describing the stack, resolving its lookups
// and rendering its template.
type StackStarted struct {
	Time time.Time
	Stack
}

// When implements Event.
func (e StackStarted) When() time.Time { return e.Time }

// StackStatus says a stack entered a state (or the same state with another
// reason): "vpc: submitted (creating new stack)".
type StackStatus struct {
	Time time.Time
	Stack
	State State
	// Reason says why, in stacker's words ("creating new stack",
	// "nochange", "dependency has failed", "rolled back new stack"); it
	// may be "" (diff's complete).
	Reason string
	// CFNStatus is the stack's last known CloudFormation status
	// ("UPDATE_IN_PROGRESS"), "" when not known or not relevant.
	CFNStatus string
	// Err is the error behind a Failed state (nil for other states and for
	// failures that are not errors, such as a rollback, whose reason is a
	// FailureReason event). Its text may be longer than Reason (a bucket
	// policy hint, for example).
	Err error
	// Outcome is what the run did to the stack, once it is done ("" while
	// it is not).
	Outcome Outcome
}

// Outcome is what a run did to a stack that is done, as end-of-run
// summaries count them.
type Outcome string

// Outcomes.
const (
	OutcomeCreated   Outcome = "created"   // build: a new (or re-created) stack
	OutcomeUpdated   Outcome = "updated"   // build: an existing stack changed
	OutcomeUnchanged Outcome = "unchanged" // build: nothing to change (nochange)
	OutcomeDeleted   Outcome = "deleted"   // destroy: the stack is gone
	OutcomeCompared  Outcome = "compared"  // diff: the stack was compared
	OutcomeSkipped   Outcome = "skipped"   // locked, disabled, does not exist
	OutcomeFailed    Outcome = "failed"    // the stack failed (or a dependency did)
	OutcomeCancelled Outcome = "cancelled" // the run was interrupted before it finished
)

// Outcomes lists every outcome in the order summaries print them.
var Outcomes = []Outcome{OutcomeCreated, OutcomeUpdated, OutcomeUnchanged, OutcomeDeleted, OutcomeCompared, OutcomeSkipped, OutcomeFailed, OutcomeCancelled}

// When implements Event.
func (e StackStatus) When() time.Time { return e.Time }

// ResourceEvent is one CloudFormation stack event, emitted with --tail (or
// to renderers that ask for them) as it is first seen.
type ResourceEvent struct {
	// Time is when the event was seen by the run.
	Time time.Time
	Stack
	// EventTime is CloudFormation's timestamp of the event.
	EventTime    time.Time
	EventID      string
	LogicalID    string
	PhysicalID   string
	ResourceType string
	// Status is the resource status ("CREATE_FAILED").
	Status string
	Reason string
	// StackLevel is true for events of the stack itself (its own
	// AWS::CloudFormation::Stack status changes).
	StackLevel bool
}

// When implements Event.
func (e ResourceEvent) When() time.Time { return e.Time }

// FailureKind says what failed, for FailureReason.
type FailureKind int

// Failure kinds.
const (
	// Rollback: a create or update rolled back (or failed) and Reason is
	// the root cause found in the stack's events.
	Rollback FailureKind = iota
	// DeleteFailed: a delete left the stack in DELETE_FAILED.
	DeleteFailed
)

// FailureReason is the root cause of a stack's CloudFormation failure, read
// from its events: the first failed resource with a reason
// ("Queue: bad name"), else the stack's own reason.
type FailureReason struct {
	Time time.Time
	Stack
	Kind   FailureKind
	Reason string
	// Resource is the first failed resource event the reason comes from;
	// its LogicalID is "" when the reason is the stack's own.
	Resource FailedResource
}

// FailedResource is the CloudFormation event of the first resource that
// failed in a stack.
type FailedResource struct {
	EventTime    time.Time
	LogicalID    string
	ResourceType string
	Status       string
	Reason       string
}

// When implements Event.
func (e FailureReason) When() time.Time { return e.Time }

// Message is an informational line about a stack or the run that has no
// more specific type ("Destroying stack \"ns-db\" for re-creation").
type Message struct {
	Time time.Time
	// Stack is the stack concerned (zero for run-wide messages).
	Stack Stack
	Text  string
}

// When implements Event.
func (e Message) When() time.Time { return e.Time }

// Changing is a stack an interrupted run left changing in CloudFormation.
type Changing struct {
	Stack
	// CFNStatus is its last known CloudFormation status.
	CFNStatus string
}

// Interrupted says the run was cancelled (Ctrl-C, SIGTERM) and stopped
// waiting. CloudFormation goes on with the stacks in Changing; NextRun says
// what the next run does with them.
type Interrupted struct {
	Time     time.Time
	Changing []Changing
	// NextRun says, in a sentence, what the next run does with a stack
	// still changing (waits for it then handles it, or fails fast).
	NextRun string
}

// When implements Event.
func (e Interrupted) When() time.Time { return e.Time }

// RunFinished closes a run: every stack is done, or the run was
// interrupted. Err is the run's error (nil: every stack complete or
// skipped); its kind decides the exit code.
type RunFinished struct {
	Time   time.Time
	Action Action
	// Final is the last status of every stack that started, by config name.
	Final map[string]StackStatus
	Err   error
}

// When implements Event.
func (e RunFinished) When() time.Time { return e.Time }
