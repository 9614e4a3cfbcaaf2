// Package target owns credentials: profiles, role chains, MFA, the on-disk
// credential cache, the per-target aws.Config factory and the account guard.
// Nothing else in the tool builds credentials.
package target

import (
	"context"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// Key identifies one distinct target: the profile ("" = the default
// profile, i.e. --profile, then AWS_PROFILE, then "default") and region
// ("" = the profile's region).
type Key struct {
	Profile string
	Region  string
}

func (k Key) String() string {
	p := k.Profile
	if p == "" {
		p = "default"
	}
	if k.Region == "" {
		return p
	}
	return p + "/" + k.Region
}

// Options configure a Factory.
type Options struct {
	// DefaultProfile is --profile; DefaultRegion is --region.
	DefaultProfile string
	DefaultRegion  string
}

// Factory builds one aws.Config per distinct target, once per run, and
// shares it between every stack, lookup and upload that uses it.
type Factory struct {
	opts Options

	mu       sync.Mutex
	configs  map[Key]*cfgEntry
	accounts map[Key]*acctEntry
}

type cfgEntry struct {
	once sync.Once
	cfg  aws.Config
	err  error
}

type acctEntry struct {
	once    sync.Once
	account string
	err     error
}

// NewFactory returns a Factory.
func NewFactory(opts Options) *Factory {
	return &Factory{opts: opts, configs: map[Key]*cfgEntry{}, accounts: map[Key]*acctEntry{}}
}

// Resolve fills in the defaults of a key (the --profile and --region).
func (f *Factory) Resolve(k Key) Key {
	if k.Profile == "" {
		k.Profile = f.opts.DefaultProfile
	}
	if k.Region == "" {
		k.Region = f.opts.DefaultRegion
	}
	return k
}

// Config returns the aws.Config for a target, built once.
func (f *Factory) Config(ctx context.Context, k Key) (aws.Config, error) {
	k = f.Resolve(k)
	f.mu.Lock()
	e, ok := f.configs[k]
	if !ok {
		e = &cfgEntry{}
		f.configs[k] = e
	}
	f.mu.Unlock()
	e.once.Do(func() {
		var opts []func(*awsconfig.LoadOptions) error
		if k.Profile != "" {
			opts = append(opts, awsconfig.WithSharedConfigProfile(k.Profile))
		}
		if k.Region != "" {
			opts = append(opts, awsconfig.WithRegion(k.Region))
		}
		e.cfg, e.err = awsconfig.LoadDefaultConfig(ctx, opts...)
		if e.err != nil {
			e.err = fmt.Errorf("target %s: load AWS config: %w", k, e.err)
		}
	})
	return e.cfg, e.err
}

// Account returns the account id the target's credentials belong to
// (GetCallerIdentity, once per target per run).
func (f *Factory) Account(ctx context.Context, k Key) (string, error) {
	k = f.Resolve(k)
	f.mu.Lock()
	e, ok := f.accounts[k]
	if !ok {
		e = &acctEntry{}
		f.accounts[k] = e
	}
	f.mu.Unlock()
	e.once.Do(func() {
		cfg, err := f.Config(ctx, k)
		if err != nil {
			e.err = err
			return
		}
		out, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			e.err = fmt.Errorf("target %s: get caller identity: %w", k, err)
			return
		}
		e.account = aws.ToString(out.Account)
	})
	return e.account, e.err
}
