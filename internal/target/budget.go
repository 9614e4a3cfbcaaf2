package target

import (
	"context"
	"fmt"

	"golang.org/x/time/rate"
)

// DefaultReadRate is read calls per second per (account, region) when
// Options.ReadRate is 0: below the ~5 rps that CloudFormation accounts
// sustain for Describe* calls, leaving room for other tools and people.
const DefaultReadRate = 4.0

// DefaultWriteRate is mutating calls per second per (account, region)
// when Options.WriteRate is 0.
const DefaultWriteRate = 2.0

// MaxBurst is the most calls a budget lets through at once: the burst
// CloudFormation's own token bucket allows (10). A client burst larger than
// the server's only turns into throttled calls.
const MaxBurst = 10

// Budget is the API budget of one (account, region), shared by every
// target (profile) that resolves to it and by every client of the run in
// it: CloudFormation, S3, lookups, hooks.
type Budget struct {
	Account, Region string
	// Reads paces Describe*, List*, Get* and other read calls.
	Reads *rate.Limiter
	// Writes paces mutating calls (CreateStack, UpdateStack,
	// ExecuteChangeSet, DeleteStack, ...), so a burst of submissions does
	// not trip the service's write throttling.
	Writes *rate.Limiter
}

func newBudget(acct, region string, readRate, writeRate float64) *Budget {
	if readRate <= 0 {
		readRate = DefaultReadRate
	}
	if writeRate <= 0 {
		writeRate = DefaultWriteRate
	}
	return &Budget{
		Account: acct, Region: region,
		Reads:  rate.NewLimiter(rate.Limit(readRate), burst(readRate)),
		Writes: rate.NewLimiter(rate.Limit(writeRate), burst(writeRate)),
	}
}

// burst is a second's worth of calls, at least 1 and at most MaxBurst.
func burst(rps float64) int {
	b := int(rps)
	if b < 1 {
		b = 1
	}
	if b > MaxBurst {
		b = MaxBurst
	}
	return b
}

// Budget returns the API budget of a target's (account, region), made once
// per run: targets whose credentials resolve to the same account share it.
func (f *Factory) Budget(ctx context.Context, k Key) (*Budget, error) {
	cfg, err := f.Config(ctx, k)
	if err != nil {
		return nil, err
	}
	acct, err := f.Account(ctx, k)
	if err != nil {
		return nil, err
	}
	key := acct + "/" + cfg.Region
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.budgets[key]
	if !ok {
		b = newBudget(acct, cfg.Region, f.opts.ReadRate, f.opts.WriteRate)
		f.budgets[key] = b
	}
	return b, nil
}

func (b *Budget) String() string { return fmt.Sprintf("%s/%s", b.Account, b.Region) }
