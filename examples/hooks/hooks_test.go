package hooks_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stacker-go/stacker/internal/cli"
	"github.com/stacker-go/stacker/internal/sandbox/sandboxtest"
)

// project copies the example into a temporary directory (so variants can
// be written next to it) and points the process at the sandbox.
func project(t *testing.T, env *sandboxtest.Env) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"stacker.yaml", "templates/app.yaml", "lambda/index.py", "lambda/NOTES.md"} {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
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
	t.Setenv("NO_COLOR", "1")
	return dir
}

func run(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := cli.Run(context.Background(), append(args, "-p", "sandbox-prod", "-r", "us-east-1"),
		cli.IO{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	return code, errOut.String()
}

func outputs(t *testing.T, env *sandboxtest.Env, stack string) (map[string]string, bool) {
	t.Helper()
	cf := cloudformation.NewFromConfig(env.AWSConfig(context.Background(), "prod"))
	got, err := cf.DescribeStacks(context.Background(), &cloudformation.DescribeStacksInput{StackName: aws.String(stack)})
	if err != nil {
		if strings.Contains(err.Error(), "does not exist") {
			return nil, false
		}
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, o := range got.Stacks[0].Outputs {
		out[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	return out, !strings.HasPrefix(string(got.Stacks[0].StackStatus), "DELETE")
}

func objects(t *testing.T, env *sandboxtest.Env, account, bucket string) []string {
	t.Helper()
	c := s3.NewFromConfig(env.AWSConfig(context.Background(), account), func(o *s3.Options) { o.UsePathStyle = true })
	got, err := c.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String("lambda-")})
	if err != nil {
		t.Fatalf("list s3://%s in %s: %v", bucket, account, err)
	}
	var keys []string
	for _, o := range got.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	return keys
}

func TestHooksExample(t *testing.T) {
	env := sandboxtest.Start(t)
	dir := project(t, env)
	cfg := filepath.Join(dir, "stacker.yaml")

	// pre_build data reaches the stack's parameters.
	code, stderr := run(t, "build", cfg)
	if code != 0 {
		t.Fatalf("build: exit %d\n%s", code, stderr)
	}
	out, ok := outputs(t, env, "hooks-example-app")
	if !ok || out["Version"] != "1.2.3" || !strings.HasPrefix(out["Code"], "s3://hooks-example-templates/lambda-Greeter-") {
		t.Fatalf("outputs %v\n%s", out, stderr)
	}
	if !strings.Contains(stderr, "Executing pre_build hooks: stacker.hooks.command.run_command, stacker.hooks.aws_lambda.upload_lambda_functions, stacker.hooks.aws_lambda.upload_lambda_functions") ||
		strings.Count(stderr, "lambda: uploading object lambda-Greeter-") != 2 {
		t.Errorf("hook lines:\n%s", stderr)
	}
	// The hook targeted at the stage account acted there, and only there.
	if keys := objects(t, env, "stage", "hooks-example-stage-artifacts"); len(keys) != 1 || "s3://hooks-example-templates/"+keys[0] != out["Code"] {
		t.Errorf("stage objects %v, code %s", keys, out["Code"])
	}
	if keys := objects(t, env, "prod", "hooks-example-templates"); len(keys) != 1 {
		t.Errorf("prod objects %v", keys)
	}

	// A second run uploads nothing: the key is the content's hash.
	code, stderr = run(t, "build", cfg)
	if code != 0 || strings.Contains(stderr, "lambda: uploading object") || strings.Count(stderr, "already exists, not uploading") != 2 {
		t.Fatalf("second build: exit %d\n%s", code, stderr)
	}

	// A failing required pre_build hook stops the build before any stack.
	failing := strings.Replace(mustRead(t, cfg), "pre_build:\n", "pre_build:\n  - path: stacker.hooks.command.run_command\n    args: {command: [sh, -c, \"exit 3\"]}\n", 1)
	failing = strings.Replace(failing, "stacks:\n", "stacks:\n  - name: other\n    template_path: templates/app.yaml\n    variables: {Version: x, CodeBucket: b, CodeKey: k}\n", 1)
	bad := filepath.Join(dir, "failing.yaml")
	mustWrite(t, bad, failing)
	code, stderr = run(t, "build", bad)
	if code != 1 || !strings.Contains(stderr, "Command failed with returncode 3") ||
		!strings.Contains(stderr, "Required hook stacker.hooks.command.run_command failed. Return value: None") {
		t.Fatalf("failing required hook: exit %d\n%s", code, stderr)
	}
	if _, exists := outputs(t, env, "hooks-example-other"); exists {
		t.Fatal("a stack was created after a required hook failed")
	}

	// The same hook with required: false only warns; the build goes on.
	mustWrite(t, bad, strings.Replace(failing, `args: {command: [sh, -c, "exit 3"]}`, `required: false`+"\n    "+`args: {command: [sh, -c, "exit 3"]}`, 1))
	code, stderr = run(t, "build", bad)
	if code != 0 || !strings.Contains(stderr, "Non-required hook stacker.hooks.command.run_command failed. Return value: None") {
		t.Fatalf("non-required hook: exit %d\n%s", code, stderr)
	}
	if _, exists := outputs(t, env, "hooks-example-other"); !exists {
		t.Fatal("the build did not go on after a non-required hook failed")
	}

	// post_destroy runs after every stack is gone.
	code, stderr = run(t, "destroy", "--force", bad)
	if code != 0 {
		t.Fatalf("destroy: exit %d\n%s", code, stderr)
	}
	i := strings.Index(stderr, "every stack is gone")
	if i < 0 || strings.Contains(stderr[i:], "app:") || strings.Contains(stderr[i:], "other:") {
		t.Fatalf("post_destroy did not run last:\n%s", stderr)
	}
	for _, s := range []string{"hooks-example-app", "hooks-example-other"} {
		if _, exists := outputs(t, env, s); exists {
			t.Errorf("%s still exists", s)
		}
	}
}

func mustRead(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustWrite(t *testing.T, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
