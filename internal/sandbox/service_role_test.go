package sandbox_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/stacker-go/stacker/internal/sandbox"
	"github.com/stacker-go/stacker/internal/sandbox/sandboxtest"
)

const cfnTrust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"cloudformation.amazonaws.com"},"Action":"sts:AssumeRole"}]}`

func allow(actions ...string) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["` + strings.Join(actions, `","`) + `"],"Resource":"*"}]}`
}

func cfnNoRetry(o *cloudformation.Options) { o.RetryMaxAttempts = 1 }

// waitSettled polls a stack until no operation is in progress.
func waitSettled(t *testing.T, ctx context.Context, c *cloudformation.Client, name string) cfntypes.Stack {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		out, err := c.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(name)})
		if err != nil {
			t.Fatalf("describe %s: %v", name, err)
		}
		if st := out.Stacks[0]; !strings.HasSuffix(string(st.StackStatus), "_IN_PROGRESS") {
			return st
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("stack %s still in progress", name)
	return cfntypes.Stack{}
}

// failedReason is the status reason of the stack's first failed resource.
func failedReason(t *testing.T, ctx context.Context, c *cloudformation.Client, name string) string {
	t.Helper()
	out, err := c.DescribeStackEvents(ctx, &cloudformation.DescribeStackEventsInput{StackName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	for i := len(out.StackEvents) - 1; i >= 0; i-- {
		if e := out.StackEvents[i]; strings.HasSuffix(string(e.ResourceStatus), "_FAILED") && aws.ToString(e.ResourceType) != "AWS::CloudFormation::Stack" {
			return aws.ToString(e.LogicalResourceId) + " " + string(e.ResourceStatus) + ": " + aws.ToString(e.ResourceStatusReason)
		}
	}
	return "no failed resource"
}

const bucketTemplate = `{"Resources":{"B":{"Type":"AWS::S3::Bucket"}}}`
const roleTemplate = `{"Resources":{"R":{"Type":"AWS::IAM::Role","Properties":{"AssumeRolePolicyDocument":` + cfnTrust + `}}}}`

// TestServiceRoleFidelity: RoleARN must name a role in the stack's account
// that trusts CloudFormation, the caller needs iam:PassRole on it, and the
// stack's resources and TemplateURL reads then act as the role (issue 10).
func TestServiceRoleFidelity(t *testing.T) {
	env := sandboxtest.Start(t)
	ctx := context.Background()
	createStackerRoles(t, ctx, env)
	prodID, masterID := env.Accounts["prod"], env.Accounts["master"]

	// master's private template, readable by no one else.
	mc := s3Client(env.AWSConfig(ctx, "master"))
	if _, err := mc.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("master-private")}); err != nil {
		t.Fatal(err)
	}
	if _, err := mc.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("master-private"), Key: aws.String("t.json"), Body: strings.NewReader(bucketTemplate)}); err != nil {
		t.Fatal(err)
	}
	// prod: a deployer that may use CloudFormation and pass roles but do
	// nothing else, a role CloudFormation may assume that can manage S3
	// only, and a role that does not trust CloudFormation.
	deployer := env.AddUser("prod", sandbox.UserSpec{Name: "deployer", Policies: map[string]sandbox.PolicyDoc{
		"cfn": sandbox.PolicyDoc(allow("cloudformation:*", "iam:PassRole"))}})
	narrow := env.AddUser("prod", sandbox.UserSpec{Name: "narrow", Policies: map[string]sandbox.PolicyDoc{
		"cfn": sandbox.PolicyDoc(allow("cloudformation:*"))}})
	s3Role := env.AddRole("prod", "CfnS3", cfnTrust, map[string]string{"p": allow("s3:*")})
	untrusted := env.AddRole("prod", "NotForCfn", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::`+prodID+`:root"},"Action":"sts:AssumeRole"}]}`, map[string]string{"p": allow("*")})
	cfg := func(u sandbox.UserInfo) *cloudformation.Client {
		return cloudformation.NewFromConfig(env.ConfigFor(u.AccessKeys[0].ID, u.AccessKeys[0].Secret, ""), cfnNoRetry)
	}
	admin := cloudformation.NewFromConfig(env.AWSConfig(ctx, "prod"), cfnNoRetry)
	create := func(c *cloudformation.Client, name, role, body, url string) error {
		in := &cloudformation.CreateStackInput{StackName: aws.String(name), Capabilities: []cfntypes.Capability{cfntypes.CapabilityCapabilityIam}}
		if role != "" {
			in.RoleARN = aws.String(role)
		}
		if url != "" {
			in.TemplateURL = aws.String(url)
		} else {
			in.TemplateBody = aws.String(body)
		}
		_, err := c.CreateStack(ctx, in)
		return err
	}
	var lines []string
	add := func(name string, err error) { lines = append(lines, name+": "+describeErr(err)) }

	privateURL := env.URL + "/master-private/t.json"
	add("issue 10: prod admin names master's Stacker role to read master's private template",
		create(admin, "steal", "arn:aws:iam::"+masterID+":role/Stacker", "", privateURL))
	add("prod admin reads master's private template as itself", create(admin, "steal", "", "", privateURL))
	// The same read through CopyObject into a bucket of prod's own.
	pc := s3Client(env.AWSConfig(ctx, "prod"))
	if _, err := pc.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("prod-templates")}); err != nil {
		t.Fatal(err)
	}
	_, err := pc.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("prod-templates"), Key: aws.String("stolen.json"), CopySource: aws.String("master-private/t.json")})
	add("prod admin copies master's private object into its own bucket", err)
	add("role that does not exist", create(admin, "x", "arn:aws:iam::"+prodID+":role/Missing", bucketTemplate, ""))
	add("role that does not trust CloudFormation", create(admin, "x", untrusted, bucketTemplate, ""))
	add("role name instead of ARN", create(admin, "x", "CfnS3", bucketTemplate, ""))
	add("caller without iam:PassRole", create(cfg(narrow), "x", s3Role, bucketTemplate, ""))
	_, err = cfg(narrow).CreateChangeSet(ctx, &cloudformation.CreateChangeSetInput{StackName: aws.String("x"), ChangeSetName: aws.String("cs"),
		ChangeSetType: cfntypes.ChangeSetTypeCreate, RoleARN: aws.String(s3Role), TemplateBody: aws.String(bucketTemplate)})
	add("change set: caller without iam:PassRole", err)

	// The deployer can do nothing but CloudFormation: with the S3 role its
	// bucket is created; an IAM role is not (the role may not), and
	// without a service role neither is (the deployer may not).
	dep := cfg(deployer)
	if err := create(dep, "bucket-by-role", s3Role, bucketTemplate, ""); err != nil {
		t.Fatalf("create with a valid service role: %v", err)
	}
	if st := waitSettled(t, ctx, dep, "bucket-by-role"); st.StackStatus != cfntypes.StackStatusCreateComplete || aws.ToString(st.RoleARN) != s3Role {
		t.Errorf("bucket-by-role: %s %s, role %s", st.StackStatus, aws.ToString(st.StackStatusReason), aws.ToString(st.RoleARN))
	}
	for _, c := range []struct{ name, role, body string }{
		{"iam-by-s3-role", s3Role, roleTemplate},
		{"bucket-by-caller", "", bucketTemplate},
	} {
		if err := create(dep, c.name, c.role, c.body, ""); err != nil {
			t.Fatalf("create %s: %v", c.name, err)
		}
		if st := waitSettled(t, ctx, dep, c.name); st.StackStatus != cfntypes.StackStatusRollbackComplete {
			t.Errorf("%s: %s, want ROLLBACK_COMPLETE", c.name, st.StackStatus)
		}
		lines = append(lines, c.name+": "+failedReason(t, ctx, dep, c.name))
	}

	// A template in a prod bucket that only the S3 role can read: the
	// deployer cannot read it, the role can.
	if _, err := pc.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("prod-templates"), Key: aws.String("t.json"), Body: strings.NewReader(bucketTemplate)}); err != nil {
		t.Fatal(err)
	}
	prodURL := env.URL + "/prod-templates/t.json"
	add("TemplateURL the caller cannot read, no role", create(dep, "by-url", "", "", prodURL))
	if err := create(dep, "by-url", s3Role, "", prodURL); err != nil {
		t.Errorf("TemplateURL read as the service role: %v", err)
	}
	waitSettled(t, ctx, dep, "by-url")

	// Deleting a stack whose role is gone fails as on AWS; naming another
	// valid role works.
	ic := iam.NewFromConfig(env.AWSConfig(ctx, "prod"))
	if _, err := ic.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String("CfnS3"), PolicyName: aws.String("p")}); err != nil {
		t.Fatal(err)
	}
	if _, err := ic.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("CfnS3")}); err != nil {
		t.Fatal(err)
	}
	_, err = dep.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String("bucket-by-role")})
	add("delete after the stack's role was deleted", err)
	admin2 := env.AddRole("prod", "CfnAdmin", cfnTrust, map[string]string{"p": allow("*")})
	if _, err := dep.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String("bucket-by-role"), RoleARN: aws.String(admin2)}); err != nil {
		t.Errorf("delete with another role: %v", err)
	}
	out, err := dep.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range out.Stacks {
		if aws.ToString(st.StackName) == "steal" {
			t.Errorf("the stack reading another account's private template exists: %s", st.StackStatus)
		}
	}
	golden(t, "service-role.golden", strings.Join(lines, "\n")+"\n")
}
