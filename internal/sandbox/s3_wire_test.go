package sandbox_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/stacker-go/stacker/internal/sandbox/sandboxtest"
)

// TestS3VirtualHostedAndStreaming sends virtual-hosted requests
// (bucket.s3.sandbox.test) and an unseekable upload (aws-chunked with a
// trailing checksum) through the Go SDK.
func TestS3VirtualHostedAndStreaming(t *testing.T) {
	env := sandboxtest.Start(t)
	ctx := context.Background()
	addr := strings.TrimPrefix(env.URL, "http://")
	_, port, _ := net.SplitHostPort(addr)
	cfg := env.AWSConfig(ctx, "master")
	cfg.HTTPClient = &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}}
	c := s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String("http://s3.sandbox.test:" + port)
		o.RetryMaxAttempts = 1
	})
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("vhost-bucket")}); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("vhost-bucket"), Key: aws.String("seekable.txt"), Body: strings.NewReader("seekable")}); err != nil {
		t.Fatalf("PutObject seekable: %v", err)
	}
	// aws-chunked bodies, as SDKs send them over TLS: signed chunks and
	// unsigned chunks with a trailing checksum.
	k := env.Keys["master"]
	creds := aws.Credentials{AccessKeyID: k.ID, SecretAccessKey: k.Secret}
	for key, v := range map[string]struct{ hash, body string }{
		"signed-chunks.txt":  {"STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "5;chunk-signature=" + strings.Repeat("0", 64) + "\r\nhello\r\n0;chunk-signature=" + strings.Repeat("0", 64) + "\r\n\r\n"},
		"trailer-chunks.txt": {"STREAMING-UNSIGNED-PAYLOAD-TRAILER", "5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n"},
	} {
		req, _ := http.NewRequest("PUT", env.URL+"/vhost-bucket/"+key, strings.NewReader(v.body))
		req.Header.Set("X-Amz-Content-Sha256", v.hash)
		req.Header.Set("Content-Encoding", "aws-chunked")
		req.Header.Set("X-Amz-Decoded-Content-Length", "5")
		if err := v4.NewSigner().SignHTTP(ctx, creds, req, v.hash, "s3", "us-east-1", time.Now().UTC(), func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }); err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %s", key, resp.Status)
		}
		got, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("vhost-bucket"), Key: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(got.Body)
		got.Body.Close()
		if string(b) != "hello" {
			t.Errorf("%s: stored %q", key, b)
		}
	}
	out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("vhost-bucket")})
	if err != nil {
		t.Fatalf("ListObjectsV2: %v", err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, *o.Key)
	}
	if strings.Join(keys, ",") != "seekable.txt,signed-chunks.txt,trailer-chunks.txt" {
		t.Errorf("keys %v", keys)
	}
}
