package crossaccount

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stacker-go/stacker/internal/config"
	"github.com/stacker-go/stacker/internal/deploy"
	"github.com/stacker-go/stacker/internal/graph"
	"github.com/stacker-go/stacker/internal/target"
	"github.com/stacker-go/stacker/internal/ui"
)

// twentyStacks is a config of 20 small stacks over the three accounts;
// the prod and stage stacks read master outputs (cross-account ${output}).
func twentyStacks() string {
	var b strings.Builder
	b.WriteString("namespace: mfa\nstacker_bucket: ''\nstacks:\n")
	profiles := []string{"master", "prod", "stage"}
	for i := 0; i < 20; i++ {
		p := profiles[i%3]
		fmt.Fprintf(&b, "  - name: %s-%02d\n    profile: %s\n    template_path: handle.yaml\n", p, i, p)
		if p != "master" && i > 3 {
			fmt.Fprintf(&b, "    variables:\n      Upstream: ${output master-%02d::Handle}\n", (i/3)*3)
		}
	}
	return b.String()
}

const handleTemplate = `AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Upstream:
    Type: String
    Default: none
Resources:
  Handle:
    Type: AWS::CloudFormation::WaitConditionHandle
Outputs:
  Handle:
    Value: {Ref: Handle}
`

func TestOneMFAPromptForThreeAccountsAndTwentyStacks(t *testing.T) {
	s := newScenario(t)
	s.createRoles()
	s.longTermKeys()
	s.useExampleAWSConfig()
	s.edit(".aws/config", "# mfa_serial", "mfa_serial")
	if err := os.WriteFile(s.path("handle.yaml"), []byte(handleTemplate), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.path("twenty.yaml"), []byte(twentyStacks()), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(config.LoadOptions{Path: s.path("twenty.yaml")})
	if err != nil {
		t.Fatal(err)
	}
	g, err := graph.FromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}

	var before uint64 // the roles' build is not counted
	for _, e := range s.env.RequestLog() {
		before = max(before, e.Seq)
	}
	var prompts atomic.Int32
	code := s.env.TOTP()
	s.secrets = append(s.secrets, code)
	targets := target.NewFactory(target.Options{
		DefaultProfile: "master",
		Prompt: func(ctx context.Context, profile, serial string) (string, error) {
			prompts.Add(1)
			return code, nil
		},
	})
	var out bytes.Buffer
	console := ui.NewConsole(strings.NewReader(""), &out, &out)
	err = deploy.Build(context.Background(), deploy.Options{
		Config: cfg, Graph: g, Targets: targets, Console: console,
		Out: &out, ErrOut: &out, In: strings.NewReader(""),
	})
	s.out.Write(out.Bytes())
	if err != nil {
		t.Fatalf("build: %v\n%s", err, out.String())
	}
	if n := prompts.Load(); n != 1 {
		t.Errorf("MFA prompts = %d, want 1", n)
	}
	counts := map[string]int{}
	for _, e := range s.env.RequestLog() {
		if e.Service == "sts" && e.Seq > before {
			counts[e.Action]++
		}
	}
	if counts["GetSessionToken"] != 1 || counts["AssumeRole"] != 3 || counts["GetCallerIdentity"] != 3 {
		t.Errorf("STS calls = %v, want 1 GetSessionToken, 3 AssumeRole (one per role), 3 GetCallerIdentity (one per target)", counts)
	}
	for i := 0; i < 20; i++ {
		p := []string{"master", "prod", "stage"}[i%3]
		if s.stack(p, fmt.Sprintf("mfa-%s-%02d", p, i)) == nil {
			t.Errorf("stack %s-%02d missing in %s", p, i, p)
		}
	}
	t.Logf("prompts %d, STS calls %v", prompts.Load(), counts)
	s.checkNoSecrets()
}
