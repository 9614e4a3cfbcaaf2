package cfn

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/stacker-go/stacker/internal/engine"
)

// DestroySpec describes one stack to delete.
type DestroySpec struct {
	Name, FQN string
	RoleARN   string
	Guard     func(ctx context.Context) error
	OnEvent   func(Event)
	Log       func(format string, args ...any)
}

// Destroy deletes one stack and waits for it to go (stacker §5.16). A stack
// with termination protection fails with a message saying so; a stack
// CloudFormation is still changing is waited for, then deleted.
func (p *Provider) Destroy(ctx context.Context, s *DestroySpec, report func(engine.Status)) Outcome {
	o := p.destroy(ctx, s, report)
	if ctx.Err() != nil && o.Status.State != engine.Complete && o.Status.State != engine.Skipped {
		o.Status = engine.Status{State: engine.Failed, Reason: engine.ReasonInterrupted}
	}
	return o
}

func (p *Provider) destroy(ctx context.Context, s *DestroySpec, report func(engine.Status)) Outcome {
	st, err := p.Describe(ctx, s.FQN)
	if err != nil {
		return failed(err.Error())
	}
	if st == nil || st.Status == "DELETE_COMPLETE" {
		return Outcome{Status: engine.Status{State: engine.Skipped, Reason: ReasonDoesNotExist}}
	}
	if st.TerminationProtection {
		return failed(fmt.Sprintf("termination protection is enabled on %s: set termination_protection: false and build, or run aws cloudformation update-termination-protection --no-enable-termination-protection --stack-name %s", s.FQN, s.FQN))
	}
	var tail *tailer
	if s.OnEvent != nil {
		tail = &tailer{seen: map[string]bool{}, since: p.now().Add(-time.Second), emit: s.OnEvent}
	}
	interrupted := func(err error, last string) Outcome {
		o := failed(err.Error())
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
	if s.Guard != nil {
		if err := s.Guard(ctx); err != nil {
			return failed(err.Error())
		}
	}
	submitted := p.now().Add(-time.Second)
	if st.Status != "DELETE_IN_PROGRESS" {
		if _, err := p.write.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String(st.ID), RoleARN: optional(s.RoleARN)}); err != nil {
			return failed("delete stack: " + apiMessage(err))
		}
	}
	report(engine.Status{State: engine.Submitted, Reason: ReasonDestroying})
	last := "DELETE_IN_PROGRESS"
	left, err := p.waitSettled(ctx, st.ID, tail, func(x *Stack) { last = x.Status })
	if err != nil {
		return interrupted(err, last)
	}
	if left != nil {
		reason := p.RollbackReason(ctx, left, submitted)
		if s.Log != nil {
			s.Log("%s delete failed: %s", s.FQN, reason)
		}
		return failed(fmt.Sprintf("%s: %s", left.Status, reason))
	}
	return Outcome{Status: engine.Status{State: engine.Complete, Reason: ReasonDestroyed}}
}
