package target

import "context"

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
