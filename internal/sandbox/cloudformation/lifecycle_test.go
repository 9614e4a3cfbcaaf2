package cloudformation

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/smithy-go"

	"github.com/stacker-go/stacker/internal/sandbox/platform"
)

const dummyYAML = `AWSTemplateFormatVersion: "2010-09-09"
Description: dummy
Parameters:
  Env:
    Type: String
    Default: dev
    AllowedValues: [dev, prod]
  Secret:
    Type: String
    NoEcho: true
    Default: hunter2
  Subnets:
    Type: CommaDelimitedList
    Default: "a, b,c"
Conditions:
  IsProd: !Equals [!Ref Env, prod]
Mappings:
  Sizes:
    dev: {Size: small}
    prod: {Size: large}
Resources:
  Dummy:
    Type: AWS::CloudFormation::WaitConditionHandle
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: !Sub "topic-${Env}-${AWS::Region}"
  ProdOnly:
    Type: AWS::CloudFormation::WaitConditionHandle
    Condition: IsProd
Outputs:
  DummyId:
    Value: dummy-1234
  Region:
    Value: !Ref AWS::Region
  TopicArn:
    Value: !Ref Topic
    Export:
      Name: !Sub "${AWS::StackName}-topic"
  Size:
    Value: !FindInMap [Sizes, !Ref Env, Size]
  Second:
    Value: !Select [1, !Ref Subnets]
  Joined:
    Value: !Join ["-", [!Ref Env, !GetAtt Topic.TopicName]]
  Prod:
    Condition: IsProd
    Value: yes
`

func apiCode(err error) (string, string) {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode(), ae.ErrorMessage()
	}
	return "", ""
}

func outputsMap(st types.Stack) map[string]string {
	m := map[string]string{}
	for _, o := range st.Outputs {
		m[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	return m
}

func TestLifecycleSDK(t *testing.T) {
	h := newHarness(t)
	c := h.client("AKIDA")
	ctx := context.Background()
	out, err := c.CreateStack(ctx, &cfn.CreateStackInput{StackName: aws.String("s1"), TemplateBody: aws.String(dummyYAML),
		Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("x")}}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(aws.ToString(out.StackId), "arn:aws:cloudformation:us-east-1:111111111111:stack/s1/") {
		t.Fatalf("stack id %s", aws.ToString(out.StackId))
	}
	st := waitStable(t, c, "s1")
	if st.StackStatus != types.StackStatusCreateComplete {
		t.Fatalf("status %s %s", st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	want := map[string]string{"DummyId": "dummy-1234", "Region": "us-east-1", "TopicArn": "arn:aws:sns:us-east-1:111111111111:topic-dev-us-east-1",
		"Size": "small", "Second": "b", "Joined": "dev-topic-dev-us-east-1"}
	got := outputsMap(st)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("output %s = %q, want %q", k, got[k], v)
		}
	}
	if _, ok := got["Prod"]; ok {
		t.Error("conditional output present")
	}
	for _, p := range st.Parameters {
		if aws.ToString(p.ParameterKey) == "Secret" && aws.ToString(p.ParameterValue) != "****" {
			t.Errorf("NoEcho parameter shown as %q", aws.ToString(p.ParameterValue))
		}
	}
	if aws.ToString(st.Description) != "dummy" || st.CreationTime == nil || len(st.Tags) != 1 {
		t.Errorf("stack fields: %+v", st)
	}
	// events: stack and resource events, newest first
	ev, err := c.DescribeStackEvents(ctx, &cfn.DescribeStackEventsInput{StackName: aws.String("s1")})
	if err != nil {
		t.Fatal(err)
	}
	if s := ev.StackEvents[0]; s.ResourceStatus != types.ResourceStatusCreateComplete || aws.ToString(s.LogicalResourceId) != "s1" {
		t.Errorf("newest event %+v", s)
	}
	last := ev.StackEvents[len(ev.StackEvents)-1]
	if aws.ToString(last.ResourceStatusReason) != "User Initiated" {
		t.Errorf("first event reason %q", aws.ToString(last.ResourceStatusReason))
	}
	res, err := c.ListStackResources(ctx, &cfn.ListStackResourcesInput{StackName: aws.String("s1")})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.StackResourceSummaries) != 2 {
		t.Fatalf("resources %d", len(res.StackResourceSummaries))
	}
	for _, r := range res.StackResourceSummaries {
		if r.LastUpdatedTimestamp == nil || r.LogicalResourceId == nil || r.PhysicalResourceId == nil {
			t.Errorf("resource summary missing fields: %+v", r)
		}
	}
	dr, err := c.DescribeStackResource(ctx, &cfn.DescribeStackResourceInput{StackName: aws.String("s1"), LogicalResourceId: aws.String("Topic")})
	if err != nil || aws.ToString(dr.StackResourceDetail.PhysicalResourceId) != want["TopicArn"] {
		t.Fatalf("describe resource: %v %+v", err, dr)
	}
	gt, err := c.GetTemplate(ctx, &cfn.GetTemplateInput{StackName: aws.String("s1")})
	if err != nil || aws.ToString(gt.TemplateBody) != dummyYAML {
		t.Fatalf("get template: %v", err)
	}
	// no-op updates, in every form
	for _, in := range []*cfn.UpdateStackInput{
		{StackName: aws.String("s1"), TemplateBody: aws.String(dummyYAML)},
		{StackName: aws.String("s1"), UsePreviousTemplate: aws.Bool(true)},
		{StackName: aws.String("s1"), UsePreviousTemplate: aws.Bool(true), Parameters: []types.Parameter{{ParameterKey: aws.String("Env"), UsePreviousValue: aws.Bool(true)}}},
		{StackName: aws.String("s1"), TemplateBody: aws.String(dummyYAML), Parameters: []types.Parameter{{ParameterKey: aws.String("Env"), ParameterValue: aws.String("dev")}}},
	} {
		_, err := c.UpdateStack(ctx, in)
		if code, msg := apiCode(err); code != "ValidationError" || msg != "No updates are to be performed." {
			t.Errorf("no-op update: %v", err)
		}
	}
	// a real update through a parameter
	if _, err := c.UpdateStack(ctx, &cfn.UpdateStackInput{StackName: aws.String("s1"), UsePreviousTemplate: aws.Bool(true),
		Parameters: []types.Parameter{{ParameterKey: aws.String("Env"), ParameterValue: aws.String("prod")}, {ParameterKey: aws.String("Secret"), UsePreviousValue: aws.Bool(true)}}}); err != nil {
		t.Fatal(err)
	}
	st = waitStable(t, c, "s1")
	if st.StackStatus != types.StackStatusUpdateComplete {
		t.Fatalf("update status %s %s", st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	got = outputsMap(st)
	if got["TopicArn"] != "arn:aws:sns:us-east-1:111111111111:topic-prod-us-east-1" || got["Size"] != "large" || got["Prod"] != "yes" {
		t.Errorf("outputs after update %v", got)
	}
	if st.LastUpdatedTime == nil {
		t.Error("LastUpdatedTime not set")
	}
	ex, err := c.ListExports(ctx, &cfn.ListExportsInput{})
	if err != nil || len(ex.Exports) != 1 || aws.ToString(ex.Exports[0].Value) != got["TopicArn"] {
		t.Fatalf("exports %v %+v", err, ex)
	}
	// delete
	if _, err := c.DeleteStack(ctx, &cfn.DeleteStackInput{StackName: aws.String("s1")}); err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(st.StackId)
	st = waitStable(t, c, id)
	if st.StackStatus != types.StackStatusDeleteComplete || st.DeletionTime == nil {
		t.Fatalf("after delete: %s", st.StackStatus)
	}
	_, err = c.DescribeStacks(ctx, &cfn.DescribeStacksInput{StackName: aws.String("s1")})
	if code, msg := apiCode(err); code != "ValidationError" || msg != "Stack with id s1 does not exist" {
		t.Errorf("describe deleted: %v", err)
	}
	ls, err := c.ListStacks(ctx, &cfn.ListStacksInput{StackStatusFilter: []types.StackStatus{types.StackStatusDeleteComplete}})
	if err != nil || len(ls.StackSummaries) != 1 {
		t.Fatalf("list stacks %v %d", err, len(ls.StackSummaries))
	}
	if _, err := c.DeleteStack(ctx, &cfn.DeleteStackInput{StackName: aws.String("s1")}); err != nil {
		t.Errorf("deleting a missing stack: %v", err)
	}
}

func TestInProgressObservable(t *testing.T) {
	h := newHarness(t)
	h.faults.latency = 400 * time.Millisecond
	c := h.client("AKIDA")
	ctx := context.Background()
	if _, err := c.CreateStack(ctx, &cfn.CreateStackInput{StackName: aws.String("slow"), TemplateBody: aws.String(dummyYAML)}); err != nil {
		t.Fatal(err)
	}
	out, err := c.DescribeStacks(ctx, &cfn.DescribeStacksInput{StackName: aws.String("slow")})
	if err != nil || out.Stacks[0].StackStatus != types.StackStatusCreateInProgress {
		t.Fatalf("status right after create: %v %v", err, out.Stacks[0].StackStatus)
	}
	_, err = c.UpdateStack(ctx, &cfn.UpdateStackInput{StackName: aws.String("slow"), UsePreviousTemplate: aws.Bool(true)})
	if code, msg := apiCode(err); code != "ValidationError" || !strings.HasSuffix(msg, "is in CREATE_IN_PROGRESS state and can not be updated.") {
		t.Errorf("update while creating: %v", err)
	}
	st := waitStable(t, c, "slow")
	if st.StackStatus != types.StackStatusCreateComplete {
		t.Fatal(st.StackStatus)
	}
	// parallel creation: two independent resources take ~one latency
	ev, _ := c.DescribeStackEvents(ctx, &cfn.DescribeStackEventsInput{StackName: aws.String("slow")})
	var starts []time.Time
	for _, e := range ev.StackEvents {
		if e.ResourceStatus == types.ResourceStatusCreateInProgress && aws.ToString(e.ResourceStatusReason) == "" && aws.ToString(e.LogicalResourceId) != "slow" {
			starts = append(starts, *e.Timestamp)
		}
	}
	if len(starts) != 2 {
		t.Fatalf("resource starts %d", len(starts))
	}
	if d := starts[0].Sub(starts[1]); d > 200*time.Millisecond || d < -200*time.Millisecond {
		t.Errorf("independent resources not created in parallel: %v apart", d)
	}
}

func TestConcurrentCreateSameName(t *testing.T) {
	h := newHarness(t)
	c := h.client("AKIDA")
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, exists := 0, 0
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.CreateStack(context.Background(), &cfn.CreateStackInput{StackName: aws.String("race"), TemplateBody: aws.String(dummyYAML)})
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				ok++
				return
			}
			var ae *types.AlreadyExistsException
			if errors.As(err, &ae) && ae.ErrorMessage() == "Stack [race] already exists" {
				exists++
			} else {
				t.Errorf("unexpected: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok != 1 || exists != 15 {
		t.Fatalf("ok=%d exists=%d", ok, exists)
	}
}

func TestFailureAndRollback(t *testing.T) {
	h := newHarness(t)
	c := h.client("AKIDA")
	ctx := context.Background()
	h.faults.add(platform.FailureRule{Stack: "bad*", Resource: "Topic", Operation: "create", Message: "boom"})
	cases := []struct {
		name      string
		in        cfn.CreateStackInput
		want      types.StackStatus
		reasonHas string
	}{
		{"bad-rollback", cfn.CreateStackInput{}, types.StackStatusRollbackComplete, ""},
		{"bad-disable", cfn.CreateStackInput{DisableRollback: aws.Bool(true)}, types.StackStatusCreateFailed, "The following resource(s) failed to create: [Topic]. "},
		{"bad-nothing", cfn.CreateStackInput{OnFailure: types.OnFailureDoNothing}, types.StackStatusCreateFailed, "The following resource(s) failed to create: [Topic]. "},
		{"bad-delete", cfn.CreateStackInput{OnFailure: types.OnFailureDelete}, types.StackStatusDeleteComplete, ""},
	}
	for _, tc := range cases {
		in := tc.in
		in.StackName = aws.String(tc.name)
		in.TemplateBody = aws.String(dummyYAML)
		out, err := c.CreateStack(ctx, &in)
		if err != nil {
			t.Fatal(err)
		}
		st := waitStable(t, c, aws.ToString(out.StackId))
		if st.StackStatus != tc.want || !strings.Contains(aws.ToString(st.StackStatusReason), tc.reasonHas) {
			t.Errorf("%s: %s %q", tc.name, st.StackStatus, aws.ToString(st.StackStatusReason))
		}
	}
	ev, _ := c.DescribeStackEvents(ctx, &cfn.DescribeStackEventsInput{StackName: aws.String("bad-rollback")})
	var seq []string
	for i := len(ev.StackEvents) - 1; i >= 0; i-- {
		e := ev.StackEvents[i]
		if aws.ToString(e.LogicalResourceId) == "bad-rollback" {
			seq = append(seq, string(e.ResourceStatus)+"|"+aws.ToString(e.ResourceStatusReason))
		}
		if aws.ToString(e.LogicalResourceId) == "Topic" && e.ResourceStatus == types.ResourceStatusCreateFailed && aws.ToString(e.ResourceStatusReason) != "boom" {
			t.Errorf("resource failure reason %q", aws.ToString(e.ResourceStatusReason))
		}
	}
	wantSeq := []string{"CREATE_IN_PROGRESS|User Initiated", "ROLLBACK_IN_PROGRESS|The following resource(s) failed to create: [Topic]. . Rollback requested by user.", "ROLLBACK_COMPLETE|"}
	if strings.Join(seq, "\n") != strings.Join(wantSeq, "\n") {
		t.Errorf("stack events:\n%s", strings.Join(seq, "\n"))
	}
	_, err := c.UpdateStack(ctx, &cfn.UpdateStackInput{StackName: aws.String("bad-rollback"), UsePreviousTemplate: aws.Bool(true)})
	if code, msg := apiCode(err); code != "ValidationError" || !strings.HasPrefix(msg, "Stack:arn:aws:cloudformation:us-east-1:111111111111:stack/bad-rollback/") || !strings.HasSuffix(msg, " is in ROLLBACK_COMPLETE state and can not be updated.") {
		t.Errorf("update of ROLLBACK_COMPLETE: %v", err)
	}

	// update failure restores template, parameters and outputs
	if _, err := c.CreateStack(ctx, &cfn.CreateStackInput{StackName: aws.String("upd"), TemplateBody: aws.String(dummyYAML)}); err != nil {
		t.Fatal(err)
	}
	before := waitStable(t, c, "upd")
	h.faults.add(platform.FailureRule{Stack: "upd", Resource: "ProdOnly", Operation: "create", Message: "nope"})
	if _, err := c.UpdateStack(ctx, &cfn.UpdateStackInput{StackName: aws.String("upd"), UsePreviousTemplate: aws.Bool(true),
		Parameters: []types.Parameter{{ParameterKey: aws.String("Env"), ParameterValue: aws.String("prod")}}}); err != nil {
		t.Fatal(err)
	}
	after := waitStable(t, c, "upd")
	if after.StackStatus != types.StackStatusUpdateRollbackComplete {
		t.Fatalf("update rollback: %s %s", after.StackStatus, aws.ToString(after.StackStatusReason))
	}
	if a, b := outputsMap(after), outputsMap(before); a["TopicArn"] != b["TopicArn"] || a["Size"] != "small" {
		t.Errorf("outputs not restored: %v", a)
	}
	for _, p := range after.Parameters {
		if aws.ToString(p.ParameterKey) == "Env" && aws.ToString(p.ParameterValue) != "dev" {
			t.Errorf("parameters not restored: %v", aws.ToString(p.ParameterValue))
		}
	}
	res, _ := c.ListStackResources(ctx, &cfn.ListStackResourcesInput{StackName: aws.String("upd")})
	if len(res.StackResourceSummaries) != 2 {
		t.Errorf("resources after rollback: %d", len(res.StackResourceSummaries))
	}
	// delete failure
	h.faults.add(platform.FailureRule{Stack: "upd", Resource: "Dummy", Operation: "delete", Message: "stuck", Times: 1})
	if _, err := c.DeleteStack(ctx, &cfn.DeleteStackInput{StackName: aws.String("upd")}); err != nil {
		t.Fatal(err)
	}
	st := waitStable(t, c, "upd")
	if st.StackStatus != types.StackStatusDeleteFailed || aws.ToString(st.StackStatusReason) != "The following resource(s) failed to delete: [Dummy]. " {
		t.Errorf("delete failed: %s %q", st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	if _, err := c.DeleteStack(ctx, &cfn.DeleteStackInput{StackName: aws.String("upd")}); err != nil {
		t.Fatal(err)
	}
	if st := waitStable(t, c, aws.ToString(st.StackId)); st.StackStatus != types.StackStatusDeleteComplete {
		t.Errorf("retry delete: %s", st.StackStatus)
	}
}

const waitBroken = `Resources:
  Dummy0:
    Type: AWS::CloudFormation::WaitConditionHandle
  BrokenWaitCondition:
    Type: AWS::CloudFormation::WaitCondition
    Properties:
      Handle: !Ref Dummy0
      Timeout: 4294967296
      Count: 0
Outputs:
  WCHCount:
    Value: "1"
`

const waitSignal = `Resources:
  Handle:
    Type: AWS::CloudFormation::WaitConditionHandle
  Wait:
    Type: AWS::CloudFormation::WaitCondition
    Properties:
      Handle: !Ref Handle
      Timeout: 1
`

func TestWaitConditions(t *testing.T) {
	h := newHarness(t)
	c := h.client("AKIDA")
	ctx := context.Background()
	if _, err := c.CreateStack(ctx, &cfn.CreateStackInput{StackName: aws.String("broken"), TemplateBody: aws.String(waitBroken)}); err != nil {
		t.Fatal(err)
	}
	st := waitStable(t, c, "broken")
	if st.StackStatus != types.StackStatusRollbackComplete {
		t.Fatalf("broken wait condition: %s", st.StackStatus)
	}
	ev, err := c.DescribeStackEvents(ctx, &cfn.DescribeStackEventsInput{StackName: aws.String("broken")})
	if err != nil {
		t.Fatalf("describe events of broken: %v", err)
	}
	found := false
	for _, e := range ev.StackEvents {
		if aws.ToString(e.LogicalResourceId) == "BrokenWaitCondition" && e.ResourceStatus == types.ResourceStatusCreateFailed {
			found = aws.ToString(e.ResourceStatusReason) == "Value for Timeout property must be less than 43200"
		}
	}
	if !found {
		t.Error("no CREATE_FAILED event with the timeout message")
	}
	// a wait condition nobody signals times out (1s)
	if _, err := c.CreateStack(ctx, &cfn.CreateStackInput{StackName: aws.String("unsignalled"), TemplateBody: aws.String(waitSignal)}); err != nil {
		t.Fatal(err)
	}
	st = waitStable(t, c, "unsignalled")
	if st.StackStatus != types.StackStatusRollbackComplete {
		t.Fatalf("unsignalled: %s", st.StackStatus)
	}
	ev, err = c.DescribeStackEvents(ctx, &cfn.DescribeStackEventsInput{StackName: aws.String("unsignalled")})
	if err != nil {
		t.Fatalf("describe events of unsignalled: %v", err)
	}
	found = false
	for _, e := range ev.StackEvents {
		if aws.ToString(e.ResourceStatusReason) == "WaitCondition timed out. Received 0 conditions when expecting 1" {
			found = true
		}
	}
	if !found {
		t.Error("no timeout event")
	}
	// signalled: completes
	if _, err := c.CreateStack(ctx, &cfn.CreateStackInput{StackName: aws.String("signalled"), TemplateBody: aws.String(waitSignal)}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := c.SignalResource(ctx, &cfn.SignalResourceInput{StackName: aws.String("signalled"), LogicalResourceId: aws.String("Wait"), UniqueId: aws.String("i-1"), Status: types.ResourceSignalStatusSuccess})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	if st := waitStable(t, c, "signalled"); st.StackStatus != types.StackStatusCreateComplete {
		t.Fatalf("signalled: %s", st.StackStatus)
	}
}

func TestTerminationProtectionAndPolicy(t *testing.T) {
	h := newHarness(t)
	c := h.client("AKIDA")
	ctx := context.Background()
	if _, err := c.CreateStack(ctx, &cfn.CreateStackInput{StackName: aws.String("p"), TemplateBody: aws.String(dummyYAML), EnableTerminationProtection: aws.Bool(true),
		StackPolicyBody: aws.String(`{"Statement":[{"Effect":"Allow","Action":"Update:*","Principal":"*","Resource":"*"},{"Effect":"Deny","Action":"Update:Replace","Principal":"*","Resource":"LogicalResourceId/Topic"}]}`)}); err != nil {
		t.Fatal(err)
	}
	waitStable(t, c, "p")
	_, err := c.DeleteStack(ctx, &cfn.DeleteStackInput{StackName: aws.String("p")})
	if code, msg := apiCode(err); code != "ValidationError" || msg != "Stack [p] cannot be deleted while TerminationProtection is enabled" {
		t.Errorf("termination protection: %v", err)
	}
	gp, err := c.GetStackPolicy(ctx, &cfn.GetStackPolicyInput{StackName: aws.String("p")})
	if err != nil || !strings.Contains(aws.ToString(gp.StackPolicyBody), "Update:Replace") {
		t.Fatalf("get policy %v", err)
	}
	// TopicName change replaces the topic: denied by the policy
	if _, err := c.UpdateStack(ctx, &cfn.UpdateStackInput{StackName: aws.String("p"), UsePreviousTemplate: aws.Bool(true),
		Parameters: []types.Parameter{{ParameterKey: aws.String("Env"), ParameterValue: aws.String("prod")}}}); err != nil {
		t.Fatal(err)
	}
	st := waitStable(t, c, "p")
	if st.StackStatus != types.StackStatusUpdateRollbackComplete {
		t.Fatalf("policy not enforced: %s", st.StackStatus)
	}
	if _, err := c.UpdateTerminationProtection(ctx, &cfn.UpdateTerminationProtectionInput{StackName: aws.String("p"), EnableTerminationProtection: aws.Bool(false)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteStack(ctx, &cfn.DeleteStackInput{StackName: aws.String("p")}); err != nil {
		t.Fatal(err)
	}
}

func TestExportsImports(t *testing.T) {
	h := newHarness(t)
	c := h.client("AKIDA")
	ctx := context.Background()
	if _, err := c.CreateStack(ctx, &cfn.CreateStackInput{StackName: aws.String("exp"), TemplateBody: aws.String(dummyYAML)}); err != nil {
		t.Fatal(err)
	}
	waitStable(t, c, "exp")
	imp := `Resources:
  H:
    Type: AWS::CloudFormation::WaitConditionHandle
Outputs:
  Got:
    Value: !ImportValue exp-topic
`
	if _, err := c.CreateStack(ctx, &cfn.CreateStackInput{StackName: aws.String("imp"), TemplateBody: aws.String(imp)}); err != nil {
		t.Fatal(err)
	}
	st := waitStable(t, c, "imp")
	if outputsMap(st)["Got"] != "arn:aws:sns:us-east-1:111111111111:topic-dev-us-east-1" {
		t.Errorf("import: %v", outputsMap(st))
	}
	li, err := c.ListImports(ctx, &cfn.ListImportsInput{ExportName: aws.String("exp-topic")})
	if err != nil || len(li.Imports) != 1 || li.Imports[0] != "imp" {
		t.Fatalf("list imports %v %v", err, li)
	}
	// duplicate export name fails the second stack
	if _, err := c.CreateStack(ctx, &cfn.CreateStackInput{StackName: aws.String("dup"), TemplateBody: aws.String(strings.ReplaceAll(dummyYAML, "${AWS::StackName}-topic", "exp-topic"))}); err != nil {
		t.Fatal(err)
	}
	st = waitStable(t, c, "dup")
	if st.StackStatus != types.StackStatusRollbackComplete || !strings.Contains(aws.ToString(st.StackStatusReason), "") {
		t.Errorf("duplicate export: %s", st.StackStatus)
	}
	// in-use export protects its stack
	if _, err := c.DeleteStack(ctx, &cfn.DeleteStackInput{StackName: aws.String("exp")}); err != nil {
		t.Fatal(err)
	}
	st = waitStable(t, c, "exp")
	if st.StackStatus != types.StackStatusDeleteFailed || aws.ToString(st.StackStatusReason) != "Export exp-topic cannot be deleted as it is in use by imp" {
		t.Errorf("in-use delete: %s %q", st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	_, err = c.CreateStack(ctx, &cfn.CreateStackInput{StackName: aws.String("imp2"), TemplateBody: aws.String(strings.ReplaceAll(imp, "exp-topic", "nope"))})
	if code, msg := apiCode(err); code != "ValidationError" || msg != "No export named nope found." {
		t.Errorf("missing import: %v", err)
	}
}
