// Package demo owns `stacker demo`: the cross-account scenario of
// examples/cross-account run with this tool against an in-process sandbox.
// It never touches the process's environment or working directory: the
// environment each in-process stacker run sees is passed to it (Stacker),
// and paths are absolute. It does not know how the command line is built;
// internal/cli hands it a Stacker function.
package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	crossaccount "github.com/stacker-go/stacker/examples/cross-account"
	"github.com/stacker-go/stacker/internal/sandbox"
	"github.com/stacker-go/stacker/internal/target"
)

// Stacker runs the stacker command line in this process with args, the
// environment getenv (never the process's) and the given output streams,
// and returns its exit code.
type Stacker func(ctx context.Context, args []string, getenv func(string) string, out, errOut io.Writer) int

// Options are what `stacker demo` is given.
type Options struct {
	Keep    bool      // keep the working directory
	Verbose bool      // show the builds' status lines
	Out     io.Writer // the demo's narration (stdout)
	Stacker Stacker
}

// runEnv is the environment of the demo's stacker runs, changed step by step.
type runEnv struct {
	mu sync.Mutex
	m  map[string]string
}

func (e *runEnv) set(k, v string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.m[k] = v
}

func (e *runEnv) get(k string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.m[k]
}

// indentWriter prefixes every line (the builds' output inside the demo's).
type indentWriter struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
	bol    bool
}

func (w *indentWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var b bytes.Buffer
	for _, c := range p {
		if w.bol || b.Len() == 0 && w.bol {
			b.WriteString(w.prefix)
		}
		w.bol = false
		b.WriteByte(c)
		if c == '\n' {
			w.bol = true
		}
	}
	_, err := w.w.Write(b.Bytes())
	return len(p), err
}

// Run performs the demo. Its error says which step failed.
func Run(ctx context.Context, o Options) error {
	start := time.Now()
	out := o.Out
	step := func(n int, format string, args ...any) {
		fmt.Fprintf(out, "\n%d. %s\n", n, fmt.Sprintf(format, args...))
	}
	fail := func(what string, err error) error {
		return fmt.Errorf("demo: %s: %w", what, err)
	}

	// The sandbox, in this process, on a free local port.
	spec := sandbox.DefaultSpec()
	srv, err := sandbox.New(spec)
	if err != nil {
		return fail("start the sandbox", err)
	}
	url, err := srv.Start("127.0.0.1:0")
	if err != nil {
		return fail("start the sandbox", err)
	}
	defer func() {
		// The listener closes at once; Close then waits (up to 2 s) for
		// connections the SDK dialled but never used. Wait briefly: the
		// process exits right after, and nothing accepts connections.
		done := make(chan struct{})
		go func() { _ = srv.Close(); close(done) }()
		select {
		case <-done:
		case <-time.After(300 * time.Millisecond):
		}
	}()
	master, prod, stage := "111111111111", "222222222222", "333333333333"
	fmt.Fprintf(out, "stacker demo: the cross-account example against a sandbox at %s\n", url)
	fmt.Fprintf(out, "accounts: master %s, prod %s, stage %s\n", master, prod, stage)

	dir, err := os.MkdirTemp("", "stacker-demo-")
	if err != nil {
		return fail("make a working directory", err)
	}
	if o.Keep {
		defer fmt.Fprintf(out, "\nworking directory kept: %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	if err := fs.WalkDir(crossaccount.Files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := crossaccount.Files.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, p), b, 0o644)
	}); err != nil {
		return fail("copy the example", err)
	}
	adminConfig := filepath.Join(dir, "sandbox-admin.ini")
	if err := srv.WriteAWSConfig(adminConfig); err != nil {
		return fail("write the sandbox AWS config", err)
	}

	// Only what the runs need: nothing of the process's AWS_* or STACKER_*
	// variables leaks in.
	env := &runEnv{m: map[string]string{
		"AWS_ENDPOINT_URL":            url,
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "no-credentials"),
		"AWS_EC2_METADATA_DISABLED":   "true",
		// The sandbox's stacks live only as long as the demo: no deploy
		// records for them in the user's cache.
		"STACKER_NO_DEPLOY_CACHE": "1",
	}}

	var buildOut io.Writer = io.Discard
	if o.Verbose {
		buildOut = &indentWriter{w: out, prefix: "   | ", bol: true}
	}
	var lastErr bytes.Buffer
	stacker := func(args ...string) error {
		lastErr.Reset()
		errOut := io.MultiWriter(buildOut, &lastErr)
		fmt.Fprintf(out, "   $ %s\n", strings.Join(append([]string{"stacker"}, args...), " "))
		args = append(args[:1:1], append([]string{"--no-credential-cache"}, args[1:]...)...)
		// Config paths are absolute: the demo never changes directory.
		if last := len(args) - 1; strings.HasSuffix(args[last], ".yaml") {
			args[last] = filepath.Join(dir, args[last])
		}
		if code := o.Stacker(ctx, args, env.get, buildOut, errOut); code != 0 {
			return fmt.Errorf("stacker %s exited %d:\n%s", args[0], code, strings.TrimSpace(lastErr.String()))
		}
		return nil
	}
	// 1. The Stacker roles, with each account's administrator.
	step(1, "Stacker roles in master, prod and stage from templates/stacker-role.yaml (administrator profiles)")
	env.set("AWS_CONFIG_FILE", adminConfig)
	if err := stacker("build", "roles.yaml"); err != nil {
		return fail("create the Stacker roles", err)
	}

	// 2. An MFA session from the master user's long-term keys.
	key := sandbox.DefaultAccessKey(master)
	serial := "arn:aws:iam::" + master + ":mfa/admin"
	step(2, "MFA session: sts:GetSessionToken with the virtual MFA device %s", serial)
	stsClient := sts.NewFromConfig(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider(key.ID, key.Secret, "")})
	sess, err := stsClient.GetSessionToken(ctx, &sts.GetSessionTokenInput{
		SerialNumber: aws.String(serial), TokenCode: aws.String(sandbox.TOTP(sandbox.DefaultMFASeed, time.Now())),
	})
	if err != nil {
		return fail("get an MFA session", err)
	}
	env.set("AWS_ACCESS_KEY_ID", aws.ToString(sess.Credentials.AccessKeyId))
	env.set("AWS_SECRET_ACCESS_KEY", aws.ToString(sess.Credentials.SecretAccessKey))
	env.set("AWS_SESSION_TOKEN", aws.ToString(sess.Credentials.SessionToken))
	fmt.Fprintf(out, "   exported as AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (credential_source = Environment), expires %s\n",
		aws.ToTime(sess.Credentials.Expiration).UTC().Format(time.RFC3339))

	// 3. The template bucket in master.
	env.set("AWS_CONFIG_FILE", filepath.Join(dir, ".aws", "config"))
	step(3, "the template bucket in master, readable by the sub-accounts' Stacker roles")
	if err := stacker("build", "--profile", "master", "--stacks", "stacker-bucket", "stacker.yaml"); err != nil {
		return fail("build the bucket stack", err)
	}
	targets := target.NewFactory(target.Options{NoCache: true, Getenv: env.get})
	describe := func(profile, stack string) (*cloudformation.DescribeStacksOutput, error) {
		client, err := targets.CloudFormation(ctx, target.Key{Profile: profile})
		if err != nil {
			return nil, err
		}
		return client.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(stack)})
	}
	bs, err := describe("master", "stacker-bucket")
	if err != nil {
		return fail("read the bucket stack", err)
	}
	bucket := ""
	for _, op := range bs.Stacks[0].Outputs {
		if aws.ToString(op.OutputKey) == "BucketId" {
			bucket = aws.ToString(op.OutputValue)
		}
	}
	if bucket == "" {
		return fail("read the bucket stack", errors.New("no BucketId output"))
	}
	cfgPath := filepath.Join(dir, "stacker.yaml")
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		return fail("read stacker.yaml", err)
	}
	b = bytes.Replace(b, []byte("stacker_bucket: ''"), []byte("stacker_bucket: "+bucket), 1)
	if err := os.WriteFile(cfgPath, b, 0o644); err != nil {
		return fail("write stacker.yaml", err)
	}
	fmt.Fprintf(out, "   bucket %s; stacker.yaml now has stacker_bucket: %s\n", bucket, bucket)

	// 4. Everything: the VPCs in prod and stage through the bucket.
	step(4, "the full build: a VPC in prod and one in stage, templates read from the master bucket")
	if err := stacker("build", "--profile", "master", "stacker.yaml"); err != nil {
		return fail("build the VPC stacks", err)
	}

	// 5. Proof: each stack lives in its own account.
	step(5, "where the stacks live")
	for _, s := range []struct{ profile, stack, want string }{{"master", "stacker-bucket", master}, {"prod", "vpc", prod}, {"stage", "vpc", stage}} {
		d, err := describe(s.profile, s.stack)
		if err != nil {
			return fail("describe "+s.stack+" in "+s.profile, err)
		}
		st := d.Stacks[0]
		id := aws.ToString(st.StackId)
		acct := ""
		if a, err := arn.Parse(id); err == nil {
			acct = a.AccountID
		}
		if acct != s.want {
			return fail("check accounts", fmt.Errorf("stack %s of profile %s is in account %q, want %s", s.stack, s.profile, acct, s.want))
		}
		extra := ""
		for _, op := range st.Outputs {
			if aws.ToString(op.OutputKey) == "VpcId" {
				extra = " VpcId " + aws.ToString(op.OutputValue)
			}
		}
		fmt.Fprintf(out, "   %-6s %-15s %-16s account %s%s\n", s.profile, s.stack, st.StackStatus, acct, extra)
		fmt.Fprintf(out, "          %s\n", id)
	}

	fmt.Fprintf(out, "\nDone in %.1fs: one run of roles, one MFA session, a bucket in master, two VPCs in two accounts; stopping the sandbox.\n",
		time.Since(start).Seconds())
	fmt.Fprint(out, `
Try next:
  stacker demo --verbose --keep        the same, with every build's status lines, keeping the files
  stacker sandbox serve --aws-config-out admin-profiles.ini
                                       a long-running sandbox with a profile per account
  examples/cross-account/README.md     the scenario step by step, against AWS or that sandbox
                                       (then: stacker doctor --profile master stacker.yaml)
  docs/cross-account.md                profiles, MFA (one prompt per device per run), the credential cache, the account guard
`)
	return nil
}
