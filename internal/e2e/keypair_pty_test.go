//go:build linux

package e2e

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"

	"github.com/stacker-go/stacker/internal/sandbox/sandboxtest"
	"github.com/stacker-go/stacker/internal/target/ec2query"
	"github.com/stacker-go/stacker/internal/testkeys"
)

// The keypair hook without public_key_path or ssm_parameter_name asks on
// the terminal whether to import or create the key pair. Driven through a
// pseudo-terminal with the built binary against the sandbox.

const keypairPTYConfig = `namespace: kpt
stacker_bucket: ""
pre_build:
  - path: stacker.hooks.keypair.ensure_keypair_exists
    data_key: kp
    args:
      keypair: ${keyname}
stacks:
  - name: app
    template_path: templates/chain.yaml
    variables:
      Input: ${hook_data kp::key_name}
`

func keyPairExists(t *testing.T, env *sandboxtest.Env, name string) bool {
	t.Helper()
	ctx := context.Background()
	kps, err := ec2query.NewFromConfig(env.AWSConfig(ctx, "prod")).DescribeKeyPairs(ctx, &ec2query.DescribeKeyPairsInput{})
	if err != nil {
		t.Fatalf("describe key pairs: %v", err)
	}
	for _, kp := range kps.KeyPairs {
		if kp.KeyName == name {
			return true
		}
	}
	return false
}

func TestKeypairHookAsksOnATerminal(t *testing.T) {
	env := sandboxtest.Start(t)
	dir := writeProject(t, keypairPTYConfig)

	t.Run("create", func(t *testing.T) {
		keys := filepath.Join(dir, "keys")
		if err := os.Mkdir(keys, 0o755); err != nil {
			t.Fatal(err)
		}
		run := startPTY(t, env, dir, []string{"NO_COLOR=1"}, "build", "--progress", "plain", "-e", "keyname=made", "stacker.yaml")
		run.expect(`keypair: "made" not found`)
		run.expect(`import or create keypair "made"? (import/create/cancel) `)
		run.send("create\n")
		run.expect("directory to save keyfile: ")
		run.send("keys\n")
		code, out := run.wait()
		if code != 0 {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		pemPath := filepath.Join(keys, "made.pem")
		fi, err := os.Stat(pemPath)
		if err != nil {
			t.Fatalf("no private key file: %v\n%s", err, out)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", pemPath, fi.Mode().Perm())
		}
		pem, err := os.ReadFile(pemPath)
		if err != nil || !bytes.Contains(pem, []byte("PRIVATE KEY")) {
			t.Fatalf("%s: %v\n%s", pemPath, err, pem)
		}
		if !strings.Contains(out, "keypair: made (") || !strings.Contains(out, ") created") {
			t.Errorf("no created line:\n%s", out)
		}
		if strings.Contains(out, "PRIVATE KEY") {
			t.Errorf("a private key header was printed:\n%s", out)
		}
		for _, line := range strings.Split(string(pem), "\n") {
			if len(line) >= 16 && !strings.HasPrefix(line, "-----") && strings.Contains(out, line) {
				t.Errorf("a line of the private key was printed: %q\n%s", line, out)
			}
		}
		if !keyPairExists(t, env, "made") {
			t.Error("key pair made does not exist in the sandbox")
		}
		if v := stackOutput(t, env, "kpt-app", "Value"); v != "made" {
			t.Errorf("stack's Value output %q, want made (the hook's key_name)", v)
		}
	})

	t.Run("import", func(t *testing.T) {
		pub := testkeys.SSHPublicKey(t)
		if err := os.WriteFile(filepath.Join(dir, "deploy.pub"), []byte(pub), 0o644); err != nil {
			t.Fatal(err)
		}
		run := startPTY(t, env, dir, []string{"NO_COLOR=1"}, "build", "--progress", "plain", "-e", "keyname=brought", "stacker.yaml")
		run.expect(`import or create keypair "brought"? (import/create/cancel) `)
		run.send("import\n")
		run.expect("path to keypair file: ")
		run.send("deploy.pub\n")
		code, out := run.wait()
		if code != 0 {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		if !strings.Contains(out, "keypair: brought (") || !strings.Contains(out, ") imported") {
			t.Errorf("no imported line:\n%s", out)
		}
		if !keyPairExists(t, env, "brought") {
			t.Error("key pair brought does not exist in the sandbox")
		}
		if v := stackOutput(t, env, "kpt-app", "Value"); v != "brought" {
			t.Errorf("stack's Value output %q, want brought", v)
		}
	})
}

// stackOutput is one output of a stack in the sandbox's prod account.
func stackOutput(t *testing.T, env *sandboxtest.Env, stack, key string) string {
	t.Helper()
	ctx := context.Background()
	st, err := cloudformation.NewFromConfig(env.AWSConfig(ctx, "prod")).DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(stack)})
	if err != nil || len(st.Stacks) != 1 {
		t.Fatalf("describe %s: %v", stack, err)
	}
	for _, o := range st.Stacks[0].Outputs {
		if aws.ToString(o.OutputKey) == key {
			return aws.ToString(o.OutputValue)
		}
	}
	return ""
}

const certPTYConfig = `namespace: crt
stacker_bucket: ""
pre_build:
  - path: stacker.hooks.iam.ensure_server_cert_exists
    data_key: cert
    args:
      cert_name: www
stacks:
  - name: app
    template_path: templates/chain.yaml
    variables:
      Input: ${hook_data cert::cert_arn}
`

// TestServerCertHookAsksOnATerminal answers the server-certificate hook's
// questions on a pseudo-terminal: yes, the certificate and key paths, no
// chain. The certificate is uploaded to the sandbox and its ARN reaches
// the stack; the private key is never printed.
func TestServerCertHookAsksOnATerminal(t *testing.T) {
	env := sandboxtest.Start(t)
	dir := writeProject(t, certPTYConfig)
	certPEM, keyPEM := testkeys.SelfSigned(t)
	if err := os.WriteFile(filepath.Join(dir, "www.crt"), certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "www.key"), keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}

	run := startPTY(t, env, dir, []string{"NO_COLOR=1"}, "build", "--progress", "plain", "stacker.yaml")
	run.expect("Certificate 'www' wasn't found. Upload it now? (yes/no) ")
	run.send("yes\n")
	run.expect("Path to certificate (skip): ")
	run.send("www.crt\n")
	run.expect("Path to private_key (skip): ")
	run.send("www.key\n")
	run.expect("Path to chain (skip): ")
	run.send("\n")
	code, out := run.wait()
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if !strings.Contains(out, "uploaded certificate: www (arn:aws:iam::") {
		t.Errorf("no uploaded line:\n%s", out)
	}
	for _, line := range strings.Split(string(keyPEM), "\n") {
		if len(line) >= 16 && strings.Contains(out, line) {
			t.Errorf("a line of the private key was printed: %q\n%s", line, out)
		}
	}
	if v := stackOutput(t, env, "crt-app", "Value"); !strings.HasSuffix(v, ":server-certificate/www") {
		t.Errorf("stack's Value output %q, want the certificate's ARN", v)
	}
}
