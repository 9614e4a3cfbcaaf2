package cfn

import (
	"context"
	"fmt"
	"maps"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/stacker-go/stacker/internal/event"
	"github.com/stacker-go/stacker/internal/priority"
)

// Stack is what the provider knows of one CloudFormation stack.
type Stack struct {
	Name                  string
	ID                    string
	Status                string
	StatusReason          string
	Outputs               map[string]string
	Parameters            map[string]string
	Tags                  map[string]string
	TerminationProtection bool
	// CreationTime and LastUpdatedTime are CloudFormation's (LastUpdatedTime
	// is zero until the stack's first update).
	CreationTime, LastUpdatedTime time.Time
}

// LastChange is when CloudFormation last changed the stack: its
// LastUpdatedTime, else its CreationTime.
func (s *Stack) LastChange() time.Time {
	if !s.LastUpdatedTime.IsZero() {
		return s.LastUpdatedTime
	}
	return s.CreationTime
}

// Event is one stack event.
type Event struct {
	ID           string
	Time         time.Time
	LogicalID    string
	PhysicalID   string
	ResourceType string
	Status       string
	Reason       string
	// StackLevel is true for events of the stack itself.
	StackLevel bool
	// Token is the ClientRequestToken of the operation that caused it.
	Token string
}

// DefaultPollCeiling is the longest wait between two polls of one stack
// unless STACKER_STACK_POLL_TIME says otherwise.
const DefaultPollCeiling = 10 * time.Second

// pollSchedule is the adaptive wait before each poll of a submitted stack:
// fast at first (a stack CloudFormation finishes in 200 ms is seen done by
// the third poll, 0.35 s after submission), then backing off to the ceiling.
var pollSchedule = []time.Duration{
	50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond,
	300 * time.Millisecond, 500 * time.Millisecond, time.Second,
	2 * time.Second, 3 * time.Second, 5 * time.Second,
}

// PollCeilingFromEnv reads STACKER_STACK_POLL_TIME (seconds, as in stacker)
// as the poll ceiling; unset or invalid gives DefaultPollCeiling.
func PollCeilingFromEnv() time.Duration {
	v := os.Getenv("STACKER_STACK_POLL_TIME") // target.EnvStackPollTime
	if v == "" {
		return DefaultPollCeiling
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f <= 0 {
		return DefaultPollCeiling
	}
	return time.Duration(f * float64(time.Second))
}

// Provider talks to CloudFormation in one target (account, region).
type Provider struct {
	// read and write are the same client; the names say which calls
	// change something.
	read, write API
	pollCeiling time.Duration
	// retryDeadline bounds how long a read keeps being retried through
	// transient errors other than throttles.
	retryDeadline time.Duration
	// readRate is the target's current read rate (nil: 4 per second).
	readRate func() float64
	// backlog reports whether stacks wait for a -j slot (nil: never).
	backlog func() bool
	// tokens names the ClientRequestTokens of submissions (submit.go).
	tokens tokens
	// poll is the target's one status poller.
	poll poller
	// records are the target's deploy records (nochange.go); nil keeps
	// none and submits every stack.
	records *Records
	// sleep waits d or until ctx is done (tests replace it).
	sleep func(ctx context.Context, d time.Duration) error
	now   func() time.Time
}

// Options configure a Provider.
type Options struct {
	// PollCeiling caps the wait between polls (0: DefaultPollCeiling).
	PollCeiling time.Duration
	// RetryDeadline is how long a read is retried through transient
	// errors (5xx, timeouts, dropped connections) before the stack fails
	// (0: DefaultRetryDeadline). Throttles are retried until ctx ends.
	RetryDeadline time.Duration
	// ReadRate reports the target's current read rate in calls per second
	// (the budget's, which drops while CloudFormation throttles); the status
	// poller paces its rounds by it. Nil means 4.
	ReadRate func() float64
	// Backlog reports whether stacks are ready but wait for a -j slot: the
	// status poller then spends more of the read budget (see pollShare).
	// Nil means never.
	Backlog func() bool
	// Records, when set, keeps a record of what was deployed to each stack
	// of the target and skips stacks unchanged since (no-change detection,
	// nochange.go); nil submits every stack.
	Records *Records
	// Sleep and Now replace the clock in tests.
	Sleep func(ctx context.Context, d time.Duration) error
	Now   func() time.Time
}

// DefaultRetryDeadline is how long a read is retried through transient
// errors other than throttles unless Options.RetryDeadline says otherwise.
const DefaultRetryDeadline = 5 * time.Minute

// New returns a provider over a target's CloudFormation client (paced by
// the target's budget: the provider adds no pacing of its own).
func New(api API, o Options) *Provider {
	p := &Provider{read: api, write: api, pollCeiling: o.PollCeiling, retryDeadline: o.RetryDeadline, readRate: o.ReadRate, backlog: o.Backlog, records: o.Records, sleep: o.Sleep, now: o.Now}
	p.poll.p = p
	p.tokens.nonce = newNonce()
	if p.pollCeiling <= 0 {
		p.pollCeiling = DefaultPollCeiling
	}
	if p.retryDeadline <= 0 {
		p.retryDeadline = DefaultRetryDeadline
	}
	if p.sleep == nil {
		p.sleep = sleepCtx
	}
	if p.now == nil {
		p.now = time.Now
	}
	return p
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *Provider) delay(i int) time.Duration {
	var d time.Duration
	if i < len(pollSchedule) {
		d = pollSchedule[i]
	} else {
		d = pollSchedule[len(pollSchedule)-1] * time.Duration(i-len(pollSchedule)+2) / 2
	}
	if d > p.pollCeiling {
		d = p.pollCeiling
	}
	return d
}

// doRead runs one read call, retrying transient failures: throttles after
// a short jittered wait (awserr.ThrottleDelay; the budget the next attempt
// waits on has slowed down and is the pacing) until ctx ends (a throttled
// poll never fails a stack), other transient errors (5xx, timeouts,
// dropped connections) with jittered exponential back-off (100 ms doubling
// to 2 s) until the retry deadline. Every attempt goes through the
// target's budget, in the client.
func (p *Provider) doRead(ctx context.Context, call func() error) error {
	return retryLoop{deadline: p.retryDeadline, first: 100 * time.Millisecond, max: 2 * time.Second, now: p.now, sleep: p.sleep}.run(ctx, call, nil)
}

// Describe returns the stack, or nil when it does not exist.
func (p *Provider) Describe(ctx context.Context, name string) (*Stack, error) {
	var out *cloudformation.DescribeStacksOutput
	err := p.doRead(ctx, func() error {
		var err error
		out, err = p.read.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(name)})
		return err
	})
	if isNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("describe stack %s: %w", name, err)
	}
	if len(out.Stacks) == 0 {
		return nil, nil
	}
	return fromSDK(out.Stacks[0]), nil
}

// describeFirst is the first describe of a stack in a build, destroy or
// diff, answered through the target's status poller (see poller): from the
// target's last listing when it started less than snapshotFresh ago (no
// call), else from the next round, which a graph level's stacks share (one
// listing instead of a call each). It returns nil when the stack does not
// exist. An answer may be up to snapshotFresh old: callers re-read the
// stack with Describe when a submission shows it was wrong.
func (p *Provider) describeFirst(ctx context.Context, name string) (*Stack, error) {
	if st, ok := p.poll.fresh(name); ok {
		return st, nil
	}
	r, joined := p.poll.byNameResult(ctx, name)
	if !joined {
		return p.Describe(ctx, name)
	}
	return r.st, r.err
}

// clone copies a stack and its maps (a snapshot's stacks are shared).
func (s *Stack) clone() *Stack {
	c := *s
	c.Outputs, c.Parameters, c.Tags = maps.Clone(s.Outputs), maps.Clone(s.Parameters), maps.Clone(s.Tags)
	return &c
}

func fromSDK(s types.Stack) *Stack {
	st := &Stack{
		Name:                  aws.ToString(s.StackName),
		ID:                    aws.ToString(s.StackId),
		Status:                string(s.StackStatus),
		StatusReason:          aws.ToString(s.StackStatusReason),
		Outputs:               map[string]string{},
		Parameters:            map[string]string{},
		Tags:                  map[string]string{},
		TerminationProtection: aws.ToBool(s.EnableTerminationProtection),
		CreationTime:          aws.ToTime(s.CreationTime),
		LastUpdatedTime:       aws.ToTime(s.LastUpdatedTime),
	}
	for _, o := range s.Outputs {
		st.Outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	for _, p := range s.Parameters {
		st.Parameters[aws.ToString(p.ParameterKey)] = aws.ToString(p.ParameterValue)
	}
	for _, t := range s.Tags {
		st.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return st
}

// Events returns the newest page of the stack's events, oldest first.
func (p *Provider) Events(ctx context.Context, stack string) ([]Event, error) {
	var out *cloudformation.DescribeStackEventsOutput
	err := p.doRead(ctx, func() error {
		var err error
		out, err = p.read.DescribeStackEvents(ctx, &cloudformation.DescribeStackEventsInput{StackName: aws.String(stack)})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("describe stack events %s: %w", stack, err)
	}
	evs := make([]Event, 0, len(out.StackEvents))
	for _, e := range out.StackEvents {
		ev := Event{
			ID:           aws.ToString(e.EventId),
			LogicalID:    aws.ToString(e.LogicalResourceId),
			PhysicalID:   aws.ToString(e.PhysicalResourceId),
			ResourceType: aws.ToString(e.ResourceType),
			Status:       string(e.ResourceStatus),
			Reason:       aws.ToString(e.ResourceStatusReason),
			Token:        aws.ToString(e.ClientRequestToken),
		}
		if e.Timestamp != nil {
			ev.Time = *e.Timestamp
		}
		ev.StackLevel = ev.ResourceType == "AWS::CloudFormation::Stack" &&
			(aws.ToString(e.PhysicalResourceId) == aws.ToString(e.StackId) || ev.LogicalID == aws.ToString(e.StackName))
		evs = append(evs, ev)
	}
	// CloudFormation returns newest first; keep the order stable for equal
	// timestamps by reversing rather than sorting on time alone.
	for i, j := 0, len(evs)-1; i < j; i, j = i+1, j-1 {
		evs[i], evs[j] = evs[j], evs[i]
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].Time.Before(evs[j].Time) })
	return evs, nil
}

// rollbackCause finds why a stack failed from its events since a time: the
// first failed resource with a reason (the root cause, returned with its
// event), else the reason of the stack's ROLLBACK_IN_PROGRESS /
// UPDATE_ROLLBACK_IN_PROGRESS event, else the stack's status reason.
func (p *Provider) rollbackCause(ctx context.Context, st *Stack, since time.Time) (string, event.FailedResource) {
	evs, err := p.Events(ctx, st.ID)
	if err == nil {
		for _, e := range evs {
			if e.Time.Before(since) || e.StackLevel || e.Reason == "" {
				continue
			}
			if strings.HasSuffix(e.Status, "_FAILED") && !strings.Contains(e.Reason, "Resource creation cancelled") {
				return e.LogicalID + ": " + e.Reason, event.FailedResource{EventTime: e.Time, LogicalID: e.LogicalID, ResourceType: e.ResourceType, Status: e.Status, Reason: e.Reason}
			}
		}
		for _, e := range evs {
			if !e.Time.Before(since) && e.StackLevel && e.Reason != "" &&
				(e.Status == "ROLLBACK_IN_PROGRESS" || e.Status == "UPDATE_ROLLBACK_IN_PROGRESS" || strings.HasSuffix(e.Status, "_FAILED")) {
				return e.Reason, event.FailedResource{}
			}
		}
	}
	return st.StatusReason, event.FailedResource{}
}

// tailer prints each new event once.
type tailer struct {
	seen  map[string]bool
	since time.Time
	emit  func(Event)
	// spare marks a tail that only feeds a live view (StackDeps.TailSpare):
	// its reads go only when the budget can spare them
	// (priority.WithSpare), at most every spareEvery per stack; last is
	// when it last read.
	spare bool
	last  time.Time
}

// spareEvery is how often a live view's tail may read a stack's events
// (AWS CDK polls events every 2 s).
const spareEvery = 2 * time.Second

func (t *tailer) poll(ctx context.Context, p *Provider, stackID string) {
	if t == nil {
		return
	}
	if t.spare {
		if !t.last.IsZero() && p.now().Sub(t.last) < spareEvery {
			return
		}
		ctx = priority.WithSpare(ctx)
	}
	evs, err := p.Events(ctx, stackID)
	if err != nil {
		return
	}
	t.last = p.now()
	for _, e := range evs {
		if t.seen[e.ID] || e.Time.Before(t.since) {
			continue
		}
		t.seen[e.ID] = true
		t.emit(e)
	}
}

// waitSettled waits until a stack leaves *_IN_PROGRESS, reading its status
// from the target's shared status poller (see poller). onStatus sees every
// polled state. A stack that disappears is returned as nil. Events are read
// only for tailed stacks.
func (p *Provider) waitSettled(ctx context.Context, id string, tail *tailer, onStatus func(*Stack)) (*Stack, error) {
	for {
		st, err := p.poll.next(ctx, id)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, err
		}
		tail.poll(ctx, p, id)
		if st == nil || st.Status == "DELETE_COMPLETE" {
			return nil, nil
		}
		if onStatus != nil {
			onStatus(st)
		}
		if !InProgress(st.Status) {
			return st, nil
		}
	}
}
