package e2e

import (
	"bufio"
	"context"
	"flag"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/stacker-go/stacker/internal/sandbox/sandboxtest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// The preflight end to end: the built binary against the sandbox over
// HTTP. Nothing here depends on timing beyond "the rerun starts while or
// after the interrupted stack changes"; both converge.

// threeStacks has three independent stacks; bad names a template that is
// not there.
const threeStacks = `namespace: pf
stacker_bucket: ""
stacks:
  - name: one
    template_path: templates/chain.yaml
    variables:
      Input: "1"
  - name: two
    template_path: templates/%s
    variables:
      Input: "2"
  - name: three
    template_path: templates/chain.yaml
    variables:
      Input: "3"
`

// mutating are the calls that change something in an account.
var mutating = regexp.MustCompile(`^(Create|Update|Delete|Put|Execute|Set|Tag|Untag)`)

// changes lists the mutating calls the sandbox received.
func changes(env *sandboxtest.Env) []string {
	var out []string
	for _, e := range env.RequestLog() {
		if mutating.MatchString(e.Action) {
			out = append(out, e.Service+":"+e.Action)
		}
	}
	return out
}

// stacksIn lists the stack names of an account of the sandbox.
func stacksIn(t *testing.T, env *sandboxtest.Env, account string) map[string]string {
	t.Helper()
	ctx := context.Background()
	cfn := cloudformation.NewFromConfig(env.AWSConfig(ctx, account))
	out, err := cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{})
	if err != nil {
		t.Fatalf("describe stacks: %v", err)
	}
	got := map[string]string{}
	for _, s := range out.Stacks {
		got[aws.ToString(s.StackName)] = string(s.StackStatus)
	}
	return got
}

// normalize makes a run's stderr stable: no timestamps, no temporary
// paths, no request ids.
func normalize(r Result, dirs ...string) string {
	s := strings.Join(r.Lines(), "\n") + "\n"
	for _, d := range dirs {
		s = strings.ReplaceAll(s, d, "$DIR")
	}
	s = regexp.MustCompile(`RequestID: [0-9a-f-]+`).ReplaceAllString(s, "RequestID: <id>")
	return s
}

func goldenFile(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "preflight", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if string(want) != got {
		t.Errorf("stderr differs from %s (run with -update to accept):\n%s", path, got)
	}
}

func TestSandboxPreflightBadTemplateChangesNothing(t *testing.T) {
	env := sandboxtest.Start(t)
	dir := writeProject(t, strings.Replace(threeStacks, "%s", "chian.yaml", 1))
	r := sandboxRun(t, env, dir, "build", "stacker.yaml")
	expectCode(t, r, 2)
	if !strings.Contains(r.Stderr, "stacker.yaml:8:5: stack \"two\": could not find template templates/chian.yaml") {
		t.Errorf("no positioned error:\n%s", r.Stderr)
	}
	if got := changes(env); len(got) > 0 {
		t.Errorf("the sandbox received changes: %v\n%s", got, r.Stderr)
	}
	if got := stacksIn(t, env, "prod"); len(got) > 0 {
		t.Errorf("stacks exist: %v", got)
	}
}

func TestSandboxPreflightMissingRequiredParameterBeforeAnyCreate(t *testing.T) {
	env := sandboxtest.Start(t)
	// two gets no Input: chain.yaml's Input has no Default and the stack
	// does not exist yet.
	cfg := strings.Replace(threeStacks, "%s", "chain.yaml", 1)
	cfg = strings.Replace(cfg, "    variables:\n      Input: \"2\"\n", "", 1)
	dir := writeProject(t, cfg)
	r := sandboxRun(t, env, dir, "build", "stacker.yaml")
	expectCode(t, r, 2)
	if !strings.Contains(r.Stderr, `stacker.yaml:8:5: stack "two": required parameters have no value and no Default: Input`) {
		t.Errorf("no positioned error:\n%s", r.Stderr)
	}
	if got := changes(env); len(got) > 0 {
		t.Errorf("the sandbox received changes: %v", got)
	}
	if got := stacksIn(t, env, "prod"); len(got) > 0 {
		t.Errorf("stacks exist: %v", got)
	}
}

func TestSandboxPreflightUnknownProfile(t *testing.T) {
	env := sandboxtest.Start(t)
	cfg := strings.Replace(threeStacks, "%s", "chain.yaml", 1)
	cfg = strings.Replace(cfg, "  - name: three\n", "  - name: three\n    profile: sandbox-stg\n", 1)
	dir := writeProject(t, cfg)
	e := append(env.Env(t), "HOME="+dir, "STACKER_NO_CREDENTIAL_CACHE=1", "NO_COLOR=1")
	r := RunBinary(t, Binary(t), dir, e, "build", "stacker.yaml", "-p", "sandbox-prd", "-r", "us-east-1")
	expectCode(t, r, 2)
	if got := env.RequestLog(); len(got) > 0 {
		t.Errorf("%d AWS calls before the profile check failed", len(got))
	}
	s := normalize(r, dir, filepath.Dir(envValue(e, "AWS_CONFIG_FILE")), filepath.Dir(envValue(e, "AWS_SHARED_CREDENTIALS_FILE")))
	goldenFile(t, "unknown-profile.golden", s)
}

func envValue(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], key+"="); ok {
			return v
		}
	}
	return ""
}

// imds403 is an EC2 metadata service that refuses everything, like the
// one that answered the user.
func imds403(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "forbidden", http.StatusForbidden)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestSandboxPreflightNoCredentialsOnceWithoutIMDSNoise(t *testing.T) {
	env := sandboxtest.Start(t)
	cfg := strings.Replace(threeStacks, "%s", "chain.yaml", 1)
	cfg = strings.Replace(cfg, "  - name: three\n", "  - name: three\n    region: eu-west-1\n", 1)
	dir := writeProject(t, cfg)
	// The user forgot --profile: no profile, no keys, no default profile,
	// and an instance metadata service that answers 403.
	var e []string
	for _, kv := range env.Env(t) {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "AWS_EC2_METADATA_DISABLED", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
			"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI":
			continue
		}
		e = append(e, kv)
	}
	e = append(e, "HOME="+dir, "STACKER_NO_CREDENTIAL_CACHE=1", "NO_COLOR=1", "AWS_EC2_METADATA_SERVICE_ENDPOINT="+imds403(t))
	r := RunBinary(t, Binary(t), dir, e, "build", "stacker.yaml", "-r", "us-east-1")
	expectCode(t, r, 1)
	s := normalize(r, dir, filepath.Dir(envValue(e, "AWS_CONFIG_FILE")), filepath.Dir(envValue(e, "AWS_SHARED_CREDENTIALS_FILE")))
	for _, noise := range []string{"IMDS", "imds", "ec2", "EC2", "SDK", "403"} {
		if strings.Contains(s, noise) {
			t.Errorf("stderr mentions %q:\n%s", noise, s)
		}
	}
	if n := strings.Count(s, "no AWS credentials found"); n != 1 {
		t.Errorf("said %d times:\n%s", n, s)
	}
	goldenFile(t, "no-credentials.golden", s)
	// -v still logs what the metadata service answered.
	r = RunBinary(t, Binary(t), dir, e, "build", "stacker.yaml", "-r", "us-east-1", "-v")
	if !strings.Contains(r.Stderr, "403") {
		t.Errorf("-v does not log the instance role's answer:\n%s", r.Stderr)
	}
}

func TestSandboxPreflightMFAOnlyRoleOneMessage(t *testing.T) {
	env := sandboxtest.Start(t)
	master := env.AccountID("master")
	role := env.AddRole("prod", "MFAOnly",
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::`+master+`:root"},"Action":"sts:AssumeRole","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}]}`,
		map[string]string{"admin": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`})
	cfg := strings.Replace(threeStacks, "%s", "chain.yaml", 1)
	cfg = strings.Replace(cfg, "  - name: two\n", "  - name: two\n    region: us-west-2\n", 1)
	cfg = strings.Replace(cfg, "  - name: three\n", "  - name: three\n    region: eu-west-1\n", 1)
	dir := writeProject(t, cfg)
	e := env.Env(t)
	awsConfig := envValue(e, "AWS_CONFIG_FILE")
	f, err := os.OpenFile(awsConfig, os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	// Long-term keys (sandbox-master's) against a role whose trust policy
	// requires MFA, and no mfa_serial on the role's profile.
	if _, err := f.WriteString("\n[profile prod-mfa-only]\nrole_arn = " + role + "\nsource_profile = sandbox-master\nrole_session_name = stacker\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	e = append(e, "HOME="+dir, "STACKER_NO_CREDENTIAL_CACHE=1", "NO_COLOR=1")
	r := RunBinary(t, Binary(t), dir, e, "build", "stacker.yaml", "-p", "prod-mfa-only", "-r", "us-east-1")
	expectCode(t, r, 1)
	if n := strings.Count(r.Stderr, "AccessDenied"); n != 1 {
		t.Errorf("AccessDenied said %d times, want once:\n%s", n, r.Stderr)
	}
	if got := changes(env); len(got) > 0 {
		t.Errorf("the sandbox received changes: %v", got)
	}
	goldenFile(t, "mfa-only-role.golden", normalize(r, dir))
}

// interruptSpec makes every resource take a few seconds, so an interrupt
// lands while the first stack is still being created.
const interruptSpec = `
accounts:
  - name: prod
    id: "222222222222"
    users:
      - name: admin
        admin: true
latency:
  default: 4s
`

func TestSandboxInterruptThenImmediateRerunConverges(t *testing.T) {
	env := sandboxtest.Start(t, sandboxtest.WithSpecYAML(t, interruptSpec))
	dir := writeProject(t, sandboxConfig)
	e := append(env.Env(t), "HOME="+dir, "STACKER_NO_CREDENTIAL_CACHE=1", "NO_COLOR=1", "STACKER_STACK_POLL_TIME=1")
	args := []string{"build", "stacker.yaml", "-p", "sandbox-prod", "-r", "us-east-1"}
	cmd := exec.Command(Binary(t), args...)
	cmd.Dir, cmd.Env = dir, e
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(2*time.Minute, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()
	var lines []string
	signalled := false
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if !signalled && strings.Contains(sc.Text(), "good: submitted (creating new stack)") {
			signalled = true
			_ = cmd.Process.Signal(syscall.SIGINT)
		}
	}
	err = cmd.Wait()
	out := strings.Join(lines, "\n")
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
		t.Fatalf("first run: exit %v, want 130\n%s", err, out)
	}
	if !strings.Contains(out, "is still changing in CloudFormation") {
		t.Errorf("the interrupt does not say what is still changing:\n%s", out)
	}

	// At once: the rerun waits for the stack still being created, then
	// goes on; it does not fail on "already in progress".
	r := RunBinary(t, Binary(t), dir, e, args...)
	expectCode(t, r, 0)
	if strings.Contains(r.Stderr, "in-progress") || strings.Contains(r.Stderr, "IN_PROGRESS: ") && strings.Contains(r.Stderr, "failed") {
		t.Errorf("the rerun tripped over the stack in progress:\n%s", r.Stderr)
	}
	got := stacksIn(t, env, "prod")
	want := map[string]string{"sbx-good": "CREATE_COMPLETE", "sbx-bad": "CREATE_COMPLETE"}
	for name, status := range want {
		if got[name] != status {
			t.Errorf("%s is %q, want %s (all: %v)\n%s", name, got[name], status, got, r.Stderr)
		}
	}
	if names := slices.Sorted(maps.Keys(got)); len(names) != 2 {
		t.Errorf("stacks %v", names)
	}
}
