package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/smithy-go"

	"github.com/stacker-go/stacker/internal/config"
	"github.com/stacker-go/stacker/internal/deploy"
	"github.com/stacker-go/stacker/internal/doctor"
	"github.com/stacker-go/stacker/internal/target"
)

func TestRunErrExitCodes(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		code int
	}{
		{"failed stacks exit 1", context.Background(), &deploy.FailedError{Stacks: []string{"a"}}, ExitFailed},
		{"AWS error exit 1", context.Background(), errors.New("access denied"), ExitFailed},
		{"cancelled context exit 130", cancelled, errors.New("waiting for vpc"), ExitInterrupted},
		{"wrapped context.Canceled exit 130", context.Background(), fmt.Errorf("stack vpc: %w", context.Canceled), ExitInterrupted},
		{"exit error kept", context.Background(), &ExitError{Code: ExitUsage, Err: errors.New("x")}, ExitUsage},
		{"interrupted run exit 130", context.Background(), &deploy.InterruptedError{}, ExitInterrupted},
		{"bad config exit 2", context.Background(), config.Errors{&config.Error{Msg: "x"}}, ExitUsage},
		{"one config error exit 2", context.Background(), fmt.Errorf("load: %w", &config.Error{Msg: "x"}), ExitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ee *ExitError
			if err := runErr(tt.ctx, tt.err); !errors.As(err, &ee) || ee.Code != tt.code {
				t.Errorf("runErr = %#v, want code %d", err, tt.code)
			}
		})
	}
	if runErr(context.Background(), nil) != nil || usageErr(nil) != nil || ExitCode(context.Background(), nil) != ExitOK {
		t.Error("nil error mapped to non-nil")
	}
}

func TestPrintErrorOneLinePerError(t *testing.T) {
	var buf bytes.Buffer
	printError(&buf, errors.Join(
		&config.Error{Pos: config.Pos{File: "s.yaml", Line: 1, Col: 2}, Msg: "first"},
		fmt.Errorf("wrapped: %w", errors.Join(errors.New("a"), errors.New("b"))),
	))
	want := "error: s.yaml:1:2: first\nerror: wrapped: a\n  b\n"
	if buf.String() != want {
		t.Errorf("got %q, want %q", buf.String(), want)
	}
}

func TestPrintErrorCredentialErrorsOncePerCauseWithDoctorsHint(t *testing.T) {
	denied := fmt.Errorf("profile master: assume role arn:aws:iam::111111111111:role/Stacker: %w", &smithy.GenericAPIError{Code: "AccessDenied", Message: "not authorized"})
	err := &ExitError{Code: ExitFailed, Err: errors.Join(
		&target.CredentialError{Targets: []target.Key{{Profile: "master"}, {Profile: "prod"}, {Profile: "stage"}}, Profile: "master", Err: denied},
		&target.CredentialError{Targets: []target.Key{{Region: "us-east-1"}}, Profile: "default", Err: &target.NoCredentialsError{Files: []string{"/h/.aws/config", "/h/.aws/credentials"}}},
	)}
	var buf bytes.Buffer
	printError(&buf, err.Err)
	got := buf.String()
	want := "error: targets master, prod, stage: " + denied.Error() + "\n" +
		"  hint: " + doctor.CredentialsFix("master", denied) + "; `stacker doctor CONFIG` checks the credentials of every target\n" +
		"error: target default/us-east-1: no AWS credentials found: no profile is named (--profile, AWS_PROFILE or the stack's profile:), the environment has no access keys, /h/.aws/config and /h/.aws/credentials have no [default] profile, and no instance or container role answered\n" +
		"  hint: name a profile of your AWS config file with --profile NAME (or export AWS_PROFILE=NAME), or give the stack a profile:, or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; `stacker doctor CONFIG` checks the credentials of every target\n"
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if !strings.Contains(got, "set mfa_serial on the profile") {
		t.Errorf("the AccessDenied hint does not name mfa_serial:\n%s", got)
	}
}
