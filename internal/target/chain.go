package target

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds"
	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/logging"
	"github.com/stacker-go/stacker/internal/awserr"
)

// defaultRegion is used for STS calls when neither the target, the
// profile nor the environment names a region.
const defaultRegion = "us-east-1"

// expiryWindow: cached credentials are renewed this long before they expire.
const expiryWindow = 5 * time.Minute

// Chain is the credential chain of one profile.
type Chain struct {
	// Profile is the profile name ("" = the SDK's default chain).
	Profile string
	// Hops describe the chain from its source to the final credentials,
	// e.g. ["environment", "MFA session arn:aws:iam::111111111111:mfa/alice",
	// "assume role arn:aws:iam::111111111111:role/Stacker (profile master)"].
	Hops []string
	// Path is the short form of Hops: the source ("env", "keys", "imds",
	// "ecs", "sso", ...), "mfa", then the profile of each role hop.
	Path []string
	// MFASerials lists the MFA devices the chain needs a code for (when no
	// cached session covers them).
	MFASerials []string
	// Credentials is the chain's provider, shared by every target of the profile.
	Credentials *aws.CredentialsCache
}

// String renders the hops joined by arrows.
func (c *Chain) String() string { return strings.Join(c.Hops, " → ") }

// configFiles and credentialsFiles honour AWS_CONFIG_FILE and
// AWS_SHARED_CREDENTIALS_FILE like the AWS CLI.
func (f *Factory) configFiles() []string {
	if p := f.getenv("AWS_CONFIG_FILE"); p != "" {
		return []string{p}
	}
	return []string{awsconfig.DefaultSharedConfigFilename()}
}

func (f *Factory) credentialsFiles() []string {
	if p := f.getenv("AWS_SHARED_CREDENTIALS_FILE"); p != "" {
		return []string{p}
	}
	return []string{awsconfig.DefaultSharedCredentialsFilename()}
}

// sharedFileOptions are the SDK load options every config of the factory
// starts from: its shared files and, when the factory has an environment of
// its own (Options.Getenv), the endpoint and region of that environment, which the SDK would otherwise read from the
// process.
func (f *Factory) sharedFileOptions() []func(*awsconfig.LoadOptions) error {
	opts := []func(*awsconfig.LoadOptions) error{
		awsconfig.WithSharedConfigFiles(f.configFiles()),
		awsconfig.WithSharedCredentialsFiles(f.credentialsFiles()),
	}
	if f.opts.Getenv == nil {
		return opts
	}
	if ep := f.getenv("AWS_ENDPOINT_URL"); ep != "" {
		opts = append(opts, awsconfig.WithBaseEndpoint(ep))
	}
	region := f.getenv("AWS_REGION")
	if region == "" {
		region = f.getenv("AWS_DEFAULT_REGION")
	}
	if region != "" {
		opts = append(opts, awsconfig.WithRegion(region))
	}
	return opts
}

func (f *Factory) chain(ctx context.Context, profile string) (*Chain, error) {
	return f.chains.get(profile, func() (*Chain, error) { return f.buildChain(ctx, profile) })
}

// memoHop returns the shared in-memory cache of a hop, building it once.
// Callers hold no lock.
func (f *Factory) memoHop(key string, build func() aws.CredentialsProvider) *aws.CredentialsCache {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.hops[key]; ok {
		return c
	}
	c := hopCache(build())
	f.hops[key] = c
	return c
}

func (f *Factory) envCredentials() (aws.Credentials, bool) {
	id := f.getenv("AWS_ACCESS_KEY_ID")
	if id == "" {
		id = f.getenv("AWS_ACCESS_KEY")
	}
	secret := f.getenv("AWS_SECRET_ACCESS_KEY")
	if secret == "" {
		secret = f.getenv("AWS_SECRET_KEY")
	}
	if id == "" || secret == "" {
		return aws.Credentials{}, false
	}
	return aws.Credentials{AccessKeyID: id, SecretAccessKey: secret, SessionToken: f.getenv("AWS_SESSION_TOKEN"), Source: "Environment"}, true
}

// buildChain reads a profile with the SDK's shared config loader (which
// follows source_profile links and rejects cycles) and composes the hops.
func (f *Factory) buildChain(ctx context.Context, profile string) (*Chain, error) {
	if profile == "" {
		// No profile named anywhere: environment credentials win, like the
		// SDK; otherwise the "default" profile if it exists, else the SDK's
		// default chain (IMDS, container, ...).
		if creds, ok := f.envCredentials(); ok {
			p := f.memoHop("root|env", func() aws.CredentialsProvider { return credentials.StaticCredentialsProvider{Value: creds} })
			return &Chain{Hops: []string{"environment"}, Path: []string{"env"}, Credentials: p}, nil
		}
		if _, err := f.loadShared(ctx, "default"); err == nil {
			profile = "default"
		} else {
			// The SDK's logger off: its "falling back to IMDSv1" warning is
			// noise to someone who simply named no profile.
			cfg, err := awsconfig.LoadDefaultConfig(ctx, append(f.sharedFileOptions(), awsconfig.WithLogger(logging.Nop{}))...)
			if err != nil {
				return nil, fmt.Errorf("load default credentials: %w", err)
			}
			var src aws.CredentialsProvider = cfg.Credentials
			if f.onlyInstanceRoleLeft() {
				src = &defaultChainProvider{inner: cfg.Credentials, files: f.ProfileFiles(), log: f.log}
			}
			return &Chain{Hops: []string{"SDK default chain"}, Path: []string{"sdk"}, Credentials: hopCache(src)}, nil
		}
	}
	sc, err := f.loadShared(ctx, profile)
	if err != nil {
		return nil, err
	}
	// hops[0] is the source, the last one is the profile itself.
	var hops []*awsconfig.SharedConfig
	for c := &sc; c != nil; c = c.Source {
		hops = append([]*awsconfig.SharedConfig{c}, hops...)
	}
	ch := &Chain{Profile: profile}
	root := hops[0]

	// The source.
	var src aws.CredentialsProvider
	longTerm := false
	sdkDidRole := false
	switch {
	case root.Credentials.HasKeys():
		creds := root.Credentials
		longTerm = creds.SessionToken == ""
		src = f.memoHop("root|static|"+root.Profile, func() aws.CredentialsProvider { return credentials.StaticCredentialsProvider{Value: creds} })
		ch.Hops = append(ch.Hops, fmt.Sprintf("static keys (profile %s)", root.Profile))
		ch.Path = append(ch.Path, "keys")
	case root.CredentialSource != "":
		switch root.CredentialSource {
		case "Environment":
			creds, ok := f.envCredentials()
			if !ok {
				return nil, fmt.Errorf("profile %s: credential_source = Environment, but AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set", root.Profile)
			}
			longTerm = creds.SessionToken == ""
			src = f.memoHop("root|env", func() aws.CredentialsProvider { return credentials.StaticCredentialsProvider{Value: creds} })
			ch.Hops = append(ch.Hops, "environment")
			ch.Path = append(ch.Path, "env")
		case "Ec2InstanceMetadata":
			src = f.memoHop("root|imds", func() aws.CredentialsProvider { return ec2rolecreds.New() })
			ch.Hops = append(ch.Hops, "EC2 instance metadata")
			ch.Path = append(ch.Path, "imds")
		case "EcsContainer":
			uri := f.getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI")
			if rel := f.getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"); rel != "" {
				uri = "http://169.254.170.2" + rel
			}
			if uri == "" {
				return nil, fmt.Errorf("profile %s: credential_source = EcsContainer, but AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and AWS_CONTAINER_CREDENTIALS_FULL_URI are not set", root.Profile)
			}
			token := f.getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN")
			src = f.memoHop("root|ecs", func() aws.CredentialsProvider {
				return endpointcreds.New(uri, func(o *endpointcreds.Options) { o.AuthorizationToken = token })
			})
			ch.Hops = append(ch.Hops, "ECS container credentials")
			ch.Path = append(ch.Path, "ecs")
		default:
			return nil, fmt.Errorf("profile %s: credential_source = %s: must be Environment, Ec2InstanceMetadata or EcsContainer", root.Profile, root.CredentialSource)
		}
	default:
		// SSO, credential_process, web identity, login sessions: the SDK's
		// own resolution suffices. It also assumes the root's role_arn (web
		// identity always has one), so give it our MFA token source.
		name := root.Profile
		serial := root.MFASerial
		opts := append(f.sharedFileOptions(), awsconfig.WithSharedConfigProfile(name),
			awsconfig.WithAssumeRoleCredentialOptions(func(o *stscreds.AssumeRoleOptions) {
				o.TokenProvider = func() (string, error) { return f.codes.get(context.Background(), name, serial) }
			}))
		cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
		if err != nil {
			return nil, fmt.Errorf("profile %s: load credentials: %w", name, err)
		}
		if cfg.Credentials == nil {
			return nil, fmt.Errorf("profile %s: no credentials configured", name)
		}
		src = hopCache(cfg.Credentials)
		sdkDidRole = root.RoleARN != ""
		ch.Hops = append(ch.Hops, fmt.Sprintf("%s (profile %s)", sdkSourceName(root), name))
		ch.Path = append(ch.Path, name)
	}

	// Chained MFA (aws-vault): when the source holds long-term keys and any
	// role hop has an mfa_serial, put one GetSessionToken with that device
	// right after the source; every role chained from it inherits the MFA
	// context, so no hop needs a code of its own and one prompt serves all.
	sessionSerial := ""
	if longTerm {
		for _, h := range hops {
			if h.MFASerial != "" && h.RoleARN != "" {
				sessionSerial = h.MFASerial
				break
			}
		}
	}
	rootKey := src
	if sessionSerial != "" {
		serial, base, rootName := sessionSerial, src, root.Profile
		inner := &sessionTokenProvider{profile: rootName, serial: serial, source: base, codes: f.codes, log: f.log,
			client: f.stsClientFor(rootName)}
		src = f.memoHop("mfa|"+serial+"|"+rootName, func() aws.CredentialsProvider {
			return f.diskCached(inner, "MFA session "+serial, func(ctx context.Context) (string, error) {
				return cacheKey(ctx, "mfa", "", "", serial, base)
			})
		})
		ch.Hops = append(ch.Hops, "MFA session "+serial)
		ch.Path = append(ch.Path, "mfa")
		ch.MFASerials = append(ch.MFASerials, serial)
	}

	// One AssumeRole per role_arn.
	for i, h := range hops {
		if h.RoleARN == "" || (i == 0 && sdkDidRole) {
			continue
		}
		ownSerial := ""
		if h.MFASerial != "" && h.MFASerial != sessionSerial {
			ownSerial = h.MFASerial
			ch.MFASerials = append(ch.MFASerials, ownSerial)
		}
		var dur time.Duration
		if h.RoleDurationSeconds != nil {
			// The SDK ignores values of 15 minutes or less; we pass what the
			// profile says and let STS judge it.
			dur = *h.RoleDurationSeconds
		}
		inner := &assumeRoleProvider{
			profile: h.Profile, roleARN: h.RoleARN, sessionName: h.RoleSessionName, externalID: h.ExternalID,
			duration: dur, serial: ownSerial, mfaSession: sessionSerial != "", source: src, codes: f.codes, log: f.log,
			client: f.stsClientFor(h.Profile),
		}
		name, role, serials := h.Profile, h.RoleARN, sessionSerial+","+ownSerial
		base := rootKey
		src = f.memoHop("role|"+name+"|"+serials, func() aws.CredentialsProvider {
			return f.diskCached(inner, "profile "+name+" role "+role, func(ctx context.Context) (string, error) {
				return cacheKey(ctx, "role", name, role, serials, base)
			})
		})
		ch.Hops = append(ch.Hops, fmt.Sprintf("assume role %s (profile %s)", h.RoleARN, h.Profile))
		ch.Path = append(ch.Path, h.Profile)
	}
	ch.Credentials = asCache(src)
	return ch, nil
}

// onlyInstanceRoleLeft reports whether, once environment keys and the
// default profile are ruled out, the SDK's default chain has nothing left
// to try but the EC2 instance role (no web identity or container
// credentials are configured in the environment).
func (f *Factory) onlyInstanceRoleLeft() bool {
	for _, k := range []string{"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"} {
		if f.getenv(k) != "" {
			return false
		}
	}
	return true
}

// defaultChainProvider is the SDK default chain when only the instance role
// is left to try: its failure becomes a *NoCredentialsError, the SDK's own
// message (EC2 metadata 403 or timeout) logged at debug level.
type defaultChainProvider struct {
	inner aws.CredentialsProvider
	files []string
	log   *slog.Logger
}

func (p *defaultChainProvider) Retrieve(ctx context.Context) (aws.Credentials, error) {
	c, err := p.inner.Retrieve(ctx)
	if err == nil || ctx.Err() != nil {
		return c, err
	}
	err = cleanErr(err)
	p.log.Debug("no profile, no environment keys, no default profile; the instance role failed too: " + err.Error())
	return aws.Credentials{}, &NoCredentialsError{Files: p.files, Detail: err}
}

func sdkSourceName(sc *awsconfig.SharedConfig) string {
	switch {
	case sc.WebIdentityTokenFile != "":
		return "web identity"
	case sc.SSOSessionName != "" || sc.SSOStartURL != "":
		return "SSO"
	case sc.LoginSession != "":
		return "login session"
	case sc.CredentialProcess != "":
		return "credential_process"
	}
	return "SDK default chain"
}

// hopCache is the shared in-memory cache of a hop. aws.CredentialsCache
// shares one retrieval between the callers that overlap it but remembers
// no failure: a target reaching a refused hop just after another one's
// call returned would call STS again and get a refusal with another
// request id, reported as another cause. So a hop's first failure is its
// answer for the rest of the run (firstFailure).
func hopCache(p aws.CredentialsProvider) *aws.CredentialsCache {
	return aws.NewCredentialsCache(&firstFailure{inner: p}, func(o *aws.CredentialsCacheOptions) { o.ExpiryWindow = expiryWindow })
}

// firstFailure remembers the failure of a hop that has not given
// credentials yet and returns it to every later caller, so all the targets
// the hop stops share one cause (one STS call, one request id) whatever
// the order and timing in which they ask. A cancelled or timed-out call is
// not remembered, nor a transient failure (throttled, 5xx, a dropped
// connection: the SDK's retries ran out, the next caller tries again), nor
// a failed renewal of a hop that has given credentials before.
type firstFailure struct {
	inner aws.CredentialsProvider

	mu  sync.Mutex
	ok  bool  // the hop has given credentials
	err error // its failure before it ever did
}

func (p *firstFailure) Retrieve(ctx context.Context) (aws.Credentials, error) {
	p.mu.Lock()
	err := p.err
	p.mu.Unlock()
	if err != nil {
		return aws.Credentials{}, err
	}
	c, err := p.inner.Retrieve(ctx)
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case err == nil:
		p.ok = true
	case !p.ok && ctx.Err() == nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) && !awserr.IsTransient(err):
		p.err = err
	}
	return c, err
}

func asCache(p aws.CredentialsProvider) *aws.CredentialsCache {
	if c, ok := p.(*aws.CredentialsCache); ok {
		return c
	}
	return aws.NewCredentialsCache(p, func(o *aws.CredentialsCacheOptions) { o.ExpiryWindow = expiryWindow })
}

func (f *Factory) loadShared(ctx context.Context, profile string) (awsconfig.SharedConfig, error) {
	sc, err := awsconfig.LoadSharedConfigProfile(ctx, profile, func(o *awsconfig.LoadSharedConfigOptions) {
		o.ConfigFiles = f.configFiles()
		o.CredentialsFiles = f.credentialsFiles()
	})
	if err != nil {
		var nx awsconfig.SharedConfigProfileNotExistError
		if errors.As(err, &nx) && nx.Profile == profile {
			return sc, &UnknownProfileError{Profile: profile, Files: f.ProfileFiles()}
		}
		return sc, fmt.Errorf("profile %s: %w", profile, err)
	}
	return sc, nil
}

// stsClientFor returns a constructor of STS clients for hops of a profile:
// the profile's region (else the environment's, else us-east-1) and its
// endpoint_url / AWS_ENDPOINT_URL(_STS), signed with the hop's source.
func (f *Factory) stsClientFor(profile string) func(ctx context.Context, source aws.CredentialsProvider) (stsAPI, error) {
	return func(ctx context.Context, source aws.CredentialsProvider) (stsAPI, error) {
		opts := append(f.sharedFileOptions(), awsconfig.WithSharedConfigProfile(profile), awsconfig.WithCredentialsProvider(source))
		cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
		if err != nil {
			return nil, fmt.Errorf("profile %s: load AWS config for STS: %w", profile, err)
		}
		if cfg.Region == "" {
			cfg.Region = defaultRegion
		}
		return sts.NewFromConfig(cfg), nil
	}
}

// CacheDir is the on-disk credential cache: STACKER_CREDENTIAL_CACHE_DIR,
// else the user cache directory + stacker/credentials.
func CacheDir() (string, error) {
	if d := os.Getenv(EnvCredentialCache); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find user cache directory: %w", err)
	}
	return filepath.Join(d, "stacker", "credentials"), nil
}
