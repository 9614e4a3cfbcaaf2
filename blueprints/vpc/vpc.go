// Package vpc is a VPC blueprint with the variables, resources and outputs
// of the widely used Python blueprint stacker_blueprints.vpc.VPC: a VPC with
// an internet gateway, a public and a private subnet per availability zone,
// NAT gateways (or NAT instances) for the private subnets, DHCP options and
// an optional internal Route53 zone. It is registered as
// "stacker_blueprints.vpc.VPC".
package vpc

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/cloudformation/ec2"
	"github.com/awslabs/goformation/v7/cloudformation/route53"
	"github.com/awslabs/goformation/v7/cloudformation/tags"

	"github.com/stacker-go/stacker/blueprint"
)

// ClassPath is stacker_blueprints' class path for this blueprint.
const ClassPath = "stacker_blueprints.vpc.VPC"

func init() {
	blueprint.Register(ClassPath, New)
}

// Logical ids, as in the Python blueprint (outputs of other stacks and
// existing stacks' resources depend on them).
const (
	vpcName   = "VPC"
	gateway   = "InternetGateway"
	gwAttach  = "GatewayAttach"
	defaultSG = "DefaultSG"
	natSG     = "NATSG"
	amiMap    = "AmiMap"
)

// New returns the VPC blueprint.
func New() blueprint.Blueprint { return &VPC{} }

// VPC is the blueprint. Its variables are plain (not CloudFormation
// parameters): the template is fully rendered from them.
type VPC struct{}

// Variables implements blueprint.Blueprint.
func (*VPC) Variables() []blueprint.Variable {
	return []blueprint.Variable{
		{Name: "AZCount", Type: blueprint.Int, Default: 2, MinValue: blueprint.FloatPtr(1),
			Description: "Number of availability zones to use."},
		{Name: "PrivateSubnets", Type: blueprint.List, Validator: cidrList,
			Description: "List of subnets to use for non-public hosts. NOTE: Must have as many subnets as AZCount"},
		{Name: "PublicSubnets", Type: blueprint.List, Validator: cidrList,
			Description: "List of subnets to use for public hosts. NOTE: Must have as many subnets as AZCount"},
		{Name: "BaseDomain", Type: blueprint.String, Default: "", Description: "Base domain for the stack."},
		{Name: "InternalDomain", Type: blueprint.String, Default: "",
			Description: "Internal domain name, if you have one (creates a private hosted zone)."},
		{Name: "CidrBlock", Type: blueprint.String, Default: "10.128.0.0/16", Validator: cidr,
			Description: "Base CIDR block for subnets."},
		{Name: "UseNatGateway", Type: blueprint.Bool, Default: true,
			Description: "If set to false, will configure NAT Instances instead of NAT gateways."},
		{Name: "ImageName", Type: blueprint.String, Default: "NAT",
			Description: "The image name to use from the AmiMap mapping (config mappings) for NAT instances."},
		{Name: "InstanceType", Type: blueprint.String, Default: "m3.medium",
			Description: "If using NAT Instances, the instance type to use."},
		{Name: "SshKeyName", Type: blueprint.String, Default: "",
			Description: "If using NAT Instances, the SSH key to install on those instances."},
	}
}

func cidr(v any) (any, error) {
	s, ok := v.(string)
	if !ok {
		return v, nil // the type check reports it
	}
	if _, err := netip.ParsePrefix(strings.TrimSpace(s)); err != nil {
		return nil, fmt.Errorf("%q is not a CIDR block", s)
	}
	return strings.TrimSpace(s), nil
}

// cidrList accepts a list of CIDR blocks, or a comma-separated string of
// them (what an output lookup returns).
func cidrList(v any) (any, error) {
	var items []any
	switch x := v.(type) {
	case string:
		for _, p := range strings.Split(x, ",") {
			items = append(items, strings.TrimSpace(p))
		}
	case []any:
		items = x
	case []string:
		for _, s := range x {
			items = append(items, s)
		}
	default:
		return v, nil
	}
	out := make([]any, len(items))
	for i, it := range items {
		c, err := cidr(it)
		if err != nil {
			return nil, err
		}
		if _, ok := c.(string); !ok {
			return nil, fmt.Errorf("element %d is a %T, not a CIDR block", i, it)
		}
		out[i] = c
	}
	return out, nil
}

type vars struct {
	azCount                    int
	public, private            []string
	baseDomain, internalDomain string
	cidrBlock                  string
	useNatGateway              bool
	imageName, instanceType    string
	sshKeyName                 string
}

func readVars(in *blueprint.Input) (vars, error) {
	v := in.Variables
	out := vars{
		azCount:        v["AZCount"].(int),
		baseDomain:     v["BaseDomain"].(string),
		internalDomain: v["InternalDomain"].(string),
		cidrBlock:      v["CidrBlock"].(string),
		useNatGateway:  v["UseNatGateway"].(bool),
		imageName:      v["ImageName"].(string),
		instanceType:   v["InstanceType"].(string),
		sshKeyName:     v["SshKeyName"].(string),
	}
	vpcNet, err := netip.ParsePrefix(out.cidrBlock)
	if err != nil {
		return out, fmt.Errorf("CidrBlock: %w", err)
	}
	for _, kind := range []string{"Public", "Private"} {
		list := v[kind+"Subnets"].([]any)
		if len(list) < out.azCount {
			return out, fmt.Errorf("%sSubnets has %d subnets but AZCount is %d: give one subnet per availability zone",
				kind, len(list), out.azCount)
		}
		var subnets []string
		for _, s := range list[:out.azCount] {
			str := fmt.Sprint(s)
			p, err := netip.ParsePrefix(str)
			if err != nil {
				return out, fmt.Errorf("%sSubnets: %q is not a CIDR block", kind, str)
			}
			if !vpcNet.Contains(p.Addr()) || p.Bits() < vpcNet.Bits() {
				return out, fmt.Errorf("%sSubnets: %s is not inside CidrBlock %s", kind, str, out.cidrBlock)
			}
			subnets = append(subnets, str)
		}
		if kind == "Public" {
			out.public = subnets
		} else {
			out.private = subnets
		}
	}
	if !out.useNatGateway {
		m, ok := in.Mappings[amiMap]
		if !ok || len(m) == 0 {
			return out, fmt.Errorf("UseNatGateway is false: NAT instances need an %q mapping in the config (region -> %s -> AMI id)", amiMap, out.imageName)
		}
	}
	return out, nil
}

// Render implements blueprint.Blueprint.
func (b *VPC) Render(_ context.Context, in *blueprint.Input) (*blueprint.Template, error) {
	v, err := readVars(in)
	if err != nil {
		return nil, fmt.Errorf("blueprint %q: %w", in.Name, err)
	}
	t := blueprint.NewTemplate(in)
	ref := cloudformation.Ref
	vpcID := ref(vpcName)
	out := func(name string, value any) { t.Outputs[name] = cloudformation.Output{Value: value} }

	// The VPC.
	t.Resources[vpcName] = &ec2.VPC{
		CidrBlock:          cloudformation.String(v.cidrBlock),
		EnableDnsSupport:   cloudformation.Bool(true),
		EnableDnsHostnames: cloudformation.Bool(true),
	}
	out("VpcId", vpcID)

	// The internal zone.
	if v.internalDomain != "" {
		t.Resources["InternalZone"] = &route53.HostedZone{
			Name: cloudformation.String(v.internalDomain),
			VPCs: []route53.HostedZone_VPC{{VPCId: vpcID, VPCRegion: ref("AWS::Region")}},
		}
		out("InternalZoneId", ref("InternalZone"))
		out("InternalZoneName", v.internalDomain)
	}

	// The default security group.
	t.Resources[defaultSG] = &ec2.SecurityGroup{
		VpcId:            cloudformation.String(vpcID),
		GroupDescription: "Default Security Group",
	}
	out("DefaultSG", ref(defaultSG))

	// DHCP options: the internal and base domains, when set, as search
	// domains (space separated).
	dhcp := &ec2.DHCPOptions{DomainNameServers: []string{"AmazonProvidedDNS"}}
	var domains []string
	for _, d := range []string{v.internalDomain, v.baseDomain} {
		if d != "" {
			domains = append(domains, d)
		}
	}
	if len(domains) > 0 {
		dhcp.DomainName = cloudformation.String(strings.Join(domains, " "))
	}
	t.Resources["DHCPOptions"] = dhcp
	t.Resources["DHCPAssociation"] = &ec2.VPCDHCPOptionsAssociation{
		VpcId:         vpcID,
		DhcpOptionsId: ref("DHCPOptions"),
	}

	// The network.
	t.Resources[gateway] = &ec2.InternetGateway{}
	t.Resources[gwAttach] = &ec2.VPCGatewayAttachment{
		VpcId:             vpcID,
		InternetGatewayId: cloudformation.String(ref(gateway)),
	}
	t.Resources["DefaultACL"] = &ec2.NetworkAcl{VpcId: vpcID}
	if !v.useNatGateway {
		t.Resources[natSG] = &ec2.SecurityGroup{
			VpcId:            cloudformation.String(vpcID),
			GroupDescription: "NAT Instance Security Group",
			SecurityGroupIngress: []ec2.SecurityGroup_Ingress{{
				IpProtocol: "-1", SourceSecurityGroupId: cloudformation.String(ref(defaultSG)),
			}},
			SecurityGroupEgress: []ec2.SecurityGroup_Egress{{
				IpProtocol: "-1", CidrIp: cloudformation.String("0.0.0.0/0"),
			}},
		}
	}

	var zones []string
	subnetNames := map[string][]string{}
	for i := range v.azCount {
		az := cloudformation.Select(i, cloudformation.GetAZs(""))
		zones = append(zones, az)
		for _, kind := range []string{"Public", "Private"} {
			netType := strings.ToLower(kind)
			subnet := fmt.Sprintf("%sSubnet%d", kind, i)
			subnetNames[kind] = append(subnetNames[kind], subnet)
			cidrs := v.public
			if kind == "Private" {
				cidrs = v.private
			}
			sn := &ec2.Subnet{
				AvailabilityZone: cloudformation.String(az),
				VpcId:            vpcID,
				CidrBlock:        cloudformation.String(cidrs[i]),
				Tags:             []tags.Tag{{Key: "type", Value: netType}},
			}
			sn.AWSCloudFormationDependsOn = []string{gwAttach}
			t.Resources[subnet] = sn

			rt := fmt.Sprintf("%sRouteTable%d", kind, i)
			t.Resources[rt] = &ec2.RouteTable{VpcId: vpcID, Tags: []tags.Tag{{Key: "type", Value: netType}}}
			t.Resources[fmt.Sprintf("%sRouteTableAssociation%d", kind, i)] = &ec2.SubnetRouteTableAssociation{
				SubnetId: ref(subnet), RouteTableId: ref(rt),
			}
			route := &ec2.Route{RouteTableId: ref(rt), DestinationCidrBlock: cloudformation.String("0.0.0.0/0")}
			routeName := fmt.Sprintf("%sRoute%d", kind, i)
			if kind == "Public" {
				// NAT lives in the public subnets, whose default route is
				// the internet gateway.
				route.GatewayId = cloudformation.String(ref(gateway))
				route.AWSCloudFormationDependsOn = []string{gwAttach}
				t.Resources[routeName] = route
				b.natFor(t, v, i, subnet)
				continue
			}
			if v.useNatGateway {
				route.NatGatewayId = cloudformation.String(ref(fmt.Sprintf("NatGateway%d", i)))
			} else {
				route.InstanceId = cloudformation.String(ref(fmt.Sprintf("NatInstance%d", i)))
			}
			t.Resources[routeName] = route
		}
	}
	for _, kind := range []string{"Public", "Private"} {
		refs := make([]string, len(subnetNames[kind]))
		for i, sn := range subnetNames[kind] {
			refs[i] = ref(sn)
			out(fmt.Sprintf("%sSubnet%d", kind, i), ref(sn))
		}
		out(kind+"Subnets", cloudformation.Join(",", refs))
	}
	out("AvailabilityZones", cloudformation.Join(",", zones))
	for i, az := range zones {
		out(fmt.Sprintf("AvailabilityZone%d", i), az)
	}
	return blueprint.RenderTemplate(t, b.Variables(), in)
}

// natFor adds the NAT gateway (or instance) of zone i and its elastic IP.
func (*VPC) natFor(t *cloudformation.Template, v vars, i int, subnet string) {
	ref := cloudformation.Ref
	eipName := fmt.Sprintf("NATExternalIp%d", i)
	eip := &ec2.EIP{Domain: cloudformation.String("vpc")}
	eip.AWSCloudFormationDependsOn = []string{gwAttach}
	if v.useNatGateway {
		gw := fmt.Sprintf("NatGateway%d", i)
		t.Resources[gw] = &ec2.NatGateway{
			AllocationId: cloudformation.String(cloudformation.GetAtt(eipName, "AllocationId")),
			SubnetId:     ref(subnet),
		}
		t.Outputs[gw+"Id"] = cloudformation.Output{Value: ref(gw)}
	} else {
		inst := fmt.Sprintf("NatInstance%d", i)
		ni := &ec2.Instance{
			ImageId:          cloudformation.String(cloudformation.FindInMap(amiMap, ref("AWS::Region"), v.imageName)),
			SecurityGroupIds: []string{ref(defaultSG), ref(natSG)},
			SubnetId:         cloudformation.String(ref(subnet)),
			InstanceType:     cloudformation.String(v.instanceType),
			SourceDestCheck:  cloudformation.Bool(false),
			Tags:             []tags.Tag{{Key: "Name", Value: fmt.Sprintf("nat-gw%d", i)}},
		}
		if v.sshKeyName != "" {
			ni.KeyName = cloudformation.String(v.sshKeyName)
		}
		ni.AWSCloudFormationDependsOn = []string{gwAttach}
		t.Resources[inst] = ni
		t.Outputs[inst+"PublicHostname"] = cloudformation.Output{Value: cloudformation.GetAtt(inst, "PublicDnsName")}
		t.Outputs[inst+"InstanceId"] = cloudformation.Output{Value: ref(inst)}
		eip.InstanceId = cloudformation.String(ref(inst))
	}
	t.Resources[eipName] = eip
}
