package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// load writes a config (and an optional env file named envName) to a
// temporary directory and loads it.
func load(t *testing.T, cfgText, envName, envText string, overrides ...string) (*Config, error) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "stacker.yaml")
	if err := os.WriteFile(path, []byte(cfgText), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := LoadOptions{Path: path, EnvOverrides: overrides}
	if envName != "" {
		opts.EnvFile = filepath.Join(dir, envName)
		if err := os.WriteFile(opts.EnvFile, []byte(envText), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return Load(opts)
}

func mustLoad(t *testing.T, cfgText, envName, envText string, overrides ...string) *Config {
	t.Helper()
	cfg, err := load(t, cfgText, envName, envText, overrides...)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return cfg
}

func TestEnvironmentSubstitution(t *testing.T) {
	const stack = "namespace: ns\nstacks:\n  - name: s\n    class_path: a.B\n"
	tests := []struct {
		name            string
		vars            string // YAML under variables:
		envName, envTxt string
		overrides       []string
		want            map[string]any
	}{
		{"simple env, braced and bare", "A: ${x}-$x", "e.env", "x: 1", nil, map[string]any{"A": "1-1"}},
		{"simple env whole value is re-typed", "A: ${x}\nB: ${y}\nC: '${x}'", "e.env", "x: 5\ny: true", nil, map[string]any{"A": 5, "B": true, "C": "5"}},
		{"$$ escapes", "A: $${x} costs $$5", "e.env", "x: 1", nil, map[string]any{"A": "${x} costs $5"}},
		{"$$ escapes in YAML env too", "A: $$a", "e.yaml", "a: 1", nil, map[string]any{"A": "$a"}},
		{"unknown $name stays", "A: echo $HOME", "", "", nil, map[string]any{"A": "echo $HOME"}},
		{"lookups are left for later", "A: ${xref vpc::Id}", "", "", nil, map[string]any{"A": "${xref vpc::Id}"}},
		{"env refs inside lookups are replaced", "A: ${xref ${env}-vpc::Id}", "e.env", "env: prod", nil, map[string]any{"A": "${xref prod-vpc::Id}"}},
		{"cloudformation text stays", "A: ${AWS::Region}", "", "", nil, map[string]any{"A": "${AWS::Region}"}},
		{"YAML env list takes its type", "A: ${azs}\nB: ${n}", "e.yml", "azs: [a, b]\nn: 3", nil, map[string]any{"A": []any{"a", "b"}, "B": 3}},
		{"YAML env mapping", "A: ${m}", "e.yaml", "m: {k: v}", nil, map[string]any{"A": map[string]any{"k": "v"}}},
		{"YAML env null is a value", "A: ${n}\nB: x${n}", "e.yaml", "n: null", nil, map[string]any{"A": nil, "B": "x"}},
		{"YAML env string stays a string", "A: ${s}", "e.yaml", "s: 'true'", nil, map[string]any{"A": "true"}},
		{"-e overrides the file", "A: ${x}", "e.env", "x: 1", []string{"x=2=3"}, map[string]any{"A": "2=3"}},
		{"-e over YAML env is re-typed", "A: ${x}", "e.yaml", "x: [1]", []string{"x=false"}, map[string]any{"A": false}},
		{"any extension but yaml is simple", "A: ${x}", "e.txt", "# c\n\nx: a: b", nil, map[string]any{"A": "a: b"}},
		{"numbers as YAML types them, account ids kept", "A: 012345678901\nB: 0x10\nC: 1.5\nD: 99999999999999999999\nE: 1e3", "", "", nil,
			map[string]any{"A": "012345678901", "B": 16, "C": 1.5, "D": "99999999999999999999", "E": 1000.0}},
		{"comments are not substituted", "A: 1 # ${missing}", "", "", nil, map[string]any{"A": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := mustLoad(t, stack+"    variables:\n"+indent(tt.vars, "      "), tt.envName, tt.envTxt, tt.overrides...)
			if got := cfg.Stacks[0].Variables; !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("variables = %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func indent(s, pre string) string {
	lines := strings.Split(s, "\n")
	for i := range lines {
		lines[i] = pre + lines[i]
	}
	return strings.Join(lines, "\n") + "\n"
}

func TestTypedFieldsFromEnvironment(t *testing.T) {
	cfg := mustLoad(t, `namespace: ${ns}
stacker_bucket: ${bucket}
stacks:
  - name: s
    class_path: a.B
    enabled: ${flag}
    locked: ${flag}
`, "e.env", "ns: prod\nflag: false\nbucket:\n")
	st := cfg.Stacks[0]
	if cfg.Namespace != "prod" || st.Enabled || st.Locked {
		t.Fatalf("namespace %q enabled %v locked %v", cfg.Namespace, st.Enabled, st.Locked)
	}
	// An empty simple-env value is null, like stacker: the default bucket.
	if cfg.StackerBucket != nil || cfg.BucketName() != "stacker-prod" {
		t.Fatalf("bucket %v %q", cfg.StackerBucket, cfg.BucketName())
	}
}

func TestDecodeDefaultsAndForms(t *testing.T) {
	cfg := mustLoad(t, `namespace: My.App
x-defaults: &defaults
  region: eu-west-1
  tags: {team: core}
targets:
  - name: network
    requires: [vpc]
stacks:
  zeta:
    <<: *defaults
    class_path: blueprints.vpc.VPC
    variables:
      Cidr: 10.0.0.0/16
      Azs: [a, b]
      Nested: {K: [1, 2.5, true, null]}
  alpha:
    <<: *defaults
    region: us-east-1
    template_path: t.yaml
    stack_name: custom
    requires: [zeta]
    termination_protection: true
    service_role: arn:aws:iam::123456789012:role/cfn
    account_id: "012345678901"
    in_progress_behavior: wait
    notification_arns: [arn:sns]
    tags: {team: app, n: 5}
pre_build:
  first:
    path: hooks.one
    args: {a: 1}
  second:
    path: hooks.two
    required: false
    enabled: no
    data_key: two
accounts:
  prod: 111111111111
`, "", "")
	// Hooks run, so they no longer warn; nothing else warns either.
	if len(cfg.Warnings) != 0 {
		t.Fatalf("warnings: %v", cfg.Warnings)
	}
	if got := []string{cfg.Stacks[0].Name, cfg.Stacks[1].Name}; !reflect.DeepEqual(got, []string{"zeta", "alpha"}) {
		t.Fatalf("order %v: mapping form must keep document order", got)
	}
	z, a := cfg.Stack("zeta"), cfg.Stack("alpha")
	if z.Region != "eu-west-1" || a.Region != "us-east-1" || !z.Enabled || z.Tags["team"] != "core" {
		t.Fatalf("merge keys: %+v / %+v", z, a)
	}
	wantVars := map[string]any{"Cidr": "10.0.0.0/16", "Azs": []any{"a", "b"}, "Nested": map[string]any{"K": []any{1, 2.5, true, nil}}}
	if !reflect.DeepEqual(z.Variables, wantVars) {
		t.Fatalf("vars %#v", z.Variables)
	}
	if p := z.VariablePos["Cidr"]; p.Line != 13 || p.Col != 13 {
		t.Fatalf("variable position %+v", p)
	}
	if !a.TerminationProtection || a.AccountID != "012345678901" || a.InProgressBehavior != "wait" || a.ServiceRole == "" {
		t.Fatalf("new keys: %+v", a)
	}
	if cfg.NamespaceDelimiter != "-" || cfg.TemplateIndent != 4 {
		t.Fatalf("defaults: %q %d", cfg.NamespaceDelimiter, cfg.TemplateIndent)
	}
	if a.CFNName(cfg) != "my-app-custom" || z.CFNName(cfg) != "my-app-zeta" {
		t.Fatalf("names %q %q", a.CFNName(cfg), z.CFNName(cfg))
	}
	if got := cfg.StackTags(a); !reflect.DeepEqual(got, map[string]string{"stacker_namespace": "My.App", "team": "app", "n": "5"}) {
		t.Fatalf("tags %v", got)
	}
	if len(cfg.PreBuild) != 2 || !cfg.PreBuild[0].Required || !cfg.PreBuild[0].Enabled || cfg.PreBuild[1].Required || cfg.PreBuild[1].Enabled || cfg.PreBuild[1].DataKey != "two" {
		t.Fatalf("hooks %+v", cfg.PreBuild)
	}
	if cfg.Accounts["prod"] != "111111111111" || cfg.Targets[0].Requires[0] != "vpc" {
		t.Fatalf("accounts %v targets %v", cfg.Accounts, cfg.Targets)
	}
}

func TestNames(t *testing.T) {
	empty := ""
	bucket := "mine"
	tests := []struct {
		name     string
		cfg      Config
		stack    string
		fqn      string
		bucketIs string
	}{
		{"namespace and delimiter", Config{Namespace: "Prod.Eu", NamespaceDelimiter: "-"}, "vpc", "prod-eu-vpc", "stacker-prod-eu"},
		{"already prefixed", Config{Namespace: "prod", NamespaceDelimiter: "-"}, "prod-vpc", "prod-vpc", "stacker-prod"},
		{"custom delimiter", Config{Namespace: "prod", NamespaceDelimiter: "_"}, "vpc", "prod_vpc", "stacker-prod"},
		{"empty namespace", Config{NamespaceDelimiter: "-"}, "vpc", "vpc", ""},
		{"explicit empty bucket", Config{Namespace: "p", NamespaceDelimiter: "-", StackerBucket: &empty}, "", "p", ""},
		{"explicit bucket", Config{Namespace: "p", NamespaceDelimiter: "-", StackerBucket: &bucket}, "x", "p-x", "mine"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.cfg.FQN(tt.stack); got != tt.fqn {
				t.Errorf("FQN = %q, want %q", got, tt.fqn)
			}
			if got := tt.cfg.BucketName(); got != tt.bucketIs {
				t.Errorf("BucketName = %q, want %q", got, tt.bucketIs)
			}
		})
	}
	// Tags: absent -> default; {} -> none.
	c := mustLoad(t, "namespace: n\ntags: {}\nstacks: []\n", "", "")
	if got := c.StackTags(nil); len(got) != 0 {
		t.Fatalf("tags {} must disable the default, got %v", got)
	}
	c = mustLoad(t, "namespace: ''\nstacks: []\n", "", "")
	if got := c.StackTags(nil); len(got) != 0 {
		t.Fatalf("empty namespace has no default tag, got %v", got)
	}
}

func TestWarnings(t *testing.T) {
	cfg := mustLoad(t, "namespace: n\nstacker_buckt: x\nanchors: &a {x: 1}\nstacks: []\n", "", "")
	if len(cfg.Warnings) != 1 || !strings.Contains(cfg.Warnings[0], `stacker.yaml:2:1: unknown key "stacker_buckt" (did you mean "stacker_bucket"?); it is ignored`) {
		t.Fatalf("warnings = %q", cfg.Warnings)
	}
	cfg = mustLoad(t, "stacks: []\n", "e.env", "namespace: old")
	if cfg.Namespace != "old" || len(cfg.Warnings) != 1 || !strings.Contains(cfg.Warnings[0], "DEPRECATION") {
		t.Fatalf("namespace from env: %q %q", cfg.Namespace, cfg.Warnings)
	}
}

func TestStdinAndErrorsType(t *testing.T) {
	cfg, err := Load(LoadOptions{Path: "-", Stdin: strings.NewReader("namespace: n\nstacks:\n  - name: a\n    class_path: x.Y\n")})
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	if cfg.Dir != wd || cfg.Path != "-" {
		t.Fatalf("dir %q path %q", cfg.Dir, cfg.Path)
	}
	_, err = Load(LoadOptions{Path: "-", Stdin: strings.NewReader("namespace: n\nstacks:\n  - name: a\n  - name: b\n")})
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 2 || errs[0].Pos.Line != 3 || errs[0].Pos.File != StdinName {
		t.Fatalf("err = %#v", err)
	}
	var one *Error
	if !errors.As(err, &one) {
		t.Fatal("errors.As must find a single *Error inside Errors")
	}
}

func TestLookupDependenciesThroughConfig(t *testing.T) {
	cfg := mustLoad(t, `namespace: n
stacks:
  - name: vpc
    class_path: a.B
  - name: db
    class_path: a.B
  - name: app
    class_path: a.B
    variables:
      A: ${split ,::${output vpc::Subnets}}
      B: ${output ${default which::vpc}::Id}
`, "e.env", "which: db")
	deps, err := cfg.Registry().Dependencies(cfg.Stack("app").Variables)
	if err != nil || !reflect.DeepEqual(deps, []string{"db", "vpc"}) {
		t.Fatalf("deps %v %v", deps, err)
	}
}

func TestMergeKeyChainsStayFast(t *testing.T) {
	var b strings.Builder
	b.WriteString("namespace: n\nm0: &m0 {k0: v}\n")
	for i := 1; i <= 40; i++ {
		b.WriteString("m" + itoa(i) + ": &m" + itoa(i) + " {<<: [*m" + itoa(i-1) + ", *m" + itoa(i-1) + "], k" + itoa(i) + ": v}\n")
	}
	b.WriteString("stacks:\n  - name: s\n    class_path: c\n    tags: *m40\n")
	cfg := mustLoad(t, b.String(), "", "")
	if got := len(cfg.Stacks[0].Tags); got != 41 {
		t.Fatalf("tags = %d, want 41", got)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestTextSubstitution: a simple environment is substituted into the raw
// text as stacker did, so placeholders work in flow mappings and values
// are typed by YAML, while positions still point into the user's file.
func TestTextSubstitution(t *testing.T) {
	cfg := mustLoad(t, "namespace: ns\nstacks:\n  - {name: s, template_path: t.yaml, variables: {Param1: ${subnets}, N: ${n}, L: ${list}}}\n  # ${not_defined} in a comment\n",
		"e.env", "subnets: subnet-a\nn: 5\nlist: [x, y]\n")
	want := map[string]any{"Param1": "subnet-a", "N": 5, "L": []any{"x", "y"}}
	if got := cfg.Stacks[0].Variables; !reflect.DeepEqual(got, want) {
		t.Fatalf("variables = %#v, want %#v", got, want)
	}
	// A decoder error after a longer substitution on the same line is at
	// the column of the user's text.
	_, err := load(t, "namespace: ns\nstacks:\n  - {name: ${long}, class_path: a.B, rogue: 1}\n", "e.env", "long: "+strings.Repeat("x", 40)+"\n")
	if err == nil || !strings.Contains(err.Error(), "stacker.yaml:3:38:") {
		t.Fatalf("error = %v, want it at 3:38", err)
	}
}

// TestHugeInvalidEnvValue: a 10 MB value that is not UTF-8 is refused at
// its position.
func TestHugeInvalidEnvValue(t *testing.T) {
	_, err := load(t, "namespace: ns\n", "e.env", "ok: 1\nbig: "+strings.Repeat("\xff", 10<<20)+"\n")
	if err == nil || !strings.Contains(err.Error(), "e.env:2:6: invalid UTF-8") {
		t.Fatalf("error = %v", err)
	}
}
