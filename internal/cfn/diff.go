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
	Name, FQN string
	// Label names the stack in the printed diff; "" means FQN. The run sets
	// it to "FQN (config name)" when stacks in different targets share a
	// CloudFormation name, so prod/vpc and stage/vpc are told apart.
	Label            string
	Locked, Forced   bool
	Tags             map[string]string
	RoleARN          string
	NotificationARNs []string
	// Deps is what the diff needs from the run (Prepare; no account guard,
	// since diff changes nothing that stays).
	Deps StackDeps
}

// Diff shows what a build would change in one stack, through a change set
// that is deleted afterwards (with the temporary REVIEW_IN_PROGRESS stack
// of a new stack). Parameters are built as build builds them
// (UsePreviousValue included) and NoEcho values are never printed.
func (p *Provider) Diff(ctx context.Context, s *DiffSpec) (o Outcome) {
	label := s.Label
	if label == "" {
		label = s.FQN
	}
	st, err := p.Describe(ctx, s.FQN)
	if err != nil {
		return failedErr(err)
	}
	if st != nil && st.Status == "DELETE_COMPLETE" {
		st = nil
	}
	if st != nil && s.Locked && !s.Forced {
		return Outcome{Status: engine.Status{State: engine.Skipped, Reason: ReasonLocked}, Outputs: st.Outputs}
	}
	req, err := s.Deps.Prepare(ctx)
	if err != nil {
		return failedErr(err)
	}
	existing := st
	csType := types.ChangeSetTypeUpdate
	if st == nil || st.Status == "REVIEW_IN_PROGRESS" {
		existing, csType = nil, types.ChangeSetTypeCreate
	}
	params, err := BuildParameters(req.Declared, req.Values, existing)
	if err != nil {
		return failedErr(err)
	}
	name := fmt.Sprintf("stacker-diff-%d", p.now().UnixNano())
	slog.Debug(fmt.Sprintf("stack %s (%s): change set %s (%s)", s.Name, s.FQN, name, csType))
	in := &cloudformation.CreateChangeSetInput{
		StackName: aws.String(s.FQN), ChangeSetName: aws.String(name), ChangeSetType: csType,
		Parameters: params, Tags: sdkTags(s.Tags), Capabilities: Capabilities,
		RoleARN: optional(s.RoleARN), NotificationARNs: s.NotificationARNs,
	}
	setTemplate(req, &in.TemplateBody, &in.TemplateURL)
	outputs := inferOutputs(s.FQN, existing, req.Outputs)
	out, err := p.write.CreateChangeSet(ctx, in)
	if err != nil {
		if msg := apiMessage(err); strings.Contains(msg, textNoChanges2) || strings.Contains(msg, textNoChanges1) {
			return Outcome{Status: engine.Status{State: engine.Complete}, Outputs: outputs, Diff: fmt.Sprintf("No changes: %s\n", label)}
		}
		return failedErr(&CallError{Op: "create change set", Err: err})
	}
	csID, stackID := aws.ToString(out.Id), aws.ToString(out.StackId)
	defer func() {
		// Clean up even when interrupted.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if _, err := p.write.DeleteChangeSet(cctx, &cloudformation.DeleteChangeSetInput{ChangeSetName: aws.String(csID), StackName: aws.String(stackID)}); err != nil && csType == types.ChangeSetTypeUpdate {
			o.Diff += fmt.Sprintf("%s: could not delete change set %s: %s\n", label, name, apiMessage(err))
		}
		if csType == types.ChangeSetTypeCreate && stackID != "" {
			_, _ = p.write.DeleteStack(cctx, &cloudformation.DeleteStackInput{StackName: aws.String(stackID), RoleARN: optional(s.RoleARN)})
		}
	}()
	var cs *cloudformation.DescribeChangeSetOutput
	for i := 0; ; i++ {
		if err := p.sleep(ctx, p.delay(i)); err != nil {
			return failedErr(err)
		}
		err := p.doRead(ctx, func() error {
			var err error
			cs, err = p.read.DescribeChangeSet(ctx, &cloudformation.DescribeChangeSetInput{ChangeSetName: aws.String(csID), StackName: aws.String(stackID)})
			return err
		})
		if err != nil {
			return failedErr(&CallError{Op: "describe change set", Err: err})
		}
		if cs.Status == types.ChangeSetStatusCreateComplete || cs.Status == types.ChangeSetStatusFailed {
			break
		}
	}
	if cs.Status == types.ChangeSetStatusFailed {
		reason := aws.ToString(cs.StatusReason)
		if strings.Contains(reason, textNoChanges1) || strings.Contains(reason, textNoChanges2) {
			return Outcome{Status: engine.Status{State: engine.Complete}, Outputs: outputs, Diff: fmt.Sprintf("No changes: %s\n", label)}
		}
		return failed("change set failed: " + reason)
	}
	return Outcome{Status: engine.Status{State: engine.Complete}, Outputs: outputs, Diff: FormatDiff(label, existing, req, cs.Changes)}
}

// inferOutputs are the outputs dependants see during diff: the current
// ones, plus a visible placeholder for each template output not there yet.
func inferOutputs(fqn string, st *Stack, names []string) map[string]string {
	out := map[string]string{}
	if st != nil {
		for k, v := range st.Outputs {
			out[k] = v
		}
	}
	for _, n := range names {
		if _, ok := out[n]; !ok {
			out[n] = fmt.Sprintf("<inferred-change: %s.%s>", fqn, n)
		}
	}
	return out
}

// FormatDiff renders a stack's parameter diff (stacker's DictValue lines,
// sorted by key) and its resource changes. NoEcho values print as ****
// and are never reported as changed, since the old value is unknown.
func FormatDiff(fqn string, st *Stack, req *Request, changes []types.Change) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s changes:\n", fqn)
	noEcho := map[string]bool{}
	for _, d := range req.Declared {
		noEcho[d.Name] = d.NoEcho
	}
	old := map[string]string{}
	if st != nil {
		old = st.Parameters
	}
	newv := map[string]string{}
	for _, d := range req.Declared {
		if v, ok := req.Values[d.Name]; ok {
			newv[d.Name] = v
		} else if v, ok := old[d.Name]; ok {
			newv[d.Name] = v
		}
	}
	keys := map[string]bool{}
	for k := range old {
		keys[k] = true
	}
	for k := range newv {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	var lines []string
	changed := false
	for _, k := range sorted {
		o, hadOld := old[k]
		n, hasNew := newv[k]
		if noEcho[k] || o == noEchoMask {
			o, n = noEchoMask, noEchoMask
		}
		switch {
		case hadOld && hasNew && o == n:
			lines = append(lines, fmt.Sprintf(" %s = %s", k, n))
		case hadOld && hasNew:
			lines = append(lines, fmt.Sprintf("-%s = %s", k, o), fmt.Sprintf("+%s = %s", k, n))
			changed = true
		case hasNew:
			lines = append(lines, fmt.Sprintf("+%s = %s", k, n))
			changed = true
		default:
			lines = append(lines, fmt.Sprintf("-%s = %s", k, o))
			changed = true
		}
	}
	if changed {
		b.WriteString("--- Old Parameters\n+++ New Parameters\n******************\n")
		for _, l := range lines {
			b.WriteString(l + "\n")
		}
	}
	if len(changes) > 0 {
		b.WriteString("Changes:\n")
		for _, c := range changes {
			rc := c.ResourceChange
			if rc == nil {
				continue
			}
			line := fmt.Sprintf("- %s %s (%s)", rc.Action, aws.ToString(rc.LogicalResourceId), aws.ToString(rc.ResourceType))
			if rc.Replacement != "" && rc.Replacement != types.ReplacementFalse {
				line += " replacement: " + string(rc.Replacement)
			}
			b.WriteString(line + "\n")
		}
	}
	if !changed && len(changes) == 0 {
		b.WriteString("(no resource or parameter changes)\n")
	}
	return b.String()
}
