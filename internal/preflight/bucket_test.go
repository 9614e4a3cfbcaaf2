package preflight

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// fakeBucket answers HeadBucket and GetBucketPolicy.
type fakeBucket struct {
	head   error
	policy string
	polErr error
}

func (f fakeBucket) HeadBucket(context.Context, *s3.HeadBucketInput, ...func(*s3.Options)) (*s3.HeadBucketOutput, error) {
	return &s3.HeadBucketOutput{}, f.head
}

func (f fakeBucket) GetBucketPolicy(context.Context, *s3.GetBucketPolicyInput, ...func(*s3.Options)) (*s3.GetBucketPolicyOutput, error) {
	if f.polErr != nil {
		return nil, f.polErr
	}
	if f.policy == "" {
		return nil, &smithy.GenericAPIError{Code: "NoSuchBucketPolicy", Message: "The bucket policy does not exist"}
	}
	return &s3.GetBucketPolicyOutput{Policy: aws.String(f.policy)}, nil
}

const seedPolicy = `{"Version":"2012-10-17","Statement":[{"Action":["s3:GetObject"],"Effect":"Allow",
 "Principal":{"AWS":["arn:aws:iam::222222222222:role/Stacker"," arn:aws:iam::333333333333:role/Stacker"]},
 "Resource":["arn:aws:s3:::stacker-bucket-1/*"]}]}`

func TestBucket(t *testing.T) {
	apiErr := func(code string) error { return &smithy.GenericAPIError{Code: code, Message: code} }
	prod := Reader{Account: "222222222222", RoleARN: "arn:aws:iam::222222222222:role/Stacker", Stacks: []string{"prod/vpc"}}
	stage := Reader{Account: "333333333333", RoleARN: "arn:aws:iam::333333333333:role/Stacker", Stacks: []string{"stage/vpc", "stage/app"}}
	dev := Reader{Account: "444444444444", RoleARN: "arn:aws:iam::444444444444:role/Deployer", Stacks: []string{"dev/vpc"}}
	master := Reader{Account: "111111111111", RoleARN: "arn:aws:iam::111111111111:role/Stacker", Stacks: []string{"stacker-bucket"}}
	tests := []struct {
		name    string
		bucket  string
		api     fakeBucket
		readers []Reader
	}{
		{"ours, one account", "stacker-bucket-1", fakeBucket{}, []Reader{master}},
		{"missing, one account: build creates it", "stacker-bucket-1", fakeBucket{head: apiErr("NotFound")}, []Reader{master}},
		{"missing, other accounts could not read it", "stacker-bucket-1", fakeBucket{head: apiErr("NotFound")}, []Reader{master, prod}},
		{"someone else's", "stacker-bucket-1", fakeBucket{head: apiErr("Forbidden")}, []Reader{master}},
		{"other region", "stacker-bucket-1", fakeBucket{head: apiErr("301")}, nil},
		{"invalid name", "Stacker_Bucket", fakeBucket{}, nil},
		{"too short", "ab", fakeBucket{}, nil},
		{"IP address", "10.0.0.1", fakeBucket{}, nil},
		{"cross-account readers allowed by the seed policy", "stacker-bucket-1", fakeBucket{policy: seedPolicy}, []Reader{master, prod, stage}},
		{"a reader the policy does not name", "stacker-bucket-1", fakeBucket{policy: seedPolicy}, []Reader{master, prod, dev}},
		{"no policy at all", "stacker-bucket-1", fakeBucket{}, []Reader{master, stage}},
		{"policy unreadable: a warning", "stacker-bucket-1", fakeBucket{polErr: apiErr("AccessDenied")}, []Reader{master, prod}},
		{"other error", "stacker-bucket-1", fakeBucket{head: fmt.Errorf("dial tcp: connection refused")}, nil},
	}
	var out bytes.Buffer
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			warns, err := Bucket(context.Background(), BucketCheck{Name: tt.bucket, Region: "us-east-1", Profile: "master", Account: "111111111111", API: tt.api, Readers: tt.readers})
			got := ""
			for _, w := range warns {
				got += "WARNING: " + w + "\n"
			}
			if err != nil {
				for _, e := range err.(*Problems).Errors {
					got += "error: " + e.Error() + "\n"
				}
			}
			if got == "" {
				got = "(no problems)\n"
			}
			fmt.Fprintf(&out, "== %s\n%s", tt.name, got)
		})
	}
	golden(t, "bucket.golden", out.Bytes())
}

func TestPolicyAllowsGet(t *testing.T) {
	const role = "arn:aws:iam::222222222222:role/Stacker"
	stmt := func(s string) string { return `{"Statement":[` + s + `]}` }
	tests := []struct {
		name   string
		policy string
		want   bool
	}{
		{"seed policy", seedPolicy, true},
		{"single statement object, string fields", `{"Statement":{"Effect":"Allow","Principal":{"AWS":"` + role + `"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::stacker-bucket-1/*"}}`, true},
		{"account root", stmt(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:root"},"Action":"s3:Get*","Resource":"arn:aws:s3:::stacker-bucket-1/*"}`), true},
		{"bare account id", stmt(`{"Effect":"Allow","Principal":{"AWS":"222222222222"},"Action":"s3:*","Resource":"*"}`), true},
		{"everyone", stmt(`{"Effect":"Allow","Principal":"*","Action":"*","Resource":"arn:aws:s3:::stacker-bucket-1/*"}`), true},
		{"action case-insensitive", stmt(`{"Effect":"Allow","Principal":{"AWS":"` + role + `"},"Action":"S3:getobject","Resource":"arn:aws:s3:::stacker-bucket-1/*"}`), true},
		{"other role", stmt(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:role/Other"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::stacker-bucket-1/*"}`), false},
		{"bucket, not its objects", stmt(`{"Effect":"Allow","Principal":{"AWS":"` + role + `"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::stacker-bucket-1"}`), false},
		{"other bucket", stmt(`{"Effect":"Allow","Principal":{"AWS":"` + role + `"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::stacker-bucket-2/*"}`), false},
		{"other action", stmt(`{"Effect":"Allow","Principal":{"AWS":"` + role + `"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::stacker-bucket-1/*"}`), false},
		{"explicit deny wins", stmt(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::stacker-bucket-1/*"},{"Effect":"Deny","Principal":{"AWS":"` + role + `"},"Action":"s3:*","Resource":"*"}`), false},
		{"conditional allow counts", stmt(`{"Effect":"Allow","Principal":{"AWS":"` + role + `"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::stacker-bucket-1/*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}`), true},
		{"empty", "", false},
		{"not JSON", "{", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := PolicyAllowsGet(tt.policy, "stacker-bucket-1", "222222222222", role); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func FuzzPolicyAllowsGet(f *testing.F) {
	f.Add(seedPolicy, "stacker-bucket-1", "arn:aws:iam::222222222222:role/Stacker")
	f.Add(`{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:Get?bject","Resource":"arn:aws:s3:::[a]/*"}}`, "[a]", "x")
	f.Add(`{"Statement":[{"Effect":"Deny","Principal":{"AWS":["*"]},"Action":["*"],"Resource":"*","Condition":{}}]}`, "b", "")
	f.Fuzz(func(t *testing.T, policy, bucket, role string) {
		_ = PolicyAllowsGet(policy, bucket, "222222222222", role)
		// A policy that allows nothing can never be made to allow by
		// naming the bucket differently than it is written.
		if PolicyAllowsGet("", bucket, "222222222222", role) {
			t.Fatal("an empty policy allowed")
		}
	})
}
