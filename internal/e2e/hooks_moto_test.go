package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/stacker-go/stacker/internal/target/ec2query"
	"github.com/stacker-go/stacker/internal/testkeys"
)

// hooksConfig runs every built-in hook moto implements (and a Python hook
// using boto3 with the credentials the bridge hands over) before a build;
// the stack reads their results through ${hook_data}.
const hooksConfig = `namespace: mh
stacker_bucket: ""
sys_path: ./lib
pre_build:
  - path: stacker.hooks.command.run_command
    data_key: version
    args:
      command: [sh, -c, "printf 4.5.6"]
      capture: true
  - path: stacker.hooks.aws_lambda.upload_lambda_functions
    data_key: lambda
    args:
      bucket: mh-artifacts
      functions:
        Fn:
          path: lambda
  - path: stacker.hooks.ecs.create_clusters
    data_key: ecs
    args:
      clusters: [mh-a, mh-b]
  - path: stacker.hooks.iam.create_ecs_service_role
  - path: stacker.hooks.route53.create_domain
    data_key: zone
    args:
      domain: mh.example.com
  - path: stacker.hooks.keypair.ensure_keypair_exists
    data_key: keypair
    args:
      keypair: mh-deploy
      ssm_parameter_name: /mh/deploy-key
  - path: stacker.hooks.iam.ensure_server_cert_exists
    data_key: cert
    args:
      cert_name: mh-www
      prompt: false
      path_to_certificate: certs/www.crt
      path_to_private_key: certs/www.key
  - path: pyhooks.make_bucket
    data_key: pybucket
    args:
      name: mh-from-python
post_destroy:
  - path: stacker.hooks.command.run_command
    args:
      command: [sh, -c, "echo post_destroy ran >&2"]
stacks:
  - name: app
    template_path: templates/app.yaml
    variables:
      Version: ${hook_data version::stdout}
      CodeKey: ${hook_data lambda::Fn.S3Key}
      ZoneId: ${hook_data zone::zone_id}
      KeyName: ${hook_data keypair::key_name}
      CertArn: ${hook_data cert::cert_arn}
      PyBucket: ${hook_data pybucket::bucket}
`

const hooksTemplate = `AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Version: {Type: String}
  CodeKey: {Type: String}
  ZoneId: {Type: String}
  KeyName: {Type: String}
  CertArn: {Type: String}
  PyBucket: {Type: String}
Resources:
  Handle:
    Type: AWS::CloudFormation::WaitConditionHandle
Outputs:
  Version: {Value: !Ref Version}
  CodeKey: {Value: !Ref CodeKey}
  ZoneId: {Value: !Ref ZoneId}
  KeyName: {Value: !Ref KeyName}
  CertArn: {Value: !Ref CertArn}
  PyBucket: {Value: !Ref PyBucket}
`

// pyHook is a stacker-style Python hook that makes an AWS call with boto3.
const pyHook = `def make_bucket(provider, context, **kwargs):
    s3 = provider.session.client("s3")
    s3.create_bucket(Bucket=kwargs["name"])
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    return {"bucket": kwargs["name"], "seen": kwargs["name"] in names, "region": provider.region}
`

func writeHooksProject(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	certPEM, keyPEM := testkeys.SelfSigned(t)
	files := map[string]string{
		"stacker.yaml":       hooksConfig,
		"templates/app.yaml": hooksTemplate,
		"lambda/index.py":    "def handler(event, context):\n    return 'hi'\n",
		"lib/pyhooks.py":     pyHook,
		"certs/www.crt":      string(certPEM),
		"certs/www.key":      string(keyPEM),
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestHooksAgainstMoto builds with every built-in hook moto implements and
// a Python hook calling boto3, checks what they made in moto and that the
// stack got their results; a second build creates and uploads nothing; a
// destroy runs the post_destroy hook after the stack is gone.
func TestHooksAgainstMoto(t *testing.T) {
	h := Start(t)
	dir := writeHooksProject(t)
	// The bridge's Python must have boto3: moto's own interpreter has it.
	env := []string{"STACKER_PYTHON=/root/.pyenv/shims/python3"}
	r := h.Run(t, dir, env, "build", "stacker.yaml")
	expectCode(t, r, 0)
	for _, want := range []string{
		"Running command: ['sh', '-c', 'printf 4.5.6']",
		"lambda: uploading object lambda-Fn-",
		`keypair: "mh-deploy" not found`, "keypair: mh-deploy (", ") created",
		`Storing generated key in SSM parameter "/mh/deploy-key" using KMS key "default"`,
		"uploaded certificate: mh-www (arn:aws:iam::",
	} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("first build lacks %q\n%s", want, r.Stderr)
		}
	}

	ctx := context.Background()
	cfg := awsCfg(h, "us-east-1")
	st, err := cloudformation.NewFromConfig(cfg).DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String("mh-app")})
	if err != nil {
		t.Fatal(err)
	}
	outs := map[string]string{}
	for _, o := range st.Stacks[0].Outputs {
		outs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	if outs["Version"] != "4.5.6" || !strings.HasPrefix(outs["CodeKey"], "lambda-Fn-") || outs["ZoneId"] == "" ||
		outs["KeyName"] != "mh-deploy" || !strings.HasSuffix(outs["CertArn"], ":server-certificate/mh-www") || outs["PyBucket"] != "mh-from-python" {
		t.Errorf("outputs %v", outs)
	}

	// What the hooks made, read back from moto.
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := s3c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("mh-artifacts"), Key: aws.String(outs["CodeKey"])}); err != nil {
		t.Errorf("lambda zip: %v", err)
	}
	if _, err := s3c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("mh-from-python")}); err != nil {
		t.Errorf("the Python hook's bucket: %v", err)
	}
	cl, err := ecs.NewFromConfig(cfg).DescribeClusters(ctx, &ecs.DescribeClustersInput{Clusters: []string{"mh-a", "mh-b"}})
	if err != nil || len(cl.Clusters) != 2 {
		t.Errorf("ECS clusters: %+v %v", cl, err)
	}
	ic := iam.NewFromConfig(cfg)
	if _, err := ic.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String("ecsServiceRole"), PolicyName: aws.String("AmazonEC2ContainerServiceRolePolicy")}); err != nil {
		t.Errorf("ECS service role policy: %v", err)
	}
	zones, err := route53.NewFromConfig(cfg).ListHostedZonesByName(ctx, &route53.ListHostedZonesByNameInput{DNSName: aws.String("mh.example.com.")})
	if err != nil || len(zones.HostedZones) == 0 || aws.ToString(zones.HostedZones[0].Name) != "mh.example.com." {
		t.Errorf("hosted zone: %+v %v", zones, err)
	}
	kps, err := ec2query.NewFromConfig(cfg).DescribeKeyPairs(ctx, &ec2query.DescribeKeyPairsInput{KeyNames: []string{"mh-deploy"}})
	if err != nil || len(kps.KeyPairs) != 1 {
		t.Errorf("key pair: %+v %v", kps, err)
	}
	p, err := ssm.NewFromConfig(cfg).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/mh/deploy-key"), WithDecryption: aws.Bool(true)})
	if err != nil || !strings.Contains(aws.ToString(p.Parameter.Value), "PRIVATE KEY") {
		t.Errorf("SSM parameter: %v", err)
	}
	if strings.Contains(r.Stderr, "PRIVATE KEY") {
		t.Error("a private key was printed")
	}

	// Again: everything exists, nothing is uploaded or created.
	r = h.Run(t, dir, env, "build", "stacker.yaml")
	expectCode(t, r, 0)
	for _, want := range []string{"already exists, not uploading", "keypair: mh-deploy (", ") exists", "certificate exists: mh-www ("} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("second build lacks %q\n%s", want, r.Stderr)
		}
	}
	if strings.Contains(r.Stderr, "lambda: uploading") || strings.Contains(r.Stderr, ") created") || strings.Contains(r.Stderr, "uploaded certificate") {
		t.Errorf("second build changed something\n%s", r.Stderr)
	}

	r = h.Run(t, dir, env, "destroy", "--force", "stacker.yaml")
	expectCode(t, r, 0)
	if i, j := strings.Index(r.Stderr, "Executing post_destroy hooks"), strings.Index(r.Stderr, "post_destroy ran"); i < 0 || j < i {
		t.Errorf("post_destroy did not run\n%s", r.Stderr)
	}
	if got, err := cloudformation.NewFromConfig(cfg).DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String("mh-app")}); err == nil &&
		len(got.Stacks) > 0 && got.Stacks[0].StackStatus != "DELETE_COMPLETE" {
		t.Errorf("the stack is still there after destroy: %s", got.Stacks[0].StackStatus)
	}
}
