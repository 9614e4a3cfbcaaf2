package target

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"
	"github.com/stacker-go/stacker/internal/awserr"
)

// AWSConfig returns the aws.Config that every client of a target is built
// from, whatever the service (CloudFormation, S3, STS, SSM, KMS, hooks'
// clients...): the target's credentials, region and endpoint, plus the
// run's API setup, built once per target:
//
//   - every attempt of every call, the SDK's retries included, waits on the
//     budget of its (account, region, service): reads and writes apart,
//     bursts of at most MaxBurst;
//   - a throttled call halves that budget's rate, successes restore it;
//   - the SDK retries throttles and transient errors (5xx, timeouts,
//     dropped connections) a few times with jittered back-off, without its
//     client-side retry quota: the budget is the only pacing;
//   - every call is counted by operation (APIStats).
//
// Build clients with the service's NewFromConfig(cfg) (or the typed helpers
// CloudFormation and S3); never from a config of your own.
func (f *Factory) AWSConfig(ctx context.Context, k Key) (aws.Config, error) {
	k = f.Resolve(k)
	return f.clientConfigs.get(k, func() (aws.Config, error) {
		cfg, err := f.Config(ctx, k)
		if err != nil {
			return aws.Config{}, err
		}
		acct, err := f.Account(ctx, k)
		if err != nil {
			return aws.Config{}, err
		}
		cfg = cfg.Copy()
		cfg.Retryer = newRetryer
		cfg.APIOptions = append(slices.Clone(cfg.APIOptions), f.budgetMiddleware(acct, cfg.Region))
		return cfg, nil
	})
}

// retryAttempts is how many attempts the SDK makes of one call; callers that
// must outlast longer outages (status polls) retry with a deadline of their
// own (see internal/cfn).
const retryAttempts = 4

func newRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = retryAttempts
		o.MaxBackoff = 5 * time.Second
		o.RateLimiter = ratelimit.None
		o.Backoff = throttleBackoff{next: retry.NewExponentialJitterBackoff(o.MaxBackoff)}
	})
}

// throttleBackoff is the SDK's delay before a retry. After a throttle it
// is short (50–250 ms, jittered): the attempt then waits on the budget,
// which has just halved its rate, and the budget is the pacing; an
// exponential delay on top would pace twice and leave a throttled target
// idle (at 90% throttling a read took about 15 s instead of about 2).
// The same short delay follows a connection dropped under a call (reset,
// or closed while its answer was read): the next attempt goes on a new
// connection, and the service was not asking anyone to slow down. On the
// sandbox at 300 stacks a few status listings a run lost their connection
// this way, and the exponential delay (up to 2 s, then 4 s) hid finished
// stacks of a whole target for that long. Other retryable errors (5xx,
// timeouts, refused connections) back off exponentially up to MaxBackoff.
type throttleBackoff struct{ next retry.BackoffDelayer }

func (b throttleBackoff) BackoffDelay(attempt int, err error) (time.Duration, error) {
	if awserr.IsThrottle(err) || connectionDropped(err) {
		return awserr.ThrottleDelay(), nil
	}
	return b.next.BackoffDelay(attempt, err)
}

// connectionDropped reports whether err is an established connection lost
// under a call: reset by the peer, closed while the answer was read (the
// standard library's asynchronous read of a reset), or ended mid-answer.
func connectionDropped(err error) bool {
	return errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// CloudFormation returns a CloudFormation client of a target (AWSConfig).
func (f *Factory) CloudFormation(ctx context.Context, k Key) (*cloudformation.Client, error) {
	cfg, err := f.AWSConfig(ctx, k)
	if err != nil {
		return nil, err
	}
	return cloudformation.NewFromConfig(cfg), nil
}

// S3 returns an S3 client of a target (AWSConfig), path-style with a custom
// endpoint, and that endpoint ("" on AWS).
func (f *Factory) S3(ctx context.Context, k Key) (*s3.Client, string, error) {
	cfg, err := f.AWSConfig(ctx, k)
	if err != nil {
		return nil, "", err
	}
	c := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if o.BaseEndpoint != nil {
			o.UsePathStyle = true
		}
		// Templates and probes are small; the SDK's "no supported checksum"
		// notice would only clutter the output.
		o.DisableLogOutputChecksumValidationSkipped = true
	})
	return c, aws.ToString(c.Options().BaseEndpoint), nil
}

// IsRead reports whether an operation only reads (Describe*, List*, Get*,
// Head*, Validate*, Estimate*): it is paced by the Reads bucket.
func IsRead(operation string) bool {
	for _, p := range []string{"Describe", "List", "Get", "Head", "Validate", "Estimate"} {
		if strings.HasPrefix(operation, p) {
			return true
		}
	}
	return false
}

// attemptKey holds a call's attempt counter in its middleware stack values.
type attemptKey struct{}

func (f *Factory) budgetMiddleware(acct, region string) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		mw := middleware.FinalizeMiddlewareFunc("stackerBudget",
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				svc, op := awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx)
				b := f.budgetFor(acct, region, svc)
				lim := b.Writes
				if IsRead(op) {
					lim = b.Reads
				}
				if err := lim.Wait(ctx); err != nil {
					return middleware.FinalizeOutput{}, middleware.Metadata{}, err
				}
				name := svc + "." + op
				f.stats.add(name, false)
				attempt := 1
				if n, ok := middleware.GetStackValue(ctx, attemptKey{}).(*atomic.Int32); ok {
					attempt = int(n.Add(1))
				}
				if attempt > 1 {
					f.log.Debug(fmt.Sprintf("%s in %s/%s: retry, attempt %d", name, acct, region, attempt))
				}
				out, md, err := next.HandleFinalize(ctx, in)
				switch {
				case awserr.IsThrottle(err):
					lim.Throttled()
					f.stats.add(name, true)
					f.log.Debug(fmt.Sprintf("%s in %s/%s: throttled (attempt %d); this budget slows down", name, acct, region, attempt))
				case err == nil:
					lim.Succeeded()
				}
				return out, md, err
			})
		// One attempt counter per call, for the -v retry lines.
		count := middleware.InitializeMiddlewareFunc("stackerAttempts",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				return next.HandleInitialize(middleware.WithStackValue(ctx, attemptKey{}, new(atomic.Int32)), in)
			})
		if err := stack.Initialize.Add(count, middleware.Before); err != nil {
			return err
		}
		// Inside the retry loop, so that every attempt waits on the budget.
		if err := stack.Finalize.Insert(mw, "Retry", middleware.After); err != nil {
			return stack.Finalize.Add(mw, middleware.After)
		}
		return nil
	}
}

// APIStats counts the API calls a run made through AWSConfig clients.
type APIStats struct {
	// Calls and Throttles by "Service.Operation" (every attempt counts).
	Calls     map[string]int64 `json:"calls"`
	Throttles map[string]int64 `json:"throttles,omitempty"`
}

type apiStats struct {
	calls, throttles sync.Map // string → *atomic.Int64
}

func (s *apiStats) add(op string, throttled bool) {
	m := &s.calls
	if throttled {
		m = &s.throttles
	}
	v, _ := m.LoadOrStore(op, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

func snapshot(m *sync.Map) map[string]int64 {
	out := map[string]int64{}
	m.Range(func(k, v any) bool {
		out[k.(string)] = v.(*atomic.Int64).Load()
		return true
	})
	return out
}

// APIStats returns the calls and throttles counted so far.
func (f *Factory) APIStats() APIStats {
	return APIStats{Calls: snapshot(&f.stats.calls), Throttles: snapshot(&f.stats.throttles)}
}
