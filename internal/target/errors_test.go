package target

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go"
)

func TestOneCredentialErrorPerCauseNotPerTarget(t *testing.T) {
	// Long-term keys against roles that require MFA: prod and stage chain
	// through master, whose AssumeRole STS refuses once. Three targets
	// (two regions of prod, one of stage) are one error naming all three.
	cfg := strings.ReplaceAll(mfaConfig, "mfa_serial = arn:aws:iam::111111111111:mfa/alice\n", "")
	sts := setup(t, cfg)
	f := NewFactory(Options{NoCache: true})
	err := f.Preflight(context.Background(), []Key{{Profile: "prod", Region: "us-east-1"}, {Profile: "stage", Region: "us-west-2"}, {Profile: "prod", Region: "eu-west-1"}})
	var all []*CredentialError
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var ce *CredentialError
		if !errors.As(e, &ce) {
			t.Fatalf("%T is not a *CredentialError: %v", e, e)
		}
		all = append(all, ce)
	}
	if len(all) != 1 {
		t.Fatalf("%d errors, want 1 (one refused hop):\n%v", len(all), err)
	}
	got := all[0]
	if want := []Key{{"prod", "eu-west-1"}, {"prod", "us-east-1"}, {"stage", "us-west-2"}}; !slices.Equal(got.Targets, want) {
		t.Errorf("targets %v, want %v", got.Targets, want)
	}
	if got.Profile != "prod" || !strings.HasPrefix(got.Error(), "targets prod/eu-west-1, prod/us-east-1, stage/us-west-2: profile master: assume role") {
		t.Errorf("profile %q, message %q", got.Profile, got.Error())
	}
	if n := sts.count("AssumeRole"); n != 1 {
		t.Errorf("%d AssumeRole calls, want 1", n)
	}
}

func TestRefusedHopIsOneAnswerWhateverTheOrder(t *testing.T) {
	// The targets ask one after the other, never overlapping: the second
	// gets the first one's refusal (same error, one AssumeRole), not a
	// new STS call with another request id.
	cfg := strings.ReplaceAll(mfaConfig, "mfa_serial = arn:aws:iam::111111111111:mfa/alice\n", "")
	sts := setup(t, cfg)
	f := NewFactory(Options{NoCache: true})
	ctx := context.Background()
	var msgs []string
	for _, k := range []Key{{Profile: "prod", Region: "us-east-1"}, {Profile: "stage", Region: "us-west-2"}, {Profile: "prod", Region: "eu-west-1"}} {
		err := f.Preflight(ctx, []Key{k})
		var ce *CredentialError
		if !errors.As(err, &ce) {
			t.Fatalf("%s: err = %v, want a *CredentialError", k, err)
		}
		msgs = append(msgs, ce.Err.Error())
	}
	if msgs[1] != msgs[0] || msgs[2] != msgs[0] {
		t.Errorf("causes differ:\n%s", strings.Join(msgs, "\n"))
	}
	if n := sts.count("AssumeRole"); n != 1 {
		t.Errorf("%d AssumeRole calls, want 1", n)
	}
}

// scriptedProvider answers Retrieve from a list of errors (nil = credentials).
type scriptedProvider struct {
	answers []error
	calls   int
}

func (p *scriptedProvider) Retrieve(context.Context) (aws.Credentials, error) {
	err := p.answers[p.calls]
	p.calls++
	if err != nil {
		return aws.Credentials{}, err
	}
	return aws.Credentials{AccessKeyID: "AKIA", SecretAccessKey: "s"}, nil
}

func TestFirstFailureIsTheHopsAnswer(t *testing.T) {
	denied, throttled := errors.New("AccessDenied, request id 1"), errors.New("Throttling, request id 2")
	sdkThrottle := &smithy.GenericAPIError{Code: "Throttling", Message: "Rate exceeded"}
	tests := []struct {
		name      string
		answers   []error
		want      []error
		wantCalls int
	}{
		{"a failure before any credentials is remembered", []error{denied, nil}, []error{denied, denied, denied}, 1},
		{"a cancelled call is not", []error{context.Canceled, denied}, []error{context.Canceled, denied, denied}, 2},
		{"a timed-out call is not", []error{fmt.Errorf("assume role: %w", context.DeadlineExceeded), nil, nil}, []error{context.DeadlineExceeded, nil, nil}, 3},
		{"a failed renewal after credentials is not", []error{nil, throttled, nil}, []error{nil, throttled, nil}, 3},
		{"a transient failure is not", []error{sdkThrottle, denied}, []error{sdkThrottle, denied, denied}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inner := &scriptedProvider{answers: tt.answers}
			p := &firstFailure{inner: inner}
			for i, want := range tt.want {
				if _, err := p.Retrieve(context.Background()); !errors.Is(err, want) || (want == nil) != (err == nil) {
					t.Errorf("call %d: err = %v, want %v", i+1, err, want)
				}
			}
			if inner.calls != tt.wantCalls {
				t.Errorf("%d calls reached the hop, want %d", inner.calls, tt.wantCalls)
			}
		})
	}
}

func TestNoCredentialsAnywhereIsOnePlainError(t *testing.T) {
	setup(t, "")
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	f := NewFactory(Options{NoCache: true})
	err := f.Preflight(context.Background(), []Key{{Region: "us-east-1"}, {Region: "eu-west-1"}})
	var none *NoCredentialsError
	if !errors.As(err, &none) {
		t.Fatalf("err = %v, want a *NoCredentialsError", err)
	}
	msg := err.Error()
	if strings.Count(msg, "no AWS credentials found") != 1 || strings.Contains(strings.ToLower(msg), "imds") || strings.Contains(msg, "ec2") {
		t.Errorf("message %q: want one plain line without the SDK's IMDS text", msg)
	}
	if !strings.HasPrefix(msg, "targets default/eu-west-1, default/us-east-1: no AWS credentials found") {
		t.Errorf("message %q", msg)
	}
}

func TestUnknownProfileIsTyped(t *testing.T) {
	setup(t, seedConfig)
	f := NewFactory(Options{NoCache: true})
	err := f.Preflight(context.Background(), keys("prd"))
	var up *UnknownProfileError
	if !errors.As(err, &up) || up.Profile != "prd" {
		t.Fatalf("err = %v", err)
	}
	known, err := f.KnownProfiles()
	if err != nil || !slices.Equal(known, []string{"master", "prod", "stage"}) {
		t.Errorf("known = %v, %v", known, err)
	}
	if name, origin := f.ProfileOrigin(Key{Profile: "x"}); name != "x" || origin != "stack" {
		t.Errorf("origin %q %q", name, origin)
	}
	t.Setenv(EnvProfile, "envp")
	if name, origin := f.ProfileOrigin(Key{}); name != "envp" || origin != EnvProfile {
		t.Errorf("origin %q %q", name, origin)
	}
	f = NewFactory(Options{NoCache: true, DefaultProfile: "flagp"})
	if name, origin := f.ProfileOrigin(Key{}); name != "flagp" || origin != "--profile" {
		t.Errorf("origin %q %q", name, origin)
	}
}

func TestProfileNames(t *testing.T) {
	tests := []struct {
		name   string
		text   string
		config bool
		want   []string
	}{
		{"config profiles and default", "[default]\nregion=x\n[profile a]\n[ profile  b ]\n", true, []string{"default", "a", "b"}},
		{"config sections that are not profiles", "[sso-session s]\n[services x]\n[plain]\n", true, nil},
		{"credentials sections", "[default]\n[a]\naws_access_key_id = k\n", false, []string{"default", "a"}},
		{"comments after a section", "[profile a] # note\n[profile b] junk\n", true, []string{"a"}},
		{"unterminated and empty", "[profile a\n[]\n  [profile c]\n", true, []string{"c"}},
		{"CRLF; a credentials section with a space is no profile", "[profile a]\r\n[b]\r\n", false, []string{"b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ProfileNames([]byte(tt.text), tt.config); !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func FuzzProfileNames(f *testing.F) {
	f.Add([]byte("[default]\n[profile a]\nrole_arn = x\n"), true)
	f.Add([]byte("[a]\naws_access_key_id = k\n"), false)
	f.Add([]byte("[profile \xff]\n[sso-session s]\n"), true)
	f.Fuzz(func(t *testing.T, data []byte, config bool) {
		for _, n := range ProfileNames(data, config) {
			if n == "" || strings.ContainsAny(n, " \t\n]") {
				t.Fatalf("bad profile name %q from %q", n, data)
			}
		}
	})
}

func TestKnownProfilesReadsBothFiles(t *testing.T) {
	setup(t, "[profile a]\n")
	if err := os.WriteFile(os.Getenv("AWS_SHARED_CREDENTIALS_FILE"), []byte("[b]\n[a]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f := NewFactory(Options{NoCache: true})
	got, err := f.KnownProfiles()
	if err != nil || !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("got %v, %v", got, err)
	}
	if files := f.ProfileFiles(); len(files) != 2 || filepath.Base(files[1]) != "credentials" {
		t.Errorf("files %v", files)
	}
}
