package target

import (
	"context"
	"errors"
	"testing"
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
		if got := (Identity{ARN: in}).RoleARN(); got != want {
			t.Errorf("Identity.RoleARN(%q) = %q, want %q", in, got, want)
		}
	}
}

// With AWS_DEFAULT_PROFILE set and no --profile or AWS_PROFILE, the
// credentials come from that profile, so the account guard must look up
// that profile's entry in the accounts map (not "default").
func TestAccountGuardUsesTheProfileWhoseCredentialsAreUsed(t *testing.T) {
	setup(t, seedConfig)
	t.Setenv(EnvDefaultProfile, "stage")
	f := NewFactory(Options{NoCache: true})
	ctx := context.Background()
	k := Key{}
	if got := f.Profile(k); got != "stage" {
		t.Fatalf("Profile = %q, want stage", got)
	}
	acct, err := f.Account(ctx, k)
	if err != nil || acct != "333333333333" {
		t.Fatalf("account %q, %v: want stage's 333333333333", acct, err)
	}
	accounts := map[string]string{"default": "999999999999", "stage": "333333333333"}
	if err := f.CheckAccount(ctx, k, "", accounts, "stack ns-vpc"); err != nil {
		t.Fatalf("guard checked another profile's entry: %v", err)
	}
	accounts["stage"] = "222222222222"
	err = f.CheckAccount(ctx, k, "", accounts, "stack ns-vpc")
	var m *AccountMismatchError
	if !errors.As(err, &m) || m.Profile != "stage" {
		t.Fatalf("err = %v", err)
	}
	want := `account mismatch: stack ns-vpc must deploy to account 222222222222 but profile "stage" resolves to 333333333333`
	if err.Error() != want {
		t.Errorf("message\n got %s\nwant %s", err, want)
	}
}

func TestProfileResolutionOrder(t *testing.T) {
	setup(t, seedConfig)
	cases := []struct {
		name, flag, env, defaultEnv, stack, want string
	}{
		{"nothing set is default", "", "", "", "", "default"},
		{"AWS_DEFAULT_PROFILE", "", "", "stage", "", "stage"},
		{"AWS_PROFILE before AWS_DEFAULT_PROFILE", "", "prod", "stage", "", "prod"},
		{"--profile before the environment", "master", "prod", "stage", "", "master"},
		{"the stack's own profile first", "master", "prod", "stage", "stage", "stage"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(EnvProfile, tc.env)
			t.Setenv(EnvDefaultProfile, tc.defaultEnv)
			f := NewFactory(Options{NoCache: true, DefaultProfile: tc.flag})
			if got := f.Profile(Key{Profile: tc.stack}); got != tc.want {
				t.Errorf("Profile = %q, want %q", got, tc.want)
			}
		})
	}
}
