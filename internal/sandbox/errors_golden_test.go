package sandbox_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/stacker-go/stacker/internal/sandbox"
	"github.com/stacker-go/stacker/internal/sandbox/sandboxtest"
)

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func describeErr(err error) string {
	if err == nil {
		return "no error"
	}
	var ae smithy.APIError
	var re *awshttp.ResponseError
	status := 0
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	if errors.As(err, &ae) {
		return fmt.Sprintf("HTTP %d %s: %s", status, ae.ErrorCode(), ae.ErrorMessage())
	}
	return "not an API error: " + err.Error()
}

// TestErrorGolden pins the codes and messages the orchestrator branches on.
func TestErrorGolden(t *testing.T) {
	env := sandboxtest.Start(t)
	ctx := context.Background()
	createStackerRoles(t, ctx, env)
	master := env.AWSConfig(ctx, "master")
	var lines []string
	add := func(name string, err error) { lines = append(lines, name+": "+describeErr(err)) }

	stsc := func(cfg aws.Config) *sts.Client { return sts.NewFromConfig(cfg, noRetry) }
	_, err := stsc(env.ConfigFor("AKIAUNKNOWNKEY000000", "x", "")).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	add("sts unknown key", err)
	_, err = stsc(env.ConfigFor(env.Keys["master"].ID, "wrong", "")).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	add("sts wrong secret", err)
	_, err = stsc(master).GetSessionToken(ctx, &sts.GetSessionTokenInput{SerialNumber: aws.String(env.MFASerial), TokenCode: aws.String(wrongCode(env.TOTP()))})
	add("sts wrong MFA code", err)
	_, err = stsc(master).GetSessionToken(ctx, &sts.GetSessionTokenInput{SerialNumber: aws.String(env.MFASerial), TokenCode: aws.String("12ab56")})
	add("sts malformed MFA code", err)
	_, err = assume(ctx, env, master, "arn:aws:iam::111111111111:role/Stacker", 0)
	add("assume role without MFA", err)
	mfa := mfaSession(t, ctx, env)
	_, err = stsc(mfa).GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	add("session token from session", err)
	ms, err := assume(ctx, env, mfa, "arn:aws:iam::111111111111:role/Stacker", 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = assume(ctx, env, ms, "arn:aws:iam::222222222222:role/Stacker", 7200)
	add("role chaining over 1h", err)
	_, err = assume(ctx, env, mfa, "arn:aws:iam::111111111111:role/Stacker", 7200)
	add("over max session duration", err)
	_, err = sts.NewFromConfig(mfa, noRetry).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::111111111111:role/Stacker"), RoleSessionName: aws.String("a b")})
	add("bad session name", err)

	ic := iam.NewFromConfig(master, func(o *iam.Options) { o.RetryMaxAttempts = 1 })
	_, err = ic.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("Missing")})
	add("iam missing role", err)
	_, err = ic.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("Stacker"), AssumeRolePolicyDocument: aws.String(masterTrust)})
	add("iam duplicate role", err)
	_, err = iam.NewFromConfig(ms, func(o *iam.Options) { o.RetryMaxAttempts = 1 }).GetUser(ctx, &iam.GetUserInput{})
	add("iam GetUser as role", err)

	sc := s3Client(master)
	_, err = sc.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("no-such-bucket"), Key: aws.String("k")})
	add("s3 no such bucket", err)
	if _, err := sc.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("golden-bucket")}); err != nil {
		t.Fatal(err)
	}
	_, err = sc.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("golden-bucket"), Key: aws.String("missing")})
	add("s3 no such key", err)
	_, err = s3Client(env.AWSConfig(ctx, "prod")).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("golden-bucket")})
	add("s3 bucket taken", err)
	_, err = s3Client(env.AWSConfig(ctx, "prod")).GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("golden-bucket"), Key: aws.String("k")})
	add("s3 cross-account without grant", err)
	_, err = sc.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("golden-bucket")})
	add("s3 no bucket policy", err)

	env.AddThrottleRule(sandbox.ThrottleRule{Probability: 1})
	_, err = stsc(master).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	add("throttled query call", err)
	_, err = sc.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("golden-bucket")})
	add("throttled s3 call", err)
	env.ClearThrottleRules()
	env.AdvanceClock(2 * time.Hour)
	_, err = stsc(ms).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	add("expired session", err)
	_, err = s3Client(ms).ListBuckets(ctx, &s3.ListBucketsInput{})
	add("expired session on s3", err)
	golden(t, "errors.golden", strings.Join(lines, "\n")+"\n")

	// Raw bodies of an unsigned query call and an S3 error.
	rid := regexp.MustCompile(`<RequestId>[^<]*</RequestId>`)
	resp, err := http.Post(env.URL+"/", "application/x-www-form-urlencoded", strings.NewReader("Action=GetCallerIdentity&Version=2011-06-15"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp2, err := http.Get(env.URL + "/golden-bucket/k")
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := io.ReadAll(resp2.Body)
	resp2.Body.Close()
	raw := fmt.Sprintf("%d %s\n%s\n%d %s\n%s\n", resp.StatusCode, resp.Header.Get("Content-Type"), b, resp2.StatusCode, resp2.Header.Get("Content-Type"), b2)
	golden(t, "raw-errors.golden", rid.ReplaceAllString(raw, "<RequestId>REQUEST-ID</RequestId>"))
}
