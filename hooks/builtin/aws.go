package builtin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/smithy-go"
	"github.com/stacker-go/stacker/hooks"
)

// Paths of stacker's ECS, IAM and Route53 hooks.
const (
	PathCreateClusters       = "stacker.hooks.ecs.create_clusters"
	PathCreateECSServiceRole = "stacker.hooks.iam.create_ecs_service_role"
	PathCreateDomain         = "stacker.hooks.route53.create_domain"
)

func init() {
	hooks.Register(PathCreateClusters, CreateClusters)
	hooks.Register(PathCreateECSServiceRole, CreateECSServiceRole)
	hooks.Register(PathCreateDomain, CreateDomain)
}

// Consumer-side interfaces: only the calls the hooks make (tests fake them).
type ecsAPI interface {
	CreateCluster(ctx context.Context, in *ecs.CreateClusterInput, optFns ...func(*ecs.Options)) (*ecs.CreateClusterOutput, error)
}

type iamAPI interface {
	CreateRole(ctx context.Context, in *iam.CreateRoleInput, optFns ...func(*iam.Options)) (*iam.CreateRoleOutput, error)
	PutRolePolicy(ctx context.Context, in *iam.PutRolePolicyInput, optFns ...func(*iam.Options)) (*iam.PutRolePolicyOutput, error)
}

type route53API interface {
	ListHostedZonesByName(ctx context.Context, in *route53.ListHostedZonesByNameInput, optFns ...func(*route53.Options)) (*route53.ListHostedZonesByNameOutput, error)
	CreateHostedZone(ctx context.Context, in *route53.CreateHostedZoneInput, optFns ...func(*route53.Options)) (*route53.CreateHostedZoneOutput, error)
	ListResourceRecordSets(ctx context.Context, in *route53.ListResourceRecordSetsInput, optFns ...func(*route53.Options)) (*route53.ListResourceRecordSetsOutput, error)
	ChangeResourceRecordSets(ctx context.Context, in *route53.ChangeResourceRecordSetsInput, optFns ...func(*route53.Options)) (*route53.ChangeResourceRecordSetsOutput, error)
}

// Client constructors (tests replace them).
var (
	newECS     = func(cfg aws.Config) ecsAPI { return ecs.NewFromConfig(cfg) }
	newIAM     = func(cfg aws.Config) iamAPI { return iam.NewFromConfig(cfg) }
	newRoute53 = func(cfg aws.Config) route53API { return route53.NewFromConfig(cfg) }
	newUUID    = uuid4
)

// CreateClusters is stacker.hooks.ecs.create_clusters: CreateCluster for
// each name of clusters (a string or a list); returns {"clusters": {name:
// response}}. Without clusters it logs `setup_clusters hook missing
// "clusters" argument` and fails.
func CreateClusters(ctx context.Context, in *hooks.Input) (any, error) {
	a := args(in.Args)
	if err := a.unknownArgs(PathCreateClusters, "clusters", "profile", "region"); err != nil {
		return nil, err
	}
	if !a.has("clusters") {
		in.UI.Infof(`setup_clusters hook missing "clusters" argument`)
		return false, nil
	}
	names, ok := strList(a["clusters"])
	if !ok {
		return nil, fmt.Errorf("argument clusters must be a string or a list of strings, got %v", a["clusters"])
	}
	cfg, err := in.AWS(ctx)
	if err != nil {
		return nil, err
	}
	c := newECS(cfg)
	out := map[string]any{}
	for _, name := range names {
		slog.Debug("Creating ECS cluster: " + name)
		resp, err := c.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String(name)})
		if err != nil {
			return nil, fmt.Errorf("create ECS cluster %s: %w", name, err)
		}
		cl := map[string]any{"clusterName": name}
		if resp.Cluster != nil {
			cl["clusterArn"] = aws.ToString(resp.Cluster.ClusterArn)
			cl["status"] = aws.ToString(resp.Cluster.Status)
		}
		out[name] = map[string]any{"cluster": cl}
	}
	return map[string]any{"clusters": out}, nil
}

// ecsTrustPolicy lets ECS assume the service role.
const ecsTrustPolicy = `{"Version": "2008-10-17", "Statement": [{"Action": ["sts:AssumeRole"], "Effect": "Allow", "Principal": {"Service": ["ecs.amazonaws.com"]}}]}`

// ecsServicePolicy is AmazonEC2ContainerServiceRolePolicy as stacker wrote it.
const ecsServicePolicy = `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": ["*"], "Action": [` +
	`"ecs:CreateCluster", "ecs:DeregisterContainerInstance", "ecs:DiscoverPollEndpoint", "ecs:Poll", "ecs:Submit*"]}]}`

// CreateECSServiceRole is stacker.hooks.iam.create_ecs_service_role:
// CreateRole (role_name, default ecsServiceRole) with the ECS trust policy,
// an existing role being fine, then PutRolePolicy
// AmazonEC2ContainerServiceRolePolicy. Returns true.
func CreateECSServiceRole(ctx context.Context, in *hooks.Input) (any, error) {
	a := args(in.Args)
	if err := a.unknownArgs(PathCreateECSServiceRole, "role_name", "profile", "region"); err != nil {
		return nil, err
	}
	role, err := a.str("role_name")
	if err != nil {
		return nil, err
	}
	if role == "" {
		role = "ecsServiceRole"
	}
	cfg, err := in.AWS(ctx)
	if err != nil {
		return nil, err
	}
	c := newIAM(cfg)
	if _, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(role), AssumeRolePolicyDocument: aws.String(ecsTrustPolicy)}); err != nil {
		var ae smithy.APIError
		if !(errors.As(err, &ae) && (ae.ErrorCode() == "EntityAlreadyExists" || strings.Contains(ae.ErrorMessage(), "already exists"))) {
			return nil, fmt.Errorf("create role %s: %w", role, err)
		}
	}
	if _, err := c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{
		RoleName: aws.String(role), PolicyName: aws.String("AmazonEC2ContainerServiceRolePolicy"), PolicyDocument: aws.String(ecsServicePolicy),
	}); err != nil {
		return nil, fmt.Errorf("put role policy on %s: %w", role, err)
	}
	return true, nil
}

// CreateDomain is stacker.hooks.route53.create_domain: it gets or creates
// the public hosted zone of domain (CallerReference a random UUID) and
// UPSERTs its SOA record so the negative-caching TTL (the SOA's last field)
// is 300. Returns {domain, zone_id}. Without domain it logs `domain
// argument or BaseDomain variable not provided.` and fails.
func CreateDomain(ctx context.Context, in *hooks.Input) (any, error) {
	a := args(in.Args)
	if err := a.unknownArgs(PathCreateDomain, "domain", "profile", "region"); err != nil {
		return nil, err
	}
	domain, err := a.str("domain")
	if err != nil {
		return nil, err
	}
	if domain == "" {
		in.UI.Infof("domain argument or BaseDomain variable not provided.")
		return false, nil
	}
	cfg, err := in.AWS(ctx)
	if err != nil {
		return nil, err
	}
	c := newRoute53(cfg)
	fqdn := strings.TrimSuffix(domain, ".") + "."
	zoneID := ""
	zones, err := c.ListHostedZonesByName(ctx, &route53.ListHostedZonesByNameInput{DNSName: aws.String(fqdn)})
	if err != nil {
		return nil, fmt.Errorf("list hosted zones: %w", err)
	}
	for _, z := range zones.HostedZones {
		if aws.ToString(z.Name) == fqdn && (z.Config == nil || !z.Config.PrivateZone) {
			zoneID = aws.ToString(z.Id)
			break
		}
	}
	if zoneID == "" {
		resp, err := c.CreateHostedZone(ctx, &route53.CreateHostedZoneInput{Name: aws.String(fqdn), CallerReference: aws.String(newUUID())})
		if err != nil {
			return nil, fmt.Errorf("create hosted zone %s: %w", domain, err)
		}
		zoneID = aws.ToString(resp.HostedZone.Id)
	}
	zoneID = strings.TrimPrefix(zoneID, "/hostedzone/")
	sets, err := c.ListResourceRecordSets(ctx, &route53.ListResourceRecordSetsInput{
		HostedZoneId: aws.String(zoneID), StartRecordName: aws.String(fqdn), StartRecordType: r53types.RRTypeSoa, MaxItems: aws.Int32(1),
	})
	if err != nil {
		return nil, fmt.Errorf("read the SOA of %s: %w", domain, err)
	}
	for _, rs := range sets.ResourceRecordSets {
		if rs.Type != r53types.RRTypeSoa || len(rs.ResourceRecords) == 0 {
			continue
		}
		fields := strings.Fields(aws.ToString(rs.ResourceRecords[0].Value))
		if len(fields) != 7 || fields[6] == "300" {
			break
		}
		fields[6] = "300"
		rs.ResourceRecords = []r53types.ResourceRecord{{Value: aws.String(strings.Join(fields, " "))}}
		if _, err := c.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{
			HostedZoneId: aws.String(zoneID),
			ChangeBatch: &r53types.ChangeBatch{
				Comment: aws.String("Update SOA min_ttl to 300."),
				Changes: []r53types.Change{{Action: r53types.ChangeActionUpsert, ResourceRecordSet: &rs}},
			},
		}); err != nil {
			return nil, fmt.Errorf("update the SOA of %s: %w", domain, err)
		}
		break
	}
	return map[string]any{"domain": domain, "zone_id": zoneID}, nil
}
