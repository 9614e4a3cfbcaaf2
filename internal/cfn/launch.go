package cfn

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/stacker-go/stacker/blueprint"
	"github.com/stacker-go/stacker/internal/awserr"
	"github.com/stacker-go/stacker/internal/engine"
	"github.com/stacker-go/stacker/internal/event"
)

// Capabilities sent on every create and update (fixed, as in stacker).
var Capabilities = []types.Capability{types.CapabilityCapabilityNamedIam, types.CapabilityCapabilityAutoExpand}

// Status reasons printed after "<name>: <state>" (stacker §6.6).
const (
	ReasonCreating      = "creating new stack"
	ReasonRecreating    = "re-creating stack"
	ReasonUpdating      = "updating existing stack"
	ReasonDestroyingRe  = "destroying stack for re-creation"
	ReasonRollingNew    = "rolling back new stack"
	ReasonRollingUpdate = "rolling back update"
	ReasonRolledNew     = "rolled back new stack"
	ReasonRolledUpdate  = "rolled back update"
	ReasonNoChange      = "nochange"
	ReasonLocked        = "locked"
	ReasonDisabled      = "disabled"
	ReasonWaiting       = "waiting"
	ReasonDestroying    = "submitted for destruction"
	ReasonDestroyed     = "stack destroyed"
	ReasonDoesNotExist  = "does not exist in cloudformation"
)

// Request is what the stack sends to CloudFormation, produced by
// LaunchSpec.Prepare once dependencies are done (lookups resolved and the
// template rendered and uploaded).
type Request struct {
	TemplateBody string
	TemplateURL  string
	// Declared are the template's parameters; Values the values to send.
	Declared []blueprint.Parameter
	Values   map[string]string
	// StackPolicy is the stack policy body ("" for none).
	StackPolicy string
	// Outputs are the template's output names.
	Outputs []string
	// OutputDefs are the template's outputs with their values (diff's
	// inferred-change placeholders); nil outside diff.
	OutputDefs []OutputDef
	// TemplateSHA256 is the hex sha256 of the template body, also when
	// TemplateURL is sent (set by NoteTemplate; no-change detection).
	TemplateSHA256 string
	// noted and ineligible are NoteTemplate's facts (nochange.go).
	noted      bool
	ineligible string
}

// LaunchSpec describes one stack to build.
type LaunchSpec struct {
	Name string // config name
	FQN  string // CloudFormation stack name

	Locked, Forced, Protected bool
	// WaitInProgress waits for a stack CloudFormation is still changing
	// (another run, a console change, an interrupted run), then handles it;
	// false fails fast (in_progress_behavior: fail).
	WaitInProgress bool
	RecreateFailed bool
	// Interactive sends an update through a change set a person approves
	// (-i), as Protected does; ReplacementsOnly shows and asks about
	// replacements only. Approved executes without asking (--approve).
	// Creates are never asked about (stacker).
	Interactive, ReplacementsOnly, Approved bool

	Tags                  map[string]string
	TerminationProtection bool
	NotificationARNs      []string
	RoleARN               string

	// Deps is what the launch needs from the run.
	Deps StackDeps
}

// StackDeps is what a stack action needs from the run that drives it: one
// value per stack, built by internal/deploy. It is the provider's only way
// back into the run.
type StackDeps struct {
	// Target names where the stack lives, in the events the provider emits.
	Target event.Target
	// Prepare resolves the stack's lookups, renders its template and
	// uploads it (build and diff). Launch runs it while the stack is
	// described; its result is used only when the stack is to be created or
	// updated.
	Prepare func(ctx context.Context) (*Request, error)
	// CheckAccount is the account guard, run before the first mutating
	// call; nil checks nothing.
	CheckAccount func(ctx context.Context) error
	// Events receives the provider's FailureReason and Message events and,
	// with Tail, a ResourceEvent for every new stack event. Nil drops them.
	Events event.Sink
	// Tail asks for resource events while the stack changes (--tail, or a
	// live view). TailSpare, for a live view without --tail, reads them
	// only when the API budget can spare the calls, at most every 2 s per
	// stack: what the view shows must never slow down the build.
	Tail, TailSpare bool
	// Converse asks a person (Interactive, Protected); nil when there is
	// no terminal.
	Converse Converse
}

// Outcome of a stack action.
type Outcome struct {
	Status engine.Status
	// Outputs of the stack when it is complete or skipped while existing.
	Outputs map[string]string
	// Changing is true when the action was interrupted while
	// CloudFormation was still changing the stack; LastStatus is its last
	// known CloudFormation status.
	Changing   bool
	LastStatus string
	// Diff is what diff found for the stack (diff only).
	Diff *StackDiff
}

// failed is a failure that is not an error (a rollback, a refused state
// transition told in stacker's words).
func failed(reason string) Outcome {
	return Outcome{Status: engine.Status{State: engine.Failed, Reason: reason}}
}

// failedErr is a failure caused by err; the status reason is its text.
func failedErr(err error) Outcome {
	return Outcome{Status: engine.Status{State: engine.Failed, Reason: err.Error(), Err: err}}
}

// StateError refuses to act on a stack in the state CloudFormation reports.
type StateError struct {
	FQN, Status, Why string
}

func (e *StateError) Error() string {
	return fmt.Sprintf("Stack: %q cannot be updated nor re-created from state %s: %s", e.FQN, e.Status, e.Why)
}

// CallError is a failed mutating call (create, update, delete ...): Op says
// what was being done, Err is the SDK's error. Hint, when set by the
// caller, explains the failure further (a bucket policy to add).
type CallError struct {
	Op   string
	Err  error
	Hint string
}

// Error keeps the status line short: the service's message, not the SDK's
// "operation error CloudFormation: ..., https response error ..." chain;
// with a Hint, the full error and the hint on the next lines.
func (e *CallError) Error() string {
	if e.Hint != "" {
		return e.Op + ": " + e.Err.Error() + "\n" + e.Hint
	}
	return e.Op + ": " + apiMessage(e.Err)
}

func (e *CallError) Unwrap() error { return e.Err }

// TemplateAccessDenied reports whether CloudFormation refused the call
// because it cannot read the TemplateURL.
func (e *CallError) TemplateAccessDenied() bool {
	return strings.Contains(apiMessage(e.Err), TextTemplateURLAccess)
}

// stack names the spec's stack in events.
func (d *StackDeps) stack(name, fqn string) event.Stack {
	return event.Stack{Name: name, FQN: fqn, Target: d.Target}
}

func (d *StackDeps) emit(e event.Event) {
	if d.Events != nil {
		d.Events.Emit(e)
	}
}

// message emits an informational line about the stack.
func (d *StackDeps) message(p *Provider, name, fqn, format string, args ...any) {
	d.emit(event.Message{Time: p.now(), Stack: d.stack(name, fqn), Text: fmt.Sprintf(format, args...)})
}

// failure emits the root cause of a CloudFormation failure, read from the
// stack's events since a time, and returns its text.
func (d *StackDeps) failure(ctx context.Context, p *Provider, name, fqn string, kind event.FailureKind, st *Stack, since time.Time) string {
	reason, res := p.rollbackCause(ctx, st, since)
	d.emit(event.FailureReason{Time: p.now(), Stack: d.stack(name, fqn), Kind: kind, Reason: reason, Resource: res})
	return reason
}

// tailer returns the resource-event tail of a stack, nil without Tail.
func (d *StackDeps) tailer(p *Provider, name, fqn string) *tailer {
	if !d.Tail || d.Events == nil {
		return nil
	}
	ref := d.stack(name, fqn)
	return &tailer{seen: map[string]bool{}, since: p.now().Add(-time.Second), spare: d.TailSpare, emit: func(e Event) {
		d.Events.Emit(event.ResourceEvent{
			Time: p.now(), Stack: ref, EventTime: e.Time, EventID: e.ID, LogicalID: e.LogicalID,
			PhysicalID: e.PhysicalID, ResourceType: e.ResourceType, Status: e.Status, Reason: e.Reason, StackLevel: e.StackLevel,
		})
	}}
}

// Launch runs the build state machine for one stack (stacker's
// _launch_stack, §5.3): describe, decide, submit, wait.
func (p *Provider) Launch(ctx context.Context, s *LaunchSpec, report func(engine.Status)) Outcome {
	o := p.launch(ctx, s, report)
	if ctx.Err() != nil && o.Status.State != engine.Complete && o.Status.State != engine.Skipped {
		o.Status = engine.Status{State: engine.Failed, Reason: engine.ReasonInterrupted, Err: ctx.Err()}
	}
	return o
}

type prepared struct {
	req *Request
	err error
}

func (p *Provider) launch(ctx context.Context, s *LaunchSpec, report func(engine.Status)) Outcome {
	// Resolve and render while the stack is described: a stack's latency is
	// then one round trip shorter. The result is used only if the stack is
	// submitted; otherwise it is waited for and dropped. (It is not
	// cancelled: Prepare may be initialising run-wide state, such as the
	// template bucket or a target's credentials, that must not remember a
	// cancellation; an interrupt cancels ctx itself.)
	prepCh := make(chan prepared, 1)
	go func() {
		req, err := s.Deps.Prepare(ctx)
		prepCh <- prepared{req, err}
	}()
	var prep *prepared
	wait := func() prepared {
		if prep == nil {
			r := <-prepCh
			prep = &r
		}
		return *prep
	}
	defer wait()

	st, err := p.describeFirst(ctx, s.FQN)
	if err != nil {
		return failedErr(err)
	}
	var stale bool
	o := p.launchFrom(ctx, s, st, wait, report, &stale)
	if !stale {
		return o
	}
	// The submission showed that the answer the decision came from was out
	// of date (the target's snapshot, or a read that raced a change made by
	// someone else): read the stack again, once, and decide anew.
	slog.Debug("cfn: the stack changed since it was described; reading it again", "stack", s.FQN)
	if st, err = p.Describe(ctx, s.FQN); err != nil {
		return failedErr(err)
	}
	return p.launchFrom(ctx, s, st, wait, report, nil)
}

// staleAnswer reports whether a submission's error says that the stack is
// not in the state the decision was taken from: CreateStack of a stack
// that exists, UpdateStack or DeleteStack of one that does not, UpdateStack
// of one in a state that cannot be updated (someone else is changing it).
func staleAnswer(err error) bool {
	return awserr.Code(err) == "AlreadyExistsException" ||
		(isNotExist(err) && strings.HasPrefix(awserr.Message(err), "Stack")) ||
		awserr.MessageContains(err, textNotUpdatable)
}

// launchFrom decides what to do with the stack as st describes it (nil:
// it does not exist), then does it. When stale is not nil and a submission
// fails with an error that says st was out of date (staleAnswer), it sets
// *stale and returns before anything has been changed or reported as
// submitted; launch then reads the stack again and calls it once more with
// stale nil.
func (p *Provider) launchFrom(ctx context.Context, s *LaunchSpec, st *Stack, wait func() prepared, report func(engine.Status), stale *bool) Outcome {
	var err error
	isStale := func(err error) bool {
		if stale != nil && staleAnswer(err) {
			*stale = true
			return true
		}
		return false
	}
	if st != nil && st.Status == "DELETE_COMPLETE" {
		st = nil
	}
	if st != nil && s.Locked && !s.Forced {
		return Outcome{Status: engine.Status{State: engine.Skipped, Reason: ReasonLocked}, Outputs: st.Outputs}
	}
	tail := s.Deps.tailer(p, s.Name, s.FQN)

	// A stack CloudFormation is still changing: wait for it or refuse.
	if st != nil && InProgress(st.Status) {
		if !s.WaitInProgress {
			return failedErr(&StateError{FQN: s.FQN, Status: st.Status, Why: "Update already in-progress"})
		}
		report(engine.Status{State: engine.Pending, Reason: ReasonWaiting})
		last := st.Status
		st, err = p.waitSettled(ctx, st.ID, tail, func(x *Stack) { last = x.Status })
		if err != nil {
			o := failedErr(err)
			if ctx.Err() != nil {
				o.Changing, o.LastStatus = true, last
			}
			return o
		}
	}

	// Decide without mutating anything.
	var deleteFirst bool
	if st != nil {
		switch {
		case st.Status == "REVIEW_IN_PROGRESS":
			// Left by an aborted CREATE change set: it has no resources.
			deleteFirst = true
		case recreatable[st.Status]:
			if !s.RecreateFailed {
				return failedErr(&StateError{FQN: s.FQN, Status: st.Status, Why: "Stack re-creation is disabled. Run stacker again with the --recreate-failed option to force it to be deleted and created from scratch."})
			}
			if !tagsMatch(st.Tags, s.Tags) {
				return failedErr(&StateError{FQN: s.FQN, Status: st.Status, Why: "Tags differ from current configuration, possibly not created with stacker"})
			}
			deleteFirst = true
		case st.Status == "UPDATE_ROLLBACK_FAILED":
			return failed(fmt.Sprintf("Stack: %q is in state UPDATE_ROLLBACK_FAILED: run ContinueUpdateRollback (aws cloudformation continue-update-rollback --stack-name %s) and build again", s.FQN, s.FQN))
		case !updatable[st.Status]:
			return failedErr(&StateError{FQN: s.FQN, Status: st.Status, Why: "Unsupported state for re-creation"})
		}
	}

	pr := wait()
	if pr.err != nil {
		return failedErr(pr.err)
	}
	req := pr.req
	existing := st
	if deleteFirst {
		existing = nil
	}
	params, err := BuildParameters(req.Declared, req.Values, existing)
	if err != nil {
		return failedErr(err)
	}
	if s.Deps.CheckAccount != nil {
		if err := s.Deps.CheckAccount(ctx); err != nil {
			return failedErr(err)
		}
	}
	if !deleteFirst {
		if o, ok := p.skipUnchanged(s, st, req, params); ok {
			return o
		}
	}

	if deleteFirst && st.Status != "REVIEW_IN_PROGRESS" && s.asks() {
		// Stacker asks in interactive mode; a protected stack is asked
		// about too (stacker destroyed it without asking).
		if err := p.approve(ctx, s, func(c Conversation) error { return askRecreate(ctx, c, s.FQN, st.Status) }); err != nil {
			return refused(err, nil)
		}
	}

	recreate := false
	if deleteFirst {
		s.Deps.message(p, s.Name, s.FQN, "Destroying stack %q for re-creation", s.FQN)
		if err := p.deleteStack(ctx, st.ID, s.RoleARN); err != nil {
			if isStale(err) {
				return Outcome{}
			}
			return failedErr(&CallError{Op: "delete stack " + s.FQN + " for re-creation", Err: err})
		}
		report(engine.Status{State: engine.Submitted, Reason: ReasonDestroyingRe})
		last := "DELETE_IN_PROGRESS"
		gone, err := p.waitSettled(ctx, st.ID, tail, func(x *Stack) { last = x.Status })
		if err != nil {
			o := failedErr(err)
			if ctx.Err() != nil {
				o.Changing, o.LastStatus = true, last
			}
			return o
		}
		if gone != nil {
			s.Deps.failure(ctx, p, s.Name, s.FQN, event.Rollback, gone, time.Time{})
			return failed(ReasonDestroyingRe)
		}
		recreate = st.Status != "REVIEW_IN_PROGRESS"
		st = nil
	}

	submitted := p.now().Add(-time.Second)
	var id, reason string
	if st == nil {
		reason = ReasonCreating
		if recreate {
			reason = ReasonRecreating
		}
		in := &cloudformation.CreateStackInput{
			StackName:                   aws.String(s.FQN),
			Parameters:                  params,
			Tags:                        sdkTags(s.Tags),
			Capabilities:                Capabilities,
			RoleARN:                     optional(s.RoleARN),
			NotificationARNs:            s.NotificationARNs,
			StackPolicyBody:             optional(req.StackPolicy),
			EnableTerminationProtection: aws.Bool(s.TerminationProtection),
		}
		setTemplate(req, &in.TemplateBody, &in.TemplateURL)
		id, err = p.createStack(ctx, in)
		if err != nil {
			if isStale(err) {
				return Outcome{}
			}
			return failedErr(&CallError{Op: "create stack", Err: err})
		}
	} else if s.asks() {
		o, ok := p.changeSetUpdate(ctx, s, st, req, params, report, isStale)
		if !ok {
			if stale != nil && *stale {
				return Outcome{}
			}
			if o.Status.Reason == ReasonNoChange {
				p.remember(s, st, req)
			}
			return o
		}
		reason, id = ReasonUpdating, st.ID
	} else {
		reason = ReasonUpdating
		if st.TerminationProtection != s.TerminationProtection {
			if err := p.setTerminationProtection(ctx, st.ID, s.TerminationProtection); err != nil {
				if isStale(err) {
					return Outcome{}
				}
				return failedErr(&CallError{Op: "update termination protection of " + s.FQN, Err: err})
			}
		}
		in := &cloudformation.UpdateStackInput{
			StackName:        aws.String(s.FQN),
			Parameters:       params,
			Tags:             sdkTags(s.Tags),
			Capabilities:     Capabilities,
			RoleARN:          optional(s.RoleARN),
			NotificationARNs: s.NotificationARNs,
			StackPolicyBody:  optional(req.StackPolicy),
		}
		setTemplate(req, &in.TemplateBody, &in.TemplateURL)
		id, err = p.updateStack(ctx, in, st.ID)
		if isNoUpdates(err) {
			p.remember(s, st, req)
			return Outcome{Status: engine.Status{State: engine.Skipped, Reason: ReasonNoChange}, Outputs: st.Outputs}
		}
		if err != nil {
			if isStale(err) {
				return Outcome{}
			}
			return failedErr(&CallError{Op: "update stack", Err: err})
		}
	}
	if !s.asks() || st == nil {
		report(engine.Status{State: engine.Submitted, Reason: reason})
	}

	// What CloudFormation answered the submission with, until a poll says more.
	last := "CREATE_IN_PROGRESS"
	if reason == ReasonUpdating {
		last = "UPDATE_IN_PROGRESS"
	}
	final, err := p.waitSettled(ctx, id, tail, func(x *Stack) {
		last = x.Status
		switch x.Status {
		case "ROLLBACK_IN_PROGRESS":
			report(engine.Status{State: engine.Submitted, Reason: ReasonRollingNew})
		case "UPDATE_ROLLBACK_IN_PROGRESS":
			report(engine.Status{State: engine.Submitted, Reason: ReasonRollingUpdate})
		}
	})
	if err != nil {
		o := failedErr(err)
		if ctx.Err() != nil {
			o.Changing, o.LastStatus = true, last
		}
		return o
	}
	if final == nil {
		return failed(reason + ": the stack was deleted while it was being changed")
	}
	switch final.Status {
	case "CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE":
		p.remember(s, final, req)
		return Outcome{Status: engine.Status{State: engine.Complete, Reason: reason}, Outputs: final.Outputs}
	case "ROLLBACK_COMPLETE":
		s.Deps.failure(ctx, p, s.Name, s.FQN, event.Rollback, final, submitted)
		return failed(ReasonRolledNew)
	case "UPDATE_ROLLBACK_COMPLETE":
		s.Deps.failure(ctx, p, s.Name, s.FQN, event.Rollback, final, submitted)
		return failed(ReasonRolledUpdate)
	default:
		s.Deps.failure(ctx, p, s.Name, s.FQN, event.Rollback, final, submitted)
		return failed(reason)
	}
}

func setTemplate(r *Request, body, url **string) {
	if r.TemplateURL != "" {
		*url = aws.String(r.TemplateURL)
	} else {
		*body = aws.String(r.TemplateBody)
	}
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

func sdkTags(m map[string]string) []types.Tag {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	tags := make([]types.Tag, 0, len(keys))
	for _, k := range keys {
		tags = append(tags, types.Tag{Key: aws.String(k), Value: aws.String(m[k])})
	}
	return tags
}

// tagsMatch reports whether every configured tag is on the stack with the
// same value (stacker: the stack's tags are a superset of the config's).
func tagsMatch(stack, want map[string]string) bool {
	for k, v := range want {
		if got, ok := stack[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// MissingParametersError lists required parameters without a value.
type MissingParametersError struct{ Names []string }

func (e *MissingParametersError) Error() string {
	return "Missing required cloudformation parameters: " + strings.Join(e.Names, ", ")
}

// BuildParameters turns the template's declared parameters and the values
// to send into CloudFormation parameters (stacker §4.5): values for
// undeclared names are dropped, a declared parameter without a value that
// the existing stack has gets UsePreviousValue, and required parameters
// (no Default) still missing are an error.
func BuildParameters(declared []blueprint.Parameter, values map[string]string, existing *Stack) ([]types.Parameter, error) {
	var out []types.Parameter
	var missing []string
	for _, d := range declared {
		if v, ok := values[d.Name]; ok {
			out = append(out, types.Parameter{ParameterKey: aws.String(d.Name), ParameterValue: aws.String(v)})
			continue
		}
		if existing != nil {
			if _, ok := existing.Parameters[d.Name]; ok {
				out = append(out, types.Parameter{ParameterKey: aws.String(d.Name), UsePreviousValue: aws.Bool(true)})
				continue
			}
		}
		if !d.HasDefault {
			missing = append(missing, d.Name)
		}
	}
	if len(missing) > 0 {
		return nil, &MissingParametersError{Names: missing}
	}
	return out, nil
}

// MaskedParameters renders the parameter values a stack sends, for -v:
// "A=x, Secret=****" in the template's order, NoEcho values masked
// (parameters without a value are left out).
func MaskedParameters(declared []blueprint.Parameter, values map[string]string) string {
	var parts []string
	for _, p := range declared {
		v, ok := values[p.Name]
		if !ok {
			continue
		}
		if p.NoEcho {
			v = "****"
		}
		parts = append(parts, p.Name+"="+v)
	}
	if len(parts) == 0 {
		return "(none)"
	}
	return strings.Join(parts, ", ")
}
