package target

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/stacker-go/stacker/internal/privfile"
)

// The on-disk cache holds MFA sessions and assumed-role credentials across
// runs (the SDK has none: aws/aws-sdk-go-v2#1633). One JSON file per hop,
// named by sha256(kind|profile|role|serial|source access key id), 0600 in
// a 0700 directory; an entry is used until expiryWindow before it expires,
// then renewed (never failed on). The source key id in the name makes a
// change of source credentials (a new aws-vault session, rotated keys) miss
// the cache instead of serving another identity's session.

type cacheEntry struct {
	Kind            string    `json:"kind"`
	Label           string    `json:"label"`
	AccessKeyID     string    `json:"access_key_id"`
	SecretAccessKey string    `json:"secret_access_key"`
	SessionToken    string    `json:"session_token"`
	Expires         time.Time `json:"expires"`
	AccountID       string    `json:"account_id,omitempty"`
}

func cacheKey(ctx context.Context, kind, profile, role, serial string, source aws.CredentialsProvider) (string, error) {
	creds, err := source.Retrieve(ctx)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(strings.Join([]string{kind, profile, role, serial, creds.AccessKeyID}, "|")))
	return kind + "-" + hex.EncodeToString(sum[:16]), nil
}

// diskCachedProvider serves a hop from the disk cache while it is fresh.
type diskCachedProvider struct {
	dir   string
	label string
	key   func(ctx context.Context) (string, error)
	inner aws.CredentialsProvider
	log   *slog.Logger
	now   func() time.Time
}

func (f *Factory) diskCached(inner aws.CredentialsProvider, label string, key func(ctx context.Context) (string, error)) aws.CredentialsProvider {
	if f.opts.NoCache || f.opts.CacheDir == "" {
		return inner
	}
	return &diskCachedProvider{dir: f.opts.CacheDir, label: label, key: key, inner: inner, log: f.log, now: time.Now}
}

func (p *diskCachedProvider) Retrieve(ctx context.Context) (aws.Credentials, error) {
	key, err := p.key(ctx)
	if err != nil {
		return aws.Credentials{}, err
	}
	path := filepath.Join(p.dir, key+".json")
	if e, ok := readCacheEntry(path); ok {
		if e.Expires.After(p.now().Add(expiryWindow)) {
			p.log.Debug(fmt.Sprintf("%s: cached credentials reused (expire %s)", p.label, e.Expires.UTC().Format(time.RFC3339)))
			return aws.Credentials{AccessKeyID: e.AccessKeyID, SecretAccessKey: e.SecretAccessKey, SessionToken: e.SessionToken,
				CanExpire: true, Expires: e.Expires, AccountID: e.AccountID, Source: "stacker:cache"}, nil
		}
		p.log.Debug(fmt.Sprintf("%s: cached credentials expired, renewing", p.label))
	}
	creds, err := p.inner.Retrieve(ctx)
	if err != nil {
		return creds, err
	}
	kind, _, _ := strings.Cut(key, "-")
	e := cacheEntry{Kind: kind, Label: p.label, AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey,
		SessionToken: creds.SessionToken, Expires: creds.Expires, AccountID: creds.AccountID}
	if err := writeCacheEntry(p.dir, path, e); err != nil {
		// A cache that cannot be written only costs a prompt next run.
		p.log.Warn("credential cache not written", "error", err)
	}
	return creds, nil
}

func readCacheEntry(path string) (cacheEntry, bool) {
	var e cacheEntry
	b, err := os.ReadFile(path)
	if err != nil {
		return e, false
	}
	if json.Unmarshal(b, &e) != nil || e.AccessKeyID == "" {
		return e, false
	}
	return e, true
}

// writeCacheEntry writes one entry to path, a file of dir (privfile: 0600
// in a 0700 directory, whole or not at all).
func writeCacheEntry(dir, path string, e cacheEntry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return privfile.Write(dir, filepath.Base(path), b)
}

// DeployCacheDir is where build keeps its deploy records (what it last
// deployed to each stack, for no-change detection: cfn.Records): "deployed"
// under the tool's cache root (the user cache directory's "stacker", next
// to the credential cache), or EnvDeployCache as getenv reads it (the
// run's environment: nil reads the process's).
func DeployCacheDir(getenv func(string) string) (string, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	if d := getenv(EnvDeployCache); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find user cache directory: %w", err)
	}
	return filepath.Join(d, "stacker", "deployed"), nil
}

// ClearCache removes every cached credential file from dir ("" = CacheDir())
// and returns how many it removed.
func ClearCache(dir string) (int, error) {
	if dir == "" {
		d, err := CacheDir()
		if err != nil {
			return 0, err
		}
		dir = d
	}
	n, err := privfile.Clear(dir)
	if err != nil {
		return n, fmt.Errorf("clear credential cache %s: %w", dir, err)
	}
	return n, nil
}
