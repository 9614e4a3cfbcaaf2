//go:build linux

package e2e

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"

	"github.com/stacker-go/stacker/internal/sandbox/platform"
	"github.com/stacker-go/stacker/internal/sandbox/sandboxtest"
)

// Change-set approval (build -i, --replacements-only, protected: true,
// --approve) driven through a pseudo-terminal against the sandbox: the
// answers are typed on the terminal the built binary reads, Ctrl-C is
// the terminal's interrupt character.

// appTemplate keeps a value in an SSM parameter: changing Value updates
// it in place, changing Name replaces it (the sandbox's resource model
// says Name requires recreation). Secret is NoEcho and stored in a
// second parameter, so its change shows in the change set.
const appTemplate = `AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Name:
    Type: String
  Value:
    Type: String
  Secret:
    Type: String
    NoEcho: true
Resources:
  Param:
    Type: AWS::SSM::Parameter
    Properties:
      Name: !Ref Name
      Type: String
      Value: !Ref Value
  SecretParam:
    Type: AWS::SSM::Parameter
    Properties:
      Name: !Sub "${Name}-secret"
      Type: String
      Value: !Ref Secret
Outputs:
  Value:
    Value: !Ref Value
  Static:
    Value: fixed
`

// approveConfig: app is the stack asked about; after depends on it (it
// waits for the answer) but never changes, other does not depend on it
// and changes with ${other} (it builds while app waits, when it is not
// asked about itself).
const approveConfig = `namespace: apr
stacker_bucket: ""
stacks:
  - name: app
    template_path: templates/${tpl}.yaml
    protected: ${protected}
    variables:
      Name: /apr/${pname}
      Value: ${value}
      Secret: ${secret}
  - name: after
    template_path: templates/chain.yaml
    variables:
      Input: ${output app::Static}
  - name: other
    template_path: templates/chain.yaml
    variables:
      Input: ${other}
`

// Secrets typed into the runs: neither may ever be printed.
const (
	secretOne = "s3cr3t-first-value"
	secretTwo = "s3cr3t-second-value"
)

func writeApproveProject(t *testing.T) string {
	t.Helper()
	dir := writeProject(t, approveConfig)
	if err := os.WriteFile(filepath.Join(dir, "templates", "app.yaml"), []byte(appTemplate), 0o644); err != nil {
		t.Fatal(err)
	}
	// The same with a description on Param: an in-place change that
	// changes no parameter.
	desc := strings.Replace(appTemplate, "      Value: !Ref Value\n", "      Value: !Ref Value\n      Description: described\n", 1)
	if err := os.WriteFile(filepath.Join(dir, "templates", "app-described.yaml"), []byte(desc), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// vars are the -e flags of one run (other's input is o1, app's template
// app.yaml).
func vars(protected bool, pname, value, secret string) []string {
	return varsOther(protected, pname, value, secret, "o1")
}

func varsOther(protected bool, pname, value, secret, other string) []string {
	p := "false"
	if protected {
		p = "true"
	}
	return []string{"-e", "protected=" + p, "-e", "pname=" + pname, "-e", "value=" + value, "-e", "secret=" + secret, "-e", "other=" + other, "-e", "tpl=app"}
}

// ptyRun is the binary running on a pseudo-terminal (stdin, stdout and
// stderr), as a session leader whose controlling terminal it is, so the
// interrupt character sends SIGINT as a person's Ctrl-C does.
type ptyRun struct {
	t    *testing.T
	ptmx *os.File
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  strings.Builder
	seen int // expect's cursor into out
	more chan struct{}
	done chan struct{}
}

func startPTY(t *testing.T, env *sandboxtest.Env, dir string, extraEnv []string, args ...string) *ptyRun {
	t.Helper()
	ptmx, tty := openPTY(t, 120)
	cmd := exec.Command(Binary(t), append(args, "-p", "sandbox-prod", "-r", "us-east-1")...)
	cmd.Dir = dir
	cmd.Env = append(append(env.Env(t), "HOME="+dir, "STACKER_NO_CREDENTIAL_CACHE=1", "STACKER_STACK_POLL_TIME=1", "TERM=xterm"), extraEnv...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close() // the child holds it; EIO on ptmx once it exits
	r := &ptyRun{t: t, ptmx: ptmx, cmd: cmd, more: make(chan struct{}, 1), done: make(chan struct{})}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			if n > 0 {
				r.mu.Lock()
				r.out.Write(buf[:n])
				r.mu.Unlock()
				select {
				case r.more <- struct{}{}:
				default:
				}
			}
			if err != nil {
				close(r.done)
				return
			}
		}
	}()
	t.Cleanup(func() {
		if r.cmd.ProcessState == nil {
			r.cmd.Process.Kill()
			r.cmd.Wait()
		}
	})
	return r
}

// text is the terminal output so far, carriage returns removed (the
// terminal turns each newline into CR LF).
func (r *ptyRun) text() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.ReplaceAll(r.out.String(), "\r", "")
}

// expect waits (generously: the machine may be loaded) until want appears
// after what earlier expects consumed.
func (r *ptyRun) expect(want string) {
	r.t.Helper()
	deadline := time.After(3 * time.Minute)
	for {
		s := r.text()
		if i := strings.Index(s[r.seen:], want); i >= 0 {
			r.seen += i + len(want)
			return
		}
		select {
		case <-r.more:
		case <-r.done:
			if s := r.text(); strings.Contains(s[r.seen:], want) {
				continue
			}
			r.t.Fatalf("the run ended without printing %q; terminal:\n%s", want, r.text())
		case <-deadline:
			r.t.Fatalf("no %q after 3 minutes; terminal:\n%s", want, r.text())
		}
	}
}

// send types s on the terminal.
func (r *ptyRun) send(s string) {
	r.t.Helper()
	if _, err := io.WriteString(r.ptmx, s); err != nil {
		r.t.Fatalf("type %q: %v", s, err)
	}
}

// wait waits for the run to end and returns its exit code and terminal
// output (carriage returns removed).
func (r *ptyRun) wait() (int, string) {
	r.t.Helper()
	exited := make(chan error, 1)
	go func() { exited <- r.cmd.Wait() }()
	var err error
	select {
	case err = <-exited:
	case <-time.After(3 * time.Minute):
		r.cmd.Process.Kill()
		r.t.Fatalf("the run did not end; terminal:\n%s", r.text())
	}
	<-r.done
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		r.t.Fatal(err)
	}
	return code, r.text()
}

// sandboxState reads what the run left: app's Value parameter as the
// stack has it (the parameter names it: /apr/<pname>) and the change sets
// of its stack left behind (executed ones stay listed, as on AWS).
func sandboxState(t *testing.T, env *sandboxtest.Env, name string) (value string, changeSets []string) {
	t.Helper()
	ctx := context.Background()
	c := cloudformation.NewFromConfig(env.AWSConfig(ctx, "prod"))
	cs, err := c.ListChangeSets(ctx, &cloudformation.ListChangeSetsInput{StackName: aws.String("apr-app")})
	if err != nil {
		t.Fatalf("list change sets: %v", err)
	}
	for _, s := range cs.Summaries {
		if s.ExecutionStatus == "EXECUTE_COMPLETE" {
			continue
		}
		changeSets = append(changeSets, aws.ToString(s.ChangeSetName)+" "+string(s.Status)+" "+string(s.ExecutionStatus))
	}
	out, err := c.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String("apr-app")})
	if err != nil || len(out.Stacks) != 1 {
		t.Fatalf("describe apr-app: %v", err)
	}
	st := out.Stacks[0]
	if !strings.HasSuffix(string(st.StackStatus), "_COMPLETE") || strings.Contains(string(st.StackStatus), "ROLLBACK") {
		t.Fatalf("apr-app is %s", st.StackStatus)
	}
	params := map[string]string{}
	for _, p := range st.Parameters {
		params[aws.ToString(p.ParameterKey)] = aws.ToString(p.ParameterValue)
	}
	if params["Name"] != name {
		t.Fatalf("apr-app parameter Name is %q, want %q", params["Name"], name)
	}
	return params["Value"], changeSets
}

// waitStack waits (generously) until the stack is UPDATE_COMPLETE with
// Input in.
func waitStack(t *testing.T, env *sandboxtest.Env, name, in string) {
	t.Helper()
	ctx := context.Background()
	c := cloudformation.NewFromConfig(env.AWSConfig(ctx, "prod"))
	deadline := time.Now().Add(3 * time.Minute)
	for {
		out, err := c.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(name)})
		if err == nil && len(out.Stacks) == 1 && out.Stacks[0].StackStatus == "UPDATE_COMPLETE" {
			for _, p := range out.Stacks[0].Parameters {
				if aws.ToString(p.ParameterKey) == "Input" && aws.ToString(p.ParameterValue) == in {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not updated to Input=%s while another stack's question waits", name, in)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func noSecrets(t *testing.T, out string) {
	t.Helper()
	for _, s := range []string{secretOne, secretTwo} {
		if strings.Contains(out, s) {
			t.Errorf("a NoEcho value (%s) was printed:\n%s", s, out)
		}
	}
}

// TestApproveOnATerminal walks the interactive answers one run at a time:
// v then n (nothing changes, the change set is deleted), y (executed,
// with the live view paused while asking), replacements-only without a
// replacement (no question) and with one (asked), and Ctrl-C at the
// question (exit 130, nothing left behind).
func TestApproveOnATerminal(t *testing.T) {
	env := sandboxtest.Start(t)
	dir := writeApproveProject(t)
	r := sandboxRun(t, env, dir, append([]string{"build", "stacker.yaml"}, vars(false, "p1", "v1", secretOne)...)...)
	expectCode(t, r, 0)

	// v shows the full change set, then n: skipped, nothing left.
	run := startPTY(t, env, dir, []string{"NO_COLOR=1"}, append([]string{"build", "-i", "--progress", "plain", "stacker.yaml"}, vars(false, "p1", "v2", secretTwo)...)...)
	run.expect("apr-app changes:\n")
	run.expect("Parameters Modified: Value\n")
	run.expect("Changes:\n")
	run.expect("- Modify Param (AWS::SSM::Parameter)\n")
	run.expect("Execute the above changes? [y/n/v] ")
	run.send("v\n")
	run.expect("apr-app full changeset:")
	run.expect("--- Old Parameters")
	run.expect("-Value = v1")
	run.expect("+Value = v2")
	run.expect("LogicalResourceId: Param")
	run.expect("Execute the above changes? [y/n] ")
	run.send("n\n")
	run.expect("app: skipped (canceled execution)")
	code, out := run.wait()
	if code != 0 {
		t.Fatalf("refused run: exit %d\n%s", code, out)
	}
	noSecrets(t, out)
	if !strings.Contains(out, "after: skipped (nochange)") {
		t.Errorf("the dependant of the refused stack did not run on its outputs:\n%s", out)
	}
	if v, cs := sandboxState(t, env, "/apr/p1"); v != "v1" || len(cs) != 0 {
		t.Fatalf("after n: value %q (want v1), change sets %q (want none)", v, cs)
	}

	// y executes, under the live view (paused while asking).
	run = startPTY(t, env, dir, nil, append([]string{"build", "-i", "stacker.yaml"}, vars(false, "p1", "v2", secretTwo)...)...)
	run.expect("Execute the above changes? [y/n/v] ")
	run.send("y\n")
	code, out = run.wait()
	if code != 0 || !strings.Contains(out, "app: complete (updating existing stack)") {
		t.Fatalf("approved run: exit %d\n%s", code, out)
	}
	noSecrets(t, out)
	if v, cs := sandboxState(t, env, "/apr/p1"); v != "v2" || len(cs) != 0 {
		t.Fatalf("after y: value %q (want v2), change sets %q (want none)", v, cs)
	}
	q := strings.Index(out, "Execute the above changes?")
	if i := strings.LastIndex(out[:q], "\033[J"); i < 0 || strings.Contains(out[i:q], "stacks done") {
		t.Errorf("the live view was not erased before the question:\n%q", out[:q])
	}

	// --replacements-only, an in-place change and no parameter change:
	// executed without a question.
	run = startPTY(t, env, dir, []string{"NO_COLOR=1"}, append([]string{"build", "-i", "--replacements-only", "--progress", "plain", "stacker.yaml"},
		append(vars(false, "p1", "v2", secretTwo), "-e", "tpl=app-described")...)...)
	code, out = run.wait()
	if code != 0 || strings.Contains(out, "Execute the above") || !strings.Contains(out, "app: complete (updating existing stack)") {
		t.Fatalf("replacements-only without a replacement: exit %d\n%s", code, out)
	}
	if _, cs := sandboxState(t, env, "/apr/p1"); len(cs) != 0 {
		t.Fatalf("replacements-only: change sets left %q", cs)
	}

	// The same change under plain -i is asked about.
	run = startPTY(t, env, dir, []string{"NO_COLOR=1"}, append([]string{"build", "-i", "--progress", "plain", "stacker.yaml"}, vars(false, "p1", "v3", secretTwo)...)...)
	run.expect("apr-app changes:\n")
	run.expect("Parameters Modified: Value\n")
	run.expect("Execute the above changes? [y/n/v] ")
	run.send("y\n")
	if code, out = run.wait(); code != 0 {
		t.Fatalf("-i update: exit %d\n%s", code, out)
	}
	if v, _ := sandboxState(t, env, "/apr/p1"); v != "v3" {
		t.Fatalf("-i update not executed: value %q", v)
	}

	// --replacements-only with a replacement: only it is shown, asked.
	run = startPTY(t, env, dir, []string{"NO_COLOR=1"}, append([]string{"build", "-i", "--replacements-only", "--progress", "plain", "stacker.yaml"}, vars(false, "p2", "v3", secretTwo)...)...)
	run.expect("apr-app replacements:\n")
	run.expect("Parameters Modified: Name\n")
	run.expect("- Modify Param (AWS::SSM::Parameter)\n")
	run.expect("Execute the above changes? [y/n/v] ")
	run.send("n\n")
	code, out = run.wait()
	if code != 0 || !strings.Contains(out, "app: skipped (canceled execution)") || strings.Contains(out, "Changes:") {
		t.Fatalf("replacements-only with a replacement: exit %d\n%s", code, out)
	}

	// Ctrl-C at the question: exit 130, the change set deleted.
	run = startPTY(t, env, dir, []string{"NO_COLOR=1"}, append([]string{"build", "-i", "--progress", "plain", "stacker.yaml"}, vars(false, "p1", "v9", secretOne)...)...)
	run.expect("Execute the above changes? [y/n/v] ")
	run.send("\x03")
	code, out = run.wait()
	if code != 130 {
		t.Fatalf("Ctrl-C at the question: exit %d, want 130\n%s", code, out)
	}
	noSecrets(t, out)
	if v, cs := sandboxState(t, env, "/apr/p1"); v != "v3" || len(cs) != 0 {
		t.Fatalf("after Ctrl-C: value %q (want v3), change sets %q (want none)", v, cs)
	}
}

// TestProtectedStacks: a protected stack is asked about without -i; with
// no terminal the build stops before any change and names the stack and
// --approve; --approve NAME runs it in CI.
func TestProtectedStacks(t *testing.T) {
	env := sandboxtest.Start(t)
	dir := writeApproveProject(t)
	r := sandboxRun(t, env, dir, append([]string{"build", "stacker.yaml"}, vars(true, "p1", "v1", secretOne)...)...)
	expectCode(t, r, 0) // creates are not asked about

	// No terminal: nothing changes, exit 2, the message says what to do.
	r = sandboxRun(t, env, dir, append([]string{"build", "stacker.yaml"}, vars(true, "p1", "v2", secretTwo)...)...)
	expectCode(t, r, 2)
	for _, want := range []string{"app (apr-app)", "protected: true", "--approve"} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("no-terminal message lacks %q:\n%s", want, r.Stderr)
		}
	}
	if strings.Contains(r.Stderr, "other: ") {
		t.Errorf("a stack was touched before the approval check:\n%s", r.Stderr)
	}
	if v, cs := sandboxState(t, env, "/apr/p1"); v != "v1" || len(cs) != 0 {
		t.Fatalf("without a terminal: value %q (want v1), change sets %q", v, cs)
	}

	// --approve app: executed without asking, the summary logged.
	r = sandboxRun(t, env, dir, append([]string{"build", "--approve", "app", "stacker.yaml"}, vars(true, "p1", "v2", secretTwo)...)...)
	expectCode(t, r, 0)
	if !strings.Contains(r.Stderr, "approved with --approve") || !strings.Contains(r.Stderr, "app: complete (updating existing stack)") {
		t.Fatalf("--approve app:\n%s", r.Stderr)
	}
	noSecrets(t, r.Stderr+r.Stdout)
	if v, cs := sandboxState(t, env, "/apr/p1"); v != "v2" || len(cs) != 0 {
		t.Fatalf("after --approve: value %q (want v2), change sets %q", v, cs)
	}

	// An unknown --approve name is a usage error.
	r = sandboxRun(t, env, dir, append([]string{"build", "--approve", "ap", "stacker.yaml"}, vars(true, "p1", "v2", secretTwo)...)...)
	expectCode(t, r, 2)

	// On a terminal, without -i: asked; other, which does not depend on
	// app, is updated while the question waits (its line is held until
	// the answer); after, which does, waits.
	run := startPTY(t, env, dir, []string{"NO_COLOR=1"}, append([]string{"build", "--progress", "plain", "stacker.yaml"}, varsOther(true, "p1", "v3", secretOne, "o2")...)...)
	run.expect("apr-app changes:\n")
	run.expect("Execute the above changes? [y/n/v] ")
	waitStack(t, env, "apr-other", "o2")
	if s := run.text(); strings.Contains(s[strings.Index(s, "apr-app changes:"):], "other: complete") {
		t.Errorf("a line was printed while the question waits:\n%s", s)
	}
	run.send("y\n")
	code, out := run.wait()
	if code != 0 || !strings.Contains(out, "app: complete (updating existing stack)") || !strings.Contains(out, "other: complete (updating existing stack)") {
		t.Fatalf("protected on a terminal: exit %d\n%s", code, out)
	}
	noSecrets(t, out)
	if v, cs := sandboxState(t, env, "/apr/p1"); v != "v3" || len(cs) != 0 {
		t.Fatalf("after y: value %q (want v3), change sets %q", v, cs)
	}
}

// TestRecreatePromptOnATerminal: under -i a stack in a failed state is
// deleted and created again only after stacker's warning and a y.
func TestRecreatePromptOnATerminal(t *testing.T) {
	env := sandboxtest.Start(t)
	dir := writeProject(t, sandboxConfig)
	env.AddFailureRule(platform.FailureRule{Stack: "sbx-bad", Resource: "Handle", Operation: "create", Message: "injected failure", Times: 1})
	r := sandboxRun(t, env, dir, "build", "stacker.yaml")
	expectCode(t, r, 1)

	run := startPTY(t, env, dir, []string{"NO_COLOR=1"}, "build", "-i", "--progress", "plain", "stacker.yaml")
	run.expect("The \"sbx-bad\" stack is in a failed state (ROLLBACK_COMPLETE).\nIt cannot be updated, but it can be deleted and re-created.\nAll its current resources will IRREVERSIBLY DESTROYED.\nProceed carefully!\n\n")
	run.expect("Execute the above changes? [y/n] ")
	run.send("n\n")
	code, out := run.wait()
	if code != 0 || !strings.Contains(out, "bad: skipped (canceled execution)") || strings.Contains(out, "bad: submitted") {
		t.Fatalf("re-creation refused: exit %d\n%s", code, out)
	}

	run = startPTY(t, env, dir, []string{"NO_COLOR=1"}, "build", "-i", "--progress", "plain", "stacker.yaml")
	run.expect("Execute the above changes? [y/n] ")
	run.send("y\n")
	code, out = run.wait()
	if code != 0 || !strings.Contains(out, "bad: submitted (destroying stack for re-creation)") || !strings.Contains(out, "bad: complete (re-creating stack)") {
		t.Fatalf("re-creation approved: exit %d\n%s", code, out)
	}
}
