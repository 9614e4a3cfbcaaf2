package testblueprints_test

import (
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stacker-go/stacker/blueprint"
	"github.com/stacker-go/stacker/internal/blueprinttest"
	_ "github.com/stacker-go/stacker/internal/testblueprints"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

type renderCase struct {
	golden    string
	classPath string
	vars      map[string]any
	lint      bool // valid CloudFormation (the broken mocks are not)
}

var cases = []renderCase{
	{"Dummy", "stacker.tests.fixtures.mock_blueprints.Dummy", nil, true},
	{"Dummy2", "blueprints.Dummy2", nil, true},
	{"LongRunningDummy", "blueprints.LongRunningDummy", nil, false},
	{"LongRunningDummy-3-unbroken", "blueprints.LongRunningDummy", map[string]any{"Count": 3, "BreakLast": false, "OutputValue": "x"}, true},
	{"Broken", "blueprints.Broken", nil, false},
	{"DiffTester", "blueprints.DiffTester", map[string]any{"WaitConditionCount": 2}, true},
	{"Bastion", "blueprints.Bastion", map[string]any{
		"VpcId": "vpc-1", "DefaultSG": "sg-1", "PublicSubnets": []any{"subnet-1", "subnet-2"},
		"PrivateSubnets": "subnet-3,subnet-4", "AvailabilityZones": []any{"us-east-1a", "us-east-1b"},
		"SshKeyName": "key", "OfficeNetwork": "203.0.113.0/24",
	}, false}, // no resources, as stacker's mock
	{"MockVPC", "stacker.tests.fixtures.mock_blueprints.VPC", map[string]any{
		"PublicSubnets": "10.128.0.0/24,10.128.1.0/24", "PrivateSubnets": []any{"10.128.8.0/22", "10.128.12.0/22"},
	}, true},
}

func render(t testing.TB, c renderCase) *blueprint.Template {
	t.Helper()
	bp, err := blueprint.Lookup(c.classPath)
	if err != nil {
		t.Fatal(err)
	}
	vars, err := blueprint.ResolveVariables(bp, c.golden, c.vars)
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := bp.Render(context.Background(), &blueprint.Input{
		Name: c.golden, FQN: "test-" + c.golden, Namespace: "test", Variables: vars, Indent: 4,
	})
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

func TestRenderGolden(t *testing.T) {
	for _, c := range cases {
		t.Run(c.golden, func(t *testing.T) {
			got := blueprinttest.Summary(render(t, c))
			path := filepath.Join("testdata", c.golden+".golden")
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
				t.Errorf("rendered template differs from %s (run go test -update to accept):\n%s", path, got)
			}
		})
	}
}

func TestShortAndStackerNames(t *testing.T) {
	for _, n := range []string{"Dummy", "Dummy2", "LongRunningDummy", "Broken", "DiffTester", "Bastion"} {
		for _, cp := range []string{"blueprints." + n, "stacker.tests.fixtures.mock_blueprints." + n} {
			if _, err := blueprint.Lookup(cp); err != nil {
				t.Errorf("Lookup(%q): %v", cp, err)
			}
		}
	}
	if _, err := blueprint.Lookup("stacker.tests.fixtures.mock_blueprints.VPC"); err != nil {
		t.Error(err)
	}
}

// TestCFNLint runs cfn-lint on every valid rendered template. Without
// cfn-lint the test is skipped, unless STACKER_REQUIRE_CFN_LINT=1 (CI).
func TestCFNLint(t *testing.T) {
	lint := blueprinttest.CFNLint()
	if lint == "" {
		if os.Getenv("STACKER_REQUIRE_CFN_LINT") == "1" {
			t.Fatal("cfn-lint not found and STACKER_REQUIRE_CFN_LINT=1")
		}
		t.Skip("cfn-lint not installed (set STACKER_REQUIRE_CFN_LINT=1 to make this a failure)")
	}
	dir := t.TempDir()
	var files []string
	for _, c := range cases {
		if !c.lint {
			continue
		}
		p := filepath.Join(dir, c.golden+".json")
		if err := os.WriteFile(p, render(t, c).Body, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	// The mocks declare parameters they do not use, as stacker's do.
	out, err := exec.Command(lint, append([]string{"--ignore-checks", "W2001", "--"}, files...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("cfn-lint failed: %v\n%s", err, out)
	}
}
