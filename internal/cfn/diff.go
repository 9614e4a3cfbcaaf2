package cfn

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
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
	outputs := inferOutputs(s.FQN, existing, req.Outputs)
	cs, err := p.CreateChangeSet(ctx, &ChangeSetSpec{
		FQN: s.FQN, Type: csType, Prefix: "stacker-diff", Request: req, Parameters: params,
		Tags: s.Tags, RoleARN: s.RoleARN, NotificationARNs: s.NotificationARNs,
	})
	if err != nil {
		return failedErr(err)
	}
	if cs.NoChange {
		return Outcome{Status: engine.Status{State: engine.Complete}, Outputs: outputs, Diff: fmt.Sprintf("No changes: %s\n", label)}
	}
	o = Outcome{Status: engine.Status{State: engine.Complete}, Outputs: outputs, Diff: FormatDiff(label, existing, req, cs.Changes)}
	if err := cs.Delete(ctx); err != nil {
		o.Diff += fmt.Sprintf("%s: could not clean up: %s\n", label, err)
	}
	return o
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
