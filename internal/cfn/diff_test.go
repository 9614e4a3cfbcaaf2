package cfn

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/stacker-go/stacker/blueprint"
	"github.com/stacker-go/stacker/internal/engine"
	"github.com/stacker-go/stacker/internal/ui/uitest"
)

const secret = "hunter2-the-secret"

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("differs from %s (go test -update rewrites it):\n%s", path, got)
	}
}

const oldTemplate = `{"Resources": {"VPC": {"Type": "AWS::EC2::VPC"}, "Old": {"Type": "AWS::SNS::Topic"}},
 "Outputs": {"VpcId": {"Value": {"Ref": "VPC"}}, "Cidr": {"Value": {"Fn::GetAtt": ["VPC", "CidrBlock"]}}, "Name": {"Value": "fixed"}}}`

const newTemplate = `Resources:
  VPC: {Type: AWS::EC2::VPC}
Outputs:
  VpcId: {Value: !Ref VPC}
  Cidr: {Value: !GetAtt VPC.CidrBlock}
  Name: {Value: fixed}
  Subnet: {Value: !Sub "${Subnet}-x"}
`

// richChanges are the changes of one update: a replacement whose property
// values carry the secret, a conditional replacement, a property a NoEcho
// parameter causes, an add and a remove, on two pages.
func richChanges() [][]types.Change {
	modify := func(id, typ string, repl types.Replacement, details ...types.ResourceChangeDetail) types.Change {
		return types.Change{Type: types.ChangeTypeResource, ResourceChange: &types.ResourceChange{
			Action: types.ChangeActionModify, LogicalResourceId: aws.String(id), PhysicalResourceId: aws.String(strings.ToLower(id) + "-0abc"),
			ResourceType: aws.String(typ), Replacement: repl, Scope: []types.ResourceAttribute{types.ResourceAttributeProperties}, Details: details}}
	}
	prop := func(name string, rr types.RequiresRecreation, src types.ChangeSource, cause, before, after string) types.ResourceChangeDetail {
		d := types.ResourceChangeDetail{Evaluation: types.EvaluationTypeStatic, ChangeSource: src,
			Target: &types.ResourceTargetDefinition{Attribute: types.ResourceAttributeProperties, Name: aws.String(name), RequiresRecreation: rr}}
		if cause != "" {
			d.CausingEntity = aws.String(cause)
		}
		if before != "" {
			d.Target.BeforeValue = aws.String(before)
		}
		if after != "" {
			d.Target.AfterValue = aws.String(after)
		}
		return d
	}
	return [][]types.Change{
		{
			modify("VPC", "AWS::EC2::VPC", types.ReplacementTrue,
				prop("CidrBlock", types.RequiresRecreationAlways, types.ChangeSourceParameterReference, "Cidr", "10.0.0.0/16", "10.1.0.0/16"),
				prop("Description", types.RequiresRecreationNever, types.ChangeSourceDirectModification, "", "old", "uses "+secret)),
			modify("Db", "AWS::RDS::DBInstance", types.ReplacementConditional,
				prop("MasterUserPassword", types.RequiresRecreationConditionally, types.ChangeSourceParameterReference, "Password", "old-password-unknown", "new"+secret)),
		},
		{
			{Type: types.ChangeTypeResource, ResourceChange: &types.ResourceChange{Action: types.ChangeActionAdd, LogicalResourceId: aws.String("Subnet"), ResourceType: aws.String("AWS::EC2::Subnet")}},
			{Type: types.ChangeTypeResource, ResourceChange: &types.ResourceChange{Action: types.ChangeActionRemove, LogicalResourceId: aws.String("Old"), PhysicalResourceId: aws.String("arn:aws:sns:us-east-1:111111111111:old"), ResourceType: aws.String("AWS::SNS::Topic")}},
		},
	}
}

func richRequest() *Request {
	defs, _ := OutputDefinitions(newTemplate)
	return &Request{
		TemplateBody: newTemplate,
		Declared:     []blueprint.Parameter{{Name: "Cidr"}, {Name: "Password", NoEcho: true}, {Name: "Same"}, {Name: "Kept"}, {Name: "New"}},
		Values:       map[string]string{"Cidr": "10.1.0.0/16", "Password": secret, "Same": "s", "New": "n"},
		Outputs:      []string{"VpcId", "Cidr", "Name", "Subnet"},
		OutputDefs:   defs,
	}
}

// samplePlan is a plan of four stacks: an update with everything, a new
// stack, an unchanged one and a locked one, across two accounts.
func samplePlan(t *testing.T) *DiffPlan {
	t.Helper()
	f := newFake()
	f.put("ns-vpc", "CREATE_COMPLETE", func(s *fakeStack) {
		s.params = map[string]string{"Cidr": "10.0.0.0/16", "Password": "****", "Gone": "x", "Same": "s", "Kept": "k"}
		s.tags = map[string]string{"stacker_namespace": "ns", "team": "net"}
		s.outputs = map[string]string{"VpcId": "vpc-0abc", "Cidr": "10.0.0.0/16", "Name": "fixed"}
		s.template = oldTemplate
	})
	f.csPages = richChanges()
	p := New(f, Options{Sleep: noSleep, Now: fixedNow})
	o := p.Diff(context.Background(), &DiffSpec{Name: "prod-vpc", FQN: "ns-vpc",
		Tags: map[string]string{"stacker_namespace": "ns", "team": "platform", "cost": "42"},
		Deps: StackDeps{Prepare: func(ctx context.Context) (*Request, error) { return richRequest(), nil }}})
	if o.Status.State != engine.Complete || o.Diff == nil {
		t.Fatalf("outcome %+v", o)
	}
	if !slices.Contains(f.calls, "GetTemplate") {
		t.Error("the current template was not read for a replacement")
	}
	upd := *o.Diff
	upd.Target = DiffTarget{Account: "111111111111", Region: "us-east-1", Profile: "prod"}

	f2 := newFake()
	p2 := New(f2, Options{Sleep: noSleep, Now: fixedNow})
	o = p2.Diff(context.Background(), &DiffSpec{Name: "stage-vpc", FQN: "ns-vpc", Tags: map[string]string{"stacker_namespace": "ns"},
		Deps: StackDeps{Prepare: func(ctx context.Context) (*Request, error) {
			return &Request{TemplateBody: "{}", Declared: []blueprint.Parameter{{Name: "Password", NoEcho: true}, {Name: "Cidr"}},
				Values: map[string]string{"Password": secret, "Cidr": "10.2.0.0/16"}, Outputs: []string{"VpcId"}}, nil
		}}})
	create := *o.Diff
	create.Target = DiffTarget{Account: "222222222222", Region: "eu-west-1", Profile: "stage"}

	f3 := newFake()
	f3.put("ns-app", "UPDATE_COMPLETE", func(s *fakeStack) { s.outputs["Url"] = "https://x" })
	f3.noChange = true
	p3 := New(f3, Options{Sleep: noSleep, Now: fixedNow})
	o = p3.Diff(context.Background(), &DiffSpec{Name: "app", FQN: "ns-app",
		Deps: StackDeps{Prepare: func(ctx context.Context) (*Request, error) { return &Request{TemplateBody: "{}"}, nil }}})
	same := *o.Diff
	same.Target = DiffTarget{Account: "111111111111", Region: "us-east-1", Profile: "prod"}

	f4 := newFake()
	f4.put("ns-db", "UPDATE_COMPLETE")
	p4 := New(f4, Options{Sleep: noSleep, Now: fixedNow})
	o = p4.Diff(context.Background(), &DiffSpec{Name: "db", FQN: "ns-db", Locked: true,
		Deps: StackDeps{Prepare: func(ctx context.Context) (*Request, error) { t.Error("a locked stack was prepared"); return nil, nil }}})
	locked := *o.Diff
	locked.Target = same.Target
	return &DiffPlan{Namespace: "ns", Stacks: []StackDiff{upd, create, same, locked}}
}

func TestDiffGoldens(t *testing.T) {
	plan := samplePlan(t)
	for _, tc := range []struct {
		golden string
		write  func(*bytes.Buffer) error
	}{
		{"diff-plain.golden", func(b *bytes.Buffer) error { return WriteDiffText(b, plan, DiffTextOptions{ShowTarget: true}) }},
		{"diff-colour.golden", func(b *bytes.Buffer) error {
			return WriteDiffText(b, plan, DiffTextOptions{Colour: true, ShowTarget: true})
		}},
		{"diff-single-target.golden", func(b *bytes.Buffer) error {
			return WriteDiffText(b, &DiffPlan{Stacks: plan.Stacks[2:3]}, DiffTextOptions{})
		}},
		{"diff.json.golden", func(b *bytes.Buffer) error { return WriteDiffJSON(b, plan) }},
		{"diff-summary.golden", func(b *bytes.Buffer) error {
			for i := range plan.Stacks[:2] {
				b.WriteString(DiffSummary(&plan.Stacks[i], true))
			}
			return nil
		}},
		{"diff-stack-block.golden", func(b *bytes.Buffer) error {
			b.WriteString(StackDiffText(&plan.Stacks[0], DiffTextOptions{ShowTarget: true}))
			return nil
		}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			var b bytes.Buffer
			if err := tc.write(&b); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(b.String(), "hunter2") {
				t.Fatalf("a NoEcho value is printed:\n%s", b.String())
			}
			golden(t, tc.golden, b.Bytes())
		})
	}
}

func TestDiffTextMarksReplacements(t *testing.T) {
	var b bytes.Buffer
	if err := WriteDiffText(&b, samplePlan(t), DiffTextOptions{}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"- Modify VPC (AWS::EC2::VPC) vpc-0abc  " + MarkReplacement,
		"- Modify Db (AWS::RDS::DBInstance) db-0abc  " + MarkConditional,
		"    Properties.CidrBlock (requires recreation: Always, source: ParameterReference Cidr)",
		"      before: 10.0.0.0/16",
		" Password = ****",
		"+Password = ****",
		"+team = platform",
		"No changes: ns-app\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b[") {
		t.Error("colour in plain text")
	}
	if strings.Contains(out, "ns-db") {
		t.Error("the locked stack has a diff block")
	}
}

func TestDiffJSONMatchesItsSchema(t *testing.T) {
	var b bytes.Buffer
	plan := samplePlan(t)
	plan.Stacks = append(plan.Stacks,
		StackDiff{Name: "off", FQN: "ns-off", Action: DiffSkipped, Reason: ReasonDisabled, Parameters: []ValueDiff{}, Tags: []ValueDiff{}, ResourceChanges: []ResourceChange{}},
		StackDiff{Name: "bad", FQN: "ns-bad", Action: DiffFailed, Reason: "change set failed: boom", Parameters: []ValueDiff{}, Tags: []ValueDiff{}, ResourceChanges: []ResourceChange{}})
	if err := WriteDiffJSON(&b, plan); err != nil {
		t.Fatal(err)
	}
	if err := uitest.ValidateJSONDocument("diff-json.schema.json", b.Bytes()); err != nil {
		t.Fatal(err)
	}
	// The validator is not vacuous.
	for _, bad := range []string{
		`{"schema_version":1,"namespace":"ns","stacks":[{"name":"a","fqn":"ns-a","target":{"account":"1","region":"r","profile":""},"action":"update","parameters":[],"tags":[],"resource_changes":[]}]}`,
		`{"schema_version":1,"namespace":"ns","stacks":[{"name":"a","fqn":"ns-a","target":{"account":"","region":"r","profile":""},"action":"failed","parameters":[],"tags":[],"resource_changes":[]}]}`,
		`{"schema_version":1,"namespace":"ns","stacks":[{"name":"a","fqn":"ns-a","target":{"account":"","region":"r","profile":""},"action":"update","parameters":[{"key":"P","old":"x","new":"secret","status":"modified","masked":true}],"tags":[],"resource_changes":[]}]}`,
		`{"schema_version":2,"namespace":"ns","stacks":[]}`,
	} {
		if err := uitest.ValidateJSONDocument("diff-json.schema.json", []byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

func TestDiffActionsAndOutputs(t *testing.T) {
	plan := samplePlan(t)
	var got []DiffAction
	for _, s := range plan.Stacks {
		got = append(got, s.Action)
	}
	if want := []DiffAction{DiffReplace, DiffCreate, DiffNoChange, DiffLocked}; !slices.Equal(got, want) {
		t.Errorf("actions %v, want %v", got, want)
	}
	// The update: VpcId and Cidr refer to the replaced VPC, so they are
	// inferred; Name keeps its value; Subnet is new.
	want := map[string]string{
		"VpcId":  "<inferred-change: ns-vpc.VpcId={'Ref': 'VPC'}>",
		"Cidr":   "<inferred-change: ns-vpc.Cidr={'Fn::GetAtt': ['VPC', 'CidrBlock']}>",
		"Name":   "fixed",
		"Subnet": "<inferred-change: ns-vpc.Subnet={'Fn::Sub': '${Subnet}-x'}>",
	}
	for k, v := range want {
		if plan.Stacks[0].Outputs[k] != v {
			t.Errorf("output %s = %q, want %q", k, plan.Stacks[0].Outputs[k], v)
		}
	}
	// A template without output values (over the inline limit) still gets
	// a placeholder per output name.
	if got := plan.Stacks[1].Outputs["VpcId"]; got != "<inferred-change: ns-vpc.VpcId>" {
		t.Errorf("new stack output %q", got)
	}
	if plan.Stacks[2].Outputs["Url"] != "https://x" {
		t.Errorf("nochange outputs %v", plan.Stacks[2].Outputs)
	}
}

func TestDiffDeletesChangeSetAndTemporaryStack(t *testing.T) {
	f := newFake()
	p := New(f, Options{Sleep: noSleep, Now: fixedNow})
	o := p.Diff(context.Background(), &DiffSpec{Name: "vpc", FQN: "ns-vpc",
		Deps: StackDeps{Prepare: func(ctx context.Context) (*Request, error) {
			return &Request{TemplateBody: "{}", Outputs: []string{"VpcId"}}, nil
		}}})
	if o.Status.State != engine.Complete || o.Outputs["VpcId"] != "<inferred-change: ns-vpc.VpcId>" {
		t.Fatalf("outcome %+v", o)
	}
	if !slices.Contains(f.calls, "DeleteChangeSet") || !slices.Contains(f.calls, "DeleteStack") {
		t.Errorf("calls %v", f.calls)
	}
	if o.Diff.Action != DiffCreate || len(o.Diff.ResourceChanges) != 1 || o.Diff.ResourceChanges[0].Replacement != "True" {
		t.Errorf("diff %+v", o.Diff)
	}
}

func TestDiffNoChange(t *testing.T) {
	f := newFake()
	f.put("ns-vpc", "CREATE_COMPLETE", func(s *fakeStack) { s.outputs["VpcId"] = "vpc-1" })
	f.noChange = true
	p := New(f, Options{Sleep: noSleep, Now: fixedNow})
	o := p.Diff(context.Background(), &DiffSpec{Name: "vpc", FQN: "ns-vpc",
		Deps: StackDeps{Prepare: func(ctx context.Context) (*Request, error) { return &Request{TemplateBody: "{}"}, nil }}})
	if o.Status.State != engine.Complete || o.Outputs["VpcId"] != "vpc-1" || o.Diff.Action != DiffNoChange {
		t.Errorf("outcome %+v diff %+v", o, o.Diff)
	}
	if slices.Contains(f.calls, "GetTemplate") {
		t.Error("the current template was read for an unchanged stack")
	}
}

func TestDiffFailedChangeSet(t *testing.T) {
	f := newFake()
	f.put("ns-vpc", "CREATE_COMPLETE")
	f.csFailed = "Template format error: Unresolved resource dependencies [X]"
	p := New(f, Options{Sleep: noSleep, Now: fixedNow})
	o := p.Diff(context.Background(), &DiffSpec{Name: "vpc", FQN: "ns-vpc",
		Deps: StackDeps{Prepare: func(ctx context.Context) (*Request, error) { return &Request{TemplateBody: "{}"}, nil }}})
	if o.Status.State != engine.Failed || o.Diff.Action != DiffFailed || !strings.Contains(o.Diff.Reason, "Unresolved resource") {
		t.Errorf("outcome %+v diff %+v", o, o.Diff)
	}
	if !slices.Contains(f.calls, "DeleteChangeSet") {
		t.Errorf("the failed change set was kept: %v", f.calls)
	}
}

func TestOutputDefinitions(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		want       []OutputDef
	}{
		{"json", `{"Outputs": {"A": {"Value": {"Ref": "X"}}, "B": {"Value": {"Fn::Join": ["", ["a", {"Ref": "Y"}]]}}, "C": {"Value": 3}, "D": {"Value": "it's"}}}`,
			[]OutputDef{{"A", "{'Ref': 'X'}"}, {"B", "{'Fn::Join': ['', ['a', {'Ref': 'Y'}]]}"}, {"C", "3"}, {"D", "it's"}}},
		{"yaml short forms", "Outputs:\n  A:\n    Value: !Ref X\n  B:\n    Value: !GetAtt R.Arn\n  C:\n    Value: !Join ['-', [!Ref X, \"it's\"]]\n  D:\n    Value: true\n",
			[]OutputDef{{"A", "{'Ref': 'X'}"}, {"B", "{'Fn::GetAtt': ['R', 'Arn']}"}, {"C", `{'Fn::Join': ['-', [{'Ref': 'X'}, "it's"]]}`}, {"D", "True"}}},
		{"no outputs", `{"Resources": {}}`, nil},
		{"empty", ``, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := OutputDefinitions(tc.body)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q\nwant %q", got, tc.want)
			}
		})
	}
	if _, err := OutputDefinitions("{not: [valid"); err == nil {
		t.Error("a broken template was read")
	}
}

func TestInferOutputs(t *testing.T) {
	old := []OutputDef{{"VpcId", "{'Ref': 'VPC'}"}, {"Topic", "{'Ref': 'Topic'}"}, {"Queue", "{'Ref': 'Queue'}"}}
	for _, tc := range []struct {
		name    string
		changes []ResourceChange
		want    map[string]string
	}{
		{"metadata only keeps outputs", []ResourceChange{{Action: "Modify", LogicalResourceID: "VPC", Replacement: "False", Scope: []string{"Metadata"}}},
			map[string]string{"VpcId": "vpc-1", "Topic": "arn:t", "Queue": "<inferred-change: ns-a.Queue={'Ref': 'Queue'}>"}},
		{"properties drop", []ResourceChange{{Action: "Modify", LogicalResourceID: "VPC", Replacement: "False", Scope: []string{"Properties"}}},
			map[string]string{"VpcId": "<inferred-change: ns-a.VpcId={'Ref': 'VPC'}>", "Topic": "arn:t", "Queue": "<inferred-change: ns-a.Queue={'Ref': 'Queue'}>"}},
		{"replacement drops", []ResourceChange{{Action: "Modify", LogicalResourceID: "Topic", Replacement: "True", Scope: []string{"Tags"}}},
			map[string]string{"VpcId": "vpc-1", "Topic": "<inferred-change: ns-a.Topic={'Ref': 'Topic'}>", "Queue": "<inferred-change: ns-a.Queue={'Ref': 'Queue'}>"}},
		{"adds are ignored", []ResourceChange{{Action: "Add", LogicalResourceID: "VPC", Replacement: "True", Scope: []string{"Properties"}}},
			map[string]string{"VpcId": "vpc-1", "Topic": "arn:t", "Queue": "<inferred-change: ns-a.Queue={'Ref': 'Queue'}>"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := inferOutputs("ns-a", map[string]string{"VpcId": "vpc-1", "Topic": "arn:t"}, old, old, tc.changes)
			if len(got) != len(tc.want) {
				t.Errorf("got %v", got)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

func FuzzOutputDefinitions(f *testing.F) {
	f.Add(oldTemplate)
	f.Add(newTemplate)
	f.Add("Outputs:\n  A:\n    Value: !Join ['-', [!Ref X, 1.5, null, ~]]\n")
	f.Add("Outputs: [1, 2]\n")
	f.Add("Outputs:\n  A: &x {Value: *x}\n")
	f.Fuzz(func(t *testing.T, body string) {
		defs, err := OutputDefinitions(body)
		if err != nil && defs != nil {
			t.Fatal("definitions with an error")
		}
	})
}

// Ctrl-C while the change set is computed: the stack is cancelled (not
// failed), and the change set and temporary stack are deleted.
func TestDiffInterrupted(t *testing.T) {
	f := newFake()
	f.csPending = 100
	ctx, cancel := context.WithCancel(context.Background())
	f.onDescribeCS = func(n int) {
		if n == 2 {
			cancel()
		}
	}
	p := New(f, Options{Sleep: noSleep, Now: fixedNow})
	o := p.Diff(ctx, &DiffSpec{Name: "vpc", FQN: "ns-vpc",
		Deps: StackDeps{Prepare: func(ctx context.Context) (*Request, error) { return &Request{TemplateBody: "{}"}, nil }}})
	if o.Status.Reason != engine.ReasonInterrupted || o.Diff.Action != DiffCanceled {
		t.Errorf("status %+v diff %+v", o.Status, o.Diff)
	}
	if !slices.Contains(f.calls, "DeleteChangeSet") || !slices.Contains(f.calls, "DeleteStack") {
		t.Errorf("calls %v", f.calls)
	}
}
