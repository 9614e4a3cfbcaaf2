package e2e

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stacker-go/stacker/internal/sandbox"
	"github.com/stacker-go/stacker/internal/sandbox/platform"
	"github.com/stacker-go/stacker/internal/sandbox/sandboxtest"
)

// Failure paths run against the sandbox, which (unlike moto) rolls back,
// throttles and takes time.

const sandboxConfig = `namespace: sbx
stacker_bucket: ""
stacks:
  - name: good
    template_path: templates/chain.yaml
    variables:
      Input: g
  - name: bad
    template_path: templates/chain.yaml
    variables:
      Input: ${output good::Value}-b
`

func sandboxRun(t *testing.T, env *sandboxtest.Env, dir string, args ...string) Result {
	t.Helper()
	e := append(env.Env(t), "HOME="+dir, "STACKER_NO_CREDENTIAL_CACHE=1", "NO_COLOR=1", "STACKER_STACK_POLL_TIME=1")
	return RunBinary(t, Binary(t), dir, e, append(args, "-p", "sandbox-prod", "-r", "us-east-1")...)
}

func TestSandboxRollbackAndRecreateFailed(t *testing.T) {
	env := sandboxtest.Start(t)
	dir := writeProject(t, sandboxConfig)
	env.AddFailureRule(platform.FailureRule{Stack: "sbx-bad", Resource: "Handle", Operation: "create", Message: "injected failure", Times: 1})
	r := sandboxRun(t, env, dir, "build", "stacker.yaml")
	expectCode(t, r, 1)
	got := statusLines(r, "good", "bad")
	if !slices.Contains(got, "good: complete (creating new stack)") || !slices.Contains(got, "bad: failed (rolled back new stack)") {
		t.Fatalf("statuses %q\n%s", got, r.Stderr)
	}
	if !strings.Contains(r.Stderr, "sbx-bad Stack Roll Back Reason:") || !strings.Contains(r.Stderr, "injected failure") {
		t.Errorf("no rollback reason:\n%s", r.Stderr)
	}
	if !strings.Contains(r.Stderr, "The following steps failed: bad") {
		t.Errorf("no summary:\n%s", r.Stderr)
	}

	r = sandboxRun(t, env, dir, "build", "stacker.yaml")
	expectCode(t, r, 1)
	if got := statusLines(r, "bad"); len(got) != 1 || !strings.Contains(got[0], "Stack re-creation is disabled") {
		t.Fatalf("without --recreate-failed: %q", got)
	}

	r = sandboxRun(t, env, dir, "build", "--recreate-failed", "stacker.yaml")
	expectCode(t, r, 0)
	want := []string{"bad: submitted (destroying stack for re-creation)", "bad: submitted (re-creating stack)", "bad: complete (re-creating stack)"}
	if got := statusLines(r, "bad"); !slices.Equal(got, want) {
		t.Fatalf("--recreate-failed:\n got %q\nwant %q", got, want)
	}
}

func TestSandboxThrottlingDoesNotFailTheBuild(t *testing.T) {
	env := sandboxtest.Start(t)
	dir := writeProject(t, sandboxConfig)
	env.AddThrottleRule(sandbox.ThrottleRule{Service: "cloudformation", Action: "DescribeStacks", Probability: 0.5})
	r := sandboxRun(t, env, dir, "build", "stacker.yaml")
	expectCode(t, r, 0)
	want := []string{"good: submitted (creating new stack)", "good: complete (creating new stack)", "bad: submitted (creating new stack)", "bad: complete (creating new stack)"}
	if got := statusLines(r, "good", "bad"); !slices.Equal(got, want) {
		t.Fatalf("got %q\nwant %q\n%s", got, want, r.Stderr)
	}
}

func TestSandboxInterruptExits130(t *testing.T) {
	env := sandboxtest.Start(t, sandboxtest.WithSpecYAML(t, `
accounts:
  - name: prod
    id: "222222222222"
    users:
      - name: admin
        admin: true
latency:
  default: 30s
`))
	dir := writeProject(t, sandboxConfig)
	cmd := exec.Command(Binary(t), "build", "stacker.yaml", "-p", "sandbox-prod", "-r", "us-east-1")
	cmd.Dir = dir
	cmd.Env = append(env.Env(t), "HOME="+dir, "STACKER_NO_CREDENTIAL_CACHE=1", "NO_COLOR=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var lines []string
	sc := bufio.NewScanner(stderr)
	signalled := false
	timer := time.AfterFunc(90*time.Second, func() { cmd.Process.Kill() })
	defer timer.Stop()
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if !signalled && strings.Contains(sc.Text(), "good: submitted (creating new stack)") {
			signalled = true
			cmd.Process.Signal(syscall.SIGINT)
		}
	}
	err = cmd.Wait()
	out := strings.Join(lines, "\n")
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 130 {
		t.Fatalf("exit %v, want 130\n%s", err, out)
	}
	if !strings.Contains(out, "good: failed (interrupted)") || !strings.Contains(out, "sbx-good) is still changing in CloudFormation, last status CREATE_IN_PROGRESS") {
		t.Errorf("no interrupt report:\n%s", out)
	}
	if strings.Contains(out, "bad: submitted") {
		t.Errorf("submitted a stack after the interrupt:\n%s", out)
	}
	_ = os.Remove(filepath.Join(dir, "x"))
}
