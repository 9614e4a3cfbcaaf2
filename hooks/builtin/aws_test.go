package builtin

import (
	"context"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/smithy-go"
)

type fakeECS struct{ names []string }

func (f *fakeECS) CreateCluster(_ context.Context, in *ecs.CreateClusterInput, _ ...func(*ecs.Options)) (*ecs.CreateClusterOutput, error) {
	f.names = append(f.names, *in.ClusterName)
	return &ecs.CreateClusterOutput{Cluster: &ecstypes.Cluster{ClusterArn: aws.String("arn:" + *in.ClusterName), Status: aws.String("ACTIVE")}}, nil
}

type fakeIAM struct{ policies []string }

func (f *fakeIAM) CreateRole(context.Context, *iam.CreateRoleInput, ...func(*iam.Options)) (*iam.CreateRoleOutput, error) {
	return nil, &smithy.GenericAPIError{Code: "EntityAlreadyExists", Message: "Role with name ecsServiceRole already exists."}
}
func (f *fakeIAM) PutRolePolicy(_ context.Context, in *iam.PutRolePolicyInput, _ ...func(*iam.Options)) (*iam.PutRolePolicyOutput, error) {
	f.policies = append(f.policies, *in.RoleName+"/"+*in.PolicyName)
	return &iam.PutRolePolicyOutput{}, nil
}

type fakeRoute53 struct{ soa string }

func (f *fakeRoute53) ListHostedZonesByName(context.Context, *route53.ListHostedZonesByNameInput, ...func(*route53.Options)) (*route53.ListHostedZonesByNameOutput, error) {
	return &route53.ListHostedZonesByNameOutput{}, nil
}
func (f *fakeRoute53) CreateHostedZone(_ context.Context, in *route53.CreateHostedZoneInput, _ ...func(*route53.Options)) (*route53.CreateHostedZoneOutput, error) {
	return &route53.CreateHostedZoneOutput{HostedZone: &r53types.HostedZone{Id: aws.String("/hostedzone/Z1"), Name: in.Name}}, nil
}
func (f *fakeRoute53) ListResourceRecordSets(context.Context, *route53.ListResourceRecordSetsInput, ...func(*route53.Options)) (*route53.ListResourceRecordSetsOutput, error) {
	return &route53.ListResourceRecordSetsOutput{ResourceRecordSets: []r53types.ResourceRecordSet{{
		Name: aws.String("example.com."), Type: r53types.RRTypeSoa, TTL: aws.Int64(900),
		ResourceRecords: []r53types.ResourceRecord{{Value: aws.String("ns-1.awsdns-00.com. awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400")}},
	}}}, nil
}
func (f *fakeRoute53) ChangeResourceRecordSets(_ context.Context, in *route53.ChangeResourceRecordSetsInput, _ ...func(*route53.Options)) (*route53.ChangeResourceRecordSetsOutput, error) {
	f.soa = *in.ChangeBatch.Changes[0].ResourceRecordSet.ResourceRecords[0].Value
	return &route53.ChangeResourceRecordSetsOutput{}, nil
}

func TestECSIAMRoute53Hooks(t *testing.T) {
	e, i, r := &fakeECS{}, &fakeIAM{}, &fakeRoute53{}
	oe, oi, or := newECS, newIAM, newRoute53
	newECS = func(aws.Config) ecsAPI { return e }
	newIAM = func(aws.Config) iamAPI { return i }
	newRoute53 = func(aws.Config) route53API { return r }
	t.Cleanup(func() { newECS, newIAM, newRoute53 = oe, oi, or })
	ctx := context.Background()

	got, err := CreateClusters(ctx, input(map[string]any{"clusters": []any{"a", "b"}}, &fakeUI{}))
	if err != nil || !reflect.DeepEqual(e.names, []string{"a", "b"}) || got.(map[string]any)["clusters"].(map[string]any)["b"] == nil {
		t.Fatalf("clusters %v %v %v", got, err, e.names)
	}
	ui := &fakeUI{}
	if got, err := CreateClusters(ctx, input(map[string]any{}, ui)); got != false || err != nil || ui.lines[0] != `setup_clusters hook missing "clusters" argument` {
		t.Fatalf("missing clusters: %v %v %q", got, err, ui.lines)
	}

	if got, err := CreateECSServiceRole(ctx, input(map[string]any{}, &fakeUI{})); got != true || err != nil || i.policies[0] != "ecsServiceRole/AmazonEC2ContainerServiceRolePolicy" {
		t.Fatalf("role: %v %v %v", got, err, i.policies)
	}

	got, err = CreateDomain(ctx, input(map[string]any{"domain": "example.com"}, &fakeUI{}))
	if err != nil || !reflect.DeepEqual(got, map[string]any{"domain": "example.com", "zone_id": "Z1"}) {
		t.Fatalf("domain: %v %v", got, err)
	}
	if r.soa != "ns-1.awsdns-00.com. awsdns-hostmaster.amazon.com. 1 7200 900 1209600 300" {
		t.Fatalf("soa %q", r.soa)
	}
	ui = &fakeUI{}
	if got, _ := CreateDomain(ctx, input(map[string]any{}, ui)); got != false || ui.lines[0] != "domain argument or BaseDomain variable not provided." {
		t.Fatalf("no domain: %v %q", got, ui.lines)
	}
}
