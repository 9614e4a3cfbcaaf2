package blueprint

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/awslabs/goformation/v7/cloudformation"
	cfn "github.com/awslabs/goformation/v7/cloudformation/cloudformation"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// TestRenderTemplateGolden covers stacker's render order: mappings, the
// blueprint's resources, the config description, then one Parameter per
// CFN-typed variable with every constraint.
func TestRenderTemplateGolden(t *testing.T) {
	bp := &Simple{
		Vars: []Variable{
			{Name: "Name", Type: CFNString, Description: "A name", AllowedPattern: "[a-z]+", MinLength: IntPtr(1), MaxLength: IntPtr(10), ConstraintDescription: "lower case"},
			{Name: "Password", Type: CFNString, NoEcho: true, Default: "s3cret"},
			{Name: "Size", Type: CFNNumber, MinValue: FloatPtr(1), MaxValue: FloatPtr(5), Default: 2},
			{Name: "Env", Type: CFNString, AllowedValues: []string{"dev", "prod"}, Default: "dev"},
			{Name: "Subnets", Type: EC2SubnetIDList, Default: []any{"subnet-1", "subnet-2"}},
			{Name: "Count", Type: Int, Default: 2},
		},
		Build: func(_ context.Context, in *Input, t *cloudformation.Template) error {
			t.Description = "overridden by the config"
			for i := range in.Variables["Count"].(int) {
				t.Resources["Handle"+string(rune('A'+i))] = &cfn.WaitConditionHandle{}
			}
			t.Outputs["Url"] = cloudformation.Output{Value: cloudformation.Sub("https://${Name}.example.com/?a=1&b=<2>")}
			return nil
		},
	}
	vars, err := ResolveVariables(bp, "stack", map[string]any{"Name": "abc"})
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := bp.Render(context.Background(), &Input{
		Name: "stack", Description: "From the config", Variables: vars, Indent: 2,
		Mappings: map[string]map[string]map[string]any{"AmiMap": {"us-east-1": {"NAT": "ami-1"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "render.json.golden")
	if *update {
		if err := os.WriteFile(path, tpl.Body, 0o644); err != nil {
			t.Fatal(err)
		}
	} else if want, err := os.ReadFile(path); err != nil || string(want) != string(tpl.Body) {
		t.Errorf("body differs from %s (run go test -update): %v\n%s", path, err, tpl.Body)
	}
	wantValues := map[string]string{"Name": "abc", "Password": "s3cret", "Size": "2", "Env": "dev", "Subnets": "subnet-1,subnet-2"}
	if !reflect.DeepEqual(tpl.ParameterValues, wantValues) {
		t.Errorf("ParameterValues = %v, want %v", tpl.ParameterValues, wantValues)
	}
	var names []string
	for _, p := range tpl.Parameters {
		names = append(names, p.Name)
		if p.Name == "Password" && !p.NoEcho {
			t.Error("Password is not NoEcho")
		}
	}
	if want := []string{"Env", "Name", "Password", "Size", "Subnets"}; !reflect.DeepEqual(names, want) {
		t.Errorf("Parameters = %v, want %v", names, want)
	}
	if tpl.Format != "json" || tpl.RequiresChangeSet || !reflect.DeepEqual(tpl.Outputs, []string{"Url"}) {
		t.Errorf("Format %q, RequiresChangeSet %v, Outputs %v", tpl.Format, tpl.RequiresChangeSet, tpl.Outputs)
	}
}

// TestMarshalJSONEvaluatesNothing: intrinsic functions reach the template
// as written, whether goformation-encoded or plain maps. goformation's own
// Template.JSON evaluates the plain ones (a Ref to AWS::Region became
// "us-east-1", Fn::Select of Fn::GetAZs an availability zone).
func TestMarshalJSONEvaluatesNothing(t *testing.T) {
	tpl := cloudformation.NewTemplate()
	tpl.Mappings["M"] = map[string]any{"us-east-1": map[string]any{"Ami": "ami-1"}}
	tpl.Parameters["P"] = cloudformation.Parameter{Type: "String", Default: "dflt"}
	tpl.Outputs["Plain"] = cloudformation.Output{Value: map[string]any{
		"Region": map[string]any{"Ref": "AWS::Region"},
		"Param":  map[string]any{"Ref": "P"},
		"Az":     map[string]any{"Fn::Select": []any{0, map[string]any{"Fn::GetAZs": ""}}},
		"Join":   map[string]any{"Fn::Join": []any{"-", []any{"a", "b"}}},
		"Ami":    map[string]any{"Fn::FindInMap": []any{"M", "us-east-1", "Ami"}},
		"B64":    map[string]any{"Fn::Base64": "hello"},
		"Text":   "aGVsbG8gd29ybGQ=", // base64, but of no intrinsic: kept
	}}
	tpl.Outputs["Encoded"] = cloudformation.Output{Value: cloudformation.Join("", []string{cloudformation.Ref("AWS::Region"), "-x"})}
	got, err := MarshalJSON(tpl, 1)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Outputs map[string]struct{ Value any }
	}
	if err := json.Unmarshal(got, &out); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"Plain": map[string]any{
			"Region": map[string]any{"Ref": "AWS::Region"},
			"Param":  map[string]any{"Ref": "P"},
			"Az":     map[string]any{"Fn::Select": []any{0.0, map[string]any{"Fn::GetAZs": ""}}},
			"Join":   map[string]any{"Fn::Join": []any{"-", []any{"a", "b"}}},
			"Ami":    map[string]any{"Fn::FindInMap": []any{"M", "us-east-1", "Ami"}},
			"B64":    map[string]any{"Fn::Base64": "hello"},
			"Text":   "aGVsbG8gd29ybGQ=",
		},
		"Encoded": map[string]any{"Fn::Join": []any{"", []any{map[string]any{"Ref": "AWS::Region"}, "-x"}}},
	}
	for k, w := range want {
		if !reflect.DeepEqual(out.Outputs[k].Value, w) {
			t.Errorf("output %s:\n got %#v\nwant %#v", k, out.Outputs[k].Value, w)
		}
	}
}

// TestMarshalJSONEnsuresASCII: like troposphere's to_json (Python's
// ensure_ascii), characters outside printable ASCII are \uXXXX escapes,
// beyond the BMP as a surrogate pair.
func TestMarshalJSONEnsuresASCII(t *testing.T) {
	tpl := cloudformation.NewTemplate()
	tpl.Description = "café \u007f 😀 <tag> & \"q\""
	got, err := MarshalJSON(tpl, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := `"Description": "caf\u00e9 \u007f \ud83d\ude00 <tag> & \"q\""`
	if !strings.Contains(string(got), want) {
		t.Fatalf("got\n%s\nwant it to contain\n%s", got, want)
	}
}
