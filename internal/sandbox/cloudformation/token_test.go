package cloudformation

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
)

// countEvents counts the stack-level events with status and token.
func countEvents(t *testing.T, c *cfn.Client, stack, status, token string) int {
	t.Helper()
	ev, err := c.DescribeStackEvents(context.Background(), &cfn.DescribeStackEventsInput{StackName: aws.String(stack)})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ev.StackEvents {
		if string(e.ResourceStatus) == status && aws.ToString(e.ResourceType) == "AWS::CloudFormation::Stack" && aws.ToString(e.ClientRequestToken) == token {
			n++
		}
	}
	return n
}

// A call repeating a ClientRequestToken that already took effect on the
// stack is a retry: it gets the first call's answer and acts no more.
func TestClientRequestTokenIdempotency(t *testing.T) {
	h := newHarness(t)
	c := h.client("AKIDA")
	ctx := context.Background()
	create := func(token string) (*cfn.CreateStackOutput, error) {
		return c.CreateStack(ctx, &cfn.CreateStackInput{StackName: aws.String("tok"), TemplateBody: aws.String(dummyYAML), ClientRequestToken: aws.String(token)})
	}
	first, err := create("create-1")
	if err != nil {
		t.Fatal(err)
	}
	again, err := create("create-1")
	if err != nil || aws.ToString(again.StackId) != aws.ToString(first.StackId) {
		t.Fatalf("retried CreateStack: %v, id %s, want %s", err, aws.ToString(again.StackId), aws.ToString(first.StackId))
	}
	if _, err := create("create-2"); err == nil {
		t.Fatal("CreateStack with another token succeeded on an existing stack")
	} else if code, _ := apiCode(err); code != "AlreadyExistsException" {
		t.Fatalf("CreateStack with another token: %v", err)
	}
	waitStable(t, c, "tok")
	if n := countEvents(t, c, "tok", "CREATE_IN_PROGRESS", "create-1"); n != 1 {
		t.Fatalf("%d CREATE_IN_PROGRESS events, want 1", n)
	}

	update := func(token string) (*cfn.UpdateStackOutput, error) {
		return c.UpdateStack(ctx, &cfn.UpdateStackInput{StackName: aws.String("tok"), UsePreviousTemplate: aws.Bool(true),
			Parameters:         []types.Parameter{{ParameterKey: aws.String("Env"), ParameterValue: aws.String("prod")}},
			ClientRequestToken: aws.String(token)})
	}
	if _, err := update("update-1"); err != nil {
		t.Fatal(err)
	}
	// Retried while the update runs, and after it finished.
	if out, err := update("update-1"); err != nil || aws.ToString(out.StackId) != aws.ToString(first.StackId) {
		t.Fatalf("retried UpdateStack while in progress: %v", err)
	}
	waitStable(t, c, "tok")
	if _, err := update("update-1"); err != nil {
		t.Fatalf("retried UpdateStack after it finished: %v", err)
	}
	if n := countEvents(t, c, "tok", "UPDATE_IN_PROGRESS", "update-1"); n != 1 {
		t.Fatalf("%d UPDATE_IN_PROGRESS events, want 1", n)
	}
	if _, err := update("update-2"); err == nil {
		t.Fatal("a new update without changes succeeded")
	} else if _, msg := apiCode(err); msg != "No updates are to be performed." {
		t.Fatalf("new update: %v", err)
	}

	// ExecuteChangeSet retried with its token.
	cs, err := c.CreateChangeSet(ctx, &cfn.CreateChangeSetInput{StackName: aws.String("tok"), ChangeSetName: aws.String("cs1"), UsePreviousTemplate: aws.Bool(true),
		Parameters: []types.Parameter{{ParameterKey: aws.String("Env"), ParameterValue: aws.String("dev")}}})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		d, err := c.DescribeChangeSet(ctx, &cfn.DescribeChangeSetInput{ChangeSetName: cs.Id})
		if err != nil {
			t.Fatal(err)
		}
		if d.Status == types.ChangeSetStatusCreateComplete {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	exec := func(token string) error {
		_, err := c.ExecuteChangeSet(ctx, &cfn.ExecuteChangeSetInput{ChangeSetName: cs.Id, ClientRequestToken: aws.String(token)})
		return err
	}
	if err := exec("exec-1"); err != nil {
		t.Fatal(err)
	}
	if err := exec("exec-1"); err != nil {
		t.Fatalf("retried ExecuteChangeSet: %v", err)
	}
	if err := exec("exec-2"); err == nil {
		t.Fatal("a second execution with another token succeeded")
	} else if code, _ := apiCode(err); code != "InvalidChangeSetStatus" {
		t.Fatalf("second execution: %v", err)
	}
	waitStable(t, c, "tok")
	if n := countEvents(t, c, "tok", "UPDATE_IN_PROGRESS", "exec-1"); n != 1 {
		t.Fatalf("%d UPDATE_IN_PROGRESS events of the execution, want 1", n)
	}

	del := func(token string) error {
		_, err := c.DeleteStack(ctx, &cfn.DeleteStackInput{StackName: first.StackId, ClientRequestToken: aws.String(token)})
		return err
	}
	if err := del("delete-1"); err != nil {
		t.Fatal(err)
	}
	if err := del("delete-1"); err != nil {
		t.Fatalf("retried DeleteStack: %v", err)
	}
	waitStable(t, c, aws.ToString(first.StackId))
	if n := countEvents(t, c, aws.ToString(first.StackId), "DELETE_IN_PROGRESS", "delete-1"); n != 1 {
		t.Fatalf("%d DELETE_IN_PROGRESS events, want 1", n)
	}
	// The name is free again: a new token creates a new stack.
	if out, err := create("create-3"); err != nil || aws.ToString(out.StackId) == aws.ToString(first.StackId) {
		t.Fatalf("create after delete: %v", err)
	}
}

func TestClientRequestTokenValidated(t *testing.T) {
	h := newHarness(t)
	c := h.client("AKIDA")
	_, err := c.CreateStack(context.Background(), &cfn.CreateStackInput{StackName: aws.String("bad"), TemplateBody: aws.String(dummyYAML), ClientRequestToken: aws.String("-no_good")})
	code, msg := apiCode(err)
	if code != "ValidationError" || msg != "1 validation error detected: Value '-no_good' at 'clientRequestToken' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9][-a-zA-Z0-9]*" {
		t.Fatalf("bad token: %v", err)
	}
}
