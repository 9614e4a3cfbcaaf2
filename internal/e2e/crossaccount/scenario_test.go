// Package crossaccount holds the end-to-end tests of the cross-account
// scenario (examples/cross-account, the seed's README): the tool's own CLI
// and deploy path against the sandbox over HTTP, credentials resolved from
// the example's .aws/config through Stacker roles in three accounts.
package crossaccount

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	example "github.com/stacker-go/stacker/examples/cross-account"
	"github.com/stacker-go/stacker/internal/cli"
	"github.com/stacker-go/stacker/internal/sandbox"
	"github.com/stacker-go/stacker/internal/sandbox/sandboxtest"
	"github.com/stacker-go/stacker/internal/target"
)

// scenario is one sandbox with a copy of the example's files.
type scenario struct {
	t   *testing.T
	env *sandboxtest.Env
	dir string
	// out collects everything the runs printed (scanned for secrets).
	out     bytes.Buffer
	secrets []string
	cache   string
}

func newScenario(t *testing.T) *scenario {
	t.Helper()
	s := &scenario{t: t, env: sandboxtest.Start(t), dir: t.TempDir(), cache: filepath.Join(t.TempDir(), "creds")}
	err := fs.WalkDir(example.Files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := example.Files.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(s.dir, filepath.Dir(p)), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(s.dir, p), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ENDPOINT_URL", s.env.URL)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(s.dir, "no-credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv(target.EnvCredentialCache, s.cache)
	t.Setenv(target.EnvDeployCache, filepath.Join(t.TempDir(), "deployed"))
	for _, k := range []string{"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID",
		"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", target.EnvMFACode, target.EnvNoCache, target.EnvNoDeployCache} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	for _, k := range s.env.Keys {
		s.secrets = append(s.secrets, k.Secret)
	}
	return s
}

func (s *scenario) path(p string) string { return filepath.Join(s.dir, p) }

// stacker runs the CLI in-process (stdin is not a terminal) and returns its
// exit code and combined output.
func (s *scenario) stacker(args ...string) (int, string) {
	s.t.Helper()
	var out, errOut bytes.Buffer
	code := cli.Run(context.Background(), args, cli.IO{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	all := out.String() + errOut.String()
	fmt.Fprintf(&s.out, "$ stacker %s\n%s", strings.Join(args, " "), all)
	s.t.Logf("$ stacker %s (exit %d)\n%s", strings.Join(args, " "), code, all)
	return code, all
}

func (s *scenario) mustStacker(args ...string) string {
	s.t.Helper()
	code, out := s.stacker(args...)
	if code != 0 {
		s.t.Fatalf("stacker %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// createRoles builds the Stacker role in every account with the sandbox's
// administrator profiles (the README's first step).
func (s *scenario) createRoles() {
	s.t.Helper()
	s.t.Setenv("AWS_CONFIG_FILE", s.env.AWSConfigFile(s.t))
	s.mustStacker("build", s.path("roles.yaml"))
}

// mfaSession does what `aws sts get-session-token --serial-number ...
// --token-code ...` does in the README and exports the result.
func (s *scenario) mfaSession() {
	s.t.Helper()
	k := s.env.Keys["master"]
	code := s.env.TOTP()
	out, err := sts.NewFromConfig(s.env.ConfigFor(k.ID, k.Secret, "")).GetSessionToken(context.Background(), &sts.GetSessionTokenInput{
		SerialNumber: aws.String(s.env.MFASerial), TokenCode: aws.String(code),
	})
	if err != nil {
		s.t.Fatalf("get session token: %v", err)
	}
	c := out.Credentials
	s.t.Setenv("AWS_ACCESS_KEY_ID", aws.ToString(c.AccessKeyId))
	s.t.Setenv("AWS_SECRET_ACCESS_KEY", aws.ToString(c.SecretAccessKey))
	s.t.Setenv("AWS_SESSION_TOKEN", aws.ToString(c.SessionToken))
	s.secrets = append(s.secrets, aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken), code)
}

// longTermKeys exports the master admin's long-term keys (no MFA).
func (s *scenario) longTermKeys() {
	k := s.env.Keys["master"]
	s.t.Setenv("AWS_ACCESS_KEY_ID", k.ID)
	s.t.Setenv("AWS_SECRET_ACCESS_KEY", k.Secret)
	os.Unsetenv("AWS_SESSION_TOKEN")
}

func (s *scenario) useExampleAWSConfig() { s.t.Setenv("AWS_CONFIG_FILE", s.path(".aws/config")) }

// edit replaces old with new in one of the copied files.
func (s *scenario) edit(file, old, new string) {
	s.t.Helper()
	b, err := os.ReadFile(s.path(file))
	if err != nil {
		s.t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(old)) {
		s.t.Fatalf("%s does not contain %q", file, old)
	}
	if err := os.WriteFile(s.path(file), bytes.Replace(b, []byte(old), []byte(new), 1), 0o644); err != nil {
		s.t.Fatal(err)
	}
}

// stack describes a stack as the account's administrator (nil if absent).
func (s *scenario) stack(account, name string) *cloudformation.DescribeStacksOutput {
	s.t.Helper()
	out, err := cloudformation.NewFromConfig(s.env.AWSConfig(context.Background(), account)).DescribeStacks(context.Background(),
		&cloudformation.DescribeStacksInput{StackName: aws.String(name)})
	if err != nil {
		if strings.Contains(err.Error(), "does not exist") {
			return nil
		}
		s.t.Fatalf("describe %s in %s: %v", name, account, err)
	}
	return out
}

func output(d *cloudformation.DescribeStacksOutput, key string) string {
	for _, o := range d.Stacks[0].Outputs {
		if aws.ToString(o.OutputKey) == key {
			return aws.ToString(o.OutputValue)
		}
	}
	return ""
}

// bootstrapBucket runs the README up to the bucket and returns its name.
func (s *scenario) bootstrapBucket() string {
	s.t.Helper()
	s.createRoles()
	s.mfaSession()
	s.useExampleAWSConfig()
	s.mustStacker("build", "--profile", "master", "--stacks", "stacker-bucket", s.path("stacker.yaml"))
	d := s.stack("master", "stacker-bucket")
	if d == nil {
		s.t.Fatal("stacker-bucket not created in master")
	}
	bucket := output(d, "BucketId")
	if bucket == "" {
		s.t.Fatal("stacker-bucket has no BucketId output")
	}
	s.edit("stacker.yaml", "stacker_bucket: ''", "stacker_bucket: "+bucket)
	return bucket
}

// checkNoSecrets scans everything printed for keys, tokens and codes.
func (s *scenario) checkNoSecrets() {
	s.t.Helper()
	secrets := append([]string(nil), s.secrets...)
	// Everything in the credential cache is secret too.
	files, _ := filepath.Glob(filepath.Join(s.cache, "*.json"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		for _, field := range []string{"secret_access_key", "session_token"} {
			if i := bytes.Index(b, []byte(`"`+field+`":"`)); i >= 0 {
				rest := b[i+len(field)+4:]
				if j := bytes.IndexByte(rest, '"'); j > 0 {
					secrets = append(secrets, string(rest[:j]))
				}
			}
		}
	}
	out := s.out.String()
	for _, sec := range secrets {
		if len(sec) >= 6 && strings.Contains(out, sec) {
			s.t.Errorf("a secret (%d chars, starts %.4s…) appears in the output", len(sec), sec)
		}
	}
}

func accountOf(stackID string) string {
	a, err := arn.Parse(stackID)
	if err != nil {
		return ""
	}
	return a.AccountID
}

func TestSeedScenarioWithTheExampleFiles(t *testing.T) {
	s := newScenario(t)
	bucket := s.bootstrapBucket()
	s.mustStacker("build", "-v", "--profile", "master", s.path("stacker.yaml"))

	for _, c := range []struct{ account, stack string }{{"master", "stacker-bucket"}, {"prod", "vpc"}, {"stage", "vpc"}} {
		d := s.stack(c.account, c.stack)
		if d == nil {
			t.Fatalf("%s not in %s", c.stack, c.account)
		}
		if got, want := accountOf(aws.ToString(d.Stacks[0].StackId)), s.env.AccountID(c.account); got != want {
			t.Errorf("%s lives in %s, want %s", c.stack, got, want)
		}
		if st := string(d.Stacks[0].StackStatus); !strings.HasSuffix(st, "_COMPLETE") || strings.Contains(st, "ROLLBACK") {
			t.Errorf("%s in %s: %s", c.stack, c.account, st)
		}
	}
	// The VPC templates were uploaded to the master bucket.
	masterCfg := s.env.AWSConfig(context.Background(), "master")
	objs, err := s3.NewFromConfig(masterCfg, func(o *s3.Options) { o.UsePathStyle = true }).ListObjectsV2(context.Background(),
		&s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String("stack_templates/vpc/")})
	if err != nil || len(objs.Contents) == 0 {
		t.Errorf("no vpc template in bucket %s: %v", bucket, err)
	}
	// One hop per line in the debug log, and nothing secret anywhere.
	if !strings.Contains(s.out.String(), "profile prod: assume role arn:aws:iam::222222222222:role/Stacker") {
		t.Errorf("debug log lacks the prod hop line")
	}
	// info reads each stack's outputs with its own credentials; the two
	// stacks named vpc are told apart by their config names.
	info := s.mustStacker("info", "--profile", "master", s.path("stacker.yaml"))
	for _, want := range []string{"vpc (prod/vpc):\n\tAvailabilityZone0: ", "vpc (stage/vpc):\n\tAvailabilityZone0: ", "stacker-bucket:\n\tBucketId: "} {
		if !strings.Contains(info, want) {
			t.Errorf("info output lacks %q:\n%s", want, info)
		}
	}
	// Doctor agrees.
	out := s.mustStacker("doctor", "--profile", "master", s.path("stacker.yaml"))
	for _, want := range []string{"222222222222", "333333333333", "env→master→prod"} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor output lacks %q:\n%s", want, out)
		}
	}
	s.checkNoSecrets()
}

func TestRefusals(t *testing.T) {
	t.Run("bucket policy without a sub-account's role", func(t *testing.T) {
		s := newScenario(t)
		s.edit("stacker.yaml", ", arn:aws:iam::333333333333:role/Stacker", "")
		bucket := s.bootstrapBucket()
		// The preflight reads the bucket policy before any change: exit 2,
		// and no stack in any account is touched (prod's, though allowed,
		// is not built either).
		code, out := s.stacker("build", "--profile", "master", s.path("stacker.yaml"))
		if code != 2 {
			t.Fatalf("exit %d, want 2\n%s", code, out)
		}
		for _, want := range []string{bucket, "arn:aws:iam::333333333333:role/Stacker", "s3:GetObject", "stacks stage/vpc"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		if d := s.stack("stage", "vpc"); d != nil {
			t.Errorf("stage vpc exists: %s", d.Stacks[0].StackStatus)
		}
		if s.stack("prod", "vpc") != nil {
			t.Errorf("prod vpc was built although the preflight failed")
		}
		// Doctor finds it too, with the fix in the row.
		code, out = s.stacker("doctor", "--profile", "master", s.path("stacker.yaml"))
		if code != 1 || !strings.Contains(out, `"Principal":{"AWS":"arn:aws:iam::333333333333:role/Stacker"}`) {
			t.Errorf("doctor: exit %d\n%s", code, out)
		}
		s.checkNoSecrets()
	})

	t.Run("trust policy requires MFA and there is no MFA session", func(t *testing.T) {
		s := newScenario(t)
		s.createRoles()
		s.longTermKeys()
		s.useExampleAWSConfig()
		code, out := s.stacker("build", "--profile", "master", "--stacks", "stacker-bucket", s.path("stacker.yaml"))
		if code != 1 || !strings.Contains(out, "assume role arn:aws:iam::111111111111:role/Stacker") || !strings.Contains(out, "AccessDenied") {
			t.Fatalf("exit %d\n%s", code, out)
		}
		if s.stack("master", "stacker-bucket") != nil {
			t.Error("stacker-bucket was created")
		}
		// Every stack: master, prod and stage all chain through master's
		// refused hop, so there is one error (one request id) naming the
		// three targets, with doctor's fix (mfa_serial) as its hint.
		code, out = s.stacker("build", "--profile", "master", s.path("stacker.yaml"))
		if code != 1 || strings.Count(out, "error: ") != 1 || strings.Count(out, "RequestID") > 1 {
			t.Fatalf("want one error, exit 1:\n%s", out)
		}
		for _, want := range []string{"targets master, prod, stage: ", "hint: ", "set mfa_serial on the profile"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		s.checkNoSecrets()
	})

	t.Run("account_id mismatch", func(t *testing.T) {
		s := newScenario(t)
		s.bootstrapBucket()
		s.edit("stacker.yaml", `account_id: "333333333333"`, `account_id: "444444444444"`)
		code, out := s.stacker("build", "--profile", "master", s.path("stacker.yaml"))
		if code != 1 || !strings.Contains(out, "333333333333") || !strings.Contains(out, "444444444444") {
			t.Fatalf("exit %d\n%s", code, out)
		}
		if s.stack("stage", "vpc") != nil {
			t.Error("stage vpc was created")
		}
		s.checkNoSecrets()
	})

	t.Run("mfa_serial profile without a terminal or code", func(t *testing.T) {
		s := newScenario(t)
		s.createRoles()
		s.longTermKeys()
		s.useExampleAWSConfig()
		s.edit(".aws/config", "# mfa_serial", "mfa_serial")
		code, out := s.stacker("build", "--profile", "master", "--stacks", "stacker-bucket", s.path("stacker.yaml"))
		if code != 1 {
			t.Fatalf("exit %d, want 1\n%s", code, out)
		}
		for _, want := range []string{"profile master", "arn:aws:iam::111111111111:mfa/admin", "--mfa-code", "STACKER_MFA_CODE"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		if s.stack("master", "stacker-bucket") != nil {
			t.Error("stacker-bucket was created")
		}
		// With a code it works, and the next run needs none (disk cache).
		code, out = s.stacker("build", "--profile", "master", "--mfa-code", s.env.TOTP(), "--stacks", "stacker-bucket", s.path("stacker.yaml"))
		if code != 0 {
			t.Fatalf("with --mfa-code: exit %d\n%s", code, out)
		}
		s.mustStacker("build", "--profile", "master", "--stacks", "stacker-bucket", s.path("stacker.yaml"))
		s.checkNoSecrets()
	})

	t.Run("no MFA code: no change even in targets that need none", func(t *testing.T) {
		s := newScenario(t)
		s.createRoles()
		s.longTermKeys()
		s.useExampleAWSConfig()
		s.edit(".aws/config", "# mfa_serial", "mfa_serial")
		admin, err := os.ReadFile(s.env.AWSConfigFile(t))
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(s.path(".aws/config"), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.Write(append([]byte("\n"), admin...))
		f.Close()
		if err := os.WriteFile(s.path("handle.yaml"), []byte(handleTemplate), 0o644); err != nil {
			t.Fatal(err)
		}
		mixed := "namespace: ''\nstacker_bucket: ''\nstacks:\n" +
			"  - name: free\n    profile: sandbox-stage\n    template_path: handle.yaml\n" +
			"  - name: guarded\n    profile: prod\n    template_path: handle.yaml\n"
		if err := os.WriteFile(s.path("mixed.yaml"), []byte(mixed), 0o644); err != nil {
			t.Fatal(err)
		}
		code, out := s.stacker("build", s.path("mixed.yaml"))
		if code != 1 || !strings.Contains(out, "--mfa-code") {
			t.Fatalf("exit %d\n%s", code, out)
		}
		if s.stack("stage", "free") != nil || s.stack("prod", "guarded") != nil {
			t.Error("a stack was created although the run could not get its MFA code")
		}
		s.checkNoSecrets()
	})

	t.Run("expired cached session is refreshed, not failed", func(t *testing.T) {
		s := newScenario(t)
		s.createRoles()
		s.longTermKeys()
		s.useExampleAWSConfig()
		s.edit(".aws/config", "# mfa_serial", "mfa_serial")
		s.mustStacker("build", "--profile", "master", "--mfa-code", s.env.TOTP(), "--stacks", "stacker-bucket", s.path("stacker.yaml"))
		files, _ := filepath.Glob(filepath.Join(s.cache, "*.json"))
		if len(files) < 2 {
			t.Fatalf("cache files: %v", files)
		}
		// Make every cached session expire in one minute (inside the
		// renewal window).
		soon := time.Now().Add(time.Minute).UTC().Format(time.RFC3339Nano)
		for _, f := range files {
			b, _ := os.ReadFile(f)
			i := bytes.Index(b, []byte(`"expires":"`))
			j := bytes.IndexByte(b[i+11:], '"')
			b = append(append(append([]byte{}, b[:i+11]...), soon...), b[i+11+j:]...)
			if err := os.WriteFile(f, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		code, out := s.stacker("build", "-v", "--profile", "master", "--mfa-code", s.env.TOTP(), "--stacks", "stacker-bucket", s.path("stacker.yaml"))
		if code != 0 || !strings.Contains(out, "cached credentials expired, renewing") {
			t.Fatalf("exit %d\n%s", code, out)
		}
		s.checkNoSecrets()
	})
}

// The sandbox's MFA device is the default one.
var _ = sandbox.DefaultMFASeed
