package sigv4

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

// serverSide turns a client request into what an http.Server sees.
func serverSide(t *testing.T, req *http.Request, body []byte) *http.Request {
	t.Helper()
	var buf bytes.Buffer
	if err := req.Write(&buf); err != nil {
		t.Fatal(err)
	}
	sr, err := http.ReadRequest(bufioReader(&buf))
	if err != nil {
		t.Fatal(err)
	}
	sr.RequestURI = req.URL.RequestURI()
	return sr
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestVerifySDKSignatures(t *testing.T) {
	signer := v4.NewSigner()
	creds := aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: secret}
	now := time.Now().UTC()
	tests := []struct {
		name, service, method, url, payloadHash string
		body                                    string
	}{
		{"query protocol POST", "sts", "POST", "http://127.0.0.1:4566/", "", "Action=GetCallerIdentity&Version=2011-06-15"},
		{"s3 unsigned payload", "s3", "PUT", "http://127.0.0.1:4566/bucket/a%20key/with+plus.txt", "UNSIGNED-PAYLOAD", "data"},
		{"s3 query string", "s3", "GET", "http://127.0.0.1:4566/bucket?list-type=2&prefix=a%2Fb&delimiter=%2F", "", ""},
		{"virtual host", "s3", "GET", "http://bucket.s3.amazonaws.com/key", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, tt.url, strings.NewReader(tt.body))
			if tt.method == "POST" {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
			}
			ph := tt.payloadHash
			if ph == "" {
				ph = sha([]byte(tt.body))
			}
			if tt.service == "s3" {
				req.Header.Set("X-Amz-Content-Sha256", ph)
			}
			if err := signer.SignHTTP(context.Background(), creds, req, ph, tt.service, "us-east-1", now,
				func(o *v4.SignerOptions) { o.DisableURIPathEscaping = tt.service == "s3" }); err != nil {
				t.Fatal(err)
			}
			sr := serverSide(t, req, []byte(tt.body))
			s, err := Parse(sr)
			if err != nil {
				t.Fatal(err)
			}
			if s.AccessKeyID != "AKIDEXAMPLE" || s.Service != tt.service || s.Region != "us-east-1" {
				t.Errorf("parsed %+v", s)
			}
			if !s.Verify(sr, []byte(tt.body), secret) {
				t.Errorf("valid signature rejected")
			}
			if s.Verify(sr, []byte(tt.body), "other") {
				t.Errorf("wrong secret accepted")
			}
		})
	}
}

func TestVerifyPresigned(t *testing.T) {
	signer := v4.NewSigner()
	creds := aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: secret, SessionToken: "tok"}
	req, _ := http.NewRequest("GET", "http://127.0.0.1:4566/bucket/key.json?X-Amz-Expires=900", nil)
	u, _, err := signer.PresignHTTP(context.Background(), creds, req, "UNSIGNED-PAYLOAD", "s3", "us-east-1", time.Now().UTC())
	if err != nil {
		t.Fatal(err)
	}
	sr := httptest.NewRequest("GET", u, nil)
	sr.Host = "127.0.0.1:4566"
	s, err := Parse(sr)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Presigned || s.SessionToken != "tok" || s.Expires != 900*time.Second {
		t.Errorf("parsed %+v", s)
	}
	if !s.Verify(sr, nil, secret) {
		t.Errorf("presigned URL rejected")
	}
}

func TestParseMissingAndMalformed(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	if _, err := Parse(r); err != ErrMissing {
		t.Errorf("unsigned: %v", err)
	}
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=x")
	if _, err := Parse(r); err == nil || err == ErrMissing {
		t.Errorf("malformed: %v", err)
	}
}

func TestDecodeChunked(t *testing.T) {
	tests := []struct {
		name, body, want, trailer string
	}{
		{"signed chunks", "5;chunk-signature=aa\r\nhello\r\n6;chunk-signature=bb\r\n world\r\n0;chunk-signature=cc\r\n\r\n", "hello world", ""},
		{"unsigned with trailer", "b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n", "hello world", "DUoRhQ=="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, tr, err := DecodeChunked([]byte(tt.body))
			if err != nil || string(got) != tt.want || tr["x-amz-checksum-crc32"] != tt.trailer {
				t.Errorf("got %q %v %v", got, tr, err)
			}
		})
	}
	if _, _, err := DecodeChunked([]byte("zz\r\n")); err == nil {
		t.Errorf("bad size accepted")
	}
}

func FuzzDecodeChunked(f *testing.F) {
	f.Add([]byte("5\r\nhello\r\n0\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) { _, _, _ = DecodeChunked(b) })
}

func FuzzParse(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/sts/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc", "20250101T000000Z")
	f.Fuzz(func(t *testing.T, auth, date string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", auth)
		r.Header.Set("X-Amz-Date", date)
		if s, err := Parse(r); err == nil {
			_ = s.Verify(r, nil, "k")
		}
	})
}
