package cloudformation

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	cfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
)

func motoPath() (string, error) {
	if p, err := exec.LookPath("moto_server"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/root/.pyenv/shims/moto_server"); err == nil {
		return "/root/.pyenv/shims/moto_server", nil
	}
	return "", fmt.Errorf("moto_server not found on PATH (STACKER_REQUIRE_MOTO=1)")
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startMoto starts moto_server on a free port, or skips when moto is not
// installed (unless STACKER_REQUIRE_MOTO=1).
func startMoto(t *testing.T) string {
	t.Helper()
	bin, err := motoPath()
	if err != nil {
		if os.Getenv("STACKER_REQUIRE_MOTO") == "1" {
			t.Fatal(err)
		}
		t.Skip("moto_server is not installed; set STACKER_REQUIRE_MOTO=1 to require it")
	}
	port := freePort(t)
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	cmd.Stdout, cmd.Stderr = nil, nil
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
	})
	u := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(u + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			return u
		}
		if time.Now().After(deadline) {
			t.Fatalf("moto_server did not start: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

const agreeTemplate = `AWSTemplateFormatVersion: "2010-09-09"
Description: agreement
Parameters:
  Env:
    Type: String
    Default: dev
Conditions:
  IsProd: !Equals [!Ref Env, prod]
Mappings:
  Sizes:
    dev: {Size: small}
    prod: {Size: large}
Resources:
  Handle:
    Type: AWS::CloudFormation::WaitConditionHandle
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: !Sub "agree-${Env}"
Outputs:
  Env:
    Value: !Ref Env
  Size:
    Value: !FindInMap [Sizes, !Ref Env, Size]
  Joined:
    Value: !Join ["-", [a, !Ref Env, !Select [1, [x, y, z]]]]
  Sub:
    Value: !Sub "${AWS::StackName}-${AWS::Region}"
  TopicName:
    Value: !GetAtt Topic.TopicName
  Prod:
    Condition: IsProd
    Value: prod-only
    Export:
      Name: !Sub "${AWS::StackName}-prod"
`

type agreement struct {
	Status       []string
	Outputs      []map[string]string
	Description  string
	DeletedError string
	Exports      []string
}

func runAgreement(t *testing.T, c *cfn.Client) agreement {
	ctx := context.Background()
	var a agreement
	wait := func() types.Stack {
		deadline := time.Now().Add(30 * time.Second)
		for {
			out, err := c.DescribeStacks(ctx, &cfn.DescribeStacksInput{StackName: aws.String("agree")})
			if err != nil {
				t.Fatal(err)
			}
			st := out.Stacks[0]
			if !strings.HasSuffix(string(st.StackStatus), "_IN_PROGRESS") {
				return st
			}
			if time.Now().After(deadline) {
				t.Fatalf("stuck %s", st.StackStatus)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if _, err := c.CreateStack(ctx, &cfn.CreateStackInput{StackName: aws.String("agree"), TemplateBody: aws.String(agreeTemplate)}); err != nil {
		t.Fatal(err)
	}
	st := wait()
	a.Status = append(a.Status, string(st.StackStatus))
	a.Outputs = append(a.Outputs, outputsMap(st))
	a.Description = aws.ToString(st.Description)
	if _, err := c.UpdateStack(ctx, &cfn.UpdateStackInput{StackName: aws.String("agree"), TemplateBody: aws.String(agreeTemplate),
		Parameters: []types.Parameter{{ParameterKey: aws.String("Env"), ParameterValue: aws.String("prod")}}}); err != nil {
		t.Fatal(err)
	}
	st = wait()
	a.Status = append(a.Status, string(st.StackStatus))
	a.Outputs = append(a.Outputs, outputsMap(st))
	_, err := c.UpdateStack(ctx, &cfn.UpdateStackInput{StackName: aws.String("agree"), TemplateBody: aws.String(agreeTemplate),
		Parameters: []types.Parameter{{ParameterKey: aws.String("Env"), ParameterValue: aws.String("prod")}}})
	code, msg := apiCode(err)
	a.Status = append(a.Status, code+": "+msg)
	if _, err := c.DeleteStack(ctx, &cfn.DeleteStackInput{StackName: aws.String("agree")}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := c.DescribeStacks(ctx, &cfn.DescribeStacksInput{StackName: aws.String("agree")})
		if err != nil {
			code, msg := apiCode(err)
			a.DeletedError = code + ": " + msg
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("stack not deleted")
		}
		time.Sleep(5 * time.Millisecond)
	}
	ex, err := c.ListExports(ctx, &cfn.ListExportsInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ex.Exports {
		a.Exports = append(a.Exports, aws.ToString(e.Name))
	}
	sort.Strings(a.Exports)
	return a
}

// TestMotoAgreement runs the happy path against moto_server and the
// sandbox; results must agree where moto is right (moto registers no
// exports from UpdateStack, so exports are not compared).
func TestMotoAgreement(t *testing.T) {
	motoURL := startMoto(t)
	moto := cfn.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", ""),
		BaseEndpoint: aws.String(motoURL), RetryMaxAttempts: 1})
	h := newHarness(t)
	got := runAgreement(t, h.client("AKIDA"))
	want := runAgreement(t, moto)
	got.Exports, want.Exports = nil, nil
	// moto does not replace a resource whose name changes through !Sub on
	// update (it keeps the old topic): compare the name only after create
	delete(got.Outputs[1], "TopicName")
	delete(want.Outputs[1], "TopicName")
	g, _ := json.MarshalIndent(got, "", " ")
	w, _ := json.MarshalIndent(want, "", " ")
	if string(g) != string(w) {
		t.Errorf("sandbox and moto disagree:\nsandbox: %s\nmoto:    %s", g, w)
	}
}

// TestAWSCLI drives the sandbox with the AWS CLI v1: every response must parse.
func TestAWSCLI(t *testing.T) {
	bin, err := exec.LookPath("aws")
	if err != nil {
		if os.Getenv("STACKER_REQUIRE_AWSCLI") == "1" {
			t.Fatal(err)
		}
		t.Skip("aws CLI not installed; set STACKER_REQUIRE_AWSCLI=1 to require it")
	}
	h := newHarness(t)
	dir := t.TempDir()
	tpl := filepath.Join(dir, "t.yaml")
	if err := os.WriteFile(tpl, []byte(dummyYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "AWS_ACCESS_KEY_ID=AKIDA", "AWS_SECRET_ACCESS_KEY=secret", "AWS_DEFAULT_REGION=us-east-1",
		"AWS_CONFIG_FILE="+filepath.Join(dir, "none"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "none"), "AWS_PAGER=")
	awsCLI := func(wantOK bool, args ...string) map[string]any {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"--endpoint-url", h.srv.URL, "--output", "json", "cloudformation"}, args...)...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if wantOK && err != nil {
			t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		if !wantOK {
			if err == nil {
				t.Fatalf("aws %s succeeded", strings.Join(args, " "))
			}
			return map[string]any{"error": string(out)}
		}
		m := map[string]any{}
		if len(strings.TrimSpace(string(out))) > 0 {
			if err := json.Unmarshal(out, &m); err != nil {
				t.Fatalf("aws %s: output is not JSON: %v\n%s", strings.Join(args, " "), err, out)
			}
		}
		return m
	}
	awsCLI(true, "create-stack", "--stack-name", "cli", "--template-body", "file://"+tpl, "--tags", "Key=a,Value=b")
	deadline := time.Now().Add(30 * time.Second)
	for {
		m := awsCLI(true, "describe-stacks", "--stack-name", "cli")
		st := m["Stacks"].([]any)[0].(map[string]any)
		if st["StackStatus"] == "CREATE_COMPLETE" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status %v", st["StackStatus"])
		}
		time.Sleep(10 * time.Millisecond)
	}
	awsCLI(true, "describe-stack-events", "--stack-name", "cli")
	awsCLI(true, "list-stack-resources", "--stack-name", "cli")
	awsCLI(true, "get-template-summary", "--stack-name", "cli")
	if e := awsCLI(false, "update-stack", "--stack-name", "cli", "--use-previous-template")["error"].(string); !strings.Contains(e, "No updates are to be performed.") {
		t.Errorf("no-op update via CLI: %s", e)
	}
	awsCLI(true, "create-change-set", "--stack-name", "cli", "--change-set-name", "c1", "--use-previous-template", "--parameters", "ParameterKey=Env,ParameterValue=prod")
	time.Sleep(50 * time.Millisecond)
	awsCLI(true, "describe-change-set", "--stack-name", "cli", "--change-set-name", "c1")
	awsCLI(true, "list-change-sets", "--stack-name", "cli")
	awsCLI(true, "set-stack-policy", "--stack-name", "cli", "--stack-policy-body", `{"Statement":[{"Effect":"Allow","Action":"Update:*","Principal":"*","Resource":"*"}]}`)
	awsCLI(true, "update-termination-protection", "--stack-name", "cli", "--no-enable-termination-protection")
	d := awsCLI(true, "detect-stack-drift", "--stack-name", "cli")
	awsCLI(true, "describe-stack-drift-detection-status", "--stack-drift-detection-id", d["StackDriftDetectionId"].(string))
	awsCLI(true, "describe-stack-resource-drifts", "--stack-name", "cli")
	awsCLI(true, "delete-stack", "--stack-name", "cli")
}
