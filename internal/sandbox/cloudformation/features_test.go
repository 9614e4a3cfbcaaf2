package cloudformation

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
)

func waitChangeSet(t *testing.T, c *cfn.Client, stack, name string) *cfn.DescribeChangeSetOutput {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := c.DescribeChangeSet(context.Background(), &cfn.DescribeChangeSetInput{StackName: aws.String(stack), ChangeSetName: aws.String(name)})
		if err != nil {
			t.Fatalf("describe change set: %v", err)
		}
		if out.Status == types.ChangeSetStatusCreateComplete || out.Status == types.ChangeSetStatusFailed {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("change set still %s", out.Status)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestChangeSets(t *testing.T) {
	h := newHarness(t)
	c := h.client("AKIDA")
	ctx := context.Background()
	// CREATE change set on a new stack: REVIEW_IN_PROGRESS, then executed
	cs, err := c.CreateChangeSet(ctx, &cfn.CreateChangeSetInput{StackName: aws.String("cs"), ChangeSetName: aws.String("initial"),
		ChangeSetType: types.ChangeSetTypeCreate, TemplateBody: aws.String(dummyYAML)})
	if err != nil {
		t.Fatal(err)
	}
	st := waitStable(t, c, "cs")
	if st.StackStatus != types.StackStatusReviewInProgress {
		t.Fatalf("status %s", st.StackStatus)
	}
	d := waitChangeSet(t, c, "cs", "initial")
	if d.ExecutionStatus != types.ExecutionStatusAvailable || len(d.Changes) != 2 {
		t.Fatalf("create change set: %s %d", d.ExecutionStatus, len(d.Changes))
	}
	_, err = c.CreateChangeSet(ctx, &cfn.CreateChangeSetInput{StackName: aws.String("cs"), ChangeSetName: aws.String("initial"),
		ChangeSetType: types.ChangeSetTypeCreate, TemplateBody: aws.String(dummyYAML)})
	var ae *types.AlreadyExistsException
	if !errors.As(err, &ae) {
		t.Errorf("duplicate change set: %v", err)
	}
	if _, err := c.ExecuteChangeSet(ctx, &cfn.ExecuteChangeSetInput{StackName: aws.String("cs"), ChangeSetName: cs.Id}); err != nil {
		t.Fatal(err)
	}
	st = waitStable(t, c, "cs")
	if st.StackStatus != types.StackStatusCreateComplete || outputsMap(st)["Size"] != "small" {
		t.Fatalf("after execute: %s %v", st.StackStatus, outputsMap(st))
	}
	ex, _ := c.ListExports(ctx, &cfn.ListExportsInput{})
	if len(ex.Exports) != 1 {
		t.Errorf("exports after change-set create: %d", len(ex.Exports))
	}
	// CREATE on an existing stack is refused
	_, err = c.CreateChangeSet(ctx, &cfn.CreateChangeSetInput{StackName: aws.String("cs"), ChangeSetName: aws.String("again"),
		ChangeSetType: types.ChangeSetTypeCreate, TemplateBody: aws.String(dummyYAML)})
	if code, msg := apiCode(err); code != "ValidationError" || msg != "Stack [cs] already exists and cannot be created again with the changeSet [again]." {
		t.Errorf("create on existing: %v", err)
	}
	// empty change set
	if _, err := c.CreateChangeSet(ctx, &cfn.CreateChangeSetInput{StackName: aws.String("cs"), ChangeSetName: aws.String("empty"), UsePreviousTemplate: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	d = waitChangeSet(t, c, "cs", "empty")
	if d.Status != types.ChangeSetStatusFailed || d.ExecutionStatus != types.ExecutionStatusUnavailable ||
		aws.ToString(d.StatusReason) != "The submitted information didn't contain changes. Submit different information to create a change set." {
		t.Errorf("empty change set: %s %s %q", d.Status, d.ExecutionStatus, aws.ToString(d.StatusReason))
	}
	_, err = c.ExecuteChangeSet(ctx, &cfn.ExecuteChangeSetInput{StackName: aws.String("cs"), ChangeSetName: aws.String("empty")})
	var ics *types.InvalidChangeSetStatusException
	if !errors.As(err, &ics) {
		t.Errorf("execute failed change set: %v", err)
	}
	// a parameter change flowing through !Sub into a name: Modify, replacement True
	if _, err := c.CreateChangeSet(ctx, &cfn.CreateChangeSetInput{StackName: aws.String("cs"), ChangeSetName: aws.String("prod"), UsePreviousTemplate: aws.Bool(true),
		Parameters: []types.Parameter{{ParameterKey: aws.String("Env"), ParameterValue: aws.String("prod")}}}); err != nil {
		t.Fatal(err)
	}
	// a sibling that executing "prod" deletes
	modified := strings.Replace(dummyYAML, "  Dummy:\n    Type: AWS::CloudFormation::WaitConditionHandle\n", "  Dummy:\n    Type: AWS::CloudFormation::WaitConditionHandle\n  Extra:\n    Type: AWS::SQS::Queue\n", 1)
	if _, err := c.CreateChangeSet(ctx, &cfn.CreateChangeSetInput{StackName: aws.String("cs"), ChangeSetName: aws.String("sibling"), TemplateBody: aws.String(modified)}); err != nil {
		t.Fatal(err)
	}
	d = waitChangeSet(t, c, "cs", "prod")
	var topic, prodOnly *types.ResourceChange
	for _, ch := range d.Changes {
		switch aws.ToString(ch.ResourceChange.LogicalResourceId) {
		case "Topic":
			topic = ch.ResourceChange
		case "ProdOnly":
			prodOnly = ch.ResourceChange
		}
	}
	if topic == nil || topic.Action != types.ChangeActionModify || topic.Replacement != types.ReplacementTrue ||
		len(topic.Details) != 1 || topic.Details[0].ChangeSource != types.ChangeSourceParameterReference || aws.ToString(topic.Details[0].CausingEntity) != "Env" ||
		topic.Details[0].Target.RequiresRecreation != types.RequiresRecreationAlways || aws.ToString(topic.PhysicalResourceId) == "" {
		b, _ := json.Marshal(d.Changes)
		t.Errorf("topic change: %s", b)
	}
	if prodOnly == nil || prodOnly.Action != types.ChangeActionAdd {
		t.Errorf("conditional resource not added")
	}
	waitChangeSet(t, c, "cs", "sibling")
	l, _ := c.ListChangeSets(ctx, &cfn.ListChangeSetsInput{StackName: aws.String("cs")})
	if len(l.Summaries) != 4 { // initial (executed), empty, prod, sibling
		t.Errorf("change sets listed: %d", len(l.Summaries))
	}
	if _, err := c.ExecuteChangeSet(ctx, &cfn.ExecuteChangeSetInput{StackName: aws.String("cs"), ChangeSetName: aws.String("prod")}); err != nil {
		t.Fatal(err)
	}
	st = waitStable(t, c, "cs")
	if st.StackStatus != types.StackStatusUpdateComplete || outputsMap(st)["Size"] != "large" {
		t.Fatalf("after execute update: %s %v", st.StackStatus, outputsMap(st))
	}
	_, err = c.DescribeChangeSet(ctx, &cfn.DescribeChangeSetInput{StackName: aws.String("cs"), ChangeSetName: aws.String("sibling")})
	var nf *types.ChangeSetNotFoundException
	if !errors.As(err, &nf) || nf.ErrorMessage() != "ChangeSet [sibling] does not exist" {
		t.Errorf("sibling not deleted: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		d, err := c.DescribeChangeSet(ctx, &cfn.DescribeChangeSetInput{StackName: aws.String("cs"), ChangeSetName: aws.String("prod")})
		if err != nil {
			t.Fatal(err)
		}
		if d.ExecutionStatus == types.ExecutionStatusExecuteComplete {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("execution status %s", d.ExecutionStatus)
		}
		time.Sleep(time.Millisecond)
	}
	// tag-only change is a real change
	if _, err := c.CreateChangeSet(ctx, &cfn.CreateChangeSetInput{StackName: aws.String("cs"), ChangeSetName: aws.String("tags"), UsePreviousTemplate: aws.Bool(true),
		Parameters: []types.Parameter{{ParameterKey: aws.String("Env"), UsePreviousValue: aws.Bool(true)}},
		Tags:       []types.Tag{{Key: aws.String("k"), Value: aws.String("v")}}}); err != nil {
		t.Fatal(err)
	}
	if d := waitChangeSet(t, c, "cs", "tags"); d.Status != types.ChangeSetStatusCreateComplete {
		t.Errorf("tag-only change set: %s %s", d.Status, aws.ToString(d.StatusReason))
	}
}

func TestDeleteReviewInProgress(t *testing.T) {
	h := newHarness(t)
	c := h.client("AKIDA")
	ctx := context.Background()
	if _, err := c.CreateChangeSet(ctx, &cfn.CreateChangeSetInput{StackName: aws.String("rv"), ChangeSetName: aws.String("c"),
		ChangeSetType: types.ChangeSetTypeCreate, TemplateBody: aws.String(dummyYAML)}); err != nil {
		t.Fatal(err)
	}
	st := waitStable(t, c, "rv")
	if _, err := c.DeleteStack(ctx, &cfn.DeleteStackInput{StackName: aws.String("rv")}); err != nil {
		t.Fatal(err)
	}
	if st := waitStable(t, c, aws.ToString(st.StackId)); st.StackStatus != types.StackStatusDeleteComplete {
		t.Fatalf("status %s", st.StackStatus)
	}
	if _, err := c.DescribeChangeSet(ctx, &cfn.DescribeChangeSetInput{StackName: st.StackId, ChangeSetName: aws.String("c")}); err == nil {
		t.Error("change set survived its stack")
	}
}

func readSeed(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSeedIAMAndBucket(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	cb := h.client("AKIDB")
	role := readSeed(t, "stacker-role.yaml")
	_, err := cb.CreateStack(ctx, &cfn.CreateStackInput{StackName: aws.String("stacker-role"), TemplateBody: aws.String(role),
		Parameters: []types.Parameter{{ParameterKey: aws.String("MasterAccountId"), ParameterValue: aws.String(acctA)}}})
	var ic *types.InsufficientCapabilitiesException
	if !errors.As(err, &ic) || ic.ErrorMessage() != "Requires capabilities : [CAPABILITY_NAMED_IAM]" {
		t.Fatalf("capabilities: %v", err)
	}
	_, err = cb.CreateStack(ctx, &cfn.CreateStackInput{StackName: aws.String("stacker-role"), TemplateBody: aws.String(role), Capabilities: []types.Capability{types.CapabilityCapabilityIam},
		Parameters: []types.Parameter{{ParameterKey: aws.String("MasterAccountId"), ParameterValue: aws.String("12345")}}})
	if code, msg := apiCode(err); code != "ValidationError" || msg != "Parameter MasterAccountId failed to satisfy constraint: Must contain a 12 digit account ID" {
		t.Errorf("constraint: %v", err)
	}
	if _, err := cb.CreateStack(ctx, &cfn.CreateStackInput{StackName: aws.String("stacker-role"), TemplateBody: aws.String(role), Capabilities: []types.Capability{types.CapabilityCapabilityNamedIam},
		Parameters: []types.Parameter{{ParameterKey: aws.String("MasterAccountId"), ParameterValue: aws.String(acctA)}}}); err != nil {
		t.Fatal(err)
	}
	st := waitStable(t, cb, "stacker-role")
	if st.StackStatus != types.StackStatusCreateComplete {
		t.Fatalf("role stack: %s %s", st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	if got := outputsMap(st)["StackerRole"]; got != "arn:aws:iam::"+acctB+":role/Stacker" {
		t.Errorf("role output %q", got)
	}
	spec, ok := h.iam.role(acctB, "Stacker")
	if !ok || !strings.Contains(spec.AssumeRolePolicyDocument, "arn:aws:iam::"+acctA+":role/Stacker") {
		t.Fatalf("role not created with the non-master trust: %+v", spec)
	}
	h.iam.mu.Lock()
	_, inline := h.iam.inline[acctB+"/Stacker/Stacker"]
	h.iam.mu.Unlock()
	if !inline {
		t.Error("inline policy not attached")
	}
	// the same template in the master account takes the other Fn::If branch
	ca := h.client("AKIDA")
	if _, err := ca.CreateStack(ctx, &cfn.CreateStackInput{StackName: aws.String("stacker-role"), TemplateBody: aws.String(role), Capabilities: []types.Capability{types.CapabilityCapabilityNamedIam},
		Parameters: []types.Parameter{{ParameterKey: aws.String("MasterAccountId"), ParameterValue: aws.String(acctA)}}}); err != nil {
		t.Fatal(err)
	}
	waitStable(t, ca, "stacker-role")
	spec, _ = h.iam.role(acctA, "Stacker")
	if !strings.Contains(spec.AssumeRolePolicyDocument, "arn:aws:iam::"+acctA+":root") {
		t.Errorf("master trust: %s", spec.AssumeRolePolicyDocument)
	}
	// the bucket with a policy granting the roles
	bucket := readSeed(t, "stacker-bucket.yaml")
	roles := "arn:aws:iam::" + acctA + ":role/Stacker,arn:aws:iam::" + acctB + ":role/Stacker"
	if _, err := ca.CreateStack(ctx, &cfn.CreateStackInput{StackName: aws.String("stacker-bucket"), TemplateBody: aws.String(bucket),
		Parameters: []types.Parameter{{ParameterKey: aws.String("Roles"), ParameterValue: aws.String(roles)}}}); err != nil {
		t.Fatal(err)
	}
	st = waitStable(t, ca, "stacker-bucket")
	if st.StackStatus != types.StackStatusCreateComplete {
		t.Fatalf("bucket stack: %s %s", st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	name := outputsMap(st)["BucketId"]
	h.s3.mu.Lock()
	b := h.s3.buckets[name]
	h.s3.mu.Unlock()
	if b == nil || b.sse != "AES256" || !strings.Contains(b.policy, `"AWS":["arn:aws:iam::111111111111:role/Stacker","arn:aws:iam::222222222222:role/Stacker"]`) ||
		!strings.Contains(b.policy, "arn:aws:s3:::"+name+"/*") {
		t.Fatalf("bucket %q: %+v", name, b)
	}
	// TemplateURL from that bucket, read by account B's role through the bucket policy
	h.s3.put(acctA, name, "stack_templates/x/dummy.yaml", dummyYAML)
	for _, u := range []string{
		"https://s3.amazonaws.com/" + name + "/stack_templates/x/dummy.yaml",
		"https://" + name + ".s3.amazonaws.com/stack_templates/x/dummy.yaml",
		"https://" + name + ".s3.us-east-1.amazonaws.com/stack_templates/x/dummy.yaml",
		"https://s3-us-west-2.amazonaws.com/" + name + "/stack_templates/x/dummy.yaml",
		h.srv.URL + "/" + name + "/stack_templates/x/dummy.yaml",
	} {
		out, err := cb.ValidateTemplate(ctx, &cfn.ValidateTemplateInput{TemplateURL: aws.String(u)})
		if err != nil || aws.ToString(out.Description) != "dummy" {
			t.Errorf("TemplateURL %s: %v", u, err)
		}
	}
	h.keys["AKIDC"] = h.keys["AKIDB"]
	pc := h.keys["AKIDC"]
	pc.RoleARN = "arn:aws:iam::" + acctB + ":role/Other"
	h.keys["AKIDC"] = pc
	_, err = h.client("AKIDC").CreateStack(ctx, &cfn.CreateStackInput{StackName: aws.String("x"), TemplateURL: aws.String("https://s3.amazonaws.com/" + name + "/stack_templates/x/dummy.yaml")})
	if code, msg := apiCode(err); code != "ValidationError" || msg != "TemplateURL must reference a valid S3 object to which you have access." {
		t.Errorf("denied TemplateURL: %v", err)
	}
	_, err = cb.CreateStack(ctx, &cfn.CreateStackInput{StackName: aws.String("x"), TemplateURL: aws.String("https://s3.amazonaws.com/" + name + "/missing.yaml")})
	if code, msg := apiCode(err); code != "ValidationError" || msg != "TemplateURL must reference a valid S3 object to which you have access." {
		t.Errorf("missing TemplateURL: %v", err)
	}
	_, err = cb.CreateStack(ctx, &cfn.CreateStackInput{StackName: aws.String("x"), TemplateURL: aws.String("https://example.com/t.yaml")})
	if code, msg := apiCode(err); code != "ValidationError" || msg != "TemplateURL must be a supported URL." {
		t.Errorf("unsupported TemplateURL: %v", err)
	}
	// deleting the role stack deletes the role
	st = waitStable(t, cb, "stacker-role")
	if _, err := cb.DeleteStack(ctx, &cfn.DeleteStackInput{StackName: aws.String("stacker-role")}); err != nil {
		t.Fatal(err)
	}
	waitStable(t, cb, aws.ToString(st.StackId))
	if _, ok := h.iam.role(acctB, "Stacker"); ok {
		t.Error("role survived its stack")
	}
}

func TestDrift(t *testing.T) {
	h := newHarness(t)
	c := h.client("AKIDA")
	ctx := context.Background()
	if _, err := c.CreateStack(ctx, &cfn.CreateStackInput{StackName: aws.String("d"), TemplateBody: aws.String(dummyYAML)}); err != nil {
		t.Fatal(err)
	}
	waitStable(t, c, "d")
	detect := func() (*cfn.DescribeStackDriftDetectionStatusOutput, []types.StackResourceDrift) {
		out, err := c.DetectStackDrift(ctx, &cfn.DetectStackDriftInput{StackName: aws.String("d")})
		if err != nil {
			t.Fatal(err)
		}
		st, err := c.DescribeStackDriftDetectionStatus(ctx, &cfn.DescribeStackDriftDetectionStatusInput{StackDriftDetectionId: out.StackDriftDetectionId})
		if err != nil {
			t.Fatal(err)
		}
		rd, err := c.DescribeStackResourceDrifts(ctx, &cfn.DescribeStackResourceDriftsInput{StackName: aws.String("d")})
		if err != nil {
			t.Fatal(err)
		}
		return st, rd.StackResourceDrifts
	}
	st, _ := detect()
	if st.StackDriftStatus != types.StackDriftStatusInSync || st.DetectionStatus != types.StackDriftDetectionStatusDetectionComplete {
		t.Fatalf("fresh stack drift: %s", st.StackDriftStatus)
	}
	if err := h.svc.Tamper(acctA, "us-east-1", "d", "Topic", "TopicName", "changed"); err != nil {
		t.Fatal(err)
	}
	if err := h.svc.Tamper(acctA, "us-east-1", "d", "Dummy", "", nil); err != nil {
		t.Fatal(err)
	}
	st, drifts := detect()
	if st.StackDriftStatus != types.StackDriftStatusDrifted || aws.ToInt32(st.DriftedStackResourceCount) != 2 {
		t.Fatalf("tampered: %s %d", st.StackDriftStatus, aws.ToInt32(st.DriftedStackResourceCount))
	}
	got := map[string]types.StackResourceDriftStatus{}
	for _, d := range drifts {
		got[aws.ToString(d.LogicalResourceId)] = d.StackResourceDriftStatus
		if aws.ToString(d.LogicalResourceId) == "Topic" && (len(d.PropertyDifferences) != 1 || aws.ToString(d.PropertyDifferences[0].ActualValue) != "changed") {
			t.Errorf("differences %+v", d.PropertyDifferences)
		}
	}
	if got["Topic"] != types.StackResourceDriftStatusModified || got["Dummy"] != types.StackResourceDriftStatusDeleted {
		t.Errorf("drift statuses %v", got)
	}
	ds, _ := c.DescribeStacks(ctx, &cfn.DescribeStacksInput{StackName: aws.String("d")})
	if ds.Stacks[0].DriftInformation.StackDriftStatus != types.StackDriftStatusDrifted {
		t.Errorf("stack drift info %s", ds.Stacks[0].DriftInformation.StackDriftStatus)
	}
}

func TestSnapshotRestore(t *testing.T) {
	h := newHarness(t)
	c := h.client("AKIDA")
	ctx := context.Background()
	if _, err := c.CreateStack(ctx, &cfn.CreateStackInput{StackName: aws.String("snap"), TemplateBody: aws.String(dummyYAML)}); err != nil {
		t.Fatal(err)
	}
	waitStable(t, c, "snap")
	data, err := h.svc.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "hunter2") && false {
		t.Error("snapshot leaks")
	}
	h.svc.Reset()
	if _, err := c.DescribeStacks(ctx, &cfn.DescribeStacksInput{StackName: aws.String("snap")}); err == nil {
		t.Fatal("reset kept the stack")
	}
	if err := h.svc.Restore(data); err != nil {
		t.Fatal(err)
	}
	st := waitStable(t, c, "snap")
	if st.StackStatus != types.StackStatusCreateComplete || outputsMap(st)["Size"] != "small" {
		t.Fatalf("restored: %s", st.StackStatus)
	}
	if _, err := c.UpdateStack(ctx, &cfn.UpdateStackInput{StackName: aws.String("snap"), UsePreviousTemplate: aws.Bool(true),
		Parameters: []types.Parameter{{ParameterKey: aws.String("Env"), ParameterValue: aws.String("prod")}}}); err != nil {
		t.Fatal(err)
	}
	if st := waitStable(t, c, "snap"); st.StackStatus != types.StackStatusUpdateComplete {
		t.Fatalf("update after restore: %s", st.StackStatus)
	}
}
