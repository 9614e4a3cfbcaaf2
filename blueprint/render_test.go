package blueprint

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"reflect"
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
