package sandbox_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/stacker-go/stacker/internal/sandbox"
	"github.com/stacker-go/stacker/internal/sandbox/sandboxtest"
)

// The seed scenario's policies (shared/seed/cross-account/templates).
const (
	masterTrust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"sts:AssumeRole","Condition":{"Null":{"aws:MultiFactorAuthAge":false}}}]}`
	subTrust    = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:role/Stacker"},"Action":"sts:AssumeRole","Condition":{"Null":{"aws:MultiFactorAuthAge":false}}}]}`
	stackerPol  = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["*"],"Resource":"*"}]}`
	bucketPol   = `{"Statement":[{"Action":["s3:GetObject"],"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::222222222222:role/Stacker","arn:aws:iam::333333333333:role/Stacker"]},"Resource":["arn:aws:s3:::stacker-templates/*"]}]}`
)

func apiCode(t *testing.T, err error) (string, string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("want an API error, got %v", err)
	}
	return ae.ErrorCode(), ae.ErrorMessage()
}

func noRetry(o *sts.Options) { o.RetryMaxAttempts = 1 }

func s3Client(cfg aws.Config) *s3.Client {
	return s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true; o.RetryMaxAttempts = 1 })
}

// createStackerRoles creates the seed's Stacker role in every account
// through the IAM API, as the stacker-role template would.
func createStackerRoles(t *testing.T, ctx context.Context, env *sandboxtest.Env) {
	for _, name := range []string{"master", "prod", "stage"} {
		c := iam.NewFromConfig(env.AWSConfig(ctx, name))
		trust := subTrust
		if name == "master" {
			trust = masterTrust
		}
		if _, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("Stacker"), AssumeRolePolicyDocument: aws.String(trust)}); err != nil {
			t.Fatalf("create role in %s: %v", name, err)
		}
		if _, err := c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String("Stacker"), PolicyName: aws.String("Stacker"), PolicyDocument: aws.String(stackerPol)}); err != nil {
			t.Fatalf("put role policy in %s: %v", name, err)
		}
	}
}

func assume(ctx context.Context, env *sandboxtest.Env, cfg aws.Config, roleARN string, dur int32) (aws.Config, error) {
	in := &sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("stacker")}
	if dur > 0 {
		in.DurationSeconds = aws.Int32(dur)
	}
	out, err := sts.NewFromConfig(cfg, noRetry).AssumeRole(ctx, in)
	if err != nil {
		return aws.Config{}, err
	}
	c := out.Credentials
	return env.ConfigFor(*c.AccessKeyId, *c.SecretAccessKey, *c.SessionToken), nil
}

func mfaSession(t *testing.T, ctx context.Context, env *sandboxtest.Env) aws.Config {
	out, err := sts.NewFromConfig(env.AWSConfig(ctx, "master")).GetSessionToken(ctx, &sts.GetSessionTokenInput{
		SerialNumber: aws.String(env.MFASerial), TokenCode: aws.String(env.TOTP())})
	if err != nil {
		t.Fatalf("GetSessionToken with MFA: %v", err)
	}
	c := out.Credentials
	return env.ConfigFor(*c.AccessKeyId, *c.SecretAccessKey, *c.SessionToken)
}

func TestSDKCallerIdentityPerAccount(t *testing.T) {
	env := sandboxtest.Start(t)
	ctx := context.Background()
	for name, id := range map[string]string{"master": "111111111111", "prod": "222222222222", "stage": "333333333333"} {
		out, err := sts.NewFromConfig(env.AWSConfig(ctx, name)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if *out.Account != id || *out.Arn != "arn:aws:iam::"+id+":user/admin" {
			t.Errorf("%s: got %s %s", name, *out.Account, *out.Arn)
		}
	}
}

func TestSDKAuthenticationErrors(t *testing.T) {
	env := sandboxtest.Start(t)
	ctx := context.Background()
	k := env.Keys["master"]
	tests := []struct {
		name, key, secret string
		wantCode, wantMsg string
	}{
		{"unknown key", "AKIAUNKNOWNKEY000000", "x", "InvalidClientTokenId", "The security token included in the request is invalid."},
		{"wrong secret", k.ID, "wrong-secret", "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := env.ConfigFor(tt.key, tt.secret, "")
			_, err := sts.NewFromConfig(cfg, noRetry).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			code, msg := apiCode(t, err)
			if code != tt.wantCode || msg != tt.wantMsg {
				t.Errorf("got %s %q", code, msg)
			}
			_, err = s3Client(cfg).ListBuckets(ctx, &s3.ListBucketsInput{})
			code, _ = apiCode(t, err)
			want := map[string]string{"InvalidClientTokenId": "InvalidAccessKeyId", "SignatureDoesNotMatch": "SignatureDoesNotMatch"}[tt.wantCode]
			if code != want {
				t.Errorf("s3: got %s, want %s", code, want)
			}
		})
	}
}

func TestSDKMFASessionAndExpiry(t *testing.T) {
	env := sandboxtest.Start(t)
	ctx := context.Background()
	stsc := sts.NewFromConfig(env.AWSConfig(ctx, "master"), noRetry)
	_, err := stsc.GetSessionToken(ctx, &sts.GetSessionTokenInput{SerialNumber: aws.String(env.MFASerial), TokenCode: aws.String(wrongCode(env.TOTP()))})
	if code, msg := apiCode(t, err); code != "AccessDenied" || !strings.HasPrefix(msg, "MultiFactorAuthentication failed") {
		t.Errorf("wrong code: got %s %q", code, msg)
	}
	a := mfaSession(t, ctx, env)
	b := mfaSession(t, ctx, env)
	ka, _ := a.Credentials.Retrieve(ctx)
	kb, _ := b.Credentials.Retrieve(ctx)
	if ka.AccessKeyID == kb.AccessKeyID || !strings.HasPrefix(ka.AccessKeyID, "ASIA") {
		t.Errorf("session keys not unique temporary keys: %s %s", ka.AccessKeyID, kb.AccessKeyID)
	}
	out, err := sts.NewFromConfig(a).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || *out.Arn != "arn:aws:iam::111111111111:user/admin" {
		t.Fatalf("caller identity of session: %v %v", out, err)
	}
	env.AdvanceClock(13 * time.Hour)
	_, err = sts.NewFromConfig(a, noRetry).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if code, msg := apiCode(t, err); code != "ExpiredToken" || msg != "The security token included in the request is expired" {
		t.Errorf("expired: got %s %q", code, msg)
	}
}

func wrongCode(c string) string {
	if c == "000000" {
		return "111111"
	}
	return "000000"
}

func TestSDKSeedRoleChainRequiresMFA(t *testing.T) {
	env := sandboxtest.Start(t)
	ctx := context.Background()
	createStackerRoles(t, ctx, env)
	masterRole := "arn:aws:iam::111111111111:role/Stacker"
	// Without MFA: long-term keys, and a session without MFA.
	_, err := assume(ctx, env, env.AWSConfig(ctx, "master"), masterRole, 0)
	if code, msg := apiCode(t, err); code != "AccessDenied" || msg != "User: arn:aws:iam::111111111111:user/admin is not authorized to perform: sts:AssumeRole on resource: "+masterRole {
		t.Errorf("no MFA: got %s %q", code, msg)
	}
	// prod's admin is not trusted by prod's Stacker role.
	_, err = assume(ctx, env, env.AWSConfig(ctx, "prod"), "arn:aws:iam::222222222222:role/Stacker", 0)
	if code, _ := apiCode(t, err); code != "AccessDenied" {
		t.Errorf("prod admin: got %s", code)
	}
	mfa := mfaSession(t, ctx, env)
	master, err := assume(ctx, env, mfa, masterRole, 0)
	if err != nil {
		t.Fatalf("assume master Stacker with MFA: %v", err)
	}
	for _, sub := range []string{"222222222222", "333333333333"} {
		role := "arn:aws:iam::" + sub + ":role/Stacker"
		_, err := assume(ctx, env, master, role, 7200)
		if code, msg := apiCode(t, err); code != "ValidationError" || msg != "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining." {
			t.Errorf("chained 2h: got %s %q", code, msg)
		}
		cfg, err := assume(ctx, env, master, role, 0)
		if err != nil {
			t.Fatalf("assume %s from master Stacker: %v", role, err)
		}
		out, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil || *out.Account != sub || *out.Arn != "arn:aws:sts::"+sub+":assumed-role/Stacker/stacker" {
			t.Errorf("identity in %s: %v %v", sub, out, err)
		}
	}
	// Unknown role and malformed duration.
	_, err = assume(ctx, env, mfa, "arn:aws:iam::999999999999:role/Nope", 0)
	if code, _ := apiCode(t, err); code != "AccessDenied" {
		t.Errorf("unknown role: got %s", code)
	}
	_, err = assume(ctx, env, mfa, masterRole, 100)
	if code, msg := apiCode(t, err); code != "ValidationError" || !strings.Contains(msg, "greater than or equal to 900") {
		t.Errorf("short duration: got %s %q", code, msg)
	}
}

func TestSDKSeedBucketPolicy(t *testing.T) {
	env := sandboxtest.Start(t)
	ctx := context.Background()
	createStackerRoles(t, ctx, env)
	master := s3Client(env.AWSConfig(ctx, "master"))
	if _, err := master.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("stacker-templates")}); err != nil {
		t.Fatal(err)
	}
	if _, err := master.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: aws.String("stacker-templates"),
		ServerSideEncryptionConfiguration: &s3types.ServerSideEncryptionConfiguration{Rules: []s3types.ServerSideEncryptionRule{{
			ApplyServerSideEncryptionByDefault: &s3types.ServerSideEncryptionByDefault{SSEAlgorithm: s3types.ServerSideEncryptionAes256}}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := master.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("stacker-templates"), Policy: aws.String(bucketPol)}); err != nil {
		t.Fatal(err)
	}
	body := strings.Repeat("template body ", 1000)
	if _, err := master.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("stacker-templates"), Key: aws.String("stack_templates/vpc/vpc-abc.json"), Body: strings.NewReader(body)}); err != nil {
		t.Fatalf("PutObject: %v", err)
	}
	get := func(cfg aws.Config) error {
		out, err := s3Client(cfg).GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("stacker-templates"), Key: aws.String("stack_templates/vpc/vpc-abc.json")})
		if err != nil {
			return err
		}
		defer out.Body.Close()
		b, _ := io.ReadAll(out.Body)
		if string(b) != body {
			t.Errorf("object body differs (%d bytes)", len(b))
		}
		return nil
	}
	if err := get(env.AWSConfig(ctx, "master")); err != nil {
		t.Errorf("owner read: %v", err)
	}
	if err := get(env.AWSConfig(ctx, "prod")); err == nil {
		t.Errorf("prod admin read master's bucket without a grant")
	} else if code, _ := apiCode(t, err); code != "AccessDenied" {
		t.Errorf("prod admin: got %s", code)
	}
	mfa := mfaSession(t, ctx, env)
	masterStacker, err := assume(ctx, env, mfa, "arn:aws:iam::111111111111:role/Stacker", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"222222222222", "333333333333"} {
		cfg, err := assume(ctx, env, masterStacker, "arn:aws:iam::"+sub+":role/Stacker", 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := get(cfg); err != nil {
			t.Errorf("%s Stacker read: %v", sub, err)
		}
		// The grant is read-only.
		_, err = s3Client(cfg).PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("stacker-templates"), Key: aws.String("x"), Body: strings.NewReader("x")})
		if code, _ := apiCode(t, err); code != "AccessDenied" {
			t.Errorf("%s Stacker write: got %s", sub, code)
		}
	}
	// A fourth account with its own Stacker role is refused.
	env.AddAccount(sandbox.AccountSpec{Name: "dev", ID: "444444444444"})
	env.Keys["dev"] = env.Server.Accounts()[3].Users[0].AccessKeys[0]
	if err := get(env.AWSConfig(ctx, "dev")); err == nil {
		t.Errorf("dev read master's bucket")
	}
	loc, err := master.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String("stacker-templates")})
	if err != nil || loc.LocationConstraint != "" {
		t.Errorf("GetBucketLocation: %v %v", loc, err)
	}
	list, err := master.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("stacker-templates"), Prefix: aws.String("stack_templates/")})
	if err != nil || len(list.Contents) != 1 || *list.Contents[0].Key != "stack_templates/vpc/vpc-abc.json" {
		t.Errorf("ListObjectsV2: %v %v", list, err)
	}
	// Presigned GET.
	ps, err := s3.NewPresignClient(master).PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("stacker-templates"), Key: aws.String("stack_templates/vpc/vpc-abc.json")})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(ps.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(b, []byte(body)) {
		t.Errorf("presigned GET: %d %.200s", resp.StatusCode, b)
	}
}

func TestSDKThrottling(t *testing.T) {
	env := sandboxtest.Start(t)
	ctx := context.Background()
	env.AddThrottleRule(sandbox.ThrottleRule{Service: "sts", Action: "GetCallerIdentity", Probability: 1})
	_, err := sts.NewFromConfig(env.AWSConfig(ctx, "master"), noRetry).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if code, msg := apiCode(t, err); code != "Throttling" || msg != "Rate exceeded" {
		t.Errorf("got %s %q", code, msg)
	}
	env.ClearThrottleRules()
	if _, err := sts.NewFromConfig(env.AWSConfig(ctx, "master")).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Errorf("after clearing: %v", err)
	}
	log := env.RequestLog()
	if len(log) < 2 || log[0].Outcome != "Throttling" || log[0].Account != "111111111111" || log[len(log)-1].Outcome != "OK" {
		t.Errorf("request log: %+v", log)
	}
}

func TestSDKRandomFaults(t *testing.T) {
	env := sandboxtest.Start(t, sandboxtest.WithSpecYAML(t, `
accounts:
  - name: solo
    id: "555555555555"
    users: [{name: admin, admin: true}]
faults: {seed: 7, error_rate: 1}
`))
	ctx := context.Background()
	_, err := sts.NewFromConfig(env.AWSConfig(ctx, "solo"), noRetry).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if code, _ := apiCode(t, err); code != "InternalFailure" {
		t.Errorf("error_rate 1: got %s", code)
	}
	resp, err := http.DefaultClient.Do(mustReq(t, "PUT", env.URL+"/_sandbox/faults", `{"seed":7,"drop_rate":1}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("set faults: %v %v", resp, err)
	}
	resp.Body.Close()
	_, err = sts.NewFromConfig(env.AWSConfig(ctx, "solo"), noRetry).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	var ae smithy.APIError
	if err == nil || errors.As(err, &ae) {
		t.Errorf("drop_rate 1: want a transport error, got %v", err)
	}
	env.Reset()
	if _, err := sts.NewFromConfig(env.AWSConfig(ctx, "solo")).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err == nil {
		t.Errorf("reset restores the spec's faults, yet the call succeeded")
	}
}

func mustReq(t *testing.T, method, url, body string) *http.Request {
	r, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestSDKVirtualMFADeviceLifecycle(t *testing.T) {
	env := sandboxtest.Start(t)
	ctx := context.Background()
	ic := iam.NewFromConfig(env.AWSConfig(ctx, "prod"))
	dev, err := ic.CreateVirtualMFADevice(ctx, &iam.CreateVirtualMFADeviceInput{VirtualMFADeviceName: aws.String("admin")})
	if err != nil {
		t.Fatal(err)
	}
	seed := string(dev.VirtualMFADevice.Base32StringSeed)
	now := time.Now()
	if _, err := ic.EnableMFADevice(ctx, &iam.EnableMFADeviceInput{UserName: aws.String("admin"), SerialNumber: dev.VirtualMFADevice.SerialNumber,
		AuthenticationCode1: aws.String(sandbox.TOTP(seed, now.Add(-30*time.Second))), AuthenticationCode2: aws.String(sandbox.TOTP(seed, now))}); err != nil {
		t.Fatalf("EnableMFADevice: %v", err)
	}
	list, err := ic.ListMFADevices(ctx, &iam.ListMFADevicesInput{})
	if err != nil || len(list.MFADevices) != 1 || *list.MFADevices[0].SerialNumber != "arn:aws:iam::222222222222:mfa/admin" {
		t.Fatalf("ListMFADevices: %v %v", list, err)
	}
	if _, err := sts.NewFromConfig(env.AWSConfig(ctx, "prod")).GetSessionToken(ctx, &sts.GetSessionTokenInput{
		SerialNumber: dev.VirtualMFADevice.SerialNumber, TokenCode: aws.String(sandbox.TOTP(seed, time.Now()))}); err != nil {
		t.Errorf("GetSessionToken with the new device: %v", err)
	}
}
