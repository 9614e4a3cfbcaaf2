package cfn

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/smithy-go"
)

// fakeCFN is an in-memory CloudFormation: each stack walks through a
// scripted list of statuses, one per DescribeStacks.
type fakeCFN struct {
	mu     sync.Mutex
	stacks map[string]*fakeStack // by name; deleted stacks are kept under their id
	n      int
	now    time.Time

	// Scripts: statuses a stack goes through after each mutation (the
	// last one sticks). Defaults: *_COMPLETE at once.
	createSeq, updateSeq, deleteSeq []string
	// failureEvent is added (as a resource event) when a script enters a
	// rollback.
	failureEvent string
	// throttle makes the next N DescribeStacks calls fail with Throttling.
	throttle int
	// noChange makes UpdateStack answer "No updates are to be performed."
	noChange bool
	// deleteMissingErr makes DeleteStack of a missing stack answer "does
	// not exist" (AWS and the sandbox answer success).
	deleteMissingErr bool
	// listDenied makes DescribeStacks without a stack name answer
	// AccessDenied (a role allowed to describe named stacks only).
	listDenied bool
	// onDescribe runs after each DescribeStacks (tests cancel from it).
	onDescribe func(n int)
	// Change sets: csPending DescribeChangeSet answers are
	// CREATE_IN_PROGRESS first; csFailed makes the change set FAILED with
	// that reason; csPages are the pages of changes (nil: one Queue
	// replacement); onDescribeCS runs after each DescribeChangeSet.
	csPending    int
	csFailed     string
	csPages      [][]types.Change
	onDescribeCS func(n int)
	csDescribes  []*cloudformation.DescribeChangeSetInput
	lastCS       *cloudformation.CreateChangeSetInput

	calls       []string
	lastCreate  *cloudformation.CreateStackInput
	lastUpdate  *cloudformation.UpdateStackInput
	describeNum int
	// byName counts DescribeStacks calls naming a stack by its name
	// (first describes and their re-reads; polls name the stack's id).
	byName int
	// byID counts DescribeStacks calls naming each stack id (polls,
	// confirmations).
	byID map[string]int
}

type fakeStack struct {
	id, name, status, reason string
	seq                      []string
	params, tags, outputs    map[string]string
	tp                       bool
	template                 string
	created, updated         time.Time
	events                   []types.StackEvent
}

func newFake() *fakeCFN {
	return &fakeCFN{stacks: map[string]*fakeStack{}, now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func apiErr(code, msg string) error { return &smithy.GenericAPIError{Code: code, Message: msg} }

func (f *fakeCFN) record(op string) { f.calls = append(f.calls, op) }

// put adds an existing stack.
func (f *fakeCFN) put(name, status string, mod ...func(*fakeStack)) *fakeStack {
	f.n++
	s := &fakeStack{id: fmt.Sprintf("arn:aws:cloudformation:us-east-1:111111111111:stack/%s/%d", name, f.n), name: name, status: status,
		params: map[string]string{}, tags: map[string]string{}, outputs: map[string]string{}}
	for _, m := range mod {
		m(s)
	}
	f.stacks[name] = s
	return s
}

func (f *fakeCFN) find(key string) *fakeStack {
	if s, ok := f.stacks[key]; ok {
		return s
	}
	for _, s := range f.stacks {
		if s.id == key {
			return s
		}
	}
	return nil
}

func (f *fakeCFN) event(s *fakeStack, logical, typ, status, reason string) {
	f.now = f.now.Add(time.Second)
	f.n++
	s.events = append(s.events, types.StackEvent{
		EventId: aws.String(fmt.Sprint(f.n)), StackId: aws.String(s.id), StackName: aws.String(s.name),
		LogicalResourceId: aws.String(logical), ResourceType: aws.String(typ), ResourceStatus: types.ResourceStatus(status),
		ResourceStatusReason: aws.String(reason), Timestamp: aws.Time(f.now), PhysicalResourceId: aws.String(s.id),
	})
}

func (f *fakeCFN) advance(s *fakeStack) {
	if len(s.seq) == 0 {
		return
	}
	s.status, s.seq = s.seq[0], s.seq[1:]
	switch s.status {
	case "ROLLBACK_IN_PROGRESS", "UPDATE_ROLLBACK_IN_PROGRESS", "CREATE_FAILED", "DELETE_FAILED":
		if f.failureEvent != "" {
			rs := "CREATE_FAILED"
			if strings.HasPrefix(s.status, "UPDATE") {
				rs = "UPDATE_FAILED"
			}
			f.event(s, "Queue", "AWS::SQS::Queue", rs, f.failureEvent)
			f.failureEvent = ""
		}
		if strings.HasSuffix(s.status, "ROLLBACK_IN_PROGRESS") {
			f.event(s, s.name, "AWS::CloudFormation::Stack", s.status, "The following resource(s) failed: [Queue]")
			return
		}
	}
	f.event(s, s.name, "AWS::CloudFormation::Stack", s.status, "")
}

func (f *fakeCFN) DescribeStacks(ctx context.Context, in *cloudformation.DescribeStacksInput, _ ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error) {
	f.mu.Lock()
	if in.StackName == nil {
		f.record(opListing)
	} else {
		f.record("DescribeStacks")
		if !strings.HasPrefix(*in.StackName, "arn:") {
			f.byName++
		} else {
			if f.byID == nil {
				f.byID = map[string]int{}
			}
			f.byID[*in.StackName]++
		}
	}
	f.describeNum++
	n := f.describeNum
	if f.throttle > 0 {
		f.throttle--
		f.mu.Unlock()
		return nil, apiErr("Throttling", "Rate exceeded")
	}
	if in.StackName == nil && f.listDenied {
		f.mu.Unlock()
		return nil, apiErr("AccessDenied", "User is not authorized to perform: cloudformation:DescribeStacks on resource: *")
	}
	if in.StackName == nil {
		out := f.listing(aws.ToString(in.NextToken))
		f.mu.Unlock()
		if f.onDescribe != nil {
			f.onDescribe(n)
		}
		return out, nil
	}
	key := aws.ToString(in.StackName)
	s := f.find(key)
	if s != nil {
		f.advance(s)
	}
	var out *cloudformation.DescribeStacksOutput
	if s == nil || (s.status == "DELETE_COMPLETE" && key == s.name) {
		f.mu.Unlock()
		if f.onDescribe != nil {
			f.onDescribe(n)
		}
		return nil, apiErr("ValidationError", "Stack with id "+key+" does not exist")
	}
	out = &cloudformation.DescribeStacksOutput{Stacks: []types.Stack{s.sdk()}}
	f.mu.Unlock()
	if f.onDescribe != nil {
		f.onDescribe(n)
	}
	return out, nil
}

// opListing is how calls records a DescribeStacks without a stack name.
const opListing = "DescribeStacks(all)"

// listPage is the fake's page size of DescribeStacks without a name.
const listPage = 100

// listing answers DescribeStacks without a name: every stack not deleted,
// by name, listPage a page. Each listed stack moves one step along its
// script, as a DescribeStacks of it would (those that reach
// DELETE_COMPLETE drop out of the listing, as on AWS).
func (f *fakeCFN) listing(token string) *cloudformation.DescribeStacksOutput {
	var live []*fakeStack
	seen := map[*fakeStack]bool{}
	for _, s := range f.stacks {
		if seen[s] {
			continue
		}
		seen[s] = true
		if s.status != "DELETE_COMPLETE" {
			live = append(live, s)
		}
	}
	slices.SortFunc(live, func(a, b *fakeStack) int { return strings.Compare(a.name, b.name) })
	start, _ := strconv.Atoi(token)
	end := min(start+listPage, len(live))
	out := &cloudformation.DescribeStacksOutput{}
	for _, s := range live[start:end] {
		f.advance(s)
		if s.status != "DELETE_COMPLETE" {
			out.Stacks = append(out.Stacks, s.sdk())
		}
	}
	if end < len(live) {
		out.NextToken = aws.String(strconv.Itoa(end))
	}
	return out
}

func (s *fakeStack) sdk() types.Stack {
	st := types.Stack{StackId: aws.String(s.id), StackName: aws.String(s.name), StackStatus: types.StackStatus(s.status),
		StackStatusReason: aws.String(s.reason), EnableTerminationProtection: aws.Bool(s.tp)}
	if !s.created.IsZero() {
		st.CreationTime = aws.Time(s.created)
	}
	if !s.updated.IsZero() {
		st.LastUpdatedTime = aws.Time(s.updated)
	}
	for k, v := range s.params {
		st.Parameters = append(st.Parameters, types.Parameter{ParameterKey: aws.String(k), ParameterValue: aws.String(v)})
	}
	for k, v := range s.tags {
		st.Tags = append(st.Tags, types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	for k, v := range s.outputs {
		st.Outputs = append(st.Outputs, types.Output{OutputKey: aws.String(k), OutputValue: aws.String(v)})
	}
	return st
}

func (f *fakeCFN) DescribeStackEvents(ctx context.Context, in *cloudformation.DescribeStackEventsInput, _ ...func(*cloudformation.Options)) (*cloudformation.DescribeStackEventsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("DescribeStackEvents")
	s := f.find(aws.ToString(in.StackName))
	if s == nil {
		return nil, apiErr("ValidationError", "Stack with id "+aws.ToString(in.StackName)+" does not exist")
	}
	out := &cloudformation.DescribeStackEventsOutput{}
	for i := len(s.events) - 1; i >= 0; i-- { // newest first
		out.StackEvents = append(out.StackEvents, s.events[i])
	}
	return out, nil
}

func seqOr(seq []string, def ...string) []string {
	if seq != nil {
		return append([]string(nil), seq...)
	}
	return def
}

func (f *fakeCFN) CreateStack(ctx context.Context, in *cloudformation.CreateStackInput, _ ...func(*cloudformation.Options)) (*cloudformation.CreateStackOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("CreateStack")
	f.lastCreate = in
	name := aws.ToString(in.StackName)
	if s, ok := f.stacks[name]; ok && s.status != "DELETE_COMPLETE" {
		return nil, apiErr("AlreadyExistsException", "Stack ["+name+"] already exists")
	}
	if s, ok := f.stacks[name]; ok {
		f.stacks[s.id] = s
	}
	s := f.put(name, "CREATE_IN_PROGRESS")
	for _, p := range in.Parameters {
		s.params[aws.ToString(p.ParameterKey)] = aws.ToString(p.ParameterValue)
	}
	for _, t := range in.Tags {
		s.tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	s.tp = aws.ToBool(in.EnableTerminationProtection)
	s.created = f.now
	s.outputs["Out"] = name + "-out"
	s.seq = seqOr(f.createSeq, "CREATE_COMPLETE")
	f.event(s, name, "AWS::CloudFormation::Stack", "CREATE_IN_PROGRESS", "User Initiated")
	s.events[len(s.events)-1].ClientRequestToken = in.ClientRequestToken
	return &cloudformation.CreateStackOutput{StackId: aws.String(s.id)}, nil
}

func (f *fakeCFN) UpdateStack(ctx context.Context, in *cloudformation.UpdateStackInput, _ ...func(*cloudformation.Options)) (*cloudformation.UpdateStackOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("UpdateStack")
	f.lastUpdate = in
	s := f.find(aws.ToString(in.StackName))
	if s == nil || s.status == "DELETE_COMPLETE" {
		return nil, apiErr("ValidationError", "Stack ["+aws.ToString(in.StackName)+"] does not exist")
	}
	if !updatable[s.status] {
		return nil, apiErr("ValidationError", "Stack:"+s.id+" is in "+s.status+" state and can not be updated.")
	}
	if f.noChange {
		return nil, apiErr("ValidationError", "No updates are to be performed.")
	}
	s.status = "UPDATE_IN_PROGRESS"
	s.seq = seqOr(f.updateSeq, "UPDATE_COMPLETE")
	f.event(s, s.name, "AWS::CloudFormation::Stack", "UPDATE_IN_PROGRESS", "User Initiated")
	s.updated = f.now // as CloudFormation: the update's start
	s.events[len(s.events)-1].ClientRequestToken = in.ClientRequestToken
	return &cloudformation.UpdateStackOutput{StackId: aws.String(s.id)}, nil
}

func (f *fakeCFN) DeleteStack(ctx context.Context, in *cloudformation.DeleteStackInput, _ ...func(*cloudformation.Options)) (*cloudformation.DeleteStackOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("DeleteStack")
	s := f.find(aws.ToString(in.StackName))
	if s == nil && f.deleteMissingErr {
		return nil, apiErr("ValidationError", "Stack ["+aws.ToString(in.StackName)+"] does not exist")
	}
	if s == nil {
		return &cloudformation.DeleteStackOutput{}, nil
	}
	if s.tp {
		return nil, apiErr("ValidationError", "Stack ["+s.name+"] cannot be deleted while TerminationProtection is enabled")
	}
	s.status = "DELETE_IN_PROGRESS"
	s.seq = seqOr(f.deleteSeq, "DELETE_COMPLETE")
	return &cloudformation.DeleteStackOutput{}, nil
}

func (f *fakeCFN) UpdateTerminationProtection(ctx context.Context, in *cloudformation.UpdateTerminationProtectionInput, _ ...func(*cloudformation.Options)) (*cloudformation.UpdateTerminationProtectionOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("UpdateTerminationProtection")
	s := f.find(aws.ToString(in.StackName))
	if s == nil {
		return nil, apiErr("ValidationError", "does not exist")
	}
	s.tp = aws.ToBool(in.EnableTerminationProtection)
	return &cloudformation.UpdateTerminationProtectionOutput{StackId: aws.String(s.id)}, nil
}

func (f *fakeCFN) CreateChangeSet(ctx context.Context, in *cloudformation.CreateChangeSetInput, _ ...func(*cloudformation.Options)) (*cloudformation.CreateChangeSetOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("CreateChangeSet")
	f.lastCS = in
	if f.noChange {
		return nil, apiErr("ValidationError", "No updates are to be performed.")
	}
	name := aws.ToString(in.StackName)
	s := f.find(name)
	if in.ChangeSetType == types.ChangeSetTypeUpdate || in.ChangeSetType == "" {
		// CloudFormation's answers for an update of a stack that is gone or
		// being changed.
		if s == nil || s.status == "DELETE_COMPLETE" {
			return nil, apiErr("ValidationError", "Stack ["+name+"] does not exist")
		}
		if !updatable[s.status] {
			return nil, apiErr("ValidationError", "Stack:"+s.id+" is in "+s.status+" state and can not be updated.")
		}
	}
	if s == nil {
		s = f.put(name, "REVIEW_IN_PROGRESS")
	}
	return &cloudformation.CreateChangeSetOutput{Id: aws.String("cs-1"), StackId: aws.String(s.id)}, nil
}

func (f *fakeCFN) DescribeChangeSet(ctx context.Context, in *cloudformation.DescribeChangeSetInput, _ ...func(*cloudformation.Options)) (*cloudformation.DescribeChangeSetOutput, error) {
	f.mu.Lock()
	f.record("DescribeChangeSet")
	f.csDescribes = append(f.csDescribes, in)
	n, hook := len(f.csDescribes), f.onDescribeCS
	out := f.describeCS(in)
	f.mu.Unlock()
	if hook != nil {
		hook(n)
	}
	return out, nil
}

func (f *fakeCFN) describeCS(in *cloudformation.DescribeChangeSetInput) *cloudformation.DescribeChangeSetOutput {
	if f.csPending > 0 {
		f.csPending--
		return &cloudformation.DescribeChangeSetOutput{Status: types.ChangeSetStatusCreateInProgress}
	}
	if f.csFailed != "" {
		return &cloudformation.DescribeChangeSetOutput{Status: types.ChangeSetStatusFailed, StatusReason: aws.String(f.csFailed)}
	}
	pages := f.csPages
	if pages == nil {
		pages = [][]types.Change{{{Type: types.ChangeTypeResource, ResourceChange: &types.ResourceChange{
			Action: types.ChangeActionModify, LogicalResourceId: aws.String("Queue"), ResourceType: aws.String("AWS::SQS::Queue"), Replacement: types.ReplacementTrue,
		}}}}
	}
	i := 0
	if in.NextToken != nil {
		fmt.Sscanf(*in.NextToken, "page-%d", &i)
	}
	out := &cloudformation.DescribeChangeSetOutput{Status: types.ChangeSetStatusCreateComplete, ExecutionStatus: types.ExecutionStatusAvailable, Changes: pages[i]}
	if i+1 < len(pages) {
		out.NextToken = aws.String(fmt.Sprintf("page-%d", i+1))
	}
	return out
}

func (f *fakeCFN) DeleteChangeSet(ctx context.Context, in *cloudformation.DeleteChangeSetInput, _ ...func(*cloudformation.Options)) (*cloudformation.DeleteChangeSetOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("DeleteChangeSet")
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return &cloudformation.DeleteChangeSetOutput{}, nil
}

func (f *fakeCFN) GetTemplate(ctx context.Context, in *cloudformation.GetTemplateInput, _ ...func(*cloudformation.Options)) (*cloudformation.GetTemplateOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("GetTemplate")
	s := f.find(aws.ToString(in.StackName))
	if s == nil {
		return nil, apiErr("ValidationError", "Stack with id "+aws.ToString(in.StackName)+" does not exist")
	}
	return &cloudformation.GetTemplateOutput{TemplateBody: aws.String(s.template)}, nil
}

func (f *fakeCFN) ExecuteChangeSet(ctx context.Context, in *cloudformation.ExecuteChangeSetInput, _ ...func(*cloudformation.Options)) (*cloudformation.ExecuteChangeSetOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("ExecuteChangeSet")
	// An UPDATE change set's stack updates as after UpdateStack.
	if s := f.find(aws.ToString(in.StackName)); s != nil && s.status != "REVIEW_IN_PROGRESS" {
		s.status = "UPDATE_IN_PROGRESS"
		s.seq = seqOr(f.updateSeq, "UPDATE_COMPLETE")
		f.event(s, s.name, "AWS::CloudFormation::Stack", "UPDATE_IN_PROGRESS", "User Initiated")
		s.updated = f.now
	}
	return &cloudformation.ExecuteChangeSetOutput{}, nil
}

func (f *fakeCFN) SetStackPolicy(ctx context.Context, in *cloudformation.SetStackPolicyInput, _ ...func(*cloudformation.Options)) (*cloudformation.SetStackPolicyOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("SetStackPolicy")
	return &cloudformation.SetStackPolicyOutput{}, nil
}
