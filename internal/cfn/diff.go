package cfn

import (
	"context"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/stacker-go/stacker/internal/engine"
)

// Change-set texts that mean "nothing to change" (stacker 1.7
// wait_till_change_set_complete; CloudFormation DescribeChangeSet
// StatusReason, or the CreateChangeSet error on some backends).
const (
	textNoChanges1 = "didn't contain changes"
	textNoChanges2 = "No updates are to be performed"
)

// noEchoMask is how CloudFormation shows NoEcho parameter values.
const noEchoMask = "****"

// DiffSpec describes one stack to diff.
type DiffSpec struct {
	Name, FQN        string
	Locked, Forced   bool
	Tags             map[string]string
	RoleARN          string
	NotificationARNs []string
	// Deps is what the diff needs from the run (Prepare; no account guard,
	// since diff changes nothing that stays).
	Deps StackDeps
}

// Diff finds what a build would change in one stack, through a change set
// that is deleted afterwards (with the temporary REVIEW_IN_PROGRESS stack
// of a new stack). Parameters are built as build builds them
// (UsePreviousValue included) and NoEcho values are masked in what it
// returns. The outcome's Diff is the stack's part of the plan, without its
// target (the run knows it); its Outputs are what dependants receive,
// inferred as stacker does.
func (p *Provider) Diff(ctx context.Context, s *DiffSpec) Outcome {
	o := p.diff(ctx, s)
	if ctx.Err() != nil && o.Status.State != engine.Complete && o.Status.State != engine.Skipped {
		o.Status = engine.Status{State: engine.Failed, Reason: engine.ReasonInterrupted, Err: ctx.Err()}
		if o.Diff != nil {
			o.Diff.Action, o.Diff.Reason = DiffCanceled, engine.ReasonInterrupted
		}
	}
	return o
}

func (p *Provider) diff(ctx context.Context, s *DiffSpec) Outcome {
	d := &StackDiff{Name: s.Name, FQN: s.FQN, Parameters: []ValueDiff{}, Tags: []ValueDiff{}, ResourceChanges: []ResourceChange{}}
	fail := func(o Outcome) Outcome {
		d.Action, d.Reason = DiffFailed, o.Status.Reason
		o.Diff = d
		return o
	}
	st, err := p.describeFirst(ctx, s.FQN)
	if err != nil {
		return fail(failedErr(err))
	}
	if st != nil && st.Status == "DELETE_COMPLETE" {
		st = nil
	}
	if st != nil && s.Locked && !s.Forced {
		d.Action, d.Reason, d.Outputs = DiffLocked, ReasonLocked, st.Outputs
		return Outcome{Status: engine.Status{State: engine.Skipped, Reason: ReasonLocked}, Outputs: st.Outputs, Diff: d}
	}
	req, err := s.Deps.Prepare(ctx)
	if err != nil {
		return fail(failedErr(err))
	}
	existing := st
	csType := types.ChangeSetTypeUpdate
	if st == nil || st.Status == "REVIEW_IN_PROGRESS" {
		existing, csType = nil, types.ChangeSetTypeCreate
	}
	params, err := BuildParameters(req.Declared, req.Values, existing)
	if err != nil {
		return fail(failedErr(err))
	}
	var oldParams, oldTags, current map[string]string
	if existing != nil {
		oldParams, oldTags, current = existing.Parameters, existing.Tags, existing.Outputs
	}
	sec := newSecrets(req.Declared, req.Values)
	d.Parameters, d.Tags = paramDiffs(req, oldParams), tagDiffs(oldTags, s.Tags)
	newDefs := req.OutputDefs
	if newDefs == nil {
		for _, n := range req.Outputs {
			newDefs = append(newDefs, OutputDef{Name: n})
		}
	}
	cs, err := p.CreateChangeSet(ctx, &ChangeSetSpec{
		Name: s.Name, FQN: s.FQN, Type: csType, Prefix: "stacker-diff", Request: req, Parameters: params,
		Tags: s.Tags, RoleARN: s.RoleARN, NotificationARNs: s.NotificationARNs,
	})
	if err != nil {
		return fail(failedErr(err))
	}
	if cs.NoChange {
		d.Action = DiffNoChange
	} else {
		d.ResourceChanges = resourceChanges(cs.Changes, sec)
		d.Action = diffAction(csType, d.ResourceChanges)
		if err := cs.Delete(ctx); err != nil {
			d.Warnings = append(d.Warnings, "could not clean up: "+err.Error())
		}
	}
	// The current template is read only when a change may invalidate an
	// output (one read less per unchanged stack).
	var oldDefs []OutputDef
	if existing != nil && len(invalidating(d.ResourceChanges)) > 0 {
		if oldDefs, err = p.templateOutputs(ctx, existing.ID); err != nil {
			return fail(failedErr(err))
		}
	}
	outputs := inferOutputs(s.FQN, current, oldDefs, newDefs, d.ResourceChanges)
	d.Outputs = map[string]string{}
	for k, v := range outputs {
		d.Outputs[k] = sec.mask(v)
	}
	return Outcome{Status: engine.Status{State: engine.Complete}, Outputs: outputs, Diff: d}
}

// templateOutputs reads the outputs of a stack's current template.
func (p *Provider) templateOutputs(ctx context.Context, stackID string) ([]OutputDef, error) {
	var out *cloudformation.GetTemplateOutput
	err := p.doRead(ctx, func() error {
		var err error
		out, err = p.read.GetTemplate(ctx, &cloudformation.GetTemplateInput{StackName: aws.String(stackID)})
		return err
	})
	if err != nil {
		return nil, &CallError{Op: "get template", Err: err}
	}
	defs, err := OutputDefinitions(aws.ToString(out.TemplateBody))
	if err != nil {
		// The old template only narrows which outputs keep their value: an
		// unreadable one keeps them all.
		slog.Debug("diff: the current template's outputs are unreadable", "stack", stackID, "err", err)
		return nil, nil
	}
	return defs, nil
}
