package sandbox_test

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/stacker-go/stacker/internal/sandbox"
	"github.com/stacker-go/stacker/internal/sandbox/sandboxtest"
)

func readSeed(t *testing.T, name string) string {
	b, err := os.ReadFile("testdata/seed/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func createStack(t *testing.T, ctx context.Context, cfg aws.Config, name, body string, params map[string]string) map[string]string {
	t.Helper()
	c := cloudformation.NewFromConfig(cfg)
	in := &cloudformation.CreateStackInput{StackName: aws.String(name), TemplateBody: aws.String(body),
		Capabilities: []cfntypes.Capability{cfntypes.CapabilityCapabilityNamedIam, cfntypes.CapabilityCapabilityIam}}
	for k, v := range params {
		in.Parameters = append(in.Parameters, cfntypes.Parameter{ParameterKey: aws.String(k), ParameterValue: aws.String(v)})
	}
	if _, err := c.CreateStack(ctx, in); err != nil {
		t.Fatalf("create stack %s: %v", name, err)
	}
	w := cloudformation.NewStackCreateCompleteWaiter(c, func(o *cloudformation.StackCreateCompleteWaiterOptions) {
		o.MinDelay, o.MaxDelay = 10*time.Millisecond, 50*time.Millisecond
	})
	out, err := w.WaitForOutput(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(name)}, time.Minute)
	if err != nil {
		t.Fatalf("wait for stack %s: %v", name, err)
	}
	outputs := map[string]string{}
	for _, o := range out.Stacks[0].Outputs {
		outputs[*o.OutputKey] = *o.OutputValue
	}
	return outputs
}

// TestSeedScenarioThroughCloudFormation deploys the seed's stacker-role
// template in every account and the stacker-bucket template in master, then
// checks the policies they create: the role's trust requires MFA, and the
// bucket is readable by prod's and stage's Stacker roles and no one else.
func TestSeedScenarioThroughCloudFormation(t *testing.T) {
	env := sandboxtest.Start(t)
	ctx := context.Background()
	roleTpl := readSeed(t, "stacker-role.yaml")
	for _, acct := range []string{"master", "prod", "stage"} {
		out := createStack(t, ctx, env.AWSConfig(ctx, acct), "stacker-role", roleTpl, map[string]string{"MasterAccountId": "111111111111"})
		if want := "arn:aws:iam::" + env.Accounts[acct] + ":role/Stacker"; out["StackerRole"] != want {
			t.Errorf("%s: StackerRole output %q, want %q", acct, out["StackerRole"], want)
		}
	}
	masterRole := "arn:aws:iam::111111111111:role/Stacker"
	if _, err := assume(ctx, env, env.AWSConfig(ctx, "master"), masterRole, 0); err == nil {
		t.Fatalf("assumed the Stacker role without MFA")
	} else if code, _ := apiCode(t, err); code != "AccessDenied" {
		t.Errorf("without MFA: %s", code)
	}
	ms, err := assume(ctx, env, mfaSession(t, ctx, env), masterRole, 0)
	if err != nil {
		t.Fatalf("assume master Stacker with MFA: %v", err)
	}
	subs := map[string]aws.Config{}
	for _, acct := range []string{"prod", "stage"} {
		cfg, err := assume(ctx, env, ms, "arn:aws:iam::"+env.Accounts[acct]+":role/Stacker", 0)
		if err != nil {
			t.Fatalf("assume %s Stacker from master Stacker: %v", acct, err)
		}
		subs[acct] = cfg
	}
	out := createStack(t, ctx, ms, "stacker-bucket", readSeed(t, "stacker-bucket.yaml"),
		map[string]string{"Roles": "arn:aws:iam::222222222222:role/Stacker,arn:aws:iam::333333333333:role/Stacker"})
	bucket := out["BucketId"]
	if bucket == "" {
		t.Fatalf("no BucketId output: %v", out)
	}
	if _, err := s3Client(ms).PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("stack_templates/t.yaml"), Body: strings.NewReader(roleTpl)}); err != nil {
		t.Fatalf("put template: %v", err)
	}
	read := func(cfg aws.Config) error {
		o, err := s3Client(cfg).GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("stack_templates/t.yaml")})
		if err == nil {
			_, _ = io.Copy(io.Discard, o.Body)
			o.Body.Close()
		}
		return err
	}
	for acct, cfg := range subs {
		if err := read(cfg); err != nil {
			t.Errorf("%s Stacker cannot read the bucket: %v", acct, err)
		}
	}
	// CloudFormation in a sub-account reads the template as its caller.
	tplURL := env.URL + "/" + bucket + "/stack_templates/t.yaml"
	params := []cfntypes.Parameter{{ParameterKey: aws.String("MasterAccountId"), ParameterValue: aws.String("111111111111")},
		{ParameterKey: aws.String("RoleName"), ParameterValue: aws.String("FromURL")}}
	caps := []cfntypes.Capability{cfntypes.CapabilityCapabilityNamedIam}
	if _, err := cloudformation.NewFromConfig(subs["prod"]).CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String("from-url"),
		TemplateURL: aws.String(tplURL), Parameters: params, Capabilities: caps}); err != nil {
		t.Errorf("prod Stacker CreateStack from master's bucket: %v", err)
	}
	_, err = cloudformation.NewFromConfig(env.AWSConfig(ctx, "prod")).CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String("from-url-admin"),
		TemplateURL: aws.String(tplURL), Parameters: params, Capabilities: caps})
	if code, msg := apiCode(t, err); code != "ValidationError" || msg != "TemplateURL must reference a valid S3 object to which you have access." {
		t.Errorf("prod admin CreateStack from master's bucket: %s %q", code, msg)
	}
	env.AddAccount(sandbox.AccountSpec{Name: "dev", ID: "444444444444"})
	for _, a := range env.Server.Accounts() {
		if a.Name == "dev" {
			env.Keys["dev"] = a.Users[0].AccessKeys[0]
		}
	}
	for _, acct := range []string{"prod", "stage", "dev"} {
		if err := read(env.AWSConfig(ctx, acct)); err == nil {
			t.Errorf("%s admin read the bucket without a grant", acct)
		}
	}
}
