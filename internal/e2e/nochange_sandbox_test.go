package e2e

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/stacker-go/stacker/internal/sandbox/sandboxtest"
)

const noChangeConfig = `namespace: nc
stacker_bucket: ""
stacks:
  - name: first
    template_path: templates/chain.yaml
    variables:
      Input: one
  - name: second
    template_path: templates/chain.yaml
    variables:
      Input: ${output first::Value}-two
  - name: third
    template_path: templates/chain.yaml
    variables:
      Input: three
`

// TestSandboxNoChangeRebuild: a rebuild where nothing changed skips every
// stack without a write (deploy records); a stack updated out of band is
// submitted again; --no-deploy-cache submits every stack.
func TestSandboxNoChangeRebuild(t *testing.T) {
	env := sandboxtest.Start(t)
	dir := writeProject(t, noChangeConfig)
	records := filepath.Join(t.TempDir(), "deployed")
	names := []string{"first", "second", "third"}
	build := func(extra ...string) (Result, []string) {
		t.Helper()
		since := lastSeq(env)
		e := append(env.Env(t), "HOME="+dir, "STACKER_NO_CREDENTIAL_CACHE=1", "NO_COLOR=1", "STACKER_STACK_POLL_TIME=1", "STACKER_DEPLOY_CACHE_DIR="+records)
		r := RunBinary(t, Binary(t), dir, e, append(append([]string{"build"}, extra...), "stacker.yaml", "-p", "sandbox-prod", "-r", "us-east-1")...)
		expectCode(t, r, 0)
		var writes []string
		for _, l := range env.RequestLog() {
			if l.Seq > since && l.Service == "cloudformation" && mutating.MatchString(l.Action) {
				writes = append(writes, l.Action)
			}
		}
		return r, writes
	}

	r, writes := build()
	if got := statusLines(r, names...); len(got) != 6 {
		t.Fatalf("first build: %q\n%s", got, r.Stderr)
	}
	if len(writes) != 3 {
		t.Fatalf("first build writes %q, want 3 CreateStack", writes)
	}
	files, _ := os.ReadDir(records)
	if len(files) != 3 {
		t.Errorf("deploy records %v, want one per stack", files)
	}

	r, writes = build()
	want := []string{"first: skipped (nochange)", "second: skipped (nochange)", "third: skipped (nochange)"}
	if got := sortedStatus(r, names); !slices.Equal(got, want) {
		t.Fatalf("rebuild:\n got %q\nwant %q\n%s", got, want, r.Stderr)
	}
	if len(writes) != 0 {
		t.Fatalf("rebuild made writes %q, want none", writes)
	}

	// Out of band: the first stack is updated with another value.
	ctx := context.Background()
	cfn := cloudformation.NewFromConfig(env.AWSConfig(ctx, "prod"))
	if _, err := cfn.UpdateStack(ctx, &cloudformation.UpdateStackInput{
		StackName: aws.String("nc-first"), UsePreviousTemplate: aws.Bool(true),
		Parameters: []types.Parameter{{ParameterKey: aws.String("Input"), ParameterValue: aws.String("console")}},
		Tags:       []types.Tag{{Key: aws.String("stacker_namespace"), Value: aws.String("nc")}},
	}); err != nil {
		t.Fatalf("out-of-band update: %v", err)
	}
	waitStatus(t, cfn, "nc-first", "UPDATE_COMPLETE")

	r, writes = build()
	if got := statusLines(r, "first"); !slices.Equal(got, []string{"first: submitted (updating existing stack)", "first: complete (updating existing stack)"}) {
		t.Errorf("after an out-of-band update, first: %q\n%s", got, r.Stderr)
	}
	if got := statusLines(r, "second", "third"); !slices.Equal(got, []string{"second: skipped (nochange)", "third: skipped (nochange)"}) &&
		!slices.Equal(got, []string{"third: skipped (nochange)", "second: skipped (nochange)"}) {
		t.Errorf("after an out-of-band update of first, the others: %q\n%s", got, r.Stderr)
	}
	if !slices.Equal(writes, []string{"UpdateStack"}) {
		t.Errorf("after an out-of-band update, writes %q, want one UpdateStack", writes)
	}

	// Turned off: every stack is submitted, CloudFormation says no change.
	r, writes = build("--no-deploy-cache")
	if got := sortedStatus(r, names); !slices.Equal(got, want) {
		t.Errorf("--no-deploy-cache:\n got %q\nwant %q", got, want)
	}
	if !slices.Equal(writes, []string{"UpdateStack", "UpdateStack", "UpdateStack"}) {
		t.Errorf("--no-deploy-cache writes %q, want an UpdateStack per stack", writes)
	}
}

func lastSeq(env *sandboxtest.Env) uint64 {
	var n uint64
	for _, l := range env.RequestLog() {
		n = max(n, l.Seq)
	}
	return n
}

func sortedStatus(r Result, names []string) []string {
	got := statusLines(r, names...)
	slices.Sort(got)
	return got
}

func waitStatus(t *testing.T, cfn *cloudformation.Client, name, want string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err := cfn.DescribeStacks(context.Background(), &cloudformation.DescribeStacksInput{StackName: aws.String(name)})
		if err != nil {
			t.Fatalf("describe %s: %v", name, err)
		}
		st := string(out.Stacks[0].StackStatus)
		if st == want {
			if out.Stacks[0].LastUpdatedTime == nil {
				t.Fatalf("%s is %s without a LastUpdatedTime", name, st)
			}
			return
		}
		if !strings.HasSuffix(st, "_IN_PROGRESS") || time.Now().After(deadline) {
			t.Fatalf("%s is %s, want %s", name, st, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
