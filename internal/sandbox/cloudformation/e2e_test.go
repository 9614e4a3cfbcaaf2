package cloudformation_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"

	"github.com/stacker-go/stacker/internal/sandbox/platform"
	"github.com/stacker-go/stacker/internal/sandbox/sandboxtest"
)

// TestEndToEndThroughServer drives the service through the real sandbox
// server (SigV4, routing, faults from the admin API).
func TestEndToEndThroughServer(t *testing.T) {
	env := sandboxtest.Start(t)
	var account string
	for name := range env.Keys {
		account = name
		break
	}
	c := cfn.NewFromConfig(env.AWSConfig(context.Background(), account))
	ctx := context.Background()
	tpl := "Resources:\n  Dummy:\n    Type: AWS::CloudFormation::WaitConditionHandle\n  Topic:\n    Type: AWS::SNS::Topic\nOutputs:\n  Id:\n    Value: !Ref Dummy\n"
	wait := func(name string) types.Stack {
		deadline := time.Now().Add(30 * time.Second)
		for {
			out, err := c.DescribeStacks(ctx, &cfn.DescribeStacksInput{StackName: aws.String(name)})
			if err != nil {
				t.Fatal(err)
			}
			if s := string(out.Stacks[0].StackStatus); s[len(s)-11:] != "IN_PROGRESS" {
				return out.Stacks[0]
			}
			if time.Now().After(deadline) {
				t.Fatal("timeout")
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if _, err := c.CreateStack(ctx, &cfn.CreateStackInput{StackName: aws.String("e2e"), TemplateBody: aws.String(tpl)}); err != nil {
		t.Fatal(err)
	}
	if st := wait("e2e"); st.StackStatus != types.StackStatusCreateComplete || len(st.Outputs) != 1 {
		t.Fatalf("create: %s %v", st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	env.AddFailureRule(platform.FailureRule{Stack: "e2e-bad", Resource: "Topic", Operation: "create", Message: "injected"})
	if _, err := c.CreateStack(ctx, &cfn.CreateStackInput{StackName: aws.String("e2e-bad"), TemplateBody: aws.String(tpl)}); err != nil {
		t.Fatal(err)
	}
	if st := wait("e2e-bad"); st.StackStatus != types.StackStatusRollbackComplete {
		t.Fatalf("failure rule: %s", st.StackStatus)
	}
}
