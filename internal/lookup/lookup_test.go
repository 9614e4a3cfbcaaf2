package lookup

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func outputsEnv(outs map[string]map[string]string) *Env {
	return &Env{
		Stack:       "app",
		Environment: map[string]any{"env": "prod", "list": []any{"a", "b"}},
		Outputs: func(_ context.Context, stack string) (map[string]string, error) {
			if stack == "off" {
				return nil, ErrStackDisabled
			}
			o, ok := outs[stack]
			if !ok {
				return nil, errors.New("stack has not run")
			}
			return o, nil
		},
		FQN:      func(n string) string { return "ns-" + n },
		HookData: map[string]map[string]any{"lambda": {"Code": map[string]any{"S3Key": "k"}}},
	}
}

var testOutputs = map[string]map[string]string{
	"vpc": {"Id": "vpc-1", "Subnets": "s1,s2,s3"},
	"db":  {"Host": "db.local"},
}

func TestParseWhatIsALookup(t *testing.T) {
	r := NewRegistry()
	tests := []struct {
		name, in string
		lookups  bool
		err      string
	}{
		{"plain text", "hello", false, ""},
		{"registered type and whitespace", "${output vpc::Id}", true, ""},
		{"cloudformation pseudo parameter", "${AWS::Region}", false, ""},
		{"cloudformation sub reference", "arn:${Foo}:x", false, ""},
		{"registered type without data", "${output}", false, ""},
		{"whitespace after ${", "${ output vpc::Id}", false, ""},
		{"unterminated", "${vpc_private_subnets", false, ""},
		{"unterminated lookup", "${output vpc::Id", false, "unterminated lookup ${output vpc::Id: it needs a closing }"},
		{"unterminated nested lookup", "${split ,::${output vpc::Id}", false, "unterminated lookup ${split"},
		{"unknown type far from any", "${Something else}", false, ""},
		{"misspelt type", "${outptu vpc::Id}", false, `unknown lookup type "outptu" (did you mean "output"?)`},
		{"capitalised type", "${Output vpc::Id}", false, `unknown lookup type "Output" (did you mean "output"?)`},
		{"misspelt nested type", "${split ,::${outptu vpc::Id}}", false, `unknown lookup type "outptu"`},
		{"nested", "${split ,::${output vpc::Subnets}}", true, ""},
		{"literal braces inside data", "${file plain:${AWS::Region}}", true, ""},
		{"dollar alone", "costs $5 and $", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.Parse(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.lookups {
				t.Fatalf("lookups = %v, want %v", got, tt.lookups)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "ud.sh"), []byte("echo {{Name}} in {{AWS::Region}}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "v.json"), []byte(`{"a": "x-{{P}}", "n": 1}`), 0o644)
	os.WriteFile(filepath.Join(dir, "v.yaml"), []byte("a: [1, two]\nb: {c: '{{Q}}'}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "name.txt"), []byte("STACKER_TEST_VAR\n"), 0o644)
	t.Setenv("STACKER_TEST_VAR", "from-os")
	r := NewRegistry()
	tests := []struct {
		name string
		in   any
		want any
		err  string
	}{
		{"no lookup", "plain ${AWS::Region}", "plain ${AWS::Region}", ""},
		{"output", "${output vpc::Id}", "vpc-1", ""},
		{"concatenation", "pre-${output vpc::Id}-${output db::Host}", "pre-vpc-1-db.local", ""},
		{"nested split", "${split ,::${output vpc::Subnets}}", []any{"s1", "s2", "s3"}, ""},
		{"nested default in stack name", "${output ${default target::vpc}::Id}", "vpc-1", ""},
		{"default from environment", "${default env::dev}", "prod", ""},
		{"default fallback", "${default nope::dev}", "dev", ""},
		{"default keeps environment type", "${default list::x}", []any{"a", "b"}, ""},
		{"envvar", "${envvar STACKER_TEST_VAR}", "from-os", ""},
		{"envvar name from file", "${envvar file://name.txt}", "from-os", ""},
		{"envvar missing", "${envvar STACKER_NOPE_NOPE}", nil, `EnvVar "STACKER_NOPE_NOPE" does not exist`},
		{"deep structures", map[string]any{"L": []any{"${output vpc::Id}", 3}, "M": map[string]any{"x": "${output db::Host}"}},
			map[string]any{"L": []any{"vpc-1", 3}, "M": map[string]any{"x": "db.local"}}, ""},
		{"list result inside text", "x-${split ,::a,b}", nil, `lookup ${split ,::a,b} returned a list, not a string: a lookup with a non-string result must be the whole value, but here it is part of "x-${split ,::a,b}"`},
		{"error names the variable", map[string]any{"Subnets": "x-${split ,::a,b}"}, nil, `variable Subnets: lookup ${split ,::a,b} returned a list`},
		{"missing output lists available", "${output vpc::Nope}", nil, `stack "vpc" has no output "Nope" (available: Id, Subnets)`},
		{"disabled stack", "${output off::Id}", nil, `stack "off" is disabled (enabled: false)`},
		{"output without ::", "${output vpc}", nil, `invalid value for output: "vpc", must be in <stack name>::<output name> format`},
		{"hook_data", "${hook_data lambda::Code}", map[string]any{"S3Key": "k"}, ""},
		{"hook_data missing key", "${hook_data lambda::Nope}", nil, `hook data "lambda" has no key "Nope" (keys: Code)`},
		{"split bad form", "${split abc}", nil, "invalid value for split"},
		{"file plain literal content", "${file plain:hello}", "hello", ""},
		{"file base64", "${file base64:hello}", "aGVsbG8=", ""},
		{"file parameterized from disk", "${file parameterized:file://ud.sh}", map[string]any{"Fn::Join": []any{"", []any{
			"echo ", map[string]any{"Ref": "Name"}, " in ", map[string]any{"Ref": "AWS::Region"}, "\n"}}}, ""},
		{"file parameterized without placeholders", "${file parameterized:abc}", "abc", ""},
		{"file parameterized-b64", "${file parameterized-b64:{{X}}}", map[string]any{"Fn::Base64": map[string]any{"Fn::Join": []any{"", []any{
			"", map[string]any{"Ref": "X"}, ""}}}}, ""},
		{"file json", "${file json:file://v.json}", map[string]any{"a": "x-{{P}}", "n": float64(1)}, ""},
		{"file json-parameterized", "${file json-parameterized:file://v.json}", map[string]any{"a": map[string]any{"Fn::Join": []any{"", []any{"x-", map[string]any{"Ref": "P"}, ""}}}, "n": float64(1)}, ""},
		{"file yaml", "${file yaml:file://v.yaml}", map[string]any{"a": []any{1, "two"}, "b": map[string]any{"c": "{{Q}}"}}, ""},
		{"file yaml-parameterized", "${file yaml-parameterized:file://v.yaml}", map[string]any{"a": []any{1, "two"}, "b": map[string]any{"c": map[string]any{"Fn::Join": []any{"", []any{"", map[string]any{"Ref": "Q"}, ""}}}}}, ""},
		{"file unknown codec", "${file plian:x}", nil, `unknown file codec "plian" (did you mean "plain"?)`},
		{"file missing", "${file plain:file://nope.txt}", nil, "read file://nope.txt"},
		{"file without codec", "${file abc}", nil, `file value must be of the format "<codec>:<path>"`},
		{"rxref offline without AWS", "${rxref vpc::Id}", nil, "rxref lookups need AWS credentials"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := outputsEnv(testOutputs)
			env.ConfigDir = dir
			got, err := r.Resolve(context.Background(), tt.in, env)
			checkResult(t, got, err, tt.want, tt.err)
		})
	}
}

func TestResolveOffline(t *testing.T) {
	r := NewRegistry()
	env := &Env{Offline: true, Environment: map[string]any{}}
	tests := []struct {
		in   string
		want any
	}{
		{"${output vpc::Subnets}", "<output vpc::Subnets>"},
		{"${split ,::${output vpc::Subnets}}", []any{"<output vpc::Subnets>"}},
		{"x-${output vpc::Id}", "x-<output vpc::Id>"},
		{"${hook_data k::v}", "<hook_data k::v>"},
		{"${output ${output a::Name}::Id}", "<output <output a::Name>::Id>"},
		{"${xref other-stack::Id}", "<xref other-stack::Id>"},
		{"${ssmstore us-west-2@/a/b}", "<ssmstore us-west-2@/a/b>"},
	}
	for _, tt := range tests {
		got, err := r.Resolve(context.Background(), tt.in, env)
		if err != nil {
			t.Fatalf("%s: %v", tt.in, err)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: got %#v, want %#v", tt.in, got, tt.want)
		}
	}
}

func TestDependencies(t *testing.T) {
	r := NewRegistry()
	r.SetEnvironment(map[string]any{"which": "db"}, "")
	tests := []struct {
		name string
		in   any
		want []string
		err  string
	}{
		{"none", "plain", nil, ""},
		{"direct", "${output vpc::Id}", []string{"vpc"}, ""},
		{"nested in split (stacker missed these)", "${split ,::${output vpc::Subnets}}", []string{"vpc"}, ""},
		{"stack name from the environment", "${output ${default which::vpc}::Host}", []string{"db"}, ""},
		{"stack name from another output is unknowable", "${output ${output vpc::Name}::Id}", []string{"vpc"}, ""},
		{"deep, sorted, unique", map[string]any{"a": []any{"${output z::X}", "${output a::X}"}, "b": "${output z::Y}"}, []string{"a", "z"}, ""},
		{"xref makes no edge", "${xref vpc::Id}", nil, ""},
		{"cloudformation text", "${AWS::Region}", nil, ""},
		{"bad output data", "${output vpc}", nil, "must be in <stack name>::<output name> format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.Dependencies(tt.in)
			checkResult(t, got, err, tt.want, tt.err)
		})
	}
}

func TestValidate(t *testing.T) {
	r := NewRegistry()
	tests := []struct {
		in  any
		err string
	}{
		{map[string]any{"A": "${output vpc::Id}", "B": []any{"${AWS::Region}"}}, ""},
		{map[string]any{"A": []any{"ok", "${kmss blob}"}}, `variable A[1]: unknown lookup type "kmss" (did you mean "kms"?)`},
		{"${file jsn:x}", `unknown file codec "jsn"`},
		{"${hook_data onlykey}", "invalid value for hook_data"},
		{"${ami owners:self}", "'name_regex' value required when using ami"},
		{"${dynamodb table}", "Please make sure to include a tablename"},
		{"${dynamodb t@k:v.a[X]}", "Stacker does not support looking up the datatype: X"},
		{"${default novalue}", "invalid value for default"},
		{"${output ${default a::b}::c}", ""},
	}
	for _, tt := range tests {
		err := r.Validate(tt.in)
		if tt.err == "" {
			if err != nil {
				t.Errorf("%v: %v", tt.in, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%v: err = %v, want %q", tt.in, err, tt.err)
		}
	}
}

func TestCustomHandlers(t *testing.T) {
	upper := HandlerFunc(func(_ context.Context, data string, _ *Env) (any, error) {
		return strings.ToUpper(data), nil
	})
	// The registry is process-wide: a second run (-count=2) finds it there.
	if err := RegisterCustom("test.Upper", upper); err != nil && !slices.Contains(CustomNames(), "test.Upper") {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		h    Handler
		want string
	}{
		{"", upper, "empty name"},
		{"test.Nil", nil, `"test.Nil": nil handler`},
		{"test.Upper", upper, `"test.Upper" registered twice`},
	} {
		if err := RegisterCustom(tt.name, tt.h); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("RegisterCustom(%q) = %v, want %q", tt.name, err, tt.want)
		}
	}
	r := NewRegistry()
	if err := r.UseCustom("upper", "test.Upper"); err != nil {
		t.Fatal(err)
	}
	got, err := r.Resolve(context.Background(), "${upper abc}", &Env{})
	if err != nil || got != "ABC" {
		t.Fatalf("got %v, %v", got, err)
	}
	err = r.UseCustom("x", "test.Uper")
	if err == nil || !strings.Contains(err.Error(), `lookup handler "test.Uper" is not built into this stacker binary (did you mean "test.Upper"?); registered custom handlers: test.Upper`) {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(strings.Join(r.Types(), ","), "upper") {
		t.Fatalf("types = %v", r.Types())
	}
}

// checkResult fails the test unless err contains wantErr (when set), or else
// got deeply equals want.
func checkResult(t *testing.T, got any, err error, want any, wantErr string) {
	t.Helper()
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("err = %v\nwant %q", err, wantErr)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %#v\nwant %#v", got, want)
	}
}
