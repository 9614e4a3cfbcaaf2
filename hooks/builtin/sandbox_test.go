package builtin_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/stacker-go/stacker/internal/cli"
	"github.com/stacker-go/stacker/internal/sandbox/sandboxtest"
	"github.com/stacker-go/stacker/internal/target/ec2query"
	"github.com/stacker-go/stacker/internal/testkeys"
)

const keypairConfig = `namespace: kp
stacker_bucket: ""
pre_build:
  - path: stacker.hooks.keypair.ensure_keypair_exists
    data_key: generated
    args:
      keypair: generated
      ssm_parameter_name: /kp/generated
  - path: stacker.hooks.keypair.ensure_keypair_exists
    data_key: imported
    args:
      keypair: imported
      public_key_path: keys/deploy.pub
      profile: sandbox-stage
  - path: stacker.hooks.iam.ensure_server_cert_exists
    data_key: cert
    args:
      cert_name: www
      prompt: false
      path_to_certificate: certs/www.crt
      path_to_private_key: certs/www.key
stacks:
  - name: app
    template_path: app.yaml
    variables:
      KeyName: ${hook_data generated::key_name}
      CertArn: ${hook_data cert::cert_arn}
`

const keypairTemplate = `Parameters:
  KeyName: {Type: String}
  CertArn: {Type: String}
Resources:
  Handle: {Type: "AWS::CloudFormation::WaitConditionHandle"}
Outputs:
  KeyName: {Value: !Ref KeyName}
  CertArn: {Value: !Ref CertArn}
`

// TestKeypairAndServerCertHooksAgainstTheSandbox builds a config whose
// pre_build hooks create a key pair (private key into SSM), import a
// public key in another account (the hook's profile) and upload a server
// certificate; the stack reads their results. A second build finds all
// three existing.
func TestKeypairAndServerCertHooksAgainstTheSandbox(t *testing.T) {
	env := sandboxtest.Start(t)
	dir := t.TempDir()
	cert, key := testkeys.SelfSigned(t)
	files := map[string][]byte{
		"stacker.yaml": []byte(keypairConfig), "app.yaml": []byte(keypairTemplate),
		"keys/deploy.pub": []byte(testkeys.SSHPublicKey(t)), "certs/www.crt": cert, "certs/www.key": key,
	}
	for name, b := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, kv := range env.Env(t) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	t.Setenv("HOME", dir)
	t.Setenv("STACKER_NO_CREDENTIAL_CACHE", "1")
	t.Setenv("STACKER_STACK_POLL_TIME", "1")
	t.Setenv("NO_COLOR", "1")
	build := func() string {
		t.Helper()
		var out, errOut bytes.Buffer
		code := cli.Run(context.Background(), []string{"build", filepath.Join(dir, "stacker.yaml"), "-p", "sandbox-prod", "-r", "us-east-1"},
			cli.IO{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
		if code != 0 {
			t.Fatalf("build: exit %d\n%s", code, errOut.String())
		}
		return errOut.String()
	}
	first := build()
	for _, want := range []string{`keypair: "generated" not found`, "keypair: generated (", ") created",
		`Storing generated key in SSM parameter "/kp/generated" using KMS key "default"`, ") imported", "uploaded certificate: www (arn:aws:iam::"} {
		if !strings.Contains(first, want) {
			t.Errorf("first build lacks %q:\n%s", want, first)
		}
	}
	if strings.Contains(first, "PRIVATE KEY") {
		t.Errorf("a private key was printed:\n%s", first)
	}

	ctx := context.Background()
	prod := env.AWSConfig(ctx, "prod")
	p, err := ssm.NewFromConfig(prod).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/kp/generated"), WithDecryption: aws.Bool(true)})
	if err != nil || !strings.Contains(aws.ToString(p.Parameter.Value), "PRIVATE KEY") || p.Parameter.Type != "SecureString" {
		t.Fatalf("SSM parameter: %+v %v", p, err)
	}
	for account, name := range map[string]string{"prod": "generated", "stage": "imported"} {
		kps, err := ec2query.NewFromConfig(env.AWSConfig(ctx, account)).DescribeKeyPairs(ctx, &ec2query.DescribeKeyPairsInput{KeyNames: []string{name}})
		if err != nil || len(kps.KeyPairs) != 1 {
			t.Errorf("key pair %s in %s: %+v %v", name, account, kps, err)
		}
	}
	cf := cloudformation.NewFromConfig(prod)
	st, err := cf.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String("kp-app")})
	if err != nil {
		t.Fatal(err)
	}
	outs := map[string]string{}
	for _, o := range st.Stacks[0].Outputs {
		outs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	if outs["KeyName"] != "generated" || !strings.HasPrefix(outs["CertArn"], "arn:aws:iam::") || !strings.HasSuffix(outs["CertArn"], ":server-certificate/www") {
		t.Errorf("outputs %v", outs)
	}

	second := build()
	for _, want := range []string{") exists", "certificate exists: www (arn:aws:iam::"} {
		if strings.Count(second, want) < 1 {
			t.Errorf("second build lacks %q:\n%s", want, second)
		}
	}
	if strings.Count(second, ") exists") != 2 || strings.Contains(second, "created") || strings.Contains(second, "uploaded") {
		t.Errorf("second build changed something:\n%s", second)
	}
}
