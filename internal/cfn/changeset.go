package cfn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
)

// cleanupTimeout bounds the calls that remove a change set (and the
// temporary stack of a CREATE change set) once the run no longer wants it;
// they run on a context detached from the run's, so Ctrl-C never leaks one.
const cleanupTimeout = 30 * time.Second

// ChangeSetSpec says what change set to create for one stack.
type ChangeSetSpec struct {
	// Name is the stack's config name (for -v lines; may be "").
	Name string
	FQN  string
	// Type is CREATE (the stack does not exist or is REVIEW_IN_PROGRESS)
	// or UPDATE.
	Type types.ChangeSetType
	// Prefix starts the change set's name ("stacker-diff"); a nanosecond
	// timestamp follows, so two change sets of a run never share a name.
	Prefix string
	// Request supplies the template (body or URL).
	Request          *Request
	Parameters       []types.Parameter
	Tags             map[string]string
	RoleARN          string
	NotificationARNs []string
}

// ChangeSet is a change set the provider created and waited for. Whoever
// creates one calls Delete when done with it (a deferred call is right:
// Delete does nothing once the change set is executed or already gone).
type ChangeSet struct {
	Name, ID, StackID, FQN string
	Type                   types.ChangeSetType
	// NoChange is true when CloudFormation found nothing to change (stacker
	// §5.6); the change set is then already deleted and Changes is empty.
	NoChange bool
	// Changes are all the change set's changes (every DescribeChangeSet
	// page), with property values where the service gives them.
	Changes         []types.Change
	ExecutionStatus types.ExecutionStatus
	// Parameters are the parameters as CloudFormation resolved them.
	Parameters []types.Parameter

	p       *Provider
	roleARN string
	mu      sync.Mutex
	done    bool // executed or deleted: nothing left to clean up
}

// ChangeSetFailedError is a change set CloudFormation refused for a reason
// other than "nothing to change" (the change set was deleted).
type ChangeSetFailedError struct {
	FQN, Name, Reason string
}

func (e *ChangeSetFailedError) Error() string {
	return "change set failed: " + e.Reason
}

// isNoChangeText reports whether a CreateChangeSet error or a FAILED
// change set's StatusReason means there is nothing to change.
func isNoChangeText(s string) bool {
	return strings.Contains(s, textNoChanges1) || strings.Contains(s, textNoChanges2)
}

// CreateChangeSet creates a change set and waits until CloudFormation has
// computed it (CREATE_COMPLETE or FAILED), polling DescribeChangeSet through
// the target's read budget and reading all its pages. A change set with
// nothing to change comes back with NoChange (already deleted); any other
// failure, an error while waiting or an interrupt deletes what was created
// (the change set, and the temporary REVIEW_IN_PROGRESS stack of a CREATE)
// and returns an error.
func (p *Provider) CreateChangeSet(ctx context.Context, s *ChangeSetSpec) (*ChangeSet, error) {
	prefix := s.Prefix
	if prefix == "" {
		prefix = "stacker"
	}
	name := fmt.Sprintf("%s-%d", prefix, p.now().UnixNano())
	if s.Name != "" {
		slog.Debug(fmt.Sprintf("stack %s (%s): change set %s (%s)", s.Name, s.FQN, name, s.Type))
	} else {
		slog.Debug(fmt.Sprintf("stack %s: change set %s (%s)", s.FQN, name, s.Type))
	}
	in := &cloudformation.CreateChangeSetInput{
		StackName: aws.String(s.FQN), ChangeSetName: aws.String(name), ChangeSetType: s.Type,
		ClientToken: aws.String(name),
		Parameters:  s.Parameters, Tags: sdkTags(s.Tags), Capabilities: Capabilities,
		RoleARN: optional(s.RoleARN), NotificationARNs: s.NotificationARNs,
	}
	if s.Request != nil {
		setTemplate(s.Request, &in.TemplateBody, &in.TemplateURL)
	}
	cs := &ChangeSet{Name: name, FQN: s.FQN, Type: s.Type, p: p, roleARN: s.RoleARN}
	out, err := p.write.CreateChangeSet(ctx, in)
	if err != nil {
		if isNoChangeText(apiMessage(err)) {
			cs.NoChange, cs.done = true, true
			return cs, nil
		}
		return nil, &CallError{Op: "create change set", Err: err}
	}
	cs.ID, cs.StackID = aws.ToString(out.Id), aws.ToString(out.StackId)
	if err := cs.wait(ctx); err != nil {
		if derr := cs.Delete(ctx); derr != nil {
			err = errors.Join(err, derr)
		}
		return nil, err
	}
	if cs.NoChange {
		if err := cs.Delete(ctx); err != nil {
			return nil, err
		}
	}
	return cs, nil
}

// wait polls the change set until it is computed, then reads all of it.
func (cs *ChangeSet) wait(ctx context.Context) error {
	p := cs.p
	for i := 0; ; i++ {
		if err := p.sleep(ctx, p.delay(i)); err != nil {
			return err
		}
		first, err := cs.describe(ctx, nil)
		if err != nil {
			return err
		}
		switch first.Status {
		case types.ChangeSetStatusFailed:
			reason := aws.ToString(first.StatusReason)
			if isNoChangeText(reason) {
				cs.NoChange = true
				return nil
			}
			return &ChangeSetFailedError{FQN: cs.FQN, Name: cs.Name, Reason: reason}
		case types.ChangeSetStatusCreateComplete:
			cs.ExecutionStatus, cs.Parameters = first.ExecutionStatus, first.Parameters
			cs.Changes = append(cs.Changes[:0], first.Changes...)
			for next := first.NextToken; next != nil && *next != ""; {
				page, err := cs.describe(ctx, next)
				if err != nil {
					return err
				}
				cs.Changes = append(cs.Changes, page.Changes...)
				next = page.NextToken
			}
			return nil
		}
	}
}

func (cs *ChangeSet) describe(ctx context.Context, token *string) (*cloudformation.DescribeChangeSetOutput, error) {
	var out *cloudformation.DescribeChangeSetOutput
	err := cs.p.doRead(ctx, func() error {
		var err error
		out, err = cs.p.read.DescribeChangeSet(ctx, &cloudformation.DescribeChangeSetInput{
			ChangeSetName: aws.String(cs.ID), StackName: aws.String(cs.StackID),
			NextToken: token, IncludePropertyValues: aws.Bool(true),
		})
		return err
	})
	if err != nil {
		return nil, &CallError{Op: "describe change set", Err: err}
	}
	return out, nil
}

// Delete removes the change set and, for a CREATE change set, the
// temporary REVIEW_IN_PROGRESS stack (which takes its change sets with it).
// It runs even when ctx is cancelled (on a detached context with its own
// timeout) and does nothing once the change set was executed or deleted.
// The error says which change set could not be deleted.
func (cs *ChangeSet) Delete(ctx context.Context) error {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.done || cs.ID == "" {
		return nil
	}
	cs.done = true
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	p := cs.p
	_, err := p.write.DeleteChangeSet(cctx, &cloudformation.DeleteChangeSetInput{ChangeSetName: aws.String(cs.ID), StackName: aws.String(cs.StackID)})
	if cs.Type == types.ChangeSetTypeCreate && cs.StackID != "" {
		if _, serr := p.write.DeleteStack(cctx, &cloudformation.DeleteStackInput{StackName: aws.String(cs.StackID), RoleARN: optional(cs.roleARN)}); serr != nil && !isNotExist(serr) {
			return &CallError{Op: fmt.Sprintf("delete the temporary stack %s of change set %s", cs.FQN, cs.Name), Err: serr}
		}
		return nil // deleting the stack deleted its change sets
	}
	if err != nil && !isNotExist(err) {
		return &CallError{Op: fmt.Sprintf("delete change set %s of %s", cs.Name, cs.FQN), Err: err}
	}
	return nil
}

// Execute executes the change set (with token as its ClientRequestToken,
// which the stack's events then carry; "" gives it a per-submission token
// of the run); afterwards Delete does nothing.
// The caller waits for the stack as after an update or create.
func (cs *ChangeSet) Execute(ctx context.Context, token string) error {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.done {
		return fmt.Errorf("execute change set %s of %s: it was already executed or deleted", cs.Name, cs.FQN)
	}
	if cs.NoChange {
		return fmt.Errorf("execute change set %s of %s: it has no changes", cs.Name, cs.FQN)
	}
	if token == "" {
		token = cs.p.token("execute", cs.StackID)
	}
	in := &cloudformation.ExecuteChangeSetInput{ChangeSetName: aws.String(cs.ID), StackName: aws.String(cs.StackID), ClientRequestToken: aws.String(token)}
	// Retried as the other submissions (submit.go): after a failure that
	// may have taken effect, the stack's events are read for the token.
	if err := cs.p.submit(ctx, "execute change set "+cs.Name, func() error {
		_, err := cs.p.write.ExecuteChangeSet(ctx, in)
		return err
	}, func(ctx context.Context) (bool, error) {
		return cs.p.tokenSeen(ctx, cs.StackID, token)
	}); err != nil {
		return &CallError{Op: "execute change set", Err: err}
	}
	cs.done = true
	return nil
}
