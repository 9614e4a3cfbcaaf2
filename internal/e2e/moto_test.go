package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func TestMain(m *testing.M) {
	code := m.Run()
	Stop()
	os.Exit(code)
}

// chainTemplate passes Input through to the Value output and always
// outputs the same Static value. Every parameter is always given: moto
// answers HTTP 500 to UsePreviousValue on a parameter that took its default.
const chainTemplate = `AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Input:
    Type: String
Resources:
  Handle:
    Type: AWS::CloudFormation::WaitConditionHandle
Outputs:
  Value:
    Value: !Ref Input
  Static:
    Value: fixed
`

func writeProject(t *testing.T, config string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "templates"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "templates", "chain.yaml"), []byte(chainTemplate), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "stacker.yaml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func awsCfg(h *Harness, region string) aws.Config {
	return aws.Config{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider("testing", "testing", ""),
		BaseEndpoint: aws.String(h.URL),
	}
}

// statusLines keeps the "<name>: <status>" lines of the given stacks.
func statusLines(r Result, names ...string) []string {
	var out []string
	for _, l := range r.Lines() {
		for _, n := range names {
			if strings.HasPrefix(l, n+": ") {
				out = append(out, l)
			}
		}
	}
	return out
}

func expectCode(t *testing.T, r Result, code int) {
	t.Helper()
	if r.Code != code {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.Code, code, r.Stdout, r.Stderr)
	}
}

func TestChainBuildNochangeUpdateInfoDestroy(t *testing.T) {
	h := Start(t)
	dir := writeProject(t, `namespace: chain
stacks:
  - name: one
    template_path: templates/chain.yaml
    variables:
      Input: ${first}
  - name: two
    template_path: templates/chain.yaml
    variables:
      Input: ${output one::Value}-two
  - name: three
    template_path: templates/chain.yaml
    variables:
      Input: ${output two::Static}-three
`)
	names := []string{"one", "two", "three"}
	r := h.Run(t, dir, nil, "build", "-e", "first=a", "stacker.yaml")
	expectCode(t, r, 0)
	want := []string{
		"one: submitted (creating new stack)", "one: complete (creating new stack)",
		"two: submitted (creating new stack)", "two: complete (creating new stack)",
		"three: submitted (creating new stack)", "three: complete (creating new stack)",
	}
	if got := statusLines(r, names...); !slices.Equal(got, want) {
		t.Fatalf("first build:\n got %q\nwant %q", got, want)
	}

	r = h.Run(t, dir, nil, "build", "-e", "first=a", "stacker.yaml")
	expectCode(t, r, 0)
	want = []string{"one: skipped (nochange)", "two: skipped (nochange)", "three: skipped (nochange)"}
	if got := statusLines(r, names...); !slices.Equal(got, want) {
		t.Fatalf("second build:\n got %q\nwant %q", got, want)
	}

	// diff shows what would change, changes nothing, and leaves no change set.
	r = h.Run(t, dir, nil, "diff", "-e", "first=z", "stacker.yaml")
	expectCode(t, r, 0)
	for _, s := range []string{"chain-one changes:", "-Input = a", "+Input = z", "No changes: chain-three"} {
		if !strings.Contains(r.Stdout, s) {
			t.Errorf("diff lacks %q:\n%s", s, r.Stdout)
		}
	}
	if got := statusLines(r, names...); !slices.Equal(got, []string{"one: complete", "two: complete", "three: complete"}) {
		t.Errorf("diff statuses %q", got)
	}

	// one's variable changes: two's input changes with it, three's does not.
	r = h.Run(t, dir, nil, "build", "-e", "first=b", "stacker.yaml")
	expectCode(t, r, 0)
	want = []string{
		"one: submitted (updating existing stack)", "one: complete (updating existing stack)",
		"two: submitted (updating existing stack)", "two: complete (updating existing stack)",
		"three: skipped (nochange)",
	}
	if got := statusLines(r, names...); !slices.Equal(got, want) {
		t.Fatalf("changed build:\n got %q\nwant %q", got, want)
	}

	// Templates travelled through the default bucket stacker-<namespace>.
	s3c := s3.NewFromConfig(awsCfg(h, "us-east-1"), func(o *s3.Options) { o.UsePathStyle = true })
	objs, err := s3c.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String("stacker-chain"), Prefix: aws.String("stack_templates/chain-one/one-")})
	if err != nil {
		t.Fatalf("list template bucket: %v", err)
	}
	if len(objs.Contents) == 0 || !strings.HasSuffix(aws.ToString(objs.Contents[0].Key), ".yaml") {
		t.Errorf("no yaml template under stack_templates/chain-one/: %+v", objs.Contents)
	}

	r = h.Run(t, dir, nil, "info", "-e", "first=b", "stacker.yaml")
	expectCode(t, r, 0)
	for _, s := range []string{"chain-one:", "\tValue: b", "chain-two:", "\tValue: b-two", "chain-three:", "\tValue: fixed-three"} {
		if !strings.Contains(r.Stdout+r.Stderr, s) {
			t.Errorf("info lacks %q:\n%s%s", s, r.Stdout, r.Stderr)
		}
	}
	r = h.Run(t, dir, nil, "info", "--json", "-e", "first=b", "--stacks", "two", "stacker.yaml")
	expectCode(t, r, 0)
	var infos []struct {
		Name    string
		FQN     string
		Outputs map[string]string
	}
	if err := json.Unmarshal([]byte(r.Stdout), &infos); err != nil {
		t.Fatalf("info --json: %v\n%s", err, r.Stdout)
	}
	if len(infos) != 1 || infos[0].Name != "two" || infos[0].Outputs["Value"] != "b-two" {
		t.Errorf("info --json --stacks two: %+v", infos)
	}

	r = h.Run(t, dir, nil, "destroy", "-e", "first=b", "stacker.yaml")
	expectCode(t, r, 0)
	if got := statusLines(r, names...); len(got) != 0 {
		t.Errorf("destroy without --force changed stacks: %q", got)
	}
	r = h.Run(t, dir, nil, "destroy", "--force", "-e", "first=b", "stacker.yaml")
	expectCode(t, r, 0)
	want = []string{
		"three: submitted (submitted for destruction)", "three: complete (stack destroyed)",
		"two: submitted (submitted for destruction)", "two: complete (stack destroyed)",
		"one: submitted (submitted for destruction)", "one: complete (stack destroyed)",
	}
	if got := statusLines(r, names...); !slices.Equal(got, want) {
		t.Fatalf("destroy:\n got %q\nwant %q", got, want)
	}
	r = h.Run(t, dir, nil, "destroy", "--force", "-e", "first=b", "stacker.yaml")
	expectCode(t, r, 0)
	want = []string{"three: skipped (does not exist in cloudformation)", "two: skipped (does not exist in cloudformation)", "one: skipped (does not exist in cloudformation)"}
	if got := statusLines(r, names...); !slices.Equal(got, want) {
		t.Fatalf("second destroy:\n got %q\nwant %q", got, want)
	}
}

func TestTwoRegionsLockedDisabledAndTail(t *testing.T) {
	h := Start(t)
	dir := writeProject(t, `namespace: tworeg
stacker_bucket_region: us-east-1
stacks:
  - name: east
    template_path: templates/chain.yaml
    region: us-east-1
    variables:
      Input: e
  - name: west
    template_path: templates/chain.yaml
    region: us-west-2
    variables:
      Input: ${output east::Value}-w
  - name: off
    template_path: templates/chain.yaml
    enabled: false
    variables:
      Input: x
`)
	r := h.Run(t, dir, nil, "build", "--tail", "-j", "1", "stacker.yaml")
	expectCode(t, r, 0)
	if got := statusLines(r, "off"); !slices.Equal(got, []string{"off: skipped (disabled)"}) {
		t.Errorf("disabled: %q", got)
	}
	if !strings.Contains(r.Stderr, "[west] ") || !strings.Contains(r.Stderr, "CREATE_COMPLETE") {
		t.Errorf("--tail printed no events:\n%s", r.Stderr)
	}
	for region, fqn := range map[string]string{"us-east-1": "tworeg-east", "us-west-2": "tworeg-west"} {
		c := cloudformation.NewFromConfig(awsCfg(h, region))
		out, err := c.DescribeStacks(context.Background(), &cloudformation.DescribeStacksInput{StackName: aws.String(fqn)})
		if err != nil || len(out.Stacks) != 1 {
			t.Fatalf("%s not in %s: %v", fqn, region, err)
		}
		if region == "us-west-2" {
			if v := aws.ToString(out.Stacks[0].Outputs[0].OutputValue) + aws.ToString(out.Stacks[0].Outputs[1].OutputValue); !strings.Contains(v, "e-w") {
				t.Errorf("west outputs %v", v)
			}
		}
	}
	// The west stack is not in us-east-1.
	c := cloudformation.NewFromConfig(awsCfg(h, "us-east-1"))
	if _, err := c.DescribeStacks(context.Background(), &cloudformation.DescribeStacksInput{StackName: aws.String("tworeg-west")}); err == nil {
		t.Error("tworeg-west also exists in us-east-1")
	}

	// Lock east: it is skipped, and west still reads its outputs.
	cfg, _ := os.ReadFile(filepath.Join(dir, "stacker.yaml"))
	locked := strings.Replace(string(cfg), "    region: us-east-1\n", "    region: us-east-1\n    locked: true\n", 1)
	locked = strings.Replace(locked, "Input: e\n", "Input: changed\n", 1)
	if err := os.WriteFile(filepath.Join(dir, "stacker.yaml"), []byte(locked), 0o644); err != nil {
		t.Fatal(err)
	}
	r = h.Run(t, dir, nil, "build", "stacker.yaml")
	expectCode(t, r, 0)
	if got := statusLines(r, "east", "west"); !slices.Equal(got, []string{"east: skipped (locked)", "west: skipped (nochange)"}) {
		t.Errorf("locked build: %q", got)
	}
	r = h.Run(t, dir, nil, "build", "--force", "east", "stacker.yaml")
	expectCode(t, r, 0)
	if got := statusLines(r, "east", "west"); !slices.Contains(got, "east: complete (updating existing stack)") || !slices.Contains(got, "west: complete (updating existing stack)") {
		t.Errorf("forced build: %q", got)
	}
}

func TestInlineTemplatesAndFailures(t *testing.T) {
	h := Start(t)
	dir := writeProject(t, `namespace: inl
stacker_bucket: ""
stacks:
  - name: a
    template_path: templates/chain.yaml
    variables:
      Input: x
  - name: b
    template_path: templates/chain.yaml
    variables:
      Input: ${output a::Value}
  - name: c
    template_path: templates/chain.yaml
    variables:
      Input: y
`)
	r := h.Run(t, dir, nil, "build", "stacker.yaml")
	expectCode(t, r, 0)
	// No bucket was created for inline templates.
	s3c := s3.NewFromConfig(awsCfg(h, "us-east-1"), func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := s3c.HeadBucket(context.Background(), &s3.HeadBucketInput{Bucket: aws.String("stacker-inl")}); err == nil {
		t.Error("bucket stacker-inl exists although stacker_bucket is ''")
	}
	// A template over 51,200 bytes fails before any call; its dependants
	// fail, the independent branch goes on; exit 1 with stacker's summary.
	big := chainTemplate + "Metadata:\n  Pad: " + strings.Repeat("x", 52000) + "\n"
	if err := os.WriteFile(filepath.Join(dir, "templates", "chain.yaml"), []byte(big), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, _ := os.ReadFile(filepath.Join(dir, "stacker.yaml"))
	os.WriteFile(filepath.Join(dir, "templates", "small.yaml"), []byte(chainTemplate), 0o644)
	os.WriteFile(filepath.Join(dir, "stacker.yaml"), []byte(strings.Replace(string(cfg), "Input: y", "Input: z", 1)+""), 0o644)
	cfgs := strings.Replace(string(cfg), "Input: y", "Input: z", 1)
	cfgs = strings.Replace(cfgs, "  - name: c\n    template_path: templates/chain.yaml", "  - name: c\n    template_path: templates/small.yaml", 1)
	os.WriteFile(filepath.Join(dir, "stacker.yaml"), []byte(cfgs), 0o644)
	// The preflight finds it before any change (issue 9): exit 2, the
	// problem named at the stack's line, and no stack touched, not even the
	// independent c.
	r = h.Run(t, dir, nil, "build", "stacker.yaml")
	expectCode(t, r, 2)
	if got := statusLines(r, "a", "b", "c"); len(got) != 0 {
		t.Errorf("statuses %q, want none: nothing may start", got)
	}
	if !strings.Contains(r.Stderr, "stacker.yaml:") || !strings.Contains(r.Stderr, "51200 bytes inline") || !strings.Contains(r.Stderr, "set a stacker_bucket") {
		t.Errorf("no size message:\n%s", r.Stderr)
	}
}
