package sandbox_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/stacker-go/stacker/internal/sandbox/sandboxtest"
)

// startMoto starts moto_server on a free 127.0.0.1 port and returns its URL.
func startMoto(t *testing.T) string {
	t.Helper()
	bin := "/root/.pyenv/shims/moto_server"
	if _, err := os.Stat(bin); err != nil {
		p, lerr := exec.LookPath("moto_server")
		if lerr != nil {
			t.Fatalf("moto_server is required for the comparison suite: %v", lerr)
		}
		bin = p
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatalf("start moto_server: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url + "/moto-api/data.json")
		if err == nil {
			resp.Body.Close()
			return url
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("moto_server did not start on %s", url)
	return ""
}

// happyPath runs the scenario every backend must agree on and returns a
// normalised transcript (account ids replaced by ACCOUNT).
func happyPath(t *testing.T, ctx context.Context, cfg aws.Config, bucket string) []string {
	t.Helper()
	var out []string
	note := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("GetCallerIdentity: %v", err)
	}
	acct := *id.Account
	norm := func(s string) string { return strings.ReplaceAll(s, acct, "ACCOUNT") }
	ic := iam.NewFromConfig(cfg)
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct + `:root"},"Action":"sts:AssumeRole"}]}`
	role, err := ic.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("Happy"), AssumeRolePolicyDocument: aws.String(trust)})
	if err != nil {
		t.Fatalf("CreateRole: %v", err)
	}
	note("role %s", norm(*role.Role.Arn))
	got, err := ic.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("Happy")})
	if err != nil {
		t.Fatalf("GetRole: %v", err)
	}
	note("get role %s max %d", norm(*got.Role.Arn), aws.ToInt32(got.Role.MaxSessionDuration))
	ar, err := sts.NewFromConfig(cfg).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: role.Role.Arn, RoleSessionName: aws.String("happy")})
	if err != nil {
		t.Fatalf("AssumeRole: %v", err)
	}
	note("assumed %s", norm(*ar.AssumedRoleUser.Arn))
	sc := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := sc.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	for _, k := range []string{"b/2.json", "a/1.json", "c.txt"} {
		if _, err := sc.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(k), Body: strings.NewReader("body of " + k)}); err != nil {
			t.Fatalf("PutObject %s: %v", k, err)
		}
	}
	lo, err := sc.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatalf("ListObjectsV2: %v", err)
	}
	var keys []string
	for _, o := range lo.Contents {
		keys = append(keys, fmt.Sprintf("%s:%d", *o.Key, aws.ToInt64(o.Size)))
	}
	note("keys %v count %d", keys, aws.ToInt32(lo.KeyCount))
	lp, err := sc.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Delimiter: aws.String("/")})
	if err != nil {
		t.Fatalf("ListObjectsV2 delimiter: %v", err)
	}
	var prefixes []string
	for _, p := range lp.CommonPrefixes {
		prefixes = append(prefixes, *p.Prefix)
	}
	sort.Strings(prefixes)
	note("prefixes %v contents %d", prefixes, len(lp.Contents))
	obj, err := sc.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("a/1.json")})
	if err != nil {
		t.Fatalf("GetObject: %v", err)
	}
	b, _ := io.ReadAll(obj.Body)
	obj.Body.Close()
	note("object %q", b)
	loc, err := sc.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatalf("GetBucketLocation: %v", err)
	}
	note("location %q", loc.LocationConstraint)
	return out
}

// TestHappyPathAgreesWithMoto runs the happy path against the sandbox and
// against moto_server; the normalised transcripts must be equal.
func TestHappyPathAgreesWithMoto(t *testing.T) {
	ctx := context.Background()
	motoURL := startMoto(t)
	env := sandboxtest.Start(t)
	motoCfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(motoURL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "")}
	want := happyPath(t, ctx, motoCfg, "happy-moto")
	got := happyPath(t, ctx, env.AWSConfig(ctx, "master"), "happy-moto")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("sandbox and moto disagree:\nsandbox:\n  %s\nmoto:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}
