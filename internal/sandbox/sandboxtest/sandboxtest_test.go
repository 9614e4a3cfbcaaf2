package sandboxtest

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/stacker-go/stacker/internal/sandbox"
	"github.com/stacker-go/stacker/internal/sandbox/platform"
)

func TestStartGivesAccountsKeysAndAdmin(t *testing.T) {
	env := Start(t)
	if env.Accounts["master"] != "111111111111" || env.Keys["stage"].ID != sandbox.DefaultAccessKey("333333333333").ID {
		t.Errorf("accounts %v keys %v", env.Accounts, env.Keys)
	}
	if env.MFASerial != "arn:aws:iam::111111111111:mfa/admin" || env.MFASeed != sandbox.DefaultMFASeed || len(env.TOTP()) != 6 {
		t.Errorf("mfa %s %s", env.MFASerial, env.MFASeed)
	}
	ctx := context.Background()
	out, err := sts.NewFromConfig(env.AWSConfig(ctx, "222222222222")).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || *out.Account != "222222222222" {
		t.Fatalf("%v %v", out, err)
	}
	b, err := os.ReadFile(env.AWSConfigFile(t))
	if err != nil || !strings.Contains(string(b), "[profile sandbox-stage]") {
		t.Errorf("config file: %v", err)
	}
	before := env.Server.Clock().Now()
	if now := env.AdvanceClock(time.Hour); now.Sub(before) < time.Hour {
		t.Errorf("clock advanced to %v from %v", now, before)
	}
	r := env.AddFailureRule(platform.FailureRule{Stack: "x"})
	if r.ID == "" {
		t.Errorf("rule without id")
	}
	env.ClearFailureRules()
	if log := env.RequestLog(); len(log) != 1 || log[0].Action != "GetCallerIdentity" || log[0].Account != "222222222222" {
		t.Errorf("log %+v", log)
	}
	info := env.AddUser("prod", sandbox.UserSpec{Name: "ci"})
	if len(info.AccessKeys) != 1 {
		t.Errorf("user %+v", info)
	}
	if arn := env.AddRole("prod", "Deployer", `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"111111111111"},"Action":"sts:AssumeRole"}]}`, nil); arn != "arn:aws:iam::222222222222:role/Deployer" {
		t.Errorf("role %s", arn)
	}
	env.Reset()
}

// The generated config file works with config.LoadDefaultConfig.
func TestAWSConfigFileLoadsInSDK(t *testing.T) {
	env := Start(t)
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx, config.WithSharedConfigFiles([]string{env.AWSConfigFile(t)}),
		config.WithSharedCredentialsFiles([]string{}), config.WithSharedConfigProfile("sandbox-prod"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || *out.Account != "222222222222" {
		t.Fatalf("%v %v", out, err)
	}
}

// State (IAM and CloudFormation) survives a restart with a state dir.
func TestStateDirKeepsStacks(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	env := Start(t, WithStateDir(dir))
	c := cloudformation.NewFromConfig(env.AWSConfig(ctx, "prod"))
	if _, err := c.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String("kept"),
		TemplateBody: aws.String(`{"Resources":{"T":{"Type":"AWS::SNS::Topic"}}}`)}); err != nil {
		t.Fatal(err)
	}
	w := cloudformation.NewStackCreateCompleteWaiter(c, func(o *cloudformation.StackCreateCompleteWaiterOptions) {
		o.MinDelay, o.MaxDelay = 10*time.Millisecond, 20*time.Millisecond
	})
	if err := w.Wait(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String("kept")}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := env.Server.Close(); err != nil {
		t.Fatal(err)
	}
	again := Start(t, WithStateDir(dir))
	out, err := cloudformation.NewFromConfig(again.AWSConfig(ctx, "prod")).DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String("kept")})
	if err != nil || len(out.Stacks) != 1 {
		t.Fatalf("stack lost across restart: %v", err)
	}
}
