// Package target owns credentials: profiles, role chains, MFA, the on-disk
// credential cache, the per-target aws.Config factory and the account guard.
// Nothing else in the tool builds credentials; it must not know about stacks,
// templates or CloudFormation (it reads only the profile and region of a
// config stack, for PreflightConfig).
//
// A chain is composed, aws-vault style, from small aws.CredentialsProvider
// decorators: a source (static keys, environment, instance/container
// metadata, or whatever the SDK resolves: SSO, credential_process, web
// identity), an optional MFA session (sts:GetSessionToken, one prompt per
// mfa_serial per run), then one AssumeRole per role_arn hop, each hop cached
// on disk and in memory. Hops are shared between every profile and target
// that chains through them, so the master role of the seed scenario is
// assumed once per run however many sub-account profiles source from it.
package target

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stacker-go/stacker/internal/config"
	"github.com/stacker-go/stacker/internal/ui"
	"golang.org/x/sync/errgroup"
)

// Key identifies one distinct target: the profile ("" = the default
// profile: --profile, then AWS_PROFILE, then AWS_DEFAULT_PROFILE, then
// "default"; see Factory.Profile) and region
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
	// MFACode is a code given with --mfa-code or STACKER_MFA_CODE; it answers
	// the (single) MFA prompt without a terminal.
	MFACode string
	// NoCache turns the on-disk credential cache off (--no-credential-cache,
	// STACKER_NO_CREDENTIAL_CACHE=1).
	NoCache bool
	// CacheDir overrides the cache directory (default: CacheDir()).
	CacheDir string
	// Console prompts for MFA codes (serialized with status output). Nil
	// means no terminal.
	Console *ui.Console
	// Prompt, when set, replaces Console for MFA prompts (tests, embedders).
	// It is called at most once per mfa_serial per Factory.
	Prompt func(ctx context.Context, profile, serial string) (string, error)
	// Logger receives one debug line per hop; nil means slog.Default().
	Logger *slog.Logger
	// Getenv is the environment AWS settings are read from (shared files,
	// profile, environment credentials, endpoint, region); nil means the
	// process environment. The demo runs against its sandbox this way,
	// without touching the process's.
	Getenv func(string) string
	// ReadRate and WriteRate are the API budgets in calls per second per
	// (account, region); 0 means DefaultReadRate and DefaultWriteRate.
	ReadRate, WriteRate float64
}

// Factory builds one aws.Config per distinct target, once per run, and
// shares it between every stack, lookup and upload that uses it.
type Factory struct {
	opts  Options
	log   *slog.Logger
	codes *mfaCodes

	mu       sync.Mutex
	configs  memo[Key, aws.Config]
	accounts memo[Key, Identity]  // by profile only (Key{Profile})
	chains   memo[string, *Chain] // by profile name
	hops     map[string]*aws.CredentialsCache
	budgets  map[string]*Budget // by account/region/service

	clientConfigs memo[Key, aws.Config]
	stats         apiStats
}

// NewFactory returns a Factory.
func NewFactory(opts Options) *Factory {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	if opts.CacheDir == "" && !opts.NoCache {
		if d, err := CacheDir(); err == nil {
			opts.CacheDir = d
		} else {
			opts.NoCache = true
		}
	}
	f := &Factory{
		opts:    opts,
		log:     log,
		hops:    map[string]*aws.CredentialsCache{},
		budgets: map[string]*Budget{},
	}
	f.codes = &mfaCodes{fixed: opts.MFACode, console: opts.Console, prompt: opts.Prompt}
	return f
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

// profileName is the profile a resolved key uses: its own, AWS_PROFILE,
// AWS_DEFAULT_PROFILE, or "" (the SDK's default chain). It is the one
// resolution of a profile name: credentials, the account guard's accounts
// map and messages all go through it (Profile).
func (f *Factory) profileName(k Key) string {
	if k.Profile != "" {
		return k.Profile
	}
	if p := f.getenv(EnvProfile); p != "" {
		return p
	}
	return f.getenv(EnvDefaultProfile)
}

// getenv reads the factory's environment (Options.Getenv), or the
// process's.
func (f *Factory) getenv(key string) string {
	if f.opts.Getenv != nil {
		return f.opts.Getenv(key)
	}
	return os.Getenv(key)
}

// Profile is the name of the profile whose credentials a target uses: the
// key's own, else --profile, AWS_PROFILE, AWS_DEFAULT_PROFILE, else
// "default". The account guard looks it up in the config's accounts map.
func (f *Factory) Profile(k Key) string {
	if p := f.profileName(f.Resolve(k)); p != "" {
		return p
	}
	return "default"
}

// Config returns the aws.Config for a target, built once.
func (f *Factory) Config(ctx context.Context, k Key) (aws.Config, error) {
	k = f.Resolve(k)
	return f.configs.get(k, func() (aws.Config, error) {
		cfg, err := f.buildConfig(ctx, k)
		if err != nil {
			return cfg, fmt.Errorf("target %s: %w", k, err)
		}
		return cfg, nil
	})
}

func (f *Factory) buildConfig(ctx context.Context, k Key) (aws.Config, error) {
	ch, err := f.chain(ctx, f.profileName(k))
	if err != nil {
		return aws.Config{}, err
	}
	opts := f.sharedFileOptions()
	if ch.Profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(ch.Profile))
	}
	if k.Region != "" {
		opts = append(opts, awsconfig.WithRegion(k.Region))
	}
	opts = append(opts, awsconfig.WithCredentialsProvider(ch.Credentials))
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS config: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = defaultRegion
	}
	return cfg, nil
}

// Chain returns the credential chain of a target (shared by every region of
// its profile).
func (f *Factory) Chain(ctx context.Context, k Key) (*Chain, error) {
	k = f.Resolve(k)
	ch, err := f.chain(ctx, f.profileName(k))
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", k, err)
	}
	return ch, nil
}

// Identity is who a target's credentials are (sts:GetCallerIdentity).
type Identity struct {
	Account string
	ARN     string // e.g. arn:aws:sts::222222222222:assumed-role/Stacker/stacker
}

// RoleARN is the IAM role behind an assumed-role ARN (the principal a
// bucket policy names), or the ARN itself for users and roots.
func (id Identity) RoleARN() string { return RoleARN(id.ARN) }

// RoleARN turns an assumed-role session ARN
// (arn:aws:sts::123:assumed-role/Role/session) into the role's IAM ARN
// (arn:aws:iam::123:role/Role); other ARNs are returned unchanged.
func RoleARN(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[2] != "sts" || !strings.HasPrefix(parts[5], "assumed-role/") {
		return arn
	}
	role, _, _ := strings.Cut(strings.TrimPrefix(parts[5], "assumed-role/"), "/")
	return "arn:" + parts[1] + ":iam::" + parts[4] + ":role/" + role
}

// Account returns the account id the target's credentials belong to
// (GetCallerIdentity, once per target per run).
func (f *Factory) Account(ctx context.Context, k Key) (string, error) {
	id, err := f.Identity(ctx, k)
	return id.Account, err
}

// Identity returns the caller identity of a target (GetCallerIdentity,
// once per profile per run, whatever the region; Account shares the answer).
func (f *Factory) Identity(ctx context.Context, k Key) (Identity, error) {
	k = f.Resolve(k)
	// Who the credentials are does not depend on the region: one call per
	// credential chain (profile), whichever region asks first.
	return f.accounts.get(Key{Profile: f.profileName(k)}, func() (Identity, error) {
		cfg, err := f.Config(ctx, k)
		if err != nil {
			return Identity{}, err
		}
		if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
			return Identity{}, fmt.Errorf("target %s: %w", k, cleanErr(err))
		}
		out, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			return Identity{}, fmt.Errorf("target %s: get caller identity: %w", k, err)
		}
		id := Identity{Account: aws.ToString(out.Account), ARN: aws.ToString(out.Arn)}
		f.log.Debug(fmt.Sprintf("target %s: caller is %s", k, id.ARN))
		if ch, err := f.Chain(ctx, k); err == nil {
			profile := ch.Profile
			if profile == "" {
				profile = "(default chain)"
			}
			f.log.Debug(fmt.Sprintf("target %s: profile %s, credentials %s, landed in account %s", k, profile, ch.String(), id.Account))
		}
		return id, nil
	})
}

// CleanError drops the "failed to refresh cached credentials, " prefixes that
// aws.CredentialsCache adds at every hop, keeping the hop's own message.
func CleanError(err error) error { return cleanErr(err) }

func cleanErr(err error) error {
	for err != nil && strings.HasPrefix(err.Error(), "failed to refresh cached credentials, ") {
		inner := errors.Unwrap(err)
		if inner == nil {
			break
		}
		err = inner
	}
	return err
}

// AccountMismatchError is the account guard's refusal: the target's
// credentials resolve to another account than the one required.
type AccountMismatchError struct {
	Target Key
	// Profile is the profile whose credentials were checked (Profile).
	Profile string
	Want    string // required account id
	Got     string // account the credentials resolve to
	// Subject names what is guarded ("stack prod-vpc"); "" names the target.
	Subject string
}

func (e *AccountMismatchError) Error() string {
	subject := e.Subject
	if subject == "" {
		subject = "target " + e.Target.String()
	}
	return fmt.Sprintf("account mismatch: %s must deploy to account %s but profile %q resolves to %s", subject, e.Want, e.Profile, e.Got)
}

// CheckAccount runs the account guard before the first change in a target:
// it returns an *AccountMismatchError when the target's account
// (GetCallerIdentity, once per run) is not want. An empty want is the
// accounts map's entry for the target's profile (Profile); when that is
// empty too, the guard passes. subject names what is guarded in the error
// ("stack prod-vpc").
func (f *Factory) CheckAccount(ctx context.Context, k Key, want string, accounts map[string]string, subject string) error {
	profile := f.Profile(k)
	if want == "" {
		want = accounts[profile]
	}
	if want == "" {
		return nil
	}
	got, err := f.Account(ctx, k)
	if err != nil {
		return fmt.Errorf("account guard: %w", err)
	}
	if got != want {
		return &AccountMismatchError{Target: f.Resolve(k), Profile: profile, Want: want, Got: got, Subject: subject}
	}
	return nil
}

// Preflight resolves the credentials of every target (in parallel, MFA
// prompts one at a time and at most once per mfa_serial) so that a run that
// cannot get credentials, for example because it needs an MFA code and has
// neither a terminal nor --mfa-code, fails before any change. Failures are
// reported once per cause: targets that fail with the same error (one
// profile in several regions, profiles chained through the same refused
// role hop) are one *CredentialError naming them all. The errors are
// joined, sorted by their first target.
func (f *Factory) Preflight(ctx context.Context, keys []Key) error {
	seen := map[Key]bool{}
	var uniq []Key
	for _, k := range keys {
		k = f.Resolve(k)
		if !seen[k] {
			seen[k] = true
			uniq = append(uniq, k)
		}
	}
	errs := make([]error, len(uniq))
	var g errgroup.Group
	for i, k := range uniq {
		g.Go(func() error {
			cfg, err := f.Config(ctx, k)
			if err != nil {
				// Config prefixes "target K: "; the cause is what groups.
				if inner := errors.Unwrap(err); inner != nil {
					err = inner
				}
			} else if _, err = cfg.Credentials.Retrieve(ctx); err != nil {
				err = cleanErr(err)
			}
			errs[i] = err
			return nil
		})
	}
	_ = g.Wait()
	byCause := map[string]*CredentialError{}
	var out []*CredentialError
	for i, err := range errs {
		if err == nil {
			continue
		}
		ce, ok := byCause[err.Error()]
		if !ok {
			ce = &CredentialError{Profile: f.Profile(uniq[i]), Err: err}
			byCause[err.Error()] = ce
			out = append(out, ce)
		}
		ce.Targets = append(ce.Targets, uniq[i])
	}
	for _, ce := range out {
		sort.Slice(ce.Targets, func(i, j int) bool { return ce.Targets[i].String() < ce.Targets[j].String() })
		if len(ce.Targets) > 0 {
			ce.Profile = f.Profile(ce.Targets[0])
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Targets[0].String() < out[j].Targets[0].String() })
	joined := make([]error, len(out))
	for i, ce := range out {
		joined[i] = ce
	}
	return errors.Join(joined...)
}

// Preflighter resolves the credentials of targets before any change
// (Factory.Preflight).
type Preflighter interface {
	Preflight(ctx context.Context, keys []Key) error
}

// PreflightConfig runs Preflight over the targets a run of cfg touches: the
// top-level target that uploads templates (when the config has a bucket)
// and the target of every enabled stack among names (names that are not
// stacks, such as config targets, are skipped). deploy.Build and
// deploy.Destroy call it before their first change.
func PreflightConfig(ctx context.Context, p Preflighter, cfg *config.Config, names []string) error {
	var keys []Key
	if cfg.BucketName() != "" {
		keys = append(keys, Key{Region: cfg.StackerBucketRegion})
	}
	for _, name := range names {
		if st := cfg.Stack(name); st != nil && st.Enabled {
			keys = append(keys, Key{Profile: st.Profile, Region: st.Region})
		}
	}
	return p.Preflight(ctx, keys)
}
