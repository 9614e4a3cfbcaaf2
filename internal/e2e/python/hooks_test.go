package python

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/stacker-go/stacker/internal/sandbox/sandboxtest"
)

// hooksProject copies testdata/hooks into a temp dir with the config's
// text edited by edit (nil: as is).
func hooksProject(t *testing.T, edit func(string) string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"stacker.yaml", "lib/myhooks.py", "templates/app.yaml"} {
		b, err := os.ReadFile(filepath.Join("testdata/hooks", name))
		if err != nil {
			t.Fatal(err)
		}
		if name == "stacker.yaml" && edit != nil {
			b = []byte(edit(string(b)))
		}
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func sandboxEnv(t *testing.T, env *sandboxtest.Env, dir string) []string {
	return append(env.Env(t), "HOME="+dir, "STACKER_NO_CREDENTIAL_CACHE=1", "NO_COLOR=1", "STACKER_STACK_POLL_TIME=1")
}

func stackOutputs(t *testing.T, env *sandboxtest.Env, region, name string) map[string]string {
	t.Helper()
	cf := cloudformation.NewFromConfig(env.AWSConfig(context.Background(), "prod"), func(o *cloudformation.Options) { o.Region = region })
	got, err := cf.DescribeStacks(context.Background(), &cloudformation.DescribeStacksInput{StackName: aws.String(name)})
	if err != nil {
		if strings.Contains(err.Error(), "does not exist") {
			return nil
		}
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, o := range got.Stacks[0].Outputs {
		out[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	return out
}

// TestPythonHooksFeedHookData builds against the sandbox: a Python
// pre_build hook's mapping reaches the stack's parameters through
// ${hook_data}, with the hook's region and credentials handed over, and a
// Python post_build hook reads it back from context.hook_data.
func TestPythonHooksFeedHookData(t *testing.T) {
	env := sandboxtest.Start(t)
	dir := hooksProject(t, nil)
	marker := filepath.Join(dir, "marker")
	r := run(t, sandboxEnv(t, env, dir), "build", "-e", "release=7", "-e", "marker="+marker,
		filepath.Join(dir, "stacker.yaml"), "-p", "sandbox-prod", "-r", "eu-west-1")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	for _, line := range []string{"Executing pre_build hooks: myhooks.version", "Executing post_build hooks: myhooks.after"} {
		if !strings.Contains(r.stderr, line) {
			t.Errorf("stderr lacks %q:\n%s", line, r.stderr)
		}
	}
	got := stackOutputs(t, env, "eu-west-1", "pyhooks-app")
	want := map[string]string{"Version": "app-7", "Region": "eu-west-1", "HasCredentials": "yes"}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("output %s = %q, want %q (all: %v)", k, got[k], w, got)
		}
	}
	if b, err := os.ReadFile(marker); err != nil || string(b) != "app-7" {
		t.Errorf("post_build marker: %q %v", b, err)
	}
}

// TestPythonHookErrors: a path neither Go nor Python knows is a config
// error at its line before any stack is touched; a required Python hook
// that raises stops the build (exit 1) naming the line of the user's code.
func TestPythonHookErrors(t *testing.T) {
	env := sandboxtest.Start(t)
	dir := hooksProject(t, func(s string) string { return strings.Replace(s, "path: myhooks.version", "path: myhooks.verson", 1) })
	r := run(t, sandboxEnv(t, env, dir), "build", "-e", "marker=x", filepath.Join(dir, "stacker.yaml"), "-p", "sandbox-prod", "-r", "us-east-1")
	want := `stacker.yaml:7:5: pre_build[0]: path "myhooks.verson": no Go hook is registered under this path and the Python bridge cannot run it: Python hook myhooks.verson: module myhooks has no function 'verson'`
	if r.code != 2 || !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, `did you mean "version"?`) {
		t.Fatalf("exit %d, want 2 and %q\n%s", r.code, want, r.stderr)
	}
	if stackOutputs(t, env, "us-east-1", "pyhooks-app") != nil {
		t.Fatal("a stack was created although the config is wrong")
	}

	dir = hooksProject(t, func(s string) string { return strings.Replace(s, "path: myhooks.version", "path: myhooks.broken", 1) })
	r = run(t, sandboxEnv(t, env, dir), "build", "-e", "marker=x", filepath.Join(dir, "stacker.yaml"), "-p", "sandbox-prod", "-r", "us-east-1")
	want = "Method myhooks.broken threw an exception: Python hook myhooks.broken: KeyError: 'y' (at " + filepath.Join(dir, "lib", "myhooks.py") + ":21)"
	if r.code != 1 || !strings.Contains(r.stderr, want) {
		t.Fatalf("exit %d, want 1 and %q\n%s", r.code, want, r.stderr)
	}
	if stackOutputs(t, env, "us-east-1", "pyhooks-app") != nil {
		t.Fatal("a stack was created although a required pre_build hook failed")
	}
}
