package cfn

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/stacker-go/stacker/internal/engine"
)

// Stacker's approval questions (§5.7, §5.8), asked exactly so.
const (
	QuestionExecute        = "Execute the above changes? [y/n/v] "
	QuestionExecuteNoVerbs = "Execute the above changes? [y/n] "
)

// ReasonCanceled is the status reason of a stack whose change was refused.
const ReasonCanceled = "canceled execution"

// Conversation is one stack's turn at the terminal (ui.Turn): what it
// prints is not interleaved with any other output, and the status output
// is paused until it ends.
type Conversation interface {
	Print(s string)
	Ask(ctx context.Context, question string) (string, error)
}

// Converse gives talk a turn at the terminal, waiting for any other
// stack's turn to end first (ctx ends the wait).
type Converse func(ctx context.Context, talk func(Conversation) error) error

// ApprovalNeededError is an update that needs a person's approval
// (interactive mode, a protected stack) when there is no terminal to ask
// on and the stack was not approved with --approve.
type ApprovalNeededError struct {
	// Stacks are "name (fqn)" of every stack concerned.
	Stacks []string
	// Why is "-i/--interactive" or "protected: true" (or both, joined).
	Why string
}

func (e *ApprovalNeededError) Error() string {
	s := "stack"
	if len(e.Stacks) > 1 {
		s = "stacks"
	}
	return fmt.Sprintf("%s %s would be changed only after approval (%s), and there is no terminal to ask on: "+
		"review the plan (stacker diff), then approve with --approve NAME (repeatable) or --approve all",
		s, strings.Join(e.Stacks, ", "), e.Why)
}

// errCanceled is a refused change (any answer but y).
var errCanceled = errors.New(ReasonCanceled)

// askExecute is stacker's ask_for_approval with the full change set on
// "v": y executes, v prints the full change set and asks again without
// v, anything else cancels. The summary is printed first.
func askExecute(ctx context.Context, c Conversation, r *Review) error {
	c.Print(r.Summary())
	a, err := c.Ask(ctx, QuestionExecute)
	if err != nil {
		return err
	}
	a = strings.ToLower(a)
	if a == "v" {
		c.Print(r.Full())
		if a, err = c.Ask(ctx, QuestionExecuteNoVerbs); err != nil {
			return err
		}
		a = strings.ToLower(a)
	}
	if a != "y" {
		return errCanceled
	}
	return nil
}

// askRecreate is stacker's question before a stack in a failed state is
// deleted and created again (§5.8).
func askRecreate(ctx context.Context, c Conversation, fqn, status string) error {
	c.Print(fmt.Sprintf("The %q stack is in a failed state (%s).\n"+
		"It cannot be updated, but it can be deleted and re-created.\n"+
		"All its current resources will IRREVERSIBLY DESTROYED.\n"+
		"Proceed carefully!\n\n", fqn, status))
	a, err := c.Ask(ctx, QuestionExecuteNoVerbs)
	if err != nil {
		return err
	}
	if strings.ToLower(a) != "y" {
		return errCanceled
	}
	return nil
}

// asks reports whether the stack's updates wait for approval.
func (s *LaunchSpec) asks() bool { return s.Interactive || s.Protected }

// approve runs ask on a turn at the terminal. A stack approved with
// --approve is not asked (a line says so); without a terminal the
// answer is an ApprovalNeededError (the run checks this before any
// change, so it is seen only if the stack's state changed since).
func (p *Provider) approve(ctx context.Context, s *LaunchSpec, ask func(Conversation) error) error {
	switch {
	case s.Approved:
		s.Deps.message(p, s.Name, s.FQN, "%s: approved with --approve, not asked", s.FQN)
		return nil
	case s.Deps.Converse == nil:
		why := "protected: true"
		if s.Interactive {
			why = "-i/--interactive"
		}
		return &ApprovalNeededError{Stacks: []string{s.Name + " (" + s.FQN + ")"}, Why: why}
	}
	return s.Deps.Converse(ctx, ask)
}

// refused is the outcome of a change a person did not approve: skipped
// (canceled execution), with the stack's outputs as they are, or failed
// when asking failed (no terminal, interrupted).
func refused(err error, outputs map[string]string) Outcome {
	if errors.Is(err, errCanceled) {
		return Outcome{Status: engine.Status{State: engine.Skipped, Reason: ReasonCanceled}, Outputs: outputs}
	}
	return failedErr(err)
}

// changeSetUpdate is stacker's interactive_update_stack: the update goes
// through a change set that is shown and, unless there is nothing to ask
// about, approved by a person before it is executed. ok is true once the
// change set was executed (the caller waits for the stack as after
// UpdateStack); otherwise o is the stack's outcome: nochange, canceled
// execution, or failed. The change set is never left behind: it is
// executed or deleted, also when asking fails or is interrupted. When
// CloudFormation refuses to create the change set because st was out of
// date (isStale: the stack is gone, or someone else is changing it),
// nothing has been asked or changed and o is the zero Outcome: launch reads
// the stack again and decides anew.
func (p *Provider) changeSetUpdate(ctx context.Context, s *LaunchSpec, st *Stack, req *Request, params []types.Parameter, report func(engine.Status), isStale func(error) bool) (o Outcome, ok bool) {
	cs, err := p.CreateChangeSet(ctx, &ChangeSetSpec{
		FQN: s.FQN, Type: types.ChangeSetTypeUpdate, Prefix: "stacker", Request: req, Parameters: params,
		Tags: s.Tags, RoleARN: s.RoleARN, NotificationARNs: s.NotificationARNs,
	})
	if err != nil {
		if isStale(err) {
			return Outcome{}, false
		}
		return failedErr(err), false
	}
	defer func() {
		if derr := cs.Delete(ctx); derr != nil && o.Status.State != engine.Failed {
			o = failedErr(derr)
		}
	}()
	if cs.NoChange {
		return Outcome{Status: engine.Status{State: engine.Skipped, Reason: ReasonNoChange}, Outputs: st.Outputs}, false
	}
	if cs.ExecutionStatus != "" && cs.ExecutionStatus != types.ExecutionStatusAvailable {
		return failed(fmt.Sprintf("Changeset '%s' on stack '%s' had bad execution status: %s", cs.Name, s.FQN, cs.ExecutionStatus)), false
	}
	sec := newSecrets(req.Declared, req.Values)
	r := &Review{FQN: s.FQN, Params: ParameterDiff(req.Declared, req.Values, st.Parameters), Changes: cs.Changes, ReplacementsOnly: s.ReplacementsOnly,
		Secrets: sec.values, NoEcho: sec.names}
	if r.NeedsAnswer() {
		if s.Approved {
			s.Deps.message(p, s.Name, s.FQN, "%s", strings.TrimSuffix(r.Summary(), "\n"))
		}
		if err := p.approve(ctx, s, func(c Conversation) error { return askExecute(ctx, c, r) }); err != nil {
			return refused(err, st.Outputs), false
		}
	}
	// Changes that must wait for the approval: the stack policy (stacker
	// sets it before executing) and termination protection.
	if req.StackPolicy != "" {
		if _, err := p.write.SetStackPolicy(ctx, &cloudformation.SetStackPolicyInput{StackName: aws.String(st.ID), StackPolicyBody: aws.String(req.StackPolicy)}); err != nil {
			return failedErr(&CallError{Op: "set stack policy of " + s.FQN, Err: err}), false
		}
	}
	if st.TerminationProtection != s.TerminationProtection {
		if err := p.setTerminationProtection(ctx, st.ID, s.TerminationProtection); err != nil {
			return failedErr(&CallError{Op: "update termination protection of " + s.FQN, Err: err}), false
		}
	}
	// A per-submission ClientRequestToken marks this execution's events.
	if err := cs.Execute(ctx, ""); err != nil {
		return failedErr(err), false
	}
	report(engine.Status{State: engine.Submitted, Reason: ReasonUpdating})
	return Outcome{}, true
}
