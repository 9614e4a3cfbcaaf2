package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stacker-go/stacker/internal/config"
	"github.com/stacker-go/stacker/internal/deploy"
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
