package lookup

import (
	"context"
	"encoding/base64"
	"fmt"
	"reflect"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	cfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/stacker-go/stacker/internal/target/ec2query"
)

// fakeAWS answers SDK calls in-process: a middleware at the front of the
// stack returns canned outputs, so no request leaves the test. regions
// records the region each call was made in.
type fakeAWS struct {
	calls   atomic.Int32
	regions []string
	answer  func(region string, in any) (any, error)
}

func (f *fakeAWS) env(stackRegion string) *Env {
	return &Env{
		Stack: "app",
		FQN:   func(n string) string { return "ns-" + n },
		AWS: func(ctx context.Context, region string) (aws.Config, error) {
			if region == "" {
				region = stackRegion
			}
			cfg := aws.Config{Region: region}
			cfg.APIOptions = append(cfg.APIOptions, func(st *middleware.Stack) error {
				return st.Initialize.Add(middleware.InitializeMiddlewareFunc("fakeAWS",
					func(ctx context.Context, in middleware.InitializeInput, _ middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
						f.calls.Add(1)
						f.regions = append(f.regions, region)
						out, err := f.answer(region, in.Parameters)
						return middleware.InitializeOutput{Result: out}, middleware.Metadata{}, err
					}), middleware.Before)
			})
			return cfg, nil
		},
	}
}

func apiErr(code, msg string) error { return &smithy.GenericAPIError{Code: code, Message: msg} }

func TestAWSHandlers(t *testing.T) {
	blob := base64.StdEncoding.EncodeToString([]byte("cipher"))
	answer := func(region string, in any) (any, error) {
		switch in := in.(type) {
		case *cfn.DescribeStacksInput:
			switch aws.ToString(in.StackName) {
			case "ns-vpc", "shared-vpc":
				return &cfn.DescribeStacksOutput{Stacks: []cfntypes.Stack{{Outputs: []cfntypes.Output{
					{OutputKey: aws.String("Id"), OutputValue: aws.String("vpc-" + region)}}}}}, nil
			}
			return nil, apiErr("ValidationError", "Stack with id "+aws.ToString(in.StackName)+" does not exist")
		case *kms.DecryptInput:
			if string(in.CiphertextBlob) != "cipher" {
				return nil, apiErr("InvalidCiphertextException", "bad")
			}
			return &kms.DecryptOutput{Plaintext: []byte("secret-" + region)}, nil
		case *ssm.GetParameterInput:
			if aws.ToString(in.Name) == "/app/db" && aws.ToBool(in.WithDecryption) {
				return &ssm.GetParameterOutput{Parameter: &ssmtypes.Parameter{Value: aws.String("pw-" + region)}}, nil
			}
			return nil, apiErr("ParameterNotFound", "")
		case *dynamodb.GetItemInput:
			if aws.ToString(in.TableName) != "cfg" {
				return nil, apiErr("ResourceNotFoundException", "no table")
			}
			key := in.Key["id"].(*ddbtypes.AttributeValueMemberS).Value
			if key != "prod" {
				return &dynamodb.GetItemOutput{}, nil
			}
			return &dynamodb.GetItemOutput{Item: map[string]ddbtypes.AttributeValue{
				"id":    &ddbtypes.AttributeValueMemberS{Value: "prod"},
				"name":  &ddbtypes.AttributeValueMemberS{Value: "prod-" + region},
				"count": &ddbtypes.AttributeValueMemberN{Value: "3"},
				"azs":   &ddbtypes.AttributeValueMemberL{Value: []ddbtypes.AttributeValue{&ddbtypes.AttributeValueMemberS{Value: "a"}, &ddbtypes.AttributeValueMemberS{Value: "b"}}},
				"net": &ddbtypes.AttributeValueMemberM{Value: map[string]ddbtypes.AttributeValue{
					"cidr": &ddbtypes.AttributeValueMemberS{Value: "10.0.0.0/16"}}},
			}}, nil
		case *ec2query.DescribeImagesInput:
			if !reflect.DeepEqual(in.Owners, []string{"self", "amazon"}) {
				return nil, fmt.Errorf("owners = %v", in.Owners)
			}
			for _, f := range in.Filters {
				if f.Name == "architecture" && f.Values[0] != "x86_64" {
					return nil, fmt.Errorf("filter = %v", f.Values)
				}
			}
			return &ec2query.DescribeImagesOutput{Images: []ec2query.Image{
				{ImageID: "ami-old", Name: "web-1", CreationDate: "2020-01-01T00:00:00.000Z"},
				{ImageID: "ami-new", Name: "web-2", CreationDate: "2024-01-01T00:00:00.000Z"},
				{ImageID: "ami-other", Name: "db-9", CreationDate: "2025-01-01T00:00:00.000Z"},
				{ImageID: "ami-prefix", Name: "web-3-beta", CreationDate: "2025-01-01T00:00:00.000Z"},
			}}, nil
		}
		return nil, fmt.Errorf("unexpected call %T", in)
	}
	r := NewRegistry()
	tests := []struct {
		name, in string
		want     any
		err      string
	}{
		{"xref uses the stack's region", "${xref shared-vpc::Id}", "vpc-eu-west-1", ""},
		{"rxref adds the namespace", "${rxref vpc::Id}", "vpc-eu-west-1", ""},
		{"xref missing stack", "${xref gone::Id}", nil, `stack "gone" does not exist`},
		{"xref missing output", "${xref shared-vpc::Nope}", nil, `stack "shared-vpc" (region eu-west-1) has no output "Nope" (available: Id)`},
		{"kms default region", "${kms " + blob + "}", "secret-eu-west-1", ""},
		{"kms region prefix", "${kms us-west-2@" + blob + "}", "secret-us-west-2", ""},
		{"kms bad base64", "${kms !!!}", nil, "not valid base64"},
		{"ssmstore defaults to the stack's region", "${ssmstore /app/db}", "pw-eu-west-1", ""},
		{"ssmstore region prefix", "${ssmstore ap-south-1@/app/db}", "pw-ap-south-1", ""},
		{"ssmstore missing", "${ssmstore /nope}", nil, `SSMKey "/nope" does not exist in region eu-west-1`},
		{"dynamodb string", "${dynamodb cfg@id:prod.name}", "prod-eu-west-1", ""},
		{"dynamodb region", "${dynamodb us-east-2:cfg@id:prod.name}", "prod-us-east-2", ""},
		{"dynamodb number", "${dynamodb cfg@id:prod.count[N]}", 3, ""},
		{"dynamodb list", "${dynamodb cfg@id:prod.azs[L]}", []any{"a", "b"}, ""},
		{"dynamodb map path", "${dynamodb cfg@id:prod.net[M].cidr[S]}", "10.0.0.0/16", ""},
		{"dynamodb missing table", "${dynamodb nope@id:prod.name}", nil, "Cannot find the dynamodb table: nope"},
		{"dynamodb missing record", "${dynamodb cfg@id:dev.name}", nil, "The dynamodb record could not be found using the following key"},
		{"ami newest full match", "${ami owners:self,amazon name_regex:web-[0-9]+ architecture:x86_64}", "ami-new", ""},
		{"ami no match", "${ami owners:self,amazon name_regex:none}", nil, "Unable to find ec2 image with search string"},
		{"ami needs owners", "${ami name_regex:x}", nil, "'owners' value required when using ami"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeAWS{answer: answer}
			got, err := r.Resolve(context.Background(), tt.in, f.env("eu-west-1"))
			checkResult(t, got, err, tt.want, tt.err)
		})
	}
}

func TestXrefCache(t *testing.T) {
	f := &fakeAWS{answer: func(region string, in any) (any, error) {
		return &cfn.DescribeStacksOutput{Stacks: []cfntypes.Stack{{Outputs: []cfntypes.Output{
			{OutputKey: aws.String("A"), OutputValue: aws.String("1")}, {OutputKey: aws.String("B"), OutputValue: aws.String("2")}}}}}, nil
	}}
	r := NewRegistry()
	env := f.env("eu-west-1")
	got, err := r.Resolve(context.Background(), map[string]any{"a": "${xref s::A}", "b": "${xref s::B}-${rxref s::A}"}, env)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]any{"a": "1", "b": "2-1"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v", got)
	}
	// s is read once; ns-s (rxref) once.
	if n := f.calls.Load(); n != 2 {
		t.Fatalf("DescribeStacks calls = %d, want 2", n)
	}
	// A shared cache spans Resolve calls of one run.
	env.Cache = NewCache()
	for range 3 {
		if _, err := r.Resolve(context.Background(), "${xref s::A}", env); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.calls.Load(); n != 3 {
		t.Fatalf("DescribeStacks calls = %d, want 3", n)
	}
}
