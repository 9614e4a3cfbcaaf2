package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stacker-go/stacker/app"
)

func TestSubnet(t *testing.T) {
	tests := []struct {
		name, value, want, err string
	}{
		{"fourth /24 of a /16", "10.0.0.0/16::24::3", "10.0.3.0/24", ""},
		{"block need not be masked", "10.0.9.9/16::20::1", "10.0.16.0/20", ""},
		{"whole block", "10.1.0.0/16::16::0", "10.1.0.0/16", ""},
		{"index past the block", "10.0.0.0/16::24::256", "", "has 256 /24 networks"},
		{"bits shorter than the block", "10.0.0.0/16::8::0", "", "want a prefix length from 16 to 32"},
		{"missing parts", "10.0.0.0/16::24", "", "want BLOCK::BITS::INDEX"},
		{"not a block", "vpc::24::0", "", "block:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := subnet(context.Background(), tt.value, nil)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("subnet(%q) error = %v, want %q", tt.value, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("subnet(%q) = %v, %v; want %s", tt.value, got, err, tt.want)
			}
		})
	}
}

// TestConfigUsesTheLookup runs this binary's command line on a config that
// maps a lookup type to the registered handler, rendering its template
// offline (build --dump).
func TestConfigUsesTheLookup(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("network.yaml.j2", `Resources:
  App:
    Type: AWS::EC2::Subnet
    Properties:
      CidrBlock: {{ variables.AppCidr }}
      VpcId: vpc-123
`)
	write("stacker.yaml", `namespace: demo
lookups:
  subnet: mycompany.Subnet
stacks:
  - name: network
    template_path: network.yaml.j2
    variables:
      AppCidr: ${subnet 10.0.0.0/16::24::3}
`)
	out := filepath.Join(dir, "out")
	if code := app.Main([]string{"build", "--dump", out, filepath.Join(dir, "stacker.yaml")}); code != 0 {
		t.Fatalf("stacker build --dump exited %d", code)
	}
	files, err := filepath.Glob(filepath.Join(out, "stack_templates", "*", "*"))
	if err != nil || len(files) != 1 {
		t.Fatalf("dumped templates = %v, %v; want one", files, err)
	}
	body, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(body), "CidrBlock: 10.0.3.0/24") {
		t.Errorf("template:\n%s\nwant CidrBlock: 10.0.3.0/24", body)
	}
}
