package sandbox_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stacker-go/stacker/internal/sandbox/sandboxtest"
)

// awsCLI finds the AWS CLI v1 (preinstalled in the development image).
func awsCLI(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/root/.pyenv/shims/aws"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	p, err := exec.LookPath("aws")
	if err != nil {
		t.Fatalf("the AWS CLI is required for the conformance suite: %v", err)
	}
	return p
}

type cliResult struct {
	out, err string
	code     int
}

func runAWS(t *testing.T, bin string, env []string, args ...string) cliResult {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("aws %v: %v", args, err)
	}
	return cliResult{out.String(), errb.String(), code}
}

// TestCLIConformance runs the scenarios through the AWS CLI v1 with a
// generated AWS_CONFIG_FILE (profiles carry endpoint_url). The CLI takes
// about a second per call, so the suite is small and runs calls in parallel.
func TestCLIConformance(t *testing.T) {
	bin := awsCLI(t)
	env := sandboxtest.Start(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "upload.txt")
	if err := os.WriteFile(file, []byte("hello from the aws cli\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	procEnv := append(withoutAWSVars(os.Environ()),
		"AWS_CONFIG_FILE="+env.AWSConfigFile(t),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "no-credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_PAGER=",
	)
	badEnv := append(append([]string{}, procEnv...), "AWS_ACCESS_KEY_ID=AKIAUNKNOWNKEY000000", "AWS_SECRET_ACCESS_KEY=nope", "AWS_ENDPOINT_URL="+env.URL, "AWS_DEFAULT_REGION=us-east-1")

	type check struct {
		name  string
		env   []string
		args  []string
		check func(t *testing.T, r cliResult)
	}
	wantJSON := func(key, want string) func(t *testing.T, r cliResult) {
		return func(t *testing.T, r cliResult) {
			var m map[string]any
			if r.code != 0 || json.Unmarshal([]byte(r.out), &m) != nil {
				t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.out, r.err)
			}
			if got := lookup(m, key); got != want {
				t.Errorf("%s = %q, want %q", key, got, want)
			}
		}
	}
	wantErr := func(code string) func(t *testing.T, r cliResult) {
		return func(t *testing.T, r cliResult) {
			if r.code == 0 || !strings.Contains(r.err, "("+code+")") {
				t.Errorf("want error %s, got exit %d stderr %q", code, r.code, r.err)
			}
		}
	}
	independent := []check{
		{"caller identity of prod", procEnv, []string{"--profile", "sandbox-prod", "sts", "get-caller-identity"}, wantJSON("Account", "222222222222")},
		{"unknown key", badEnv, []string{"sts", "get-caller-identity"}, wantErr("InvalidClientTokenId")},
		// The services the hooks use (EC2 query, JSON 1.1, REST-XML).
		{"ec2 describe-images", procEnv, []string{"--profile", "sandbox-prod", "ec2", "describe-images", "--owners", "amazon", "--filters", "Name=name,Values=al2023-ami-*-x86_64"}, func(t *testing.T, r cliResult) {
			if r.code != 0 || !strings.Contains(r.out, `"Name": "al2023-ami-2023.3.20240108.0-kernel-6.1-x86_64"`) {
				t.Errorf("exit %d out %q err %q", r.code, r.out, r.err)
			}
		}},
		{"ssm missing parameter", procEnv, []string{"--profile", "sandbox-prod", "ssm", "get-parameter", "--name", "/missing"}, wantErr("ParameterNotFound")},
		{"ecs create-cluster", procEnv, []string{"--profile", "sandbox-prod", "ecs", "create-cluster", "--cluster-name", "cli"}, wantJSON("cluster.clusterName", "cli")},
		{"route53 missing zone", procEnv, []string{"--profile", "sandbox-prod", "route53", "get-hosted-zone", "--id", "ZMISSING"}, wantErr("NoSuchHostedZone")},
	}
	// The MFA code is only valid for a minute: run that call first, alone,
	// so that a loaded machine's queue of CLI processes cannot outlast it.
	mfaCheck := check{"session token with MFA", procEnv, []string{"--profile", "sandbox-master", "sts", "get-session-token", "--serial-number", env.MFASerial, "--token-code", env.TOTP()}, func(t *testing.T, r cliResult) {
		wantJSON("Credentials.AccessKeyId", lookupOut(r.out, "Credentials.AccessKeyId"))(t, r)
		if !strings.HasPrefix(lookupOut(r.out, "Credentials.AccessKeyId"), "ASIA") {
			t.Errorf("not a temporary key: %s", r.out)
		}
	}}
	mfaResult := runAWS(t, bin, mfaCheck.env, mfaCheck.args...)
	t.Run(mfaCheck.name, func(t *testing.T) { mfaCheck.check(t, mfaResult) })
	var wg sync.WaitGroup
	results := make([]cliResult, len(independent))
	sem := make(chan struct{}, 3)
	for i, c := range independent {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			results[i] = runAWS(t, bin, c.env, c.args...)
		}()
	}
	// S3 calls depend on each other: run them in order meanwhile.
	s3Steps := []check{
		{"make bucket", procEnv, []string{"--profile", "sandbox-master", "s3", "mb", "s3://cli-conformance"}, func(t *testing.T, r cliResult) {
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.err)
			}
		}},
		{"upload (CRC32 checksum, signed payload)", procEnv, []string{"--profile", "sandbox-master", "s3", "cp", file, "s3://cli-conformance/dir/upload.txt"}, func(t *testing.T, r cliResult) {
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.err)
			}
		}},
		{"download", procEnv, []string{"--profile", "sandbox-master", "s3", "cp", "s3://cli-conformance/dir/upload.txt", "-"}, func(t *testing.T, r cliResult) {
			if r.code != 0 || r.out != "hello from the aws cli\n" {
				t.Errorf("exit %d out %q err %q", r.code, r.out, r.err)
			}
		}},
	}
	for _, c := range s3Steps {
		r := runAWS(t, bin, c.env, c.args...)
		t.Run(c.name, func(t *testing.T) { c.check(t, r) })
	}
	wg.Wait()
	for i, c := range independent {
		t.Run(c.name, func(t *testing.T) { c.check(t, results[i]) })
	}
}

func lookupOut(out, key string) string {
	var m map[string]any
	_ = json.Unmarshal([]byte(out), &m)
	return lookup(m, key)
}

func lookup(m map[string]any, key string) string {
	var cur any = m
	for _, k := range strings.Split(key, ".") {
		mm, ok := cur.(map[string]any)
		if !ok {
			return ""
		}
		cur = mm[k]
	}
	s, _ := cur.(string)
	return s
}

func withoutAWSVars(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "AWS_") {
			out = append(out, kv)
		}
	}
	return out
}
