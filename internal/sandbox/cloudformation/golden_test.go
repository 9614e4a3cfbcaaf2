package cloudformation

import (
	"flag"
	"fmt"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stacker-go/stacker/internal/sandbox/platform"
)

var update = flag.Bool("update", false, "rewrite golden files")

// call invokes the service directly and returns "Code: Message" or "OK".
func (h *harness) call(key, action string, kv ...string) string {
	f := url.Values{"Action": {action}, "Version": {"2010-05-15"}}
	for i := 0; i+1 < len(kv); i += 2 {
		f.Add(kv[i], kv[i+1])
	}
	c := &platform.Call{Principal: h.keys[key], Region: "us-east-1", Service: "cloudformation", Action: action, Form: f, RequestID: "golden"}
	w := httptest.NewRecorder()
	if err := h.svc.Serve(w, c); err != nil {
		ae := err.(*platform.APIError)
		return fmt.Sprintf("%d %s: %s", ae.Status, ae.Code, ae.Message)
	}
	return "OK"
}

func (h *harness) settle(t *testing.T, name string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		h.svc.mu.Lock()
		rg := h.svc.regions[acctA+"/us-east-1"]
		h.svc.mu.Unlock()
		rg.mu.Lock()
		st := rg.lookup(name)
		status, busy := "", false
		if st != nil {
			status, busy = st.Status, st.busy
		}
		rg.mu.Unlock()
		if !busy {
			return status
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("stack %s never settled", name)
	return ""
}

const iamTemplate = `Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: {}
`

func TestGoldenErrors(t *testing.T) {
	h := newHarness(t)
	body := func(s string) []string { return []string{"TemplateBody", s} }
	var lines []string
	add := func(name string, got string) { lines = append(lines, name+" => "+got) }
	args := func(a ...[]string) []string {
		var out []string
		for _, x := range a {
			out = append(out, x...)
		}
		return out
	}
	sn := func(n string) []string { return []string{"StackName", n} }

	add("create s", h.call("AKIDA", "CreateStack", args(sn("s"), body(dummyYAML))...))
	h.settle(t, "s")
	add("create s again", h.call("AKIDA", "CreateStack", args(sn("s"), body(dummyYAML))...))
	add("update no-op (body)", h.call("AKIDA", "UpdateStack", args(sn("s"), body(dummyYAML))...))
	add("update no-op (previous)", h.call("AKIDA", "UpdateStack", args(sn("s"), []string{"UsePreviousTemplate", "true"})...))
	add("update missing", h.call("AKIDA", "UpdateStack", args(sn("nope"), body(dummyYAML))...))
	add("describe missing", h.call("AKIDA", "DescribeStacks", sn("nope")...))
	add("events missing", h.call("AKIDA", "DescribeStackEvents", sn("nope")...))
	add("update both templates", h.call("AKIDA", "UpdateStack", args(sn("s"), body(dummyYAML), []string{"UsePreviousTemplate", "true"})...))
	add("update no template", h.call("AKIDA", "UpdateStack", sn("s")...))
	add("create no template", h.call("AKIDA", "CreateStack", sn("t")...))
	add("create both templates", h.call("AKIDA", "CreateStack", args(sn("t"), body(dummyYAML), []string{"TemplateURL", "https://s3.amazonaws.com/b/k"})...))
	add("bad stack name", h.call("AKIDA", "CreateStack", args(sn("bad_name!"), body(dummyYAML))...))
	add("named IAM", h.call("AKIDA", "CreateStack", args(sn("t"), body(strings.Replace(iamTemplate, "Properties:\n", "Properties:\n      RoleName: r\n", 1)))...))
	add("named IAM with CAPABILITY_IAM", h.call("AKIDA", "CreateStack", args(sn("t"), body(strings.Replace(iamTemplate, "Properties:\n", "Properties:\n      RoleName: r\n", 1)), []string{"Capabilities.member.1", "CAPABILITY_IAM"})...))
	add("unnamed IAM", h.call("AKIDA", "CreateStack", args(sn("t"), body(iamTemplate))...))
	add("transform", h.call("AKIDA", "CreateStack", args(sn("t"), body("Transform: AWS::Serverless-2016-10-31\nResources:\n  H:\n    Type: AWS::CloudFormation::WaitConditionHandle\n"))...))
	// template format errors
	for _, tc := range []struct{ name, tpl string }{
		{"garbage yaml", "Resources: [\n  - :"},
		{"garbage json", `{"Resources": {`},
		{"no resources", "Description: x\n"},
		{"empty resources", "Resources: {}\n"},
		{"unknown type", "Resources:\n  X:\n    Type: AWS::Foo::Bar\n  Y:\n    Type: AWS::Foo::Baz\n"},
		{"unresolved ref", "Resources:\n  X:\n    Type: AWS::SNS::Topic\n    Properties:\n      TopicName: !Ref Nope\n"},
		{"unresolved output ref", "Resources:\n  X:\n    Type: AWS::SNS::Topic\nOutputs:\n  O:\n    Value: !Ref Nope\n"},
		{"getatt undefined", "Resources:\n  X:\n    Type: AWS::SNS::Topic\n    Properties:\n      TopicName: !GetAtt Nope.Arn\n"},
		{"getatt bad attribute", "Resources:\n  X:\n    Type: AWS::S3::Bucket\nOutputs:\n  O:\n    Value: !GetAtt X.Nope\n"},
		{"circular", "Resources:\n  A:\n    Type: AWS::SNS::Topic\n    DependsOn: B\n  B:\n    Type: AWS::SNS::Topic\n    DependsOn: A\n"},
		{"dependson missing", "Resources:\n  A:\n    Type: AWS::SNS::Topic\n    DependsOn: B\n"},
		{"bad version", "AWSTemplateFormatVersion: 2011-01-01\nResources:\n  A:\n    Type: AWS::SNS::Topic\n"},
		{"bad top-level key", "Bogus: 1\nResources:\n  A:\n    Type: AWS::SNS::Topic\n"},
		{"unknown parameter type", "Parameters:\n  P:\n    Type: Strin\nResources:\n  A:\n    Type: AWS::SNS::Topic\n"},
		{"select out of range", "Resources:\n  A:\n    Type: AWS::SNS::Topic\n    Properties:\n      TopicName: !Select [5, [a, b]]\n"},
		{"mapping miss", "Mappings:\n  M:\n    k: {a: b}\nResources:\n  A:\n    Type: AWS::SNS::Topic\n    Properties:\n      TopicName: !FindInMap [M, k, z]\n"},
		{"unknown function", "Resources:\n  A:\n    Type: AWS::SNS::Topic\n    Properties:\n      TopicName: {\"Fn::Nope\": x}\n"},
		{"missing import", "Resources:\n  A:\n    Type: AWS::SNS::Topic\n    Properties:\n      TopicName: !ImportValue nope\n"},
	} {
		add("template: "+tc.name, h.call("AKIDA", "CreateStack", args(sn("t"), body(tc.tpl))...))
		add("validate: "+tc.name, h.call("AKIDA", "ValidateTemplate", body(tc.tpl)...))
	}
	// parameters
	params := "Parameters:\n  Env:\n    Type: String\n    AllowedValues: [dev, prod]\n  Acct:\n    Type: String\n    Default: '123456789012'\n    AllowedPattern: '[0-9]+'\n    MinLength: 12\n    MaxLength: 12\n  Count:\n    Type: Number\n    Default: 3\n    MinValue: 1\n    MaxValue: 5\nResources:\n  A:\n    Type: AWS::CloudFormation::WaitConditionHandle\n"
	p := func(k, v string, n int) []string {
		return []string{fmt.Sprintf("Parameters.member.%d.ParameterKey", n), k, fmt.Sprintf("Parameters.member.%d.ParameterValue", n), v}
	}
	add("param missing", h.call("AKIDA", "CreateStack", args(sn("t"), body(params))...))
	add("param undeclared", h.call("AKIDA", "CreateStack", args(sn("t"), body(params), p("Env", "dev", 1), p("Bogus", "x", 2))...))
	add("param allowed values", h.call("AKIDA", "CreateStack", args(sn("t"), body(params), p("Env", "qa", 1))...))
	add("param pattern", h.call("AKIDA", "CreateStack", args(sn("t"), body(params), p("Env", "dev", 1), p("Acct", "12345678901a", 2))...))
	add("param min length", h.call("AKIDA", "CreateStack", args(sn("t"), body(params), p("Env", "dev", 1), p("Acct", "123", 2))...))
	add("param not a number", h.call("AKIDA", "CreateStack", args(sn("t"), body(params), p("Env", "dev", 1), p("Count", "x", 2))...))
	add("param max value", h.call("AKIDA", "CreateStack", args(sn("t"), body(params), p("Env", "dev", 1), p("Count", "9", 2))...))
	add("param previous and value", h.call("AKIDA", "UpdateStack", args(sn("s"), []string{"UsePreviousTemplate", "true", "Parameters.member.1.ParameterKey", "Env", "Parameters.member.1.ParameterValue", "prod", "Parameters.member.1.UsePreviousValue", "true"})...))
	// TemplateURL
	add("template url unsupported", h.call("AKIDA", "CreateStack", args(sn("t"), []string{"TemplateURL", "https://example.com/t.yaml"})...))
	add("template url missing bucket", h.call("AKIDA", "CreateStack", args(sn("t"), []string{"TemplateURL", "https://s3.amazonaws.com/nobucket/t.yaml"})...))
	// change sets
	add("change set not found", h.call("AKIDA", "DescribeChangeSet", args(sn("s"), []string{"ChangeSetName", "nope"})...))
	add("execute missing change set", h.call("AKIDA", "ExecuteChangeSet", args(sn("s"), []string{"ChangeSetName", "nope"})...))
	add("change set create on existing", h.call("AKIDA", "CreateChangeSet", args(sn("s"), []string{"ChangeSetName", "c1", "ChangeSetType", "CREATE"}, body(dummyYAML))...))
	add("change set update on missing", h.call("AKIDA", "CreateChangeSet", args(sn("nope"), []string{"ChangeSetName", "c1"}, body(dummyYAML))...))
	add("change set bad name", h.call("AKIDA", "CreateChangeSet", args(sn("s"), []string{"ChangeSetName", "1bad"}, body(dummyYAML))...))
	add("change set without stack", h.call("AKIDA", "DescribeChangeSet", []string{"ChangeSetName", "c1"}...))
	// protection and guards
	add("termination protection on", h.call("AKIDA", "UpdateTerminationProtection", args(sn("s"), []string{"EnableTerminationProtection", "true"})...))
	add("delete protected", h.call("AKIDA", "DeleteStack", sn("s")...))
	add("termination protection off", h.call("AKIDA", "UpdateTerminationProtection", args(sn("s"), []string{"EnableTerminationProtection", "false"})...))
	h.faults.add(platform.FailureRule{Stack: "rb", Operation: "create", Message: "boom"})
	add("create rb", h.call("AKIDA", "CreateStack", args(sn("rb"), body(dummyYAML))...))
	add("rb settled", h.settle(t, "rb"))
	add("update ROLLBACK_COMPLETE", h.call("AKIDA", "UpdateStack", args(sn("rb"), []string{"UsePreviousTemplate", "true"})...))
	add("continue rollback bad state", h.call("AKIDA", "ContinueUpdateRollback", sn("s")...))
	add("cancel update bad state", h.call("AKIDA", "CancelUpdateStack", sn("s")...))
	h.faults.mu.Lock()
	h.faults.byType["AWS::SNS::Topic"] = 2 * time.Second
	h.faults.mu.Unlock()
	add("update s to prod", h.call("AKIDA", "UpdateStack", args(sn("s"), []string{"UsePreviousTemplate", "true"}, p("Env", "prod", 1))...))
	add("update while UPDATE_IN_PROGRESS", h.call("AKIDA", "UpdateStack", args(sn("s"), []string{"UsePreviousTemplate", "true"}, p("Env", "dev", 1))...))
	add("cancel update", h.call("AKIDA", "CancelUpdateStack", sn("s")...))
	add("s settled", h.settle(t, "s"))
	add("list imports none", h.call("AKIDA", "ListImports", []string{"ExportName", "s-topic"}...))
	add("signal bad status", h.call("AKIDA", "SignalResource", args(sn("s"), []string{"LogicalResourceId", "Dummy", "UniqueId", "1", "Status", "MAYBE"})...))
	add("unknown action", h.call("AKIDA", "Frobnicate"))
	h.auth.mu.Lock()
	h.auth.deny["cloudformation:DeleteStack"] = true
	h.auth.mu.Unlock()
	add("access denied", h.call("AKIDA", "DeleteStack", sn("s")...))

	got := strings.Join(lines, "\n") + "\n"
	// stack ids are deterministic, but keep the golden file readable
	got = regexp.MustCompile(`stack/([a-z-]+)/[0-9a-f-]{36}`).ReplaceAllString(got, "stack/$1/<id>")
	const file = "testdata/errors.golden"
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if string(want) != got {
		t.Errorf("golden mismatch (run go test -run TestGoldenErrors -update):\n%s", got)
	}
}
