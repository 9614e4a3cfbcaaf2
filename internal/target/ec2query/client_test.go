package ec2query

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
)

// fakeEC2 is an httptest server answering EC2 Query calls with the XML
// files in testdata; it records every request's form and headers.
type fakeEC2 struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	reqs   []recorded
	answer func(n int, form url.Values) (status int, file string)
}

type recorded struct {
	form   url.Values
	header http.Header
	path   string
}

func newFake(t *testing.T, answer func(n int, form url.Values) (int, string)) *fakeEC2 {
	t.Helper()
	f := &fakeEC2{t: t, answer: answer}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeEC2) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "want POST", http.StatusMethodNotAllowed)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	n := len(f.reqs)
	f.reqs = append(f.reqs, recorded{form: r.PostForm, header: r.Header.Clone(), path: r.URL.Path})
	f.mu.Unlock()
	status, file := f.answer(n, r.PostForm)
	body, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	if status == http.StatusOK { // error answers carry their id in the body
		w.Header().Set("x-amzn-RequestId", fmt.Sprintf("req-%d", n))
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func (f *fakeEC2) requests() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.reqs...)
}

// config is an aws.Config like the target factory's: static keys, a
// region, the fake's endpoint and a retryer that does not sleep.
func (f *fakeEC2) config() aws.Config {
	return aws.Config{
		Region:       "eu-west-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "SECRETEXAMPLE", ""),
		BaseEndpoint: aws.String(f.srv.URL),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
			})
		},
	}
}

func wantForm(t *testing.T, got url.Values, want map[string]string) {
	t.Helper()
	flat := map[string]string{}
	for k, v := range got {
		flat[k] = strings.Join(v, ",")
	}
	if !reflect.DeepEqual(flat, want) {
		t.Errorf("form:\n got %v\nwant %v", flat, want)
	}
}

func TestDescribeImages(t *testing.T) {
	f := newFake(t, func(int, url.Values) (int, string) { return 200, "DescribeImages.xml" })
	c := NewFromConfig(f.config())
	out, err := c.DescribeImages(context.Background(), &DescribeImagesInput{
		Owners:          []string{"self", "amazon"},
		ExecutableUsers: []string{"all"},
		Filters:         []Filter{{Name: "architecture", Values: []string{"x86_64", "arm64"}}, {Name: "state", Values: []string{"available"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	reqs := f.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	wantForm(t, reqs[0].form, map[string]string{
		"Action": "DescribeImages", "Version": "2016-11-15",
		"Owner.1": "self", "Owner.2": "amazon", "ExecutableBy.1": "all",
		"Filter.1.Name": "architecture", "Filter.1.Value.1": "x86_64", "Filter.1.Value.2": "arm64",
		"Filter.2.Name": "state", "Filter.2.Value.1": "available",
	})
	h := reqs[0].header
	date := time.Now().UTC().Format("20060102")
	if auth := h.Get("Authorization"); !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"+date+"/eu-west-1/ec2/aws4_request, SignedHeaders=") {
		t.Errorf("Authorization = %q", auth)
	}
	if strings.Contains(fmt.Sprint(h), "SECRETEXAMPLE") {
		t.Error("the secret key leaked into a header")
	}
	if h.Get("X-Amz-Date") == "" || h.Get("Amz-Sdk-Invocation-Id") == "" || h.Get("User-Agent") == "" {
		t.Errorf("missing SDK headers: %v", h)
	}
	if got := h.Get("Content-Type"); got != "application/x-www-form-urlencoded; charset=utf-8" {
		t.Errorf("Content-Type = %q", got)
	}
	want := &DescribeImagesOutput{
		RequestID: "59dbff89-35bd-4eac-99ed-be587EXAMPLE",
		Images: []Image{{
			ImageID: "ami-0a1b2c3d4e5f60001", Name: "web-1", Description: "web & api image",
			CreationDate: "2020-01-01T00:00:00.000Z", State: "available", OwnerID: "123456789012",
			Architecture: "x86_64", ImageType: "machine", ImageLocation: "123456789012/web-1",
			PlatformDetails: "Linux/UNIX", RootDeviceType: "ebs", RootDeviceName: "/dev/xvda",
			VirtualizationType: "hvm", Tags: []Tag{{Key: "team", Value: "web"}},
		}, {
			ImageID: "ami-0a1b2c3d4e5f60002", Name: "web-2", CreationDate: "2024-01-01T00:00:00.000Z",
			State: "available", OwnerID: "137112412989", OwnerAlias: "amazon", Public: true,
			Architecture: "arm64", ImageType: "machine", ImageLocation: "amazon/web-2",
			RootDeviceType: "ebs", RootDeviceName: "/dev/xvda", VirtualizationType: "hvm",
			DeprecationTime: "2026-01-01T00:00:00.000Z",
		}},
	}
	if !reflect.DeepEqual(out, want) {
		t.Errorf("output:\n got %+v\nwant %+v", out, want)
	}
}

func TestAllImagesFollowsNextToken(t *testing.T) {
	f := newFake(t, func(n int, form url.Values) (int, string) {
		if form.Get("NextToken") == "" {
			return 200, "DescribeImages.page1.xml"
		}
		return 200, "DescribeImages.page2.xml"
	})
	images, err := NewFromConfig(f.config()).AllImages(context.Background(), &DescribeImagesInput{Owners: []string{"self"}})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, im := range images {
		ids = append(ids, im.ImageID)
	}
	if want := []string{"ami-00000000000000001", "ami-00000000000000002"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("ids = %v, want %v", ids, want)
	}
	reqs := f.requests()
	if len(reqs) != 2 || reqs[1].form.Get("NextToken") != "eyJ2IjoiMiIsImMiOiJwYWdlLTIifQ==" || reqs[1].form.Get("Owner.1") != "self" {
		t.Errorf("second request = %v", reqs)
	}
}

func TestKeyPairCalls(t *testing.T) {
	pub := []byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample deploy@ci\n")
	tests := []struct {
		name     string
		call     func(*Client) (any, error)
		file     string
		wantForm map[string]string
		want     any
	}{
		{"describe", func(c *Client) (any, error) {
			return c.DescribeKeyPairs(context.Background(), &DescribeKeyPairsInput{KeyNames: []string{"deploy"}, IncludePublicKey: true})
		}, "DescribeKeyPairs.xml",
			map[string]string{"Action": "DescribeKeyPairs", "Version": "2016-11-15", "KeyName.1": "deploy", "IncludePublicKey": "true"},
			&DescribeKeyPairsOutput{RequestID: "59dbff89-35bd-4eac-99ed-be587EXAMPLE", KeyPairs: []KeyPair{{
				KeyPairID: "key-0123456789abcdef0", KeyName: "deploy",
				Fingerprint: "1f:51:ae:28:bf:89:e9:d8:1f:25:5d:37:2d:7d:b8:ca:9f:f5:f1:6f", KeyType: "rsa",
				PublicKey: "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ deploy", CreateTime: "2021-03-04T05:06:07.000Z",
				Tags: []Tag{{Key: "purpose", Value: "ci"}},
			}}}},
		{"import", func(c *Client) (any, error) {
			return c.ImportKeyPair(context.Background(), &ImportKeyPairInput{KeyName: "deploy", PublicKeyMaterial: pub})
		}, "ImportKeyPair.xml",
			map[string]string{"Action": "ImportKeyPair", "Version": "2016-11-15", "KeyName": "deploy", "PublicKeyMaterial": base64.StdEncoding.EncodeToString(pub)},
			&ImportKeyPairOutput{RequestID: "7a62c49f-347e-4fc4-9331-6e8eEXAMPLE", KeyName: "deploy",
				Fingerprint: "1f:51:ae:28:bf:89:e9:d8:1f:25:5d:37:2d:7d:b8:ca:9f:f5:f1:6f", KeyPairID: "key-0123456789abcdef0"}},
		{"create", func(c *Client) (any, error) {
			return c.CreateKeyPair(context.Background(), &CreateKeyPairInput{KeyName: "generated", KeyType: "ed25519"})
		}, "CreateKeyPair.xml",
			map[string]string{"Action": "CreateKeyPair", "Version": "2016-11-15", "KeyName": "generated", "KeyType": "ed25519"},
			&CreateKeyPairOutput{RequestID: "7a62c49f-347e-4fc4-9331-6e8eEXAMPLE", KeyName: "generated",
				Fingerprint: "1f:51:ae:28:bf:89:e9:d8:1f:25:5d:37:2d:7d:b8:ca:9f:f5:f1:6f", KeyPairID: "key-0fedcba9876543210",
				KeyMaterial: "-----BEGIN RSA PRIVATE KEY-----\nNOT-A-REAL-KEY-TEST-FIXTURE\n-----END RSA PRIVATE KEY-----"}},
		{"delete", func(c *Client) (any, error) {
			return c.DeleteKeyPair(context.Background(), &DeleteKeyPairInput{KeyName: "deploy"})
		}, "DeleteKeyPair.xml",
			map[string]string{"Action": "DeleteKeyPair", "Version": "2016-11-15", "KeyName": "deploy"},
			&DeleteKeyPairOutput{RequestID: "7a62c49f-347e-4fc4-9331-6e8eEXAMPLE", Return: true, KeyPairID: "key-0123456789abcdef0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, func(int, url.Values) (int, string) { return 200, tt.file })
			got, err := tt.call(NewFromConfig(f.config()))
			if err != nil {
				t.Fatal(err)
			}
			wantForm(t, f.requests()[0].form, tt.wantForm)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("output:\n got %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestCreateKeyPairOutputHidesKeyMaterial(t *testing.T) {
	o := &CreateKeyPairOutput{KeyName: "k", KeyMaterial: "PRIVATE"}
	for _, s := range []string{fmt.Sprint(o), fmt.Sprintf("%v", *o), fmt.Sprintf("%+v", o), fmt.Sprintf("%#v", o)} {
		if strings.Contains(s, "PRIVATE") || !strings.Contains(s, "k") {
			t.Errorf("formatted output %q shows the key material or hides the name", s)
		}
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		file     string
		code     string
		fault    smithy.ErrorFault
		contains []string
	}{
		{"EC2 error document", 400, "Error.KeyPairNotFound.xml", CodeKeyPairNotFound, smithy.FaultClient, []string{
			"operation error EC2: DescribeKeyPairs", "StatusCode: 400", "RequestID: ea966190-f9aa-478e-9ede-EXAMPLE",
			"api error InvalidKeyPair.NotFound: The key pair 'missing' does not exist"}},
		{"body that is not EC2's", 502, "DeleteKeyPair.xml", "BadGateway", smithy.FaultServer, []string{
			"operation error EC2: DescribeKeyPairs", "StatusCode: 502", "api error BadGateway"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, func(int, url.Values) (int, string) { return tt.status, tt.file })
			cfg := f.config()
			cfg.RetryMaxAttempts = 1
			_, err := NewFromConfig(cfg).DescribeKeyPairs(context.Background(), &DescribeKeyPairsInput{KeyNames: []string{"missing"}})
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != tt.code || ae.ErrorFault() != tt.fault {
				t.Fatalf("err = %v, want API error %s (%v)", err, tt.code, tt.fault)
			}
			for _, s := range tt.contains {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
		})
	}
}

func TestRetriesThrottlingWithTheConfigRetryer(t *testing.T) {
	for _, tt := range []struct {
		name        string
		maxAttempts int
		wantCalls   int
		wantErr     bool
	}{
		{"retries until success", 0, 3, false},
		{"RetryMaxAttempts caps it", 2, 2, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, func(n int, _ url.Values) (int, string) {
				if n < 2 {
					return 503, "Error.RequestLimitExceeded.xml"
				}
				return 200, "DeleteKeyPair.xml"
			})
			cfg := f.config()
			cfg.RetryMaxAttempts = tt.maxAttempts
			_, err := NewFromConfig(cfg).DeleteKeyPair(context.Background(), &DeleteKeyPairInput{KeyPairID: "key-1"})
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			reqs := f.requests()
			if len(reqs) != tt.wantCalls {
				t.Fatalf("%d calls, want %d", len(reqs), tt.wantCalls)
			}
			if reqs[len(reqs)-1].header.Get("Authorization") == "" {
				t.Error("a retried attempt is not signed")
			}
			if got := reqs[len(reqs)-1].header.Get("Amz-Sdk-Request"); !strings.Contains(got, fmt.Sprintf("attempt=%d", tt.wantCalls)) {
				t.Errorf("amz-sdk-request = %q", got)
			}
		})
	}
}

// APIOptions of the config run on every call, as for SDK clients: they see
// the service and operation name, and can answer in-process.
func TestAPIOptions(t *testing.T) {
	var seen []string
	cfg := aws.Config{Region: "us-west-2", Credentials: aws.AnonymousCredentials{}}
	cfg.APIOptions = append(cfg.APIOptions, func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("fake",
			func(ctx context.Context, in middleware.InitializeInput, _ middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				seen = append(seen, awsmiddleware.GetServiceID(ctx)+"."+awsmiddleware.GetOperationName(ctx))
				if in, ok := in.Parameters.(*DescribeImagesInput); !ok || in.Owners[0] != "self" {
					return middleware.InitializeOutput{}, middleware.Metadata{}, fmt.Errorf("input %#v", in)
				}
				return middleware.InitializeOutput{Result: &DescribeImagesOutput{Images: []Image{{ImageID: "ami-fake"}}}}, middleware.Metadata{}, nil
			}), middleware.Before)
	})
	out, err := NewFromConfig(cfg).DescribeImages(context.Background(), &DescribeImagesInput{Owners: []string{"self"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Images) != 1 || out.Images[0].ImageID != "ami-fake" || !reflect.DeepEqual(seen, []string{"EC2.DescribeImages"}) {
		t.Errorf("out = %+v, seen = %v", out, seen)
	}
}

func TestAnonymousCredentialsAreNotSigned(t *testing.T) {
	f := newFake(t, func(int, url.Values) (int, string) { return 200, "DeleteKeyPair.xml" })
	cfg := f.config()
	cfg.Credentials = aws.AnonymousCredentials{}
	if _, err := NewFromConfig(cfg).DeleteKeyPair(context.Background(), &DeleteKeyPairInput{KeyName: "x"}); err != nil {
		t.Fatal(err)
	}
	if auth := f.requests()[0].header.Get("Authorization"); auth != "" {
		t.Errorf("Authorization = %q, want none", auth)
	}
}

func TestMalformedSuccessBody(t *testing.T) {
	f := newFake(t, func(int, url.Values) (int, string) { return 200, "truncated.xml.txt" })
	_, err := NewFromConfig(f.config()).DescribeImages(context.Background(), nil)
	var de *smithy.DeserializationError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "decode EC2 response") {
		t.Fatalf("err = %v, want a deserialization error", err)
	}
}

type endpointSource struct{ ec2 string }

func (s endpointSource) GetServiceBaseEndpoint(_ context.Context, id string) (string, bool, error) {
	if id == ServiceID && s.ec2 != "" {
		return s.ec2, true, nil
	}
	return "", false, nil
}

func TestEndpoint(t *testing.T) {
	tests := []struct {
		name string
		cfg  aws.Config
		want string
	}{
		{"regional default", aws.Config{Region: "eu-central-1"}, "https://ec2.eu-central-1.amazonaws.com"},
		{"China", aws.Config{Region: "cn-north-1"}, "https://ec2.cn-north-1.amazonaws.com.cn"},
		{"no region", aws.Config{}, "https://ec2.us-east-1.amazonaws.com"},
		{"AWS_ENDPOINT_URL", aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String("http://localhost:5000/")}, "http://localhost:5000"},
		{"AWS_ENDPOINT_URL_EC2 wins", aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String("http://localhost:5000"),
			ConfigSources: []any{endpointSource{}, endpointSource{ec2: "http://ec2.local:9000"}}}, "http://ec2.local:9000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NewFromConfig(tt.cfg).Endpoint(); got != tt.want {
				t.Errorf("Endpoint() = %q, want %q", got, tt.want)
			}
		})
	}
}
