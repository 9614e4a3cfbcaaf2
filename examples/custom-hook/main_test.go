package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/stacker-go/stacker/internal/cli"
	"github.com/stacker-go/stacker/internal/sandbox/sandboxtest"
)

const config = `namespace: ex
stacker_bucket: ""
pre_build:
  - path: mycompany.hooks.release
    data_key: release
    args:
      file: VERSION
stacks:
  - name: app
    template_path: app.yaml
    variables:
      Version: ${hook_data release::version}
`

const template = `Parameters:
  Version:
    Type: String
Resources:
  Handle:
    Type: AWS::CloudFormation::WaitConditionHandle
Outputs:
  Version:
    Value: !Ref Version
`

// TestReleaseHookFeedsAStack builds a config whose stack reads the hook's
// data, against the in-process sandbox, as the team's binary would.
func TestReleaseHookFeedsAStack(t *testing.T) {
	env := sandboxtest.Start(t)
	dir := t.TempDir()
	for name, body := range map[string]string{"stacker.yaml": config, "app.yaml": template, "VERSION": "1.4.2\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, kv := range env.Env(t) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	t.Setenv("HOME", dir)
	t.Setenv("STACKER_NO_CREDENTIAL_CACHE", "1")
	t.Setenv("STACKER_STACK_POLL_TIME", "1")
	var out, errOut bytes.Buffer
	code := cli.Run(context.Background(), []string{"build", "-p", "sandbox-prod", "-r", "us-east-1", filepath.Join(dir, "stacker.yaml")},
		cli.IO{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut.String())
	}
	if !strings.Contains(errOut.String(), "release: 1.4.2 (namespace ex)") {
		t.Errorf("no hook line:\n%s", errOut.String())
	}
	cf := cloudformation.NewFromConfig(env.AWSConfig(context.Background(), "prod"))
	got, err := cf.DescribeStacks(context.Background(), &cloudformation.DescribeStacksInput{StackName: aws.String("ex-app")})
	if err != nil {
		t.Fatal(err)
	}
	if o := got.Stacks[0].Outputs; len(o) != 1 || aws.ToString(o[0].OutputValue) != "1.4.2" {
		t.Fatalf("outputs %+v", o)
	}

	// Without the file the required hook fails and no stack changes.
	os.Remove(filepath.Join(dir, "VERSION"))
	errOut.Reset()
	code = cli.Run(context.Background(), []string{"build", "-p", "sandbox-prod", "-r", "us-east-1", filepath.Join(dir, "stacker.yaml")},
		cli.IO{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	if code != 1 || !strings.Contains(errOut.String(), "Method mycompany.hooks.release threw an exception: read release version") || strings.Contains(errOut.String(), "app:") {
		t.Fatalf("exit %d\n%s", code, errOut.String())
	}
}
