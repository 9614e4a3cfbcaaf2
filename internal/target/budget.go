package target

import (
	"context"
	"math"
	"sync"
	"sync/atomic"

	"golang.org/x/time/rate"
)

// DefaultReadRate is CloudFormation read calls per second per (account,
// region) when Options.ReadRate is 0: below the ~5 rps that CloudFormation
// accounts sustain for Describe* calls, leaving room for other tools and
// people.
const DefaultReadRate = 4.0

// DefaultWriteRate is CloudFormation mutating calls per second per
// (account, region) when Options.WriteRate is 0.
const DefaultWriteRate = 2.0

// Other services (S3 uploads, SSM, KMS, DynamoDB, EC2 lookups, hooks) get
// their own budget per (account, region, service), at these rates: their
// limits are far higher than CloudFormation's.
const (
	otherReadRate  = 20.0
	otherWriteRate = 10.0
)

// MaxBurst is the most calls a budget lets through at once: the burst
// CloudFormation's own token bucket allows (10). A client burst larger than
// the server's only turns into throttled calls.
const MaxBurst = 10

// Limiter is one token bucket of a budget whose rate backs off when the
// service throttles and recovers as calls succeed (additive increase,
// multiplicative decrease), shared by every goroutine and client that uses
// it. Every attempt of every call, the SDK's retries included, waits on it.
type Limiter struct {
	lim     *rate.Limiter
	ceiling float64 // the configured rate: recovery never exceeds it
	floor   float64

	mu        sync.Mutex
	throttles atomic.Int64
}

func newLimiter(rps float64) *Limiter {
	return &Limiter{lim: rate.NewLimiter(rate.Limit(rps), burst(rps)), ceiling: rps, floor: rps / 16}
}

// burst is MaxBurst, CloudFormation's own: a budget's rate stays below the
// service's, so a burst as large as the service's never trips it, and a
// level of the graph whose stacks become ready at once (up to 10 first
// Describes, 10 submissions per target) starts without queueing. Below 1
// call per second the burst is the calls of 10 seconds, at least 1.
func burst(rps float64) int {
	return max(1, min(MaxBurst, int(math.Ceil(10*rps))))
}

// Wait blocks until the budget allows one call or ctx ends.
func (l *Limiter) Wait(ctx context.Context) error { return l.lim.Wait(ctx) }

// Rate is the current rate in calls per second.
func (l *Limiter) Rate() float64 { return float64(l.lim.Limit()) }

// Ceiling is the configured rate.
func (l *Limiter) Ceiling() float64 { return l.ceiling }

// Throttles is how many calls the service throttled so far.
func (l *Limiter) Throttles() int64 { return l.throttles.Load() }

// Throttled halves the rate (not below a sixteenth of the ceiling) after the
// service refused a call for its rate.
func (l *Limiter) Throttled() {
	l.throttles.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	r := max(l.Rate()/2, l.floor)
	l.lim.SetLimit(rate.Limit(r))
}

// Succeeded adds a twentieth of the ceiling to the rate, up to the ceiling.
func (l *Limiter) Succeeded() {
	if l.Rate() >= l.ceiling {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	r := min(l.Rate()+l.ceiling/20, l.ceiling)
	l.lim.SetLimit(rate.Limit(r))
}

// Budget is the API budget of one service in one (account, region), shared
// by every target (profile) that resolves to it and by every client of the
// run in it: the provider, the status pollers, lookups, uploads, hooks.
type Budget struct {
	Account, Region, Service string
	// Reads paces Describe*, List*, Get* and other read calls.
	Reads *Limiter
	// Writes paces mutating calls (CreateStack, UpdateStack,
	// ExecuteChangeSet, DeleteStack, PutObject ...), so a burst of
	// submissions does not trip the service's write throttling.
	Writes *Limiter
}

// serviceCloudFormation is the SDK's service id of CloudFormation.
const serviceCloudFormation = "CloudFormation"

func (f *Factory) budgetFor(acct, region, service string) *Budget {
	key := acct + "/" + region + "/" + service
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.budgets[key]
	if !ok {
		rr, wr := otherReadRate, otherWriteRate
		if service == serviceCloudFormation {
			rr, wr = f.opts.ReadRate, f.opts.WriteRate
			if rr <= 0 {
				rr = DefaultReadRate
			}
			if wr <= 0 {
				wr = DefaultWriteRate
			}
		}
		b = &Budget{Account: acct, Region: region, Service: service, Reads: newLimiter(rr), Writes: newLimiter(wr)}
		f.budgets[key] = b
	}
	return b
}

// Budget returns the CloudFormation budget of a target's (account, region),
// made once per run: targets whose credentials resolve to the same account
// share it.
func (f *Factory) Budget(ctx context.Context, k Key) (*Budget, error) {
	cfg, err := f.Config(ctx, k)
	if err != nil {
		return nil, err
	}
	acct, err := f.Account(ctx, k)
	if err != nil {
		return nil, err
	}
	return f.budgetFor(acct, cfg.Region, serviceCloudFormation), nil
}
