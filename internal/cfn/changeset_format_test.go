package cfn

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/stacker-go/stacker/blueprint"
)

// checkGolden compares got with testdata/name (rewritten with -update).
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal([]byte(got), want) {
		t.Errorf("output differs from %s (go test -run %s -update):\n%s", path, t.Name(), got)
	}
}

// sampleReview is a change set with a parameter diff (a NoEcho one among
// them), one replacement and two in-place changes, one of whose property
// values carries the secret.
func sampleReview(replacementsOnly bool) *Review {
	declared := []blueprint.Parameter{{Name: "Cidr"}, {Name: "Password", NoEcho: true}, {Name: "Same"}, {Name: "Kept"}, {Name: "New"}}
	values := map[string]string{"Cidr": "10.1.0.0/16", "Password": "hunter2-secret", "Same": "s", "New": "n"}
	old := map[string]string{"Cidr": "10.0.0.0/16", "Password": "****", "Gone": "x", "Same": "s", "Kept": "k"}
	changes := []types.Change{
		{Type: types.ChangeTypeResource, ResourceChange: &types.ResourceChange{
			Action: types.ChangeActionModify, LogicalResourceId: aws.String("VPC"), PhysicalResourceId: aws.String("vpc-0123"),
			ResourceType: aws.String("AWS::EC2::VPC"), Replacement: types.ReplacementTrue,
			Scope: []types.ResourceAttribute{types.ResourceAttributeProperties},
			Details: []types.ResourceChangeDetail{{
				CausingEntity: aws.String("Cidr"), ChangeSource: types.ChangeSourceParameterReference, Evaluation: types.EvaluationTypeStatic,
				Target: &types.ResourceTargetDefinition{Attribute: types.ResourceAttributeProperties, Name: aws.String("CidrBlock"),
					RequiresRecreation: types.RequiresRecreationAlways, BeforeValue: aws.String("10.0.0.0/16"), AfterValue: aws.String("10.1.0.0/16")},
			}},
		}},
		{Type: types.ChangeTypeResource, ResourceChange: &types.ResourceChange{
			Action: types.ChangeActionModify, LogicalResourceId: aws.String("Secret"), PhysicalResourceId: aws.String("/app/secret"),
			ResourceType: aws.String("AWS::SSM::Parameter"), Replacement: types.ReplacementFalse,
			Scope: []types.ResourceAttribute{types.ResourceAttributeProperties},
			Details: []types.ResourceChangeDetail{{
				CausingEntity: aws.String("Password"), ChangeSource: types.ChangeSourceParameterReference, Evaluation: types.EvaluationTypeStatic,
				Target: &types.ResourceTargetDefinition{Attribute: types.ResourceAttributeProperties, Name: aws.String("Value"),
					RequiresRecreation: types.RequiresRecreationNever, BeforeValue: aws.String("previous-secret"), AfterValue: aws.String("hunter2-secret")},
			}},
		}},
		{Type: types.ChangeTypeResource, ResourceChange: &types.ResourceChange{
			Action: types.ChangeActionAdd, LogicalResourceId: aws.String("Subnet"), ResourceType: aws.String("AWS::EC2::Subnet"),
			Scope: []types.ResourceAttribute{}, Details: []types.ResourceChangeDetail{},
		}},
	}
	return &Review{FQN: "ns-vpc", Params: ParameterDiff(declared, values, old), Changes: changes,
		ReplacementsOnly: replacementsOnly, Secrets: []string{"hunter2-secret"}, NoEcho: []string{"Password"}}
}

func TestReviewGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  string
	}{
		{"changeset-summary.golden", sampleReview(false).Summary()},
		{"changeset-summary-replacements.golden", sampleReview(true).Summary()},
		{"changeset-full.golden", sampleReview(false).Full()},
		{"changeset-full-noparams.golden", (&Review{FQN: "ns-app", Changes: sampleReview(false).Changes[2:]}).Full()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if strings.Contains(tc.got, "hunter2") || strings.Contains(tc.got, "previous-secret") {
				t.Fatalf("a NoEcho value is printed:\n%s", tc.got)
			}
			checkGolden(t, tc.name, tc.got)
		})
	}
}

func TestReviewNeedsAnswer(t *testing.T) {
	replace := sampleReview(false).Changes[:1]
	inPlace := sampleReview(false).Changes[1:]
	params := []ParamChange{{Key: "A", Old: "1", New: "2", Status: ParamModified}}
	for _, tc := range []struct {
		name string
		r    Review
		want bool
	}{
		{"changes", Review{Changes: inPlace}, true},
		{"params only", Review{Params: params}, true},
		{"nothing", Review{}, false},
		{"replacements-only, none", Review{Changes: inPlace, ReplacementsOnly: true}, false},
		{"replacements-only, a replacement", Review{Changes: append(inPlace, replace...), ReplacementsOnly: true}, true},
		{"replacements-only, a parameter", Review{Changes: inPlace, Params: params, ReplacementsOnly: true}, true},
	} {
		if got := tc.r.NeedsAnswer(); got != tc.want {
			t.Errorf("%s: NeedsAnswer %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestParameterDiff(t *testing.T) {
	declared := []blueprint.Parameter{{Name: "A"}, {Name: "S", NoEcho: true}, {Name: "P"}}
	for _, tc := range []struct {
		name   string
		values map[string]string
		old    map[string]string
		want   []string
	}{
		{"unchanged is nil", map[string]string{"A": "1", "S": "x"}, map[string]string{"A": "1", "S": "****"}, nil},
		{"previous value kept", map[string]string{"A": "1"}, map[string]string{"A": "1", "P": "p"}, nil},
		{"modified lists all", map[string]string{"A": "2", "S": "new"}, map[string]string{"A": "1", "S": "****", "P": "p"},
			[]string{"-A = 1", "+A = 2", " P = p", " S = ****"}},
		{"added and removed", map[string]string{"A": "1"}, map[string]string{"Old": "o"}, []string{"+A = 1", "-Old = o"}},
	} {
		got := ParamLines(ParameterDiff(declared, tc.values, tc.old))
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestYAMLScalarQuoting(t *testing.T) {
	for in, want := range map[string]string{
		"False": "'False'", "True": "'True'", "Modify": "Modify", "": "''", "10": "'10'", "1.5": "'1.5'",
		"AWS::EC2::VPC": "AWS::EC2::VPC", "a: b": "'a: b'", "it's": "it's", "'x": "'''x'", "null": "'null'", "*x": "'*x'",
	} {
		if got := yamlScalar(in); got != want {
			t.Errorf("yamlScalar(%q) = %s, want %s", in, got, want)
		}
	}
}
