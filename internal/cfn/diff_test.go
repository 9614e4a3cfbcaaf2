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
)

func TestFormatDiffNeverPrintsNoEcho(t *testing.T) {
	st := &Stack{Parameters: map[string]string{"Cidr": "10.0.0.0/16", "Password": "****", "Gone": "x", "Same": "s", "Kept": "k"}}
	req := &Request{
		Declared: []blueprint.Parameter{{Name: "Cidr"}, {Name: "Password", NoEcho: true}, {Name: "Same"}, {Name: "Kept"}, {Name: "New"}},
		Values:   map[string]string{"Cidr": "10.1.0.0/16", "Password": "hunter2", "Same": "s", "New": "n"},
	}
	changes := []types.Change{{ResourceChange: &types.ResourceChange{Action: types.ChangeActionModify, LogicalResourceId: aws.String("VPC"), ResourceType: aws.String("AWS::EC2::VPC"), Replacement: types.ReplacementTrue}},
		{ResourceChange: &types.ResourceChange{Action: types.ChangeActionAdd, LogicalResourceId: aws.String("Subnet"), ResourceType: aws.String("AWS::EC2::Subnet")}}}
	got := FormatDiff("ns-vpc", st, req, changes)
	if strings.Contains(got, "hunter2") {
		t.Fatal("NoEcho value printed")
	}
	path := filepath.Join("testdata", "diff.golden")
	if *update {
		os.WriteFile(path, []byte(got), 0o644)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal([]byte(got), want) {
		t.Errorf("diff differs from %s:\n%s", path, got)
	}
}

func TestDiffDeletesChangeSetAndTemporaryStack(t *testing.T) {
	f := newFake()
	p := New(f, Options{Sleep: noSleep, Now: fixedNow})
	var printed []string
	o := p.Diff(context.Background(), &DiffSpec{Name: "vpc", FQN: "ns-vpc",
		Deps: StackDeps{Prepare: func(ctx context.Context) (*Request, error) {
			return &Request{TemplateBody: "{}", Outputs: []string{"VpcId"}}, nil
		}}})
	printed = append(printed, o.Diff)
	if o.Status.State != engine.Complete || o.Outputs["VpcId"] != "<inferred-change: ns-vpc.VpcId>" {
		t.Fatalf("outcome %+v", o)
	}
	if !slices.Contains(f.calls, "DeleteChangeSet") || !slices.Contains(f.calls, "DeleteStack") {
		t.Errorf("calls %v", f.calls)
	}
	if len(printed) != 1 || !strings.Contains(printed[0], "- Modify Queue (AWS::SQS::Queue) replacement: True") {
		t.Errorf("printed %q", printed)
	}
}

func TestDiffNoChange(t *testing.T) {
	f := newFake()
	f.put("ns-vpc", "CREATE_COMPLETE", func(s *fakeStack) { s.outputs["VpcId"] = "vpc-1" })
	f.noChange = true
	p := New(f, Options{Sleep: noSleep, Now: fixedNow})
	var printed []string
	o := p.Diff(context.Background(), &DiffSpec{Name: "vpc", FQN: "ns-vpc",
		Deps: StackDeps{Prepare: func(ctx context.Context) (*Request, error) { return &Request{TemplateBody: "{}"}, nil }}})
	printed = append(printed, o.Diff)
	if o.Status.State != engine.Complete || o.Outputs["VpcId"] != "vpc-1" || !slices.Equal(printed, []string{"No changes: ns-vpc\n"}) {
		t.Errorf("outcome %+v printed %q", o, printed)
	}
}

// A label set by the run (stacks sharing a CloudFormation name in different
// targets) replaces the bare name in what diff prints.
func TestDiffPrintsLabel(t *testing.T) {
	f := newFake()
	f.put("ns-vpc", "CREATE_COMPLETE", func(*fakeStack) {})
	f.noChange = true
	p := New(f, Options{Sleep: noSleep, Now: fixedNow})
	o := p.Diff(context.Background(), &DiffSpec{Name: "prod-vpc", FQN: "ns-vpc", Label: "ns-vpc (prod-vpc)",
		Deps: StackDeps{Prepare: func(ctx context.Context) (*Request, error) { return &Request{TemplateBody: "{}"}, nil }}})
	if o.Diff != "No changes: ns-vpc (prod-vpc)\n" {
		t.Errorf("printed %q", o.Diff)
	}
}
