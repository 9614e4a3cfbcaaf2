package deploy

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stacker-go/stacker/internal/config"
	"github.com/stacker-go/stacker/internal/target"
)

func TestRoleARN(t *testing.T) {
	cases := map[string]string{
		"arn:aws:sts::222222222222:assumed-role/Deployer/stacker-123": "arn:aws:iam::222222222222:role/Deployer",
		"arn:aws:iam::222222222222:user/alice":                        "arn:aws:iam::222222222222:user/alice",
		"arn:aws-cn:sts::1:assumed-role/R/s":                          "arn:aws-cn:iam::1:role/R",
	}
	for in, want := range cases {
		if got := RoleARN(in); got != want {
			t.Errorf("RoleARN(%q) = %q, want %q", in, got, want)
		}
	}
}

type fakeTargets struct{ accounts map[string]string }

func (f fakeTargets) Config(ctx context.Context, k target.Key) (aws.Config, error) {
	return aws.Config{Region: "us-east-1"}, nil
}
func (f fakeTargets) Account(ctx context.Context, k target.Key) (string, error) {
	return f.accounts[k.Profile], nil
}

func TestAccountGuard(t *testing.T) {
	cfg := &config.Config{Namespace: "prod", NamespaceDelimiter: "-", Accounts: map[string]string{"stage": "333333333333", "prod": "222222222222"}}
	tg := fakeTargets{accounts: map[string]string{"stage": "333333333333", "prod": "222222222222", "": "111111111111"}}
	r := newRun(&Options{Config: cfg, Targets: tg})
	cases := []struct {
		name    string
		st      *config.Stack
		wantErr string
	}{
		{"accounts map matches", &config.Stack{Name: "vpc", Profile: "stage"}, ""},
		{"account_id overrides the map", &config.Stack{Name: "vpc", Profile: "stage", AccountID: "222222222222"},
			`account mismatch: stack prod-vpc must deploy to account 222222222222 but profile "stage" resolves to 333333333333`},
		{"no expectation", &config.Stack{Name: "vpc"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := r.guard(tc.st)(context.Background())
			if tc.wantErr == "" && err != nil {
				t.Fatalf("unexpected %v", err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("got %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestFailedErrorNamesSteps(t *testing.T) {
	err := &FailedError{Stacks: []string{"a", "b"}}
	if err.Error() != "The following steps failed: a, b" {
		t.Error(err)
	}
}
