package template

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/stacker-go/stacker/blueprint"
	_ "github.com/stacker-go/stacker/blueprints/all"
	"github.com/stacker-go/stacker/internal/config"
	_ "github.com/stacker-go/stacker/internal/testblueprints"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

func testConfig() *config.Config {
	return &config.Config{
		Path:               "testdata/stacker.yaml",
		Dir:                "testdata",
		Namespace:          "test",
		NamespaceDelimiter: "-",
		TemplateIndent:     4,
		SysPath:            "syspath",
		Environment:        map[string]any{"foo": "bar"},
		Mappings: map[string]map[string]map[string]any{
			"AmiMap": {"us-east-1": {"NAT": "ami-0123456789abcdef0"}},
		},
	}
}

func stack(name, templatePath, classPath string) *config.Stack {
	return &config.Stack{
		Name: name, TemplatePath: templatePath, ClassPath: classPath, Enabled: true,
		Pos: config.Pos{File: "testdata/stacker.yaml", Line: 7, Col: 5},
	}
}

// summary is what a person checks in a golden file: the body sent to
// CloudFormation and everything extracted from it.
func summary(st *config.Stack, t *blueprint.Template) string {
	var b strings.Builder
	b.Write(t.Body)
	fmt.Fprintf(&b, "\n--- format: %s\n--- requires change set: %v\n--- parameters:\n", t.Format, t.RequiresChangeSet)
	for _, p := range t.Parameters {
		fmt.Fprintf(&b, "  %s type=%s default=%v", p.Name, p.Type, p.HasDefault)
		if p.HasDefault && !p.NoEcho {
			fmt.Fprintf(&b, "(%s)", p.Default)
		}
		if p.NoEcho {
			b.WriteString(" noecho")
		}
		b.WriteString("\n")
	}
	b.WriteString("--- values:\n")
	keys := make([]string, 0, len(t.ParameterValues))
	for k := range t.ParameterValues {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "  %s=%s\n", k, t.ParameterValues[k])
	}
	fmt.Fprintf(&b, "--- outputs: %s\n--- key: %s\n", strings.Join(t.Outputs, ", "),
		ObjectKey("test-"+st.Name, st.Name, t))
	return b.String()
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run go test -update to accept):\n%s", path, got)
	}
}

func TestRenderGolden(t *testing.T) {
	tests := []struct {
		golden string
		stack  *config.Stack
		vars   map[string]any
	}{
		{"raw-json", stack("json", "templates/cfn_template.json", ""),
			map[string]any{"Param1": "x", "Param2": []any{"a", "b"}, "Unused": "ignored"}},
		{"raw-yaml-short-tags", stack("yaml", "templates/short_tags.yaml", ""),
			map[string]any{"BucketName": "b", "Subnets": []any{"subnet-1", "subnet-2"}, "Secret": nil, "Env": "prod", "Zones": "x,y"}},
		{"raw-transform", stack("sam", "templates/transform.yaml", ""), nil},
		{"j2-json", stack("j2json", "templates/cfn_template.json.j2", ""),
			map[string]any{"Param1": "p1", "bar": "baz"}},
		{"j2-yaml", stack("handles", "templates/handles.yaml.j2", ""),
			map[string]any{"Count": 2, "Size": 3.0}},
		{"sys-path", stack("sys", "templates/from_syspath.yaml", ""), nil},
		{"blueprint-dummy", func() *config.Stack {
			s := stack("dummy", "", "stacker.tests.fixtures.mock_blueprints.Dummy")
			s.Description = "A dummy & its <description>"
			return s
		}(), map[string]any{"StringVariable": 42}},
		{"blueprint-bastion", stack("bastion", "", "blueprints.Bastion"), map[string]any{
			"VpcId": "vpc-1", "DefaultSG": "sg-1", "PublicSubnets": []any{"subnet-1", "subnet-2"},
			"PrivateSubnets": "subnet-3,subnet-4", "AvailabilityZones": []any{"us-east-1a", "us-east-1b"},
			"SshKeyName": "key", "OfficeNetwork": "203.0.113.0/24", "MinSize": 2,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			tpl, err := Render(context.Background(), testConfig(), tt.stack, tt.vars)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, tt.golden, summary(tt.stack, tpl))
		})
	}
}

func TestRawYAMLIsSentByteForByte(t *testing.T) {
	for _, p := range []string{"templates/short_tags.yaml", "templates/cfn_template.json", "templates/transform.yaml"} {
		want, err := os.ReadFile(filepath.Join("testdata", p))
		if err != nil {
			t.Fatal(err)
		}
		tpl, err := Render(context.Background(), testConfig(), stack("s", p, ""), nil)
		if err != nil {
			t.Fatal(err)
		}
		if string(tpl.Body) != string(want) {
			t.Errorf("%s: body changed", p)
		}
	}
}

func TestFindTemplateOrder(t *testing.T) {
	root := t.TempDir()
	cfgDir := filepath.Join(root, "cfg")
	cwd := filepath.Join(root, "cwd")
	sys := filepath.Join(root, "sys")
	write := func(dir, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Join(dir, "t"), 0o755); err != nil {
			t.Fatal(err)
		}
		body := "Resources:\n  " + content + ":\n    Type: AWS::CloudFormation::WaitConditionHandle\n"
		if err := os.WriteFile(filepath.Join(dir, "t", "x.yaml"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(root)
	if err := os.MkdirAll(cwd, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{Dir: cfgDir, SysPath: "../sys"}
	st := stack("s", "t/x.yaml", "")
	render := func() string {
		t.Helper()
		tpl, err := Render(context.Background(), cfg, st, nil)
		if err != nil {
			t.Fatal(err)
		}
		return string(tpl.Body)
	}

	write(sys, "FromSysPath")
	t.Chdir(cwd)
	if got := render(); !strings.Contains(got, "FromSysPath") {
		t.Errorf("only in sys_path: got %q", got)
	}
	write(cwd, "FromCWD")
	if got := render(); !strings.Contains(got, "FromCWD") {
		t.Errorf("CWD before sys_path: got %q", got)
	}
	write(cfgDir, "FromConfigDir")
	if got := render(); !strings.Contains(got, "FromConfigDir") {
		t.Errorf("config dir first: got %q", got)
	}

	_, err := Render(context.Background(), cfg, stack("s", "t/missing.yaml", ""), nil)
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("missing template: error %v is not a *config.Error", err)
	}
	if !strings.Contains(err.Error(), "could not find template t/missing.yaml") || ce.Pos.Line != 7 {
		t.Errorf("missing template: error = %q (pos %v)", err, ce.Pos)
	}
}

func TestRenderErrors(t *testing.T) {
	dir := t.TempDir()
	bad := func(name, body string) string {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return filepath.Join(dir, name)
	}
	tests := []struct {
		name    string
		stack   *config.Stack
		vars    map[string]any
		wantErr string
	}{
		{"unknown class path", stack("s", "", "blueprints.Dumy"), nil, `unknown blueprint class_path "blueprints.Dumy"; did you mean "blueprints.Dummy"`},
		{"suggestions across names", stack("s", "", "stacker_blueprints.vpc.VPc"), nil,
			`did you mean "stacker_blueprints.vpc.VPC", "stacker.tests.fixtures.mock_blueprints.VPC"?`},
		{"blueprint variable error", stack("s", "", "blueprints.DiffTester"), nil, `Variable "WaitConditionCount" in blueprint "s" is missing`},
		{"neither path", stack("s", "", ""), nil, "has neither class_path nor template_path"},
		{"YAML error", stack("s", bad("bad.yaml", "a: [b\n"), ""), nil, "parsing YAML"},
		{"not a mapping", stack("s", bad("list.yaml", "- a\n"), ""), nil, "a template must be a mapping"},
		{"empty", stack("s", bad("empty.yaml", "\n"), ""), nil, "empty template"},
		{"j2 syntax", stack("s", bad("bad.yaml.j2", "{% for %}"), ""), nil, "jinja2"},
		{"unsupported parameter value", stack("s", bad("p.yaml", "Parameters:\n  P:\n    Type: String\n"), ""),
			map[string]any{"P": func() {}}, `parameter "P"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Render(context.Background(), testConfig(), tt.stack, tt.vars)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestParameterValues(t *testing.T) {
	params := []blueprint.Parameter{{Name: "S"}, {Name: "L"}, {Name: "B"}, {Name: "N"}, {Name: "F"}, {Name: "Big"}, {Name: "Nil"}, {Name: "M"}, {Name: "LL"}}
	tests := []struct {
		name string
		vars map[string]any
		want map[string]string
	}{
		{"string as is", map[string]any{"S": "a b"}, map[string]string{"S": "a b"}},
		{"list joined by commas", map[string]any{"L": []any{"a", "b", 3}}, map[string]string{"L": "a,b,3"}},
		{"string slice joined", map[string]any{"L": []string{"x", "y"}}, map[string]string{"L": "x,y"}},
		{"empty list is empty", map[string]any{"L": []any{}}, map[string]string{"L": ""}},
		{"bools lower case", map[string]any{"B": true, "S": false}, map[string]string{"B": "true", "S": "false"}},
		{"numbers without python-isms", map[string]any{"N": 3, "F": 2.0, "Big": 1e21}, map[string]string{"N": "3", "F": "2", "Big": "1000000000000000000000"}},
		{"fractions kept", map[string]any{"F": 0.25}, map[string]string{"F": "0.25"}},
		{"nil dropped", map[string]any{"Nil": nil}, map[string]string{}},
		{"undeclared dropped", map[string]any{"Other": "x"}, map[string]string{}},
		{"maps as JSON", map[string]any{"M": map[string]any{"b": 1, "a": "x"}}, map[string]string{"M": `{"a":"x","b":1}`}},
		{"nested lists as JSON elements", map[string]any{"LL": []any{[]any{1, 2}, "z", true}}, map[string]string{"LL": "[1,2],z,true"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParameterValues(params, tt.vars)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestHashAndObjectKey(t *testing.T) {
	a := &blueprint.Template{Body: []byte(`{"a":1}`), Format: "json"}
	b := &blueprint.Template{Body: []byte(`{"a":2}`), Format: "json"}
	y := &blueprint.Template{Body: []byte("a: 1\n"), Format: "yaml"}
	if len(Hash(a)) != HashLen || Hash(a) == Hash(b) {
		t.Errorf("Hash: %q %q", Hash(a), Hash(b))
	}
	if Hash(a) != Hash(&blueprint.Template{Body: []byte(`{"a":1}`)}) {
		t.Error("Hash is not a function of the body")
	}
	if got, want := ObjectKey("ns-vpc", "vpc", a), "stack_templates/ns-vpc/vpc-"+Hash(a)+".json"; got != want {
		t.Errorf("ObjectKey = %q, want %q", got, want)
	}
	if got := ObjectKey("ns-app", "team/app", y); !strings.HasSuffix(got, ".yaml") || !strings.HasPrefix(got, "stack_templates/ns-app/team/app-") {
		t.Errorf("yaml ObjectKey = %q", got)
	}
}

func TestJ2SeesContext(t *testing.T) {
	cfg := testConfig()
	out, err := RenderJ2("", []byte(`{{ context.get_fqn("vpc") }}|{{ context.get_fqn("test-vpc") }}|{{ context.get_fqn() }}|{{ context.bucket_name }}|{{ name }}|{{ variables.L | join("+") }}|{{ undefined }}{{ variables.nope }}`),
		J2Data{Context: j2Context(cfg, nil), Name: "s", Variables: map[string]any{"L": []any{"a", "b"}}})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(out), "test-vpc|test-vpc|test|stacker-test|s|a+b|"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func BenchmarkRenderVPC(b *testing.B) {
	cfg := testConfig()
	st := stack("vpc", "", "stacker_blueprints.vpc.VPC")
	vars := map[string]any{
		"AZCount":        3,
		"PublicSubnets":  []any{"10.128.0.0/24", "10.128.1.0/24", "10.128.2.0/24"},
		"PrivateSubnets": []any{"10.128.8.0/22", "10.128.12.0/22", "10.128.16.0/22"},
		"InternalDomain": "corp.internal",
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Render(context.Background(), cfg, st, vars); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRenderRawYAML(b *testing.B) {
	cfg := testConfig()
	st := stack("yaml", "templates/short_tags.yaml", "")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Render(context.Background(), cfg, st, map[string]any{"BucketName": "b"}); err != nil {
			b.Fatal(err)
		}
	}
}

// Stacks render concurrently: rendering must not share mutable state.
func TestRenderConcurrently(t *testing.T) {
	cfg := testConfig()
	stacks := []*config.Stack{
		stack("j2", "templates/handles.yaml.j2", ""),
		stack("yaml", "templates/short_tags.yaml", ""),
		stack("vpc", "", "stacker_blueprints.vpc.VPC"),
	}
	vars := []map[string]any{{"Count": 2}, {"Count": 2}, {"PublicSubnets": "10.128.0.0/24,10.128.1.0/24", "PrivateSubnets": "10.128.8.0/22,10.128.12.0/22"}}
	errs := make(chan error, 30)
	for i := range 30 {
		go func() {
			_, err := Render(context.Background(), cfg, stacks[i%len(stacks)], vars[i%len(stacks)])
			errs <- err
		}()
	}
	for range 30 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
