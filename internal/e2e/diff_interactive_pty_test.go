package e2e

import (
	"strings"
	"testing"

	"github.com/stacker-go/stacker/internal/sandbox/sandboxtest"
)

// TestDiffInteractiveOnATerminal: diff -i prints each changed stack's
// summary and asks "Show full change set? [y/n] "; y prints that stack's
// full diff, n nothing more; unchanged stacks print as without -i; no
// NoEcho value is printed and no change set is left. Without a terminal
// diff -i is a usage error (exit 2) before any change set is made.
func TestDiffInteractiveOnATerminal(t *testing.T) {
	env := sandboxtest.Start(t)
	dir := writeApproveProject(t)
	r := sandboxRun(t, env, dir, append([]string{"build", "stacker.yaml"}, vars(false, "p1", "v1", secretOne)...)...)
	expectCode(t, r, 0)

	run := startPTY(t, env, dir, []string{"NO_COLOR=1"},
		append([]string{"diff", "-i", "--progress", "plain", "stacker.yaml"}, varsOther(false, "p1", "v2", secretTwo, "o2")...)...)
	asked := map[string]bool{}
	for range 2 {
		run.expect("Show full change set? [y/n] ")
		s := run.text()[:run.seen]
		head := s[:strings.LastIndex(s, " changes:\n")]
		stack := head[strings.LastIndex(head, "\n")+1:]
		asked[stack] = true
		switch stack {
		case "apr-app":
			if !strings.HasSuffix(s, "apr-app changes:\nParameters Modified: Value\nChanges:\n- Modify Param (AWS::SSM::Parameter)\n- Modify SecretParam (AWS::SSM::Parameter)\nShow full change set? [y/n] ") {
				t.Errorf("app's summary:\n%s", s[strings.LastIndex(s, "apr-app changes:"):])
			}
			run.send("y\n")
			run.expect("-Value = v1\n+Value = v2\n")
		case "apr-other":
			run.send("n\n")
		default:
			t.Fatalf("asked about %q:\n%s", stack, s)
		}
	}
	code, out := run.wait()
	if code != 0 {
		t.Fatalf("diff -i: exit %d\n%s", code, out)
	}
	if !asked["apr-app"] || !asked["apr-other"] {
		t.Errorf("asked about %v, want apr-app and apr-other", asked)
	}
	if !strings.Contains(out, "No changes: apr-after\n") {
		t.Errorf("the unchanged stack is not reported:\n%s", out)
	}
	if strings.Contains(out, "Input = o2") {
		t.Errorf("the refused stack's full diff is printed:\n%s", out)
	}
	noSecrets(t, out)
	if v, cs := sandboxState(t, env, "/apr/p1"); v != "v1" || len(cs) != 0 {
		t.Fatalf("after diff -i: value %q (want v1), change sets %q (want none)", v, cs)
	}

	r = sandboxRun(t, env, dir, append([]string{"diff", "-i", "stacker.yaml"}, vars(false, "p1", "v2", secretTwo)...)...)
	expectCode(t, r, 2)
	if !strings.Contains(r.Stderr, "diff -i asks on a terminal") {
		t.Errorf("diff -i without a terminal:\n%s", r.Stderr)
	}
}
