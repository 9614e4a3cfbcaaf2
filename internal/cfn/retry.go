package cfn

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/stacker-go/stacker/internal/awserr"
)

// retryLoop is the one retry loop of the calls the provider and the
// template bucket make on top of the SDK's few attempts: reads and polls
// (doRead), submissions (submit) and S3 calls (Bucket.retry). A transient
// failure (awserr.IsTransient) is retried; anything else is returned at
// once. Throttles are retried after a short jittered wait
// (awserr.ThrottleDelay: the budget the next attempt waits on has slowed
// down and is the pacing); other transient failures after a jittered
// exponential back-off from first up to max.
type retryLoop struct {
	// deadline bounds how long transient failures are retried;
	// throttles too only with deadlineThrottles (otherwise a throttle,
	// which says the call was refused, is retried until ctx ends).
	deadline          time.Duration
	deadlineThrottles bool
	first, max        time.Duration
	now               func() time.Time
	sleep             func(ctx context.Context, d time.Duration) error
}

// run calls call until it succeeds, fails for good, ctx ends or the
// deadline passes. settled, when set, runs after a transient failure that
// is not a throttle and reports whether the call took effect all the same
// (then run returns nil), or an error that ends the loop.
func (l retryLoop) run(ctx context.Context, call func() error, settled func(ctx context.Context, err error) (bool, error)) error {
	backoff := l.first
	start := l.now()
	for {
		err := call()
		if err == nil || !awserr.IsTransient(err) || ctx.Err() != nil {
			return err
		}
		throttle := awserr.IsThrottle(err)
		if (!throttle || l.deadlineThrottles) && l.now().Sub(start) > l.deadline {
			return fmt.Errorf("still failing after %s of retries: %w", l.deadline, err)
		}
		if settled != nil && !throttle {
			done, serr := settled(ctx, err)
			if serr != nil {
				return serr
			}
			if done {
				return nil
			}
		}
		d := backoff/2 + rand.N(backoff)
		if throttle {
			d = awserr.ThrottleDelay()
		} else {
			backoff = min(2*backoff, l.max)
		}
		if err := l.sleep(ctx, d); err != nil {
			return err
		}
	}
}
