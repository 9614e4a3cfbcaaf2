package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stacker-go/stacker/internal/sandbox"
	"github.com/stacker-go/stacker/internal/sandbox/platform"
	"github.com/stacker-go/stacker/internal/sandbox/sandboxtest"
	"github.com/stacker-go/stacker/internal/ui/uitest"
)

// runFinished is the summary object of a --progress json stream.
type runFinished struct {
	Type   string
	Counts map[string]int
	Stacks []struct {
		Name, Outcome string
		Seconds       float64 `json:"duration_seconds"`
		FirstFailed   *struct {
			LogicalID string `json:"logical_id"`
		} `json:"first_failed"`
	}
}

func lastJSON(t *testing.T, stdout string) runFinished {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	var rf runFinished
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &rf); err != nil || rf.Type != "run_finished" {
		t.Fatalf("last line is not run_finished (%v): %s", err, lines[len(lines)-1])
	}
	return rf
}

// TestProgressInCIModeJSONAndTimeline runs against the sandbox as CI does
// (stderr not a terminal): stacker's lines then the summary, no control
// code; the summary's figures are the run's; the JSON stream of the next
// runs validates against its schema and counts what they did.
func TestProgressInCIModeJSONAndTimeline(t *testing.T) {
	env := sandboxtest.Start(t)
	dir := writeProject(t, sandboxConfig)
	env.AddFailureRule(platform.FailureRule{Stack: "sbx-bad", Resource: "Handle", Operation: "create", Message: "injected failure", Times: 1})

	r := sandboxRun(t, env, dir, "build", "--timeline", "run.svg", "stacker.yaml")
	expectCode(t, r, 1)
	if strings.ContainsAny(r.Stderr, "\033\r") {
		t.Errorf("control codes in a CI run:\n%q", r.Stderr)
	}
	sum := strings.Index(r.Stderr, "Summary: build of 2 stacks in ")
	if sum < 0 || sum < strings.LastIndex(r.Stderr, "bad: failed (rolled back new stack)") {
		t.Fatalf("no summary after the status lines:\n%s", r.Stderr)
	}
	for _, want := range []string{": 1 created, 1 failed\n", "\nSlowest: ",
		"\nFailed: bad (sbx-bad in sandbox-prod ", "us-east-1): rolled back new stack: Handle: injected failure\n",
		"\n  first failed resource: Handle AWS::CloudFormation::WaitConditionHandle CREATE_FAILED at "} {
		if !strings.Contains(r.Stderr[sum:], want) {
			t.Errorf("summary lacks %q:\n%s", want, r.Stderr[sum:])
		}
	}
	svg, err := os.ReadFile(filepath.Join(dir, "run.svg"))
	if err != nil {
		t.Fatalf("timeline: %v", err)
	}
	for _, want := range []string{"<svg", "bad (sbx-bad)", "good (sbx-good)", "critical path"} {
		if !strings.Contains(string(svg), want) {
			t.Errorf("timeline lacks %q", want)
		}
	}

	r = sandboxRun(t, env, dir, "build", "--progress", "json", "--recreate-failed", "stacker.yaml")
	expectCode(t, r, 0)
	types, err := uitest.ValidateJSONLines([]byte(r.Stdout))
	if err != nil {
		t.Fatal(err)
	}
	if types[0] != "run_started" || strings.Count(strings.Join(types, " "), "stack_status") < 3 {
		t.Errorf("types %v", types)
	}
	rf := lastJSON(t, r.Stdout)
	if rf.Counts["created"] != 1 || rf.Counts["unchanged"] != 1 || rf.Counts["failed"] != 0 {
		t.Errorf("counts %v, want bad re-created and good unchanged", rf.Counts)
	}
	if strings.Contains(r.Stderr, "Summary:") || strings.Contains(r.Stderr, "good: ") {
		t.Errorf("json mode printed status lines on stderr:\n%s", r.Stderr)
	}

	r = sandboxRun(t, env, dir, "destroy", "--force", "--progress", "json", "stacker.yaml")
	expectCode(t, r, 0)
	if _, err := uitest.ValidateJSONLines([]byte(r.Stdout)); err != nil {
		t.Fatal(err)
	}
	if rf := lastJSON(t, r.Stdout); rf.Counts["deleted"] != 2 {
		t.Errorf("destroy counts %v", rf.Counts)
	}
}

// TestVerboseSaysWhatEachStackSends: -v names each stack's template and
// parameters, the change set diff creates, each throttle and retry, and
// the credentials each target used; never a secret.
func TestVerboseSaysWhatEachStackSends(t *testing.T) {
	env := sandboxtest.Start(t)
	dir := writeProject(t, sandboxConfig)
	env.AddThrottleRule(sandbox.ThrottleRule{Service: "cloudformation", Action: "DescribeStacks", Probability: 0.5})
	r := sandboxRun(t, env, dir, "build", "-v", "stacker.yaml")
	expectCode(t, r, 0)
	for _, want := range []string{
		"stack good (sbx-good): template inline, ",
		"stack good (sbx-good): parameters Input=g",
		"stack bad (sbx-bad): parameters Input=",
		"CloudFormation.DescribeStacks in ",
		": throttled (attempt ",
		": retry, attempt 2",
		"profile sandbox-prod, credentials ",
		", landed in account ",
	} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("-v lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("stderr:\n%s", r.Stderr)
	}
	env.ClearThrottleRules()
	r = sandboxRun(t, env, dir, "diff", "-v", "stacker.yaml")
	expectCode(t, r, 0)
	if !strings.Contains(r.Stderr, "stack good (sbx-good): change set stacker-diff-") {
		t.Errorf("diff -v names no change set:\n%s", r.Stderr)
	}
	for _, kv := range env.Env(t) {
		if k, v, _ := strings.Cut(kv, "="); strings.Contains(k, "SECRET") && v != "" && strings.Contains(r.Stderr+r.Stdout, v) {
			t.Errorf("%s is in the output", k)
		}
	}
}
