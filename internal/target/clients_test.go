package target

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/stacker-go/stacker/internal/priority"
)

// A CloudFormation endpoint that throttles the first n calls.
func throttlingCFN(t *testing.T, n int32) (*httptest.Server, *atomic.Int32) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := calls.Add(1)
		w.Header().Set("Content-Type", "text/xml")
		if c <= n {
			w.WriteHeader(400)
			w.Write([]byte(`<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error></ErrorResponse>`))
			return
		}
		w.Write([]byte(`<DescribeStacksResponse><DescribeStacksResult><Stacks></Stacks></DescribeStacksResult></DescribeStacksResponse>`))
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

// Every attempt, the SDK's retries of throttles included, goes through the
// budget, is counted, and a throttle halves the budget's rate.
func TestClientsRetryThrottlesThroughTheBudget(t *testing.T) {
	setup(t, seedConfig)
	srv, calls := throttlingCFN(t, 2)
	t.Setenv("AWS_ENDPOINT_URL_CLOUDFORMATION", srv.URL)
	f := NewFactory(Options{NoCache: true, ReadRate: 100})
	ctx := context.Background()
	k := Key{Profile: "prod"}
	c, err := f.CloudFormation(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{}); err != nil {
		t.Fatalf("throttles were not retried: %v", err)
	}
	if calls.Load() != 3 {
		t.Errorf("server saw %d calls, want 3", calls.Load())
	}
	st := f.APIStats()
	if st.Calls["CloudFormation.DescribeStacks"] != 3 || st.Throttles["CloudFormation.DescribeStacks"] != 2 {
		t.Errorf("stats %+v", st)
	}
	b, err := f.Budget(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	if b.Account != "222222222222" || b.Reads.Throttles() != 2 {
		t.Errorf("budget %s/%s throttles %d", b.Account, b.Region, b.Reads.Throttles())
	}
	// Two halvings, then one success's additive step: 100/4 + 100/20.
	if got := b.Reads.Rate(); got != 30 {
		t.Errorf("rate after two throttles and a success = %v, want 30", got)
	}
	// Targets resolving to the same account share the budget.
	cfg, _ := f.AWSConfig(ctx, Key{Profile: "prod", Region: "us-east-1"})
	if cfg.Region != "us-east-1" {
		t.Fatal(cfg.Region)
	}
	b2, _ := f.Budget(ctx, Key{Profile: "prod", Region: "us-east-1"})
	if b2 != b {
		t.Error("same account and region, different budgets")
	}
}

func TestLimiterBackOffAndRecovery(t *testing.T) {
	l := newLimiter(4)
	if l.burst != MaxBurst {
		t.Errorf("burst %d, want the server's", l.burst)
	}
	if b := newLimiter(0.2).burst; b != 2 {
		t.Errorf("burst %d at 0.2 calls/s, want 10 seconds' worth", b)
	}
	if newLimiter(40).burst != MaxBurst {
		t.Error("burst above the server's")
	}
	for range 10 {
		l.Throttled()
	}
	if l.Rate() != 0.25 {
		t.Errorf("floor %v, want a sixteenth of 4", l.Rate())
	}
	for range 100 {
		l.Succeeded()
	}
	if l.Rate() != 4 {
		t.Errorf("recovered to %v, want 4", l.Rate())
	}
}

func TestIsRead(t *testing.T) {
	for op, want := range map[string]bool{"DescribeStacks": true, "ListStacks": true, "GetTemplate": true, "HeadObject": true,
		"CreateStack": false, "UpdateStack": false, "ExecuteChangeSet": false, "DeleteStack": false, "PutObject": false} {
		if IsRead(op) != want {
			t.Errorf("IsRead(%s) = %v", op, !want)
		}
	}
}

// A connection dropped under a call (the standard library's "use of
// closed network connection" after a reset, a reset, an answer cut short)
// is retried after the short throttle delay; other retryable errors back
// off exponentially.
func TestBackoffAfterDroppedConnection(t *testing.T) {
	closedMidAnswer := &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: 200}},
		Err: &smithy.DeserializationError{Err: fmt.Errorf("failed to decode response body, %w",
			&net.OpError{Op: "read", Net: "tcp", Err: net.ErrClosed})},
	}
	reset := &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	serverError := &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: 503}}, Err: errors.New("service unavailable")}
	exp := time.Hour // what the exponential back-off answers here
	b := throttleBackoff{next: retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return exp, nil })}
	for _, tc := range []struct {
		name  string
		err   error
		short bool
	}{
		{"closed while the answer was read", closedMidAnswer, true},
		{"reset", reset, true},
		{"answer cut short", fmt.Errorf("read body: %w", io.ErrUnexpectedEOF), true},
		{"refused", refused, false},
		{"5xx", serverError, false},
	} {
		d, err := b.BackoffDelay(1, tc.err)
		if err != nil {
			t.Fatal(err)
		}
		if short := d <= 250*time.Millisecond; short != tc.short {
			t.Errorf("%s: delay %v, want short %v", tc.name, d, tc.short)
		}
	}
}

// A call's priority travels in its context through the SDK to the budget:
// with the bucket empty, calls queued with priorities 1, 5 and 3 reach the
// service in the order 5, 3, 1.
func TestClientsCallsQueueByPriority(t *testing.T) {
	setup(t, seedConfig)
	var mu sync.Mutex
	var order []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		mu.Lock()
		order = append(order, r.Form.Get("StackName"))
		mu.Unlock()
		w.Header().Set("Content-Type", "text/xml")
		w.Write([]byte(`<DescribeStacksResponse><DescribeStacksResult><Stacks></Stacks></DescribeStacksResult></DescribeStacksResponse>`))
	}))
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ENDPOINT_URL_CLOUDFORMATION", srv.URL)
	f := NewFactory(Options{NoCache: true, ReadRate: 4})
	ctx := context.Background()
	k := Key{Profile: "prod"}
	c, err := f.CloudFormation(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.Budget(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	// The budget's time stands still unless the test moves it.
	clk := newFakeClock()
	b.Reads.mu.Lock()
	clk.now, b.Reads.clock = b.Reads.last, clk
	b.Reads.mu.Unlock()
	for range MaxBurst { // empty the bucket
		if _, err := c.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String("burst")}); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for i, p := range []float64{1, 5, 3} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("p%v", p)
			if _, err := c.DescribeStacks(priority.With(ctx, p), &cloudformation.DescribeStacksInput{StackName: aws.String(name)}); err != nil {
				t.Error(err)
			}
		}()
		eventually(t, "the call queued", func() bool { return b.Reads.queued() == i+1 })
	}
	for i := range 3 {
		eventually(t, "the budget waits for a token", clk.sleeping)
		clk.Advance(250 * time.Millisecond)
		// One token, one call: it reaches the service before the next.
		eventually(t, "the call reached the service", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(order) == MaxBurst+i+1
		})
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if got := order[MaxBurst:]; !slices.Equal(got, []string{"p5", "p3", "p1"}) {
		t.Errorf("calls reached the service in the order %v, want p5 p3 p1", got)
	}
}
