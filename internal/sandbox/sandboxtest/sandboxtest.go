// Package sandboxtest starts the sandbox inside Go tests: a server on a free
// 127.0.0.1 port, stopped when the test ends, with the accounts, keys and
// MFA device of its spec, and helpers for the admin API.
package sandboxtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/stacker-go/stacker/internal/sandbox"
	"github.com/stacker-go/stacker/internal/sandbox/platform"
)

// Env is a running sandbox.
type Env struct {
	// Admin helpers (also promoted onto Env).
	*Admin
	URL    string
	Server *sandbox.Server
	// Accounts maps account name to id ("master" -> "111111111111").
	Accounts map[string]string
	// Keys maps account name to the admin user's access key.
	Keys map[string]sandbox.AccessKeySpec
	// MFASerial and MFASeed are master's admin device (empty if none).
	MFASerial string
	MFASeed   string
}

// Option configures Start.
type Option func(*options)

type options struct {
	spec     *sandbox.Spec
	stateDir string
}

// WithSpec starts the sandbox with spec instead of the default.
func WithSpec(spec *sandbox.Spec) Option { return func(o *options) { o.spec = spec } }

// WithSpecYAML parses a YAML spec (failing the test if invalid).
func WithSpecYAML(t testing.TB, y string) Option {
	spec, err := sandbox.ParseSpec([]byte(y), "spec")
	if err != nil {
		t.Fatalf("sandboxtest: %v", err)
	}
	return WithSpec(spec)
}

// WithStateDir loads and saves state in dir.
func WithStateDir(dir string) Option { return func(o *options) { o.stateDir = dir } }

// Start starts a sandbox on 127.0.0.1:0 and closes it at the end of t.
func Start(t testing.TB, opts ...Option) *Env {
	t.Helper()
	o := &options{}
	for _, f := range opts {
		f(o)
	}
	var sopts []sandbox.Option
	if o.stateDir != "" {
		sopts = append(sopts, sandbox.WithStateDir(o.stateDir))
	}
	srv, err := sandbox.New(o.spec, sopts...)
	if err != nil {
		t.Fatalf("sandboxtest: %v", err)
	}
	url, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatalf("sandboxtest: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("sandboxtest: close: %v", err)
		}
	})
	e := &Env{URL: url, Server: srv, Accounts: map[string]string{}, Keys: map[string]sandbox.AccessKeySpec{},
		Admin: &Admin{t: t, url: url, client: &http.Client{Timeout: 30 * time.Second}}}
	e.refresh()
	return e
}

func (e *Env) refresh() {
	for _, a := range e.Server.Accounts() {
		e.Accounts[a.Name] = a.ID
		for _, u := range a.Users {
			if u.Name != "admin" && len(a.Users) > 1 {
				continue
			}
			if len(u.AccessKeys) > 0 {
				e.Keys[a.Name] = u.AccessKeys[0]
			}
			if len(u.MFA) > 0 && e.MFASerial == "" {
				e.MFASerial, e.MFASeed = u.MFA[0].Serial, u.MFA[0].Seed
			}
		}
	}
}

// AccountID returns the id of account name, failing the test if unknown.
func (e *Env) AccountID(name string) string {
	id, ok := e.Accounts[name]
	if !ok {
		e.t.Fatalf("sandboxtest: no account %q", name)
	}
	return id
}

// TOTP is the current code of the master admin's MFA device.
func (e *Env) TOTP() string { return sandbox.TOTP(e.MFASeed, time.Now()) }

// AWSConfigFile writes an AWS config file (profiles sandbox-<name>) in a
// temporary directory and returns its path.
func (e *Env) AWSConfigFile(t testing.TB) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "aws-config")
	if err := e.Server.WriteAWSConfig(p); err != nil {
		t.Fatalf("sandboxtest: %v", err)
	}
	return p
}

// AWSConfig is an aws.Config for the admin user of account (name or id),
// pointed at the sandbox, region us-east-1. S3 clients built from it should
// set UsePathStyle.
func (e *Env) AWSConfig(ctx context.Context, account string) aws.Config {
	k, ok := e.Keys[account]
	if !ok {
		for n, id := range e.Accounts {
			if id == account {
				k, ok = e.Keys[n]
			}
		}
	}
	if !ok {
		e.t.Fatalf("sandboxtest: no admin key for account %q", account)
	}
	return e.ConfigFor(k.ID, k.Secret, "")
}

// ConfigFor is an aws.Config for explicit credentials.
func (e *Env) ConfigFor(keyID, secret, token string) aws.Config {
	return aws.Config{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(e.URL),
		Credentials:      aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(keyID, secret, token)),
		HTTPClient:       &http.Client{Timeout: 60 * time.Second},
		RetryMaxAttempts: 3,
	}
}

// Admin calls the admin API over HTTP, failing the test on errors.
type Admin struct {
	t      testing.TB
	url    string
	client *http.Client
}

func (a *Admin) call(method, path string, in, out any) {
	a.t.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			a.t.Fatalf("sandboxtest: %s %s: %v", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.url+"/_sandbox/"+path, body)
	if err != nil {
		a.t.Fatalf("sandboxtest: %s %s: %v", method, path, err)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		a.t.Fatalf("sandboxtest: %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		a.t.Fatalf("sandboxtest: %s %s: %s: %s", method, path, resp.Status, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			a.t.Fatalf("sandboxtest: %s %s: decode: %v", method, path, err)
		}
	}
}

// Reset restores the initial state (all services), clears the log, the
// clock offset and added rules.
func (a *Admin) Reset() { a.call(http.MethodPost, "reset", nil, nil) }

// AdvanceClock moves the sandbox clock forward and returns the new time.
func (a *Admin) AdvanceClock(d time.Duration) time.Time {
	var out struct {
		Now time.Time `json:"now"`
	}
	a.call(http.MethodPost, "clock/advance", map[string]any{"duration": d.String()}, &out)
	return out.Now
}

// AddFailureRule adds a CloudFormation failure rule and returns it with its id.
func (a *Admin) AddFailureRule(r platform.FailureRule) platform.FailureRule {
	var out platform.FailureRule
	a.call(http.MethodPost, "failures", r, &out)
	return out
}

// ClearFailureRules removes all failure rules.
func (a *Admin) ClearFailureRules() { a.call(http.MethodDelete, "failures", nil, nil) }

// AddThrottleRule adds a throttling rule.
func (a *Admin) AddThrottleRule(r sandbox.ThrottleRule) sandbox.ThrottleRule {
	var out sandbox.ThrottleRule
	a.call(http.MethodPost, "throttles", r, &out)
	return out
}

// ClearThrottleRules removes all throttling rules.
func (a *Admin) ClearThrottleRules() { a.call(http.MethodDelete, "throttles", nil, nil) }

// SetFaults replaces the seeded random faults (global rates and per-kind
// rules); a zero FaultSpec turns them off.
func (a *Admin) SetFaults(fs sandbox.FaultSpec) { a.call(http.MethodPut, "faults", fs, nil) }

// SetLatency replaces the latency model (resource, type, stack times).
func (a *Admin) SetLatency(m platform.LatencyModel) { a.call(http.MethodPut, "latency", m, nil) }

// Stats returns the per-action counters of calls and faults.
func (a *Admin) Stats() []sandbox.ActionStats {
	var out []sandbox.ActionStats
	a.call(http.MethodGet, "stats", nil, &out)
	return out
}

// ClearStats zeroes the per-action counters.
func (a *Admin) ClearStats() { a.call(http.MethodDelete, "stats", nil, nil) }

// RequestLog returns the request log.
func (a *Admin) RequestLog() []sandbox.LogEntry {
	var out []sandbox.LogEntry
	a.call(http.MethodGet, "log", nil, &out)
	return out
}

// AddAccount adds an account; with no users it gets an "admin" user.
func (a *Admin) AddAccount(spec sandbox.AccountSpec) sandbox.AccountInfo {
	var out sandbox.AccountInfo
	a.call(http.MethodPost, "accounts", spec, &out)
	return out
}

// AddUser adds a user to account (name or id).
func (a *Admin) AddUser(account string, u sandbox.UserSpec) sandbox.UserInfo {
	var out sandbox.UserInfo
	in := map[string]any{"account": account, "name": u.Name, "admin": u.Admin}
	if len(u.Policies) > 0 {
		in["policies"] = u.Policies
	}
	if len(u.ManagedPolicies) > 0 {
		in["managed_policies"] = u.ManagedPolicies
	}
	if len(u.MFA) > 0 {
		in["mfa"] = u.MFA
	}
	if len(u.AccessKeys) > 0 {
		in["access_keys"] = u.AccessKeys
	}
	a.call(http.MethodPost, "users", in, &out)
	return out
}

// AddRole adds a role (trust and policies as JSON text) and returns its ARN.
func (a *Admin) AddRole(account, name, trust string, policies map[string]string) string {
	var out struct {
		ARN string `json:"arn"`
	}
	in := map[string]any{"account": account, "name": name, "trust_policy": trust, "policies": policies}
	a.call(http.MethodPost, "roles", in, &out)
	return out.ARN
}

// Env returns environment variables (AWS_CONFIG_FILE and friends) for
// running the aws CLI or stacker against the sandbox.
func (e *Env) Env(t testing.TB) []string {
	return append(os.Environ(),
		"AWS_CONFIG_FILE="+e.AWSConfigFile(t),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(t.TempDir(), "none"),
		"AWS_EC2_METADATA_DISABLED=true",
		fmt.Sprintf("AWS_ENDPOINT_URL=%s", e.URL),
	)
}
