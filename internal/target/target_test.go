package target

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const seedConfig = `
[profile master]
region = us-east-1
role_arn = arn:aws:iam::111111111111:role/Stacker
role_session_name = stacker
credential_source = Environment

[profile prod]
region = us-east-1
role_arn = arn:aws:iam::222222222222:role/Stacker
role_session_name = stacker
source_profile = master

[profile stage]
region = us-east-1
role_arn = arn:aws:iam::333333333333:role/Stacker
role_session_name = stacker
source_profile = master
`

const mfaConfig = `
[profile master]
region = us-east-1
role_arn = arn:aws:iam::111111111111:role/StackerMFARequired
role_session_name = stacker
credential_source = Environment
mfa_serial = arn:aws:iam::111111111111:mfa/alice

[profile prod]
region = us-east-1
role_arn = arn:aws:iam::222222222222:role/StackerMFARequired
source_profile = master
mfa_serial = arn:aws:iam::111111111111:mfa/alice

[profile stage]
region = us-west-2
role_arn = arn:aws:iam::333333333333:role/StackerMFARequired
source_profile = master
duration_seconds = 900
external_id = ext-42
`

// setup writes an AWS config file and points the environment (AWS config,
// endpoint, long-term keys) at a fake STS.
func setup(t *testing.T, awsConfig string) *fakeSTS {
	t.Helper()
	sts := newFakeSTS(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config")
	if err := os.WriteFile(cfgPath, []byte(strings.ReplaceAll(awsConfig, "ENDPOINT", sts.srv.URL)), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CONFIG_FILE", cfgPath)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_ENDPOINT_URL", sts.srv.URL)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAROOT")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "rootsecret")
	for _, k := range []string{"AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", EnvCredentialCache, "AWS_ENDPOINT_URL_STS"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	return sts
}

// counter is a Prompt that answers code and counts the prompts.
type counter struct {
	n    atomic.Int32
	code string
}

func (c *counter) prompt(ctx context.Context, profile, serial string) (string, error) {
	c.n.Add(1)
	time.Sleep(5 * time.Millisecond) // widen the window for concurrent callers
	return c.code, nil
}

func keys(profiles ...string) []Key {
	var ks []Key
	for _, p := range profiles {
		ks = append(ks, Key{Profile: p})
	}
	return ks
}

func TestSeedChainAssumesMasterOnceAndChainsSubAccountsFromIt(t *testing.T) {
	sts := setup(t, seedConfig)
	f := NewFactory(Options{NoCache: true})
	ctx := context.Background()
	if err := f.Preflight(ctx, keys("master", "prod", "stage", "prod")); err != nil {
		t.Fatal(err)
	}
	calls := sts.callsOf("AssumeRole")
	if len(calls) != 3 {
		t.Fatalf("AssumeRole calls = %d, want 3 (master once, prod, stage): %+v", len(calls), calls)
	}
	masterKey := ""
	for _, c := range calls {
		if c.RoleARN == "arn:aws:iam::111111111111:role/Stacker" {
			if c.KeyID != "AKIAROOT" {
				t.Errorf("master assumed with %s, want environment keys", c.KeyID)
			}
			masterKey = "set"
		}
		if c.Session != "stacker" {
			t.Errorf("role_session_name = %q, want stacker", c.Session)
		}
	}
	if masterKey == "" {
		t.Fatal("master role not assumed")
	}
	for _, c := range calls {
		if c.RoleARN != "arn:aws:iam::111111111111:role/Stacker" && !strings.HasPrefix(c.KeyID, "ASIAFAKE") {
			t.Errorf("%s assumed with %s, want master's role session", c.RoleARN, c.KeyID)
		}
	}
	for p, want := range map[string]string{"master": "111111111111", "prod": "222222222222", "stage": "333333333333"} {
		got, err := f.Account(ctx, Key{Profile: p})
		if err != nil || got != want {
			t.Errorf("Account(%s) = %q, %v; want %s", p, got, err, want)
		}
	}
	// Account is asked once per target.
	_, _ = f.Account(ctx, Key{Profile: "prod"})
	if n := sts.count("GetCallerIdentity"); n != 3 {
		t.Errorf("GetCallerIdentity calls = %d, want 3", n)
	}
	ch, err := f.Chain(ctx, Key{Profile: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	want := "environment → assume role arn:aws:iam::111111111111:role/Stacker (profile master) → assume role arn:aws:iam::222222222222:role/Stacker (profile prod)"
	if ch.String() != want {
		t.Errorf("chain = %q\nwant   %q", ch.String(), want)
	}
}

func TestOneMFAPromptForManyTargetsResolvedConcurrently(t *testing.T) {
	sts := setup(t, mfaConfig)
	c := &counter{code: "123456"}
	f := NewFactory(Options{NoCache: true, Prompt: c.prompt})
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 60)
	for i := 0; i < 20; i++ {
		for _, p := range []string{"master", "prod", "stage"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				region := []string{"", "eu-west-1"}[i%2]
				cfg, err := f.Config(ctx, Key{Profile: p, Region: region})
				if err == nil {
					_, err = cfg.Credentials.Retrieve(ctx)
				}
				errs <- err
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := c.n.Load(); n != 1 {
		t.Errorf("prompts = %d, want 1", n)
	}
	if n := sts.count("GetSessionToken"); n != 1 {
		t.Errorf("GetSessionToken calls = %d, want 1", n)
	}
	calls := sts.callsOf("AssumeRole")
	if len(calls) != 3 {
		t.Fatalf("AssumeRole calls = %d, want 3: %+v", len(calls), calls)
	}
	for _, call := range calls {
		if call.Serial != "" || call.Code != "" {
			t.Errorf("%s: AssumeRole passed an MFA code; the MFA session should cover it", call.RoleARN)
		}
		if call.RoleARN == "arn:aws:iam::333333333333:role/StackerMFARequired" {
			if call.Duration != "900" || call.External != "ext-42" {
				t.Errorf("stage: duration %q external id %q, want 900 and ext-42", call.Duration, call.External)
			}
		}
	}
}

func TestMFAWithoutTerminalFailsInPreflightNamingProfileAndFlag(t *testing.T) {
	sts := setup(t, mfaConfig)
	f := NewFactory(Options{NoCache: true})
	err := f.Preflight(context.Background(), keys("prod", "stage"))
	var mfa *MFACodeRequiredError
	if !errors.As(err, &mfa) {
		t.Fatalf("err = %v, want MFACodeRequiredError", err)
	}
	for _, want := range []string{"profile master", "arn:aws:iam::111111111111:mfa/alice", "--mfa-code", "STACKER_MFA_CODE", "no terminal"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if n := len(sts.callsOf("GetSessionToken")) + len(sts.callsOf("AssumeRole")); n != 0 {
		t.Errorf("%d STS calls made before failing, want 0", n)
	}
}

func TestMFACodeOptionAnswersWithoutPrompt(t *testing.T) {
	sts := setup(t, mfaConfig)
	f := NewFactory(Options{NoCache: true, MFACode: "123456", Prompt: func(context.Context, string, string) (string, error) {
		t.Error("prompted although a code was given")
		return "", nil
	}})
	if err := f.Preflight(context.Background(), keys("master", "prod", "stage")); err != nil {
		t.Fatal(err)
	}
	got := sts.callsOf("GetSessionToken")
	if len(got) != 1 || got[0].Serial != "arn:aws:iam::111111111111:mfa/alice" || got[0].Code != "123456" || got[0].KeyID != "AKIAROOT" {
		t.Errorf("GetSessionToken calls = %+v", got)
	}
}

func TestWrongMFACodeIsReportedWithProfile(t *testing.T) {
	setup(t, mfaConfig)
	f := NewFactory(Options{NoCache: true, MFACode: "000000"})
	err := f.Preflight(context.Background(), keys("prod"))
	if err == nil || !strings.Contains(err.Error(), "profile master: get MFA session token") || !strings.Contains(err.Error(), "invalid MFA") {
		t.Fatalf("err = %v", err)
	}
}

func TestMFARequiredByTrustPolicyWithoutMFASessionIsRefused(t *testing.T) {
	// Roles that require MFA, reached from long-term keys with no
	// mfa_serial anywhere: STS refuses and the error names the role.
	cfg := strings.ReplaceAll(mfaConfig, "mfa_serial = arn:aws:iam::111111111111:mfa/alice\n", "")
	setup(t, cfg)
	f := NewFactory(Options{NoCache: true})
	err := f.Preflight(context.Background(), keys("prod"))
	if err == nil || !strings.Contains(err.Error(), "assume role arn:aws:iam::111111111111:role/StackerMFARequired") || !strings.Contains(err.Error(), "AccessDenied") {
		t.Fatalf("err = %v", err)
	}
}

func TestSessionSourceUsesAssumeRoleWithMFAWhenGetSessionTokenIsImpossible(t *testing.T) {
	// Environment credentials that are already a session cannot call
	// GetSessionToken; the role hop passes SerialNumber and TokenCode.
	sts := setup(t, mfaConfig)
	sts.keys["ASIASESSION"] = fakeKey{account: "111111111111"}
	t.Setenv("AWS_ACCESS_KEY_ID", "ASIASESSION")
	t.Setenv("AWS_SESSION_TOKEN", "tok")
	c := &counter{code: "123456"}
	f := NewFactory(Options{NoCache: true, Prompt: c.prompt})
	if err := f.Preflight(context.Background(), keys("master", "prod", "stage")); err != nil {
		t.Fatal(err)
	}
	if c.n.Load() != 1 || sts.count("GetSessionToken") != 0 {
		t.Errorf("prompts %d, GetSessionToken %d; want 1 and 0", c.n.Load(), sts.count("GetSessionToken"))
	}
	for _, call := range sts.callsOf("AssumeRole") {
		withCode := call.Serial != ""
		wantCode := !strings.Contains(call.RoleARN, "333333333333") // stage has no mfa_serial
		if withCode != wantCode {
			t.Errorf("%s: passed MFA code %v, want %v", call.RoleARN, withCode, wantCode)
		}
	}
}

func TestDiskCacheSpansRunsAndIsPrivate(t *testing.T) {
	sts := setup(t, mfaConfig)
	dir := filepath.Join(t.TempDir(), "creds")
	c := &counter{code: "123456"}
	run := func() {
		f := NewFactory(Options{CacheDir: dir, Prompt: c.prompt})
		if err := f.Preflight(context.Background(), keys("master", "prod", "stage")); err != nil {
			t.Fatal(err)
		}
	}
	run()
	run()
	if c.n.Load() != 1 || sts.count("GetSessionToken") != 1 || sts.count("AssumeRole") != 3 {
		t.Errorf("after two runs: prompts %d, GetSessionToken %d, AssumeRole %d; want 1, 1, 3",
			c.n.Load(), sts.count("GetSessionToken"), sts.count("AssumeRole"))
	}
	st, err := os.Stat(dir)
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("cache dir mode = %v, %v; want 0700", st.Mode().Perm(), err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) != 4 { // MFA session + 3 roles
		t.Errorf("cache files = %d, want 4", len(files))
	}
	for _, p := range files {
		st, _ := os.Stat(p)
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode = %v, want 0600", p, st.Mode().Perm())
		}
		if strings.Contains(filepath.Base(p), "master") || strings.Contains(filepath.Base(p), "alice") {
			t.Errorf("cache file name %s reveals the profile or device", p)
		}
	}
	// --no-credential-cache: a new run prompts again.
	f := NewFactory(Options{CacheDir: dir, NoCache: true, Prompt: c.prompt})
	if err := f.Preflight(context.Background(), keys("prod")); err != nil {
		t.Fatal(err)
	}
	if c.n.Load() != 2 {
		t.Errorf("prompts with cache off = %d, want 2", c.n.Load())
	}
	n, err := ClearCache(dir)
	if err != nil || n != 4 {
		t.Errorf("ClearCache = %d, %v; want 4", n, err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 0 {
		t.Errorf("left after clear: %v", left)
	}
}

func TestExpiredCachedSessionIsRenewedNotFailed(t *testing.T) {
	sts := setup(t, mfaConfig)
	dir := t.TempDir()
	c := &counter{code: "123456"}
	f := NewFactory(Options{CacheDir: dir, Prompt: c.prompt})
	if err := f.Preflight(context.Background(), keys("prod")); err != nil {
		t.Fatal(err)
	}
	// Every cached session now expires within the 5-minute window.
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	for _, p := range files {
		e, ok := readCacheEntry(p)
		if !ok {
			t.Fatalf("unreadable cache entry %s", p)
		}
		e.Expires = time.Now().Add(time.Minute)
		if err := writeCacheEntry(dir, p, e); err != nil {
			t.Fatal(err)
		}
	}
	f = NewFactory(Options{CacheDir: dir, Prompt: c.prompt})
	if err := f.Preflight(context.Background(), keys("prod")); err != nil {
		t.Fatalf("second run with stale cache: %v", err)
	}
	if sts.count("GetSessionToken") != 2 || sts.count("AssumeRole") != 4 || c.n.Load() != 2 {
		t.Errorf("GetSessionToken %d AssumeRole %d prompts %d; want 2, 4, 2 (renewed)", sts.count("GetSessionToken"), sts.count("AssumeRole"), c.n.Load())
	}
	// Now fresh: a third run uses the cache.
	f = NewFactory(Options{CacheDir: dir, Prompt: c.prompt})
	if err := f.Preflight(context.Background(), keys("prod")); err != nil {
		t.Fatal(err)
	}
	if sts.count("AssumeRole") != 4 || c.n.Load() != 2 {
		t.Errorf("third run: AssumeRole %d prompts %d; want 4 and 2", sts.count("AssumeRole"), c.n.Load())
	}
}

func TestCacheMissesWhenSourceKeysChange(t *testing.T) {
	sts := setup(t, seedConfig)
	dir := t.TempDir()
	f := NewFactory(Options{CacheDir: dir})
	if err := f.Preflight(context.Background(), keys("prod")); err != nil {
		t.Fatal(err)
	}
	sts.keys["AKIAOTHER"] = fakeKey{account: "111111111111"}
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAOTHER")
	f = NewFactory(Options{CacheDir: dir})
	if err := f.Preflight(context.Background(), keys("prod")); err != nil {
		t.Fatal(err)
	}
	if n := sts.count("AssumeRole"); n != 4 {
		t.Errorf("AssumeRole = %d, want 4 (new source identity misses the cache)", n)
	}
}

func TestEndpointURLInProfileIsUsedForSTS(t *testing.T) {
	cfg := strings.ReplaceAll(seedConfig, "region = us-east-1\n", "region = us-east-1\nendpoint_url = ENDPOINT\n")
	sts := setup(t, cfg)
	os.Unsetenv("AWS_ENDPOINT_URL")
	f := NewFactory(Options{NoCache: true})
	if err := f.Preflight(context.Background(), keys("prod")); err != nil {
		t.Fatal(err)
	}
	if got, err := f.Account(context.Background(), Key{Profile: "prod"}); err != nil || got != "222222222222" {
		t.Fatalf("Account = %q, %v", got, err)
	}
	if sts.count("AssumeRole") != 2 {
		t.Errorf("AssumeRole = %d, want 2", sts.count("AssumeRole"))
	}
}

func TestDefaultProfileAndRegion(t *testing.T) {
	setup(t, seedConfig)
	f := NewFactory(Options{DefaultProfile: "master", DefaultRegion: "eu-west-1", NoCache: true})
	if k := f.Resolve(Key{}); k != (Key{Profile: "master", Region: "eu-west-1"}) {
		t.Errorf("Resolve = %v", k)
	}
	cfg, err := f.Config(context.Background(), Key{Profile: "prod"})
	if err != nil || cfg.Region != "eu-west-1" {
		t.Errorf("region = %q, %v; want --region to win", cfg.Region, err)
	}
	f = NewFactory(Options{NoCache: true})
	cfg, err = f.Config(context.Background(), Key{Profile: "stage"})
	if err != nil || cfg.Region != "us-east-1" {
		t.Errorf("region = %q, %v; want the profile's", cfg.Region, err)
	}
	// No profile anywhere: environment keys.
	acct, err := f.Account(context.Background(), Key{})
	if err != nil || acct != "111111111111" {
		t.Errorf("default account = %q, %v", acct, err)
	}
}

func TestUnknownProfileAndBadCredentialSource(t *testing.T) {
	setup(t, seedConfig+"\n[profile odd]\nrole_arn = arn:aws:iam::1:role/x\ncredential_source = Magic\n")
	f := NewFactory(Options{NoCache: true})
	_, err := f.Config(context.Background(), Key{Profile: "nope"})
	if err == nil || !strings.Contains(err.Error(), "profile nope not found") {
		t.Errorf("err = %v", err)
	}
	_, err = f.Config(context.Background(), Key{Profile: "odd"})
	if err == nil || !strings.Contains(err.Error(), "odd") {
		t.Errorf("err = %v", err)
	}
}

func TestAccountGuardNamesBothAccounts(t *testing.T) {
	setup(t, seedConfig)
	f := NewFactory(Options{NoCache: true})
	ctx := context.Background()
	if err := f.CheckAccount(ctx, Key{Profile: "prod"}, "222222222222", nil, ""); err != nil {
		t.Fatal(err)
	}
	err := f.CheckAccount(ctx, Key{Profile: "prod"}, "999999999999", nil, "stack prod/vpc")
	var m *AccountMismatchError
	if !errors.As(err, &m) || !strings.Contains(err.Error(), "222222222222") || !strings.Contains(err.Error(), "999999999999") || !strings.Contains(err.Error(), "prod/vpc") {
		t.Fatalf("err = %v", err)
	}
}

func TestLogsOneLinePerHopAndNoSecrets(t *testing.T) {
	sts := setup(t, mfaConfig)
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f := NewFactory(Options{CacheDir: t.TempDir(), Prompt: (&counter{code: "123456"}).prompt, Logger: log})
	if err := f.Preflight(context.Background(), keys("master", "prod", "stage")); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"prod", "stage"} {
		if _, err := f.Account(context.Background(), Key{Profile: k}); err != nil {
			t.Fatal(err)
		}
	}
	out := buf.String()
	for _, want := range []string{
		"profile master: MFA session from GetSessionToken with arn:aws:iam::111111111111:mfa/alice",
		"profile prod: assume role arn:aws:iam::222222222222:role/StackerMFARequired (MFA session reused)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	sts.mu.Lock()
	defer sts.mu.Unlock()
	secrets := []string{"rootsecret", "123456", "tok-"}
	for _, k := range sts.keys {
		secrets = append(secrets, k.secret)
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(out, s) {
			t.Errorf("log contains secret %q", s)
		}
	}
	if t.Failed() {
		fmt.Println(out)
	}
}

func FuzzIdentityRoleARN(f *testing.F) {
	for _, s := range []string{
		"arn:aws:sts::222222222222:assumed-role/Stacker/stacker",
		"arn:aws:iam::111111111111:user/admin",
		"arn:aws:iam::111111111111:root",
		"arn:aws-cn:sts::1:assumed-role/a/b/c",
		"arn:aws:sts::1:assumed-role/",
		"", ":::::", "arn:aws:sts::1:federated-user/x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Identity{ARN: s}.RoleARN()
		if !strings.Contains(s, "assumed-role/") && got != s {
			t.Errorf("RoleARN(%q) = %q, want unchanged", s, got)
		}
		if got != s && !strings.Contains(got, ":role/") {
			t.Errorf("RoleARN(%q) = %q, not a role ARN", s, got)
		}
	})
}

func TestIdentityRoleARN(t *testing.T) {
	for in, want := range map[string]string{
		"arn:aws:sts::222222222222:assumed-role/Stacker/stacker": "arn:aws:iam::222222222222:role/Stacker",
		"arn:aws:iam::111111111111:user/admin":                   "arn:aws:iam::111111111111:user/admin",
	} {
		if got := (Identity{ARN: in}).RoleARN(); got != want {
			t.Errorf("RoleARN(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCredentialProcessSourceWithOurRoleHop(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "creds.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho '{\"Version\":1,\"AccessKeyId\":\"AKIAROOT\",\"SecretAccessKey\":\"rootsecret\"}'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	sts := setup(t, fmt.Sprintf(`
[profile proc]
region = us-east-1
credential_process = %s

[profile deploy]
region = us-east-1
role_arn = arn:aws:iam::222222222222:role/Deployer
source_profile = proc
`, script))
	os.Unsetenv("AWS_ACCESS_KEY_ID")
	os.Unsetenv("AWS_SECRET_ACCESS_KEY")
	f := NewFactory(Options{NoCache: true})
	acct, err := f.Account(context.Background(), Key{Profile: "deploy"})
	if err != nil || acct != "222222222222" {
		t.Fatalf("Account = %q, %v", acct, err)
	}
	calls := sts.callsOf("AssumeRole")
	if len(calls) != 1 || calls[0].KeyID != "AKIAROOT" {
		t.Errorf("AssumeRole calls = %+v, want one signed with the process's key", calls)
	}
	ch, _ := f.Chain(context.Background(), Key{Profile: "deploy"})
	if got := strings.Join(ch.Path, "→"); got != "proc→deploy" {
		t.Errorf("path = %q", got)
	}
}

func TestSSOSessionAsSourceOfARoleChain(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	sum := sha1.Sum([]byte("corp"))
	cache := filepath.Join(home, ".aws", "sso", "cache")
	if err := os.MkdirAll(cache, 0o700); err != nil {
		t.Fatal(err)
	}
	tok := fmt.Sprintf(`{"accessToken":"sso-token","expiresAt":"%s","region":"us-east-1","startUrl":"https://corp.awsapps.com/start"}`,
		time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	if err := os.WriteFile(filepath.Join(cache, hex.EncodeToString(sum[:])+".json"), []byte(tok), 0o600); err != nil {
		t.Fatal(err)
	}
	sts := setup(t, `
[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = us-east-1

[profile sso]
sso_session = corp
sso_account_id = 111111111111
sso_role_name = Admin
region = us-east-1

[profile prod]
role_arn = arn:aws:iam::222222222222:role/Stacker
source_profile = sso
region = us-east-1
`)
	os.Unsetenv("AWS_ACCESS_KEY_ID")
	os.Unsetenv("AWS_SECRET_ACCESS_KEY")
	t.Setenv("AWS_ENDPOINT_URL_SSO", sts.srv.URL) // the SSO portal
	f := NewFactory(Options{CacheDir: t.TempDir()})
	acct, err := f.Account(context.Background(), Key{Profile: "prod"})
	if err != nil || acct != "222222222222" {
		t.Fatalf("Account = %q, %v", acct, err)
	}
	calls := sts.callsOf("AssumeRole")
	if len(calls) != 1 || calls[0].KeyID != "ASIASSO" {
		t.Errorf("AssumeRole calls = %+v, want one signed with the SSO role credentials", calls)
	}
	if n := sts.count("sso:GetRoleCredentials"); n != 1 {
		t.Errorf("GetRoleCredentials = %d, want 1", n)
	}
}

// TestEnvironmentFromOptionsNotTheProcess: with Options.Getenv, the shared
// files, environment keys and endpoint come from it, even when the process
// environment points elsewhere (the demo runs against its sandbox so).
func TestEnvironmentFromOptionsNotTheProcess(t *testing.T) {
	sts := setup(t, seedConfig)
	env := map[string]string{}
	for _, k := range []string{"AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_ENDPOINT_URL"} {
		env[k] = os.Getenv(k)
	}
	env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"] = "AKIAROOT", "rootsecret"
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "missing"))
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAPROCESS")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "processsecret")
	t.Setenv("AWS_PROFILE", "nosuchprofile")

	f := NewFactory(Options{NoCache: true, Getenv: func(k string) string { return env[k] }})
	if err := f.Preflight(context.Background(), keys("master")); err != nil {
		t.Fatal(err)
	}
	calls := sts.callsOf("AssumeRole")
	if len(calls) != 1 || calls[0].KeyID != "AKIAROOT" {
		t.Errorf("AssumeRole calls = %+v, want one with the injected keys", calls)
	}
	if got := f.Profile(Key{}); got != "default" {
		t.Errorf("Profile() = %q, want default (AWS_PROFILE of the process ignored)", got)
	}
}
