package cfn

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/stacker-go/stacker/internal/engine"
	"github.com/stacker-go/stacker/internal/event"
)

// DestroySpec describes one stack to delete.
type DestroySpec struct {
	Name, FQN string
	RoleARN   string
	// Deps is what the delete needs from the run (Prepare is not used).
	Deps StackDeps
}

// Destroy deletes one stack and waits for it to go (stacker §5.16). A stack
// with termination protection fails with a message saying so; a stack
// CloudFormation is still changing is waited for, then deleted.
func (p *Provider) Destroy(ctx context.Context, s *DestroySpec, report func(engine.Status)) Outcome {
	o := p.destroy(ctx, s, report)
	if ctx.Err() != nil && o.Status.State != engine.Complete && o.Status.State != engine.Skipped {
		o.Status = engine.Status{State: engine.Failed, Reason: engine.ReasonInterrupted, Err: ctx.Err()}
	}
	return o
}

func (p *Provider) destroy(ctx context.Context, s *DestroySpec, report func(engine.Status)) Outcome {
	st, err := p.describeFirst(ctx, s.FQN)
	if err != nil {
		return failedErr(err)
	}
	var stale bool
	o := p.destroyFrom(ctx, s, st, report, &stale)
	if !stale {
		return o
	}
	// DeleteStack said the stack is not what the first describe (the
	// target's snapshot) showed: read it again, once, and decide anew.
	slog.Debug("cfn: the stack changed since it was described; reading it again", "stack", s.FQN)
	if st, err = p.Describe(ctx, s.FQN); err != nil {
		return failedErr(err)
	}
	return p.destroyFrom(ctx, s, st, report, nil)
}

// destroyFrom deletes the stack as st describes it (nil: it does not
// exist). When stale is not nil and DeleteStack fails with an error that
// says st was out of date (staleAnswer), it sets *stale and returns before
// reporting the stack submitted.
func (p *Provider) destroyFrom(ctx context.Context, s *DestroySpec, st *Stack, report func(engine.Status), stale *bool) Outcome {
	var err error
	if st == nil || st.Status == "DELETE_COMPLETE" {
		return Outcome{Status: engine.Status{State: engine.Skipped, Reason: ReasonDoesNotExist}}
	}
	if st.TerminationProtection {
		return failed(fmt.Sprintf("termination protection is enabled on %s: set termination_protection: false and build, or run aws cloudformation update-termination-protection --no-enable-termination-protection --stack-name %s", s.FQN, s.FQN))
	}
	tail := s.Deps.tailer(p, s.Name, s.FQN)
	interrupted := func(err error, last string) Outcome {
		o := failedErr(err)
		if ctx.Err() != nil {
			o.Changing, o.LastStatus = true, last
		}
		return o
	}
	if InProgress(st.Status) && st.Status != "DELETE_IN_PROGRESS" {
		report(engine.Status{State: engine.Pending, Reason: ReasonWaiting})
		last := st.Status
		st, err = p.waitSettled(ctx, st.ID, tail, func(x *Stack) { last = x.Status })
		if err != nil {
			return interrupted(err, last)
		}
		if st == nil {
			return Outcome{Status: engine.Status{State: engine.Complete, Reason: ReasonDestroyed}}
		}
	}
	if s.Deps.CheckAccount != nil {
		if err := s.Deps.CheckAccount(ctx); err != nil {
			return failedErr(err)
		}
	}
	submitted := p.now().Add(-time.Second)
	if st.Status != "DELETE_IN_PROGRESS" {
		if err := p.deleteStack(ctx, st.ID, s.RoleARN); err != nil {
			if stale != nil && staleAnswer(err) {
				*stale = true
				return Outcome{}
			}
			return failedErr(&CallError{Op: "delete stack", Err: err})
		}
	}
	report(engine.Status{State: engine.Submitted, Reason: ReasonDestroying})
	last := "DELETE_IN_PROGRESS"
	left, err := p.waitSettled(ctx, st.ID, tail, func(x *Stack) { last = x.Status })
	if err != nil {
		return interrupted(err, last)
	}
	if left != nil {
		reason := s.Deps.failure(ctx, p, s.Name, s.FQN, event.DeleteFailed, left, submitted)
		return failed(fmt.Sprintf("%s: %s", left.Status, reason))
	}
	return Outcome{Status: engine.Status{State: engine.Complete, Reason: ReasonDestroyed}}
}
