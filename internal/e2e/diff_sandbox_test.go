package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/stacker-go/stacker/internal/sandbox"
	"github.com/stacker-go/stacker/internal/sandbox/sandboxtest"
	"github.com/stacker-go/stacker/internal/ui/uitest"
)

// diffTemplate has a VPC (CidrBlock change: replacement), a topic whose
// DisplayName is the NoEcho parameter, and outputs dependants read.
const diffTemplate = `AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Cidr:
    Type: String
  Password:
    Type: String
    NoEcho: true
Resources:
  VPC:
    Type: AWS::EC2::VPC
    Properties:
      CidrBlock: !Ref Cidr
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      DisplayName: !Ref Password
Outputs:
  VpcId:
    Value: !Ref VPC
  TopicArn:
    Value: !Ref Topic
`

// The same CloudFormation name (dif-vpc) in two accounts, and a chain: app
// reads prod's VpcId.
const diffConfig = `namespace: dif
stacker_bucket: ""
stacks:
  - name: prod-vpc
    stack_name: vpc
    profile: sandbox-prod
    template_path: templates/vpc.yaml
    variables:
      Cidr: ${prod_cidr}
      Password: ${prod_pw}
  - name: stage-vpc
    stack_name: vpc
    profile: sandbox-stage
    template_path: templates/vpc.yaml
    variables:
      Cidr: 10.9.0.0/16
      Password: ${stage_pw}
  - name: app
    profile: sandbox-prod
    template_path: templates/chain.yaml
    variables:
      Input: ${output prod-vpc::VpcId}
  - name: off
    profile: sandbox-stage
    enabled: false
    template_path: templates/chain.yaml
    variables:
      Input: x
  - name: frozen
    profile: sandbox-stage
    locked: true
    template_path: templates/chain.yaml
    variables:
      Input: ${prod_cidr}
`

const (
	prodSecret1 = "Prod-Secret-Number-One"
	prodSecret2 = "Prod-Secret-Number-Two"
	stageSecret = "Stage-Secret-Value"
)

func diffProject(t *testing.T) string {
	dir := writeProject(t, diffConfig)
	if err := os.WriteFile(filepath.Join(dir, "templates", "vpc.yaml"), []byte(diffTemplate), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestSandboxDiffAcrossAccounts: a two-account diff names both targets,
// marks the replacement, never prints a NoEcho value (old or new), shows
// what the chain's dependant would receive, leaves no change set behind,
// and diff --json validates against its schema.
func TestSandboxDiffAcrossAccounts(t *testing.T) {
	env := sandboxtest.Start(t)
	dir := diffProject(t)
	vars := func(cidr, pw string) []string {
		return []string{"-e", "prod_cidr=" + cidr, "-e", "prod_pw=" + pw, "-e", "stage_pw=" + stageSecret}
	}
	r := sandboxRun(t, env, dir, append(append([]string{"build"}, vars("10.0.0.0/16", prodSecret1)...), "stacker.yaml")...)
	expectCode(t, r, 0)
	prod, stage := env.AccountID("prod"), env.AccountID("stage")
	prodCFN := cloudformation.NewFromConfig(env.AWSConfig(context.Background(), "prod"))
	st, err := prodCFN.DescribeStacks(context.Background(), &cloudformation.DescribeStacksInput{StackName: aws.String("dif-vpc")})
	if err != nil {
		t.Fatal(err)
	}
	var vpcID string
	for _, o := range st.Stacks[0].Outputs {
		if aws.ToString(o.OutputKey) == "VpcId" {
			vpcID = aws.ToString(o.OutputValue)
		}
	}

	// Nothing changed: both targets named, in graph order.
	r = sandboxRun(t, env, dir, append(append([]string{"diff"}, vars("10.0.0.0/16", prodSecret1)...), "stacker.yaml")...)
	expectCode(t, r, 0)
	for _, want := range []string{
		"No changes: dif-vpc (prod-vpc, account " + prod + ", us-east-1)\n",
		"No changes: dif-vpc (stage-vpc, account " + stage + ", us-east-1)\n",
		"No changes: dif-app (app, account " + prod + ", us-east-1)\n",
	} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("no %q in\n%s", want, r.Stdout)
		}
	}

	// A new CIDR (replacement) and a new secret in prod.
	args := append(append([]string{"diff"}, vars("10.1.0.0/16", prodSecret2)...), "stacker.yaml")
	r = sandboxRun(t, env, dir, args...)
	expectCode(t, r, 0)
	t.Logf("diff:\n%s", r.Stdout)
	for _, want := range []string{
		"dif-vpc (prod-vpc, account " + prod + ", us-east-1) changes:\n",
		"-Cidr = 10.0.0.0/16\n+Cidr = 10.1.0.0/16\n Password = ****\n",
		"- Modify VPC (AWS::EC2::VPC) " + vpcID + "  !! replacement\n",
		"    Properties.CidrBlock (requires recreation: Always, source: ParameterReference Cidr)\n",
		"No changes: dif-vpc (stage-vpc, account " + stage + ", us-east-1)\n",
		"dif-app (app, account " + prod + ", us-east-1) changes:\n",
		"-Input = " + vpcID + "\n+Input = <inferred-change: dif-vpc.VpcId={'Ref': 'VPC'}>\n",
	} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("no %q in\n%s", want, r.Stdout)
		}
	}
	if i, j := strings.Index(r.Stdout, "(prod-vpc,"), strings.Index(r.Stdout, "(app,"); i < 0 || j < i {
		t.Errorf("not in graph order:\n%s", r.Stdout)
	}
	for _, s := range []string{prodSecret1, prodSecret2, stageSecret} {
		if strings.Contains(r.Stdout+r.Stderr, s) {
			t.Errorf("a NoEcho value is printed: %s", s)
		}
	}

	// The same as one JSON document.
	r = sandboxRun(t, env, dir, append([]string{"diff", "--json"}, args[1:]...)...)
	expectCode(t, r, 0)
	if err := uitest.ValidateJSONDocument("diff-json.schema.json", []byte(r.Stdout)); err != nil {
		t.Fatalf("%v\n%s", err, r.Stdout)
	}
	for _, s := range []string{prodSecret1, prodSecret2, stageSecret} {
		if strings.Contains(r.Stdout+r.Stderr, s) {
			t.Errorf("a NoEcho value is in the JSON: %s", s)
		}
	}
	var plan struct {
		Stacks []struct {
			Name, FQN, Action string
			Target            struct{ Account, Region, Profile string }
			Parameters        []struct{ Key, Old, New, Status string }
			Changes           []struct {
				Action      string `json:"action"`
				Logical     string `json:"logical_resource_id"`
				Replacement string `json:"replacement"`
			} `json:"resource_changes"`
		}
	}
	if err := json.Unmarshal([]byte(r.Stdout), &plan); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, s := range plan.Stacks {
		got[s.Name] = s.Action + " " + s.Target.Account + " " + s.Target.Profile
	}
	want := map[string]string{"prod-vpc": "replace-risk " + prod + " sandbox-prod", "stage-vpc": "nochange " + stage + " sandbox-stage",
		"app": "update " + prod + " sandbox-prod", "off": "skipped " + stage + " sandbox-stage", "frozen": "locked " + stage + " sandbox-stage"}
	if len(plan.Stacks) != len(want) {
		t.Errorf("%d stacks in the plan, want %d", len(plan.Stacks), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}

	// No change set and no temporary stack left in either account.
	for _, acct := range []string{"prod", "stage"} {
		c := cloudformation.NewFromConfig(env.AWSConfig(context.Background(), acct))
		for _, name := range []string{"dif-vpc", "dif-app"} {
			out, err := c.ListChangeSets(context.Background(), &cloudformation.ListChangeSetsInput{StackName: aws.String(name)})
			if err != nil {
				if strings.Contains(err.Error(), "does not exist") {
					continue
				}
				t.Fatal(err)
			}
			if len(out.Summaries) > 0 {
				t.Errorf("%s/%s: change sets left: %d", acct, name, len(out.Summaries))
			}
		}
	}
}

// TestSandboxDiffNewStacksLeavesNothing: a diff of stacks that do not
// exist deletes the temporary REVIEW_IN_PROGRESS stacks; the chain's
// dependant sees placeholders.
func TestSandboxDiffNewStacksLeavesNothing(t *testing.T) {
	env := sandboxtest.Start(t)
	dir := diffProject(t)
	r := sandboxRun(t, env, dir, "diff", "-e", "prod_cidr=10.0.0.0/16", "-e", "prod_pw="+prodSecret1, "-e", "stage_pw="+stageSecret, "stacker.yaml")
	expectCode(t, r, 0)
	for _, want := range []string{
		"dif-vpc (prod-vpc, account " + env.AccountID("prod") + ", us-east-1) changes (new stack):\n",
		"+Password = ****\n",
		"- Add VPC (AWS::EC2::VPC)\n",
		"+Input = <inferred-change: dif-vpc.VpcId={'Ref': 'VPC'}>\n",
	} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("no %q in\n%s", want, r.Stdout)
		}
	}
	for _, s := range []string{prodSecret1, stageSecret} {
		if strings.Contains(r.Stdout+r.Stderr, s) {
			t.Errorf("a NoEcho value is printed: %s", s)
		}
	}
	for _, acct := range []string{"prod", "stage"} {
		c := cloudformation.NewFromConfig(env.AWSConfig(context.Background(), acct))
		out, err := c.ListStacks(context.Background(), &cloudformation.ListStacksInput{})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range out.StackSummaries {
			if s.StackStatus != "DELETE_COMPLETE" {
				t.Errorf("%s: stack %s left in %s", acct, aws.ToString(s.StackName), s.StackStatus)
			}
		}
	}
}

// TestSandboxDiffColoursReplacementsOnATerminal: with stdout on a
// terminal the replacement line is bold red (the marker stays); piped
// (NO_COLOR unset) the same diff has no control codes, the marker only.
func TestSandboxDiffColoursReplacementsOnATerminal(t *testing.T) {
	env := sandboxtest.Start(t)
	dir := diffProject(t)
	vars := []string{"-e", "prod_pw=" + prodSecret1, "-e", "stage_pw=" + stageSecret}
	r := sandboxRun(t, env, dir, append(append([]string{"build", "-e", "prod_cidr=10.0.0.0/16"}, vars...), "stacker.yaml")...)
	expectCode(t, r, 0)

	var environ []string
	for _, kv := range env.Env(t) {
		if !strings.HasPrefix(kv, "NO_COLOR=") && !strings.HasPrefix(kv, "TERM=") {
			environ = append(environ, kv)
		}
	}
	environ = append(environ, "HOME="+dir, "STACKER_NO_CREDENTIAL_CACHE=1", "TERM=xterm")
	args := append(append([]string{"diff", "--progress", "plain", "-p", "sandbox-prod", "-r", "us-east-1", "-e", "prod_cidr=10.1.0.0/16"}, vars...), "stacker.yaml")

	ptmx, tty := openPTY(t, 200)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, Binary(t), args...)
	cmd.Dir, cmd.Env = dir, environ
	var stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close()
	var screen bytes.Buffer
	done := make(chan struct{})
	go func() { io.Copy(&screen, ptmx); close(done) }()
	err := cmd.Wait()
	<-done
	if err != nil {
		t.Fatalf("diff: %v\n%s", err, stderr.String())
	}
	out := screen.String()
	if !strings.Contains(out, "\x1b[1;31m- Modify VPC (AWS::EC2::VPC) vpc-") || !strings.Contains(out, "  !! replacement\x1b[0m") {
		t.Errorf("the replacement is not bold red on a terminal:\n%q", out)
	}
	if strings.Contains(out, prodSecret1) || strings.Contains(stderr.String(), prodSecret1) {
		t.Error("a NoEcho value is printed")
	}

	// The same diff piped: no colour, the marker only.
	cmd = exec.CommandContext(ctx, Binary(t), args...)
	cmd.Dir, cmd.Env = dir, environ
	piped, err := cmd.Output()
	if err != nil {
		t.Fatalf("diff: %v", err)
	}
	if bytes.Contains(piped, []byte("\x1b[")) || !bytes.Contains(piped, []byte("  !! replacement\n")) {
		t.Errorf("piped diff:\n%q", piped)
	}
}

// TestSandboxDiffInterruptedLeavesNothing: Ctrl-C while change sets are
// being computed (DescribeChangeSet always throttled, so the diff waits)
// exits 130, prints the plan with the stacks cancelled, and deletes every
// change set and temporary REVIEW_IN_PROGRESS stack.
func TestSandboxDiffInterruptedLeavesNothing(t *testing.T) {
	env := sandboxtest.Start(t)
	dir := diffProject(t)
	env.AddThrottleRule(sandbox.ThrottleRule{Service: "cloudformation", Action: "DescribeChangeSet", Probability: 1})
	cmd := exec.Command(Binary(t), "diff", "--json", "--progress", "plain", "-p", "sandbox-prod", "-r", "us-east-1",
		"-e", "prod_cidr=10.0.0.0/16", "-e", "prod_pw="+prodSecret1, "-e", "stage_pw="+stageSecret, "stacker.yaml")
	cmd.Dir = dir
	cmd.Env = append(env.Env(t), "HOME="+dir, "STACKER_NO_CREDENTIAL_CACHE=1", "NO_COLOR=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(90*time.Second, func() { cmd.Process.Kill() })
	defer timer.Stop()
	// Wait for both vpc stacks' temporary stacks, then Ctrl-C.
	reviewing := func(acct string) int {
		out, err := cloudformation.NewFromConfig(env.AWSConfig(context.Background(), acct)).ListStacks(context.Background(), &cloudformation.ListStacksInput{})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, s := range out.StackSummaries {
			if s.StackStatus != "DELETE_COMPLETE" {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(60 * time.Second)
	for reviewing("prod") == 0 || reviewing("stage") == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no change set created:\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
		t.Fatalf("exit %v, want 130\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	if err := uitest.ValidateJSONDocument("diff-json.schema.json", stdout.Bytes()); err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	if !strings.Contains(stdout.String(), `"action": "cancelled"`) {
		t.Errorf("no cancelled stack in the plan:\n%s", stdout.String())
	}
	for _, acct := range []string{"prod", "stage"} {
		if n := reviewing(acct); n != 0 {
			t.Errorf("%s: %d stacks left after the interrupt", acct, n)
		}
	}
}
