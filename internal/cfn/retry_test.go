package cfn

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestRetryLoop: what the one retry loop retries, for how long, and when a
// failure that may have taken effect is settled by reading the state.
func TestRetryLoop(t *testing.T) {
	throttle := apiErr("Throttling", "Rate exceeded")
	invalid := apiErr("ValidationError", "bad template")
	errRead := errors.New("describe failed")
	for _, tc := range []struct {
		name      string
		errs      []error // the answers of successive calls (then success)
		throttles bool    // deadlineThrottles
		settled   func(context.Context, error) (bool, error)
		wantCalls int
		wantErr   string
	}{
		{name: "success at once", wantCalls: 1},
		{name: "a non-transient error is returned at once", errs: []error{invalid}, wantCalls: 1, wantErr: "bad template"},
		{name: "throttles are retried past the deadline", errs: []error{throttle, throttle, throttle, throttle, throttle, throttle}, wantCalls: 7},
		{name: "throttles end at the deadline when it bounds them", errs: []error{throttle, throttle, throttle, throttle, throttle, throttle},
			throttles: true, wantCalls: 6, wantErr: "still failing after 4s of retries: "},
		{name: "5xx are retried until the deadline", errs: []error{serverError(), serverError(), serverError(), serverError(), serverError(), serverError()},
			wantCalls: 6, wantErr: "still failing after 4s of retries: "},
		{name: "5xx then success", errs: []error{serverError(), serverError()}, wantCalls: 3},
		{name: "a failure that took effect is settled", errs: []error{serverError(), serverError()},
			settled: func(context.Context, error) (bool, error) { return true, nil }, wantCalls: 1},
		{name: "settling is not asked after a throttle", errs: []error{throttle},
			settled: func(context.Context, error) (bool, error) { return false, errRead }, wantCalls: 2},
		{name: "a failed settling ends the loop", errs: []error{serverError()},
			settled: func(context.Context, error) (bool, error) { return false, errRead }, wantCalls: 1, wantErr: "describe failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := time.Unix(0, 0)
			calls := 0
			l := retryLoop{deadline: 4 * time.Second, deadlineThrottles: tc.throttles, first: time.Second, max: time.Second,
				now:   func() time.Time { return clock },
				sleep: func(context.Context, time.Duration) error { clock = clock.Add(time.Second); return nil }}
			err := l.run(context.Background(), func() error {
				calls++
				if calls <= len(tc.errs) {
					return tc.errs[calls-1]
				}
				return nil
			}, tc.settled)
			if calls != tc.wantCalls {
				t.Errorf("%d calls, want %d", calls, tc.wantCalls)
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("error %v, want none", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

// TestRetryLoopEndsWithContext: Ctrl-C ends the retries of a throttled
// call (the sleep returns ctx's error).
func TestRetryLoopEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	l := retryLoop{deadline: time.Hour, first: time.Millisecond, max: time.Millisecond, now: time.Now,
		sleep: func(ctx context.Context, d time.Duration) error { cancel(); return ctx.Err() }}
	err := l.run(ctx, func() error { calls++; return apiErr("Throttling", "Rate exceeded") }, nil)
	if !errors.Is(err, context.Canceled) || calls != 1 {
		t.Fatalf("err %v after %d calls, want context.Canceled after 1", err, calls)
	}
}
