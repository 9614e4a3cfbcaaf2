// Package vpc is a VPC blueprint with the variables, resources and outputs
// of the widely used Python blueprint stacker_blueprints.vpc.VPC: a VPC with
// an internet gateway, a public and a private subnet per availability zone,
// NAT gateways (or NAT instances) for the private subnets, DHCP options and
// an optional internal Route53 zone. It is registered as
// "stacker_blueprints.vpc.VPC".
package vpc

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"

	"github.com/awslabs/goformation/v7/cloudformation"

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
		{Name: "CreateS3Endpoint", Type: blueprint.Bool, Default: false,
			Description: "Add an S3 gateway endpoint on every route table."},
		{Name: "CreateDynamoEndpoint", Type: blueprint.Bool, Default: false,
			Description: "Add a DynamoDB gateway endpoint on every route table."},
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
	s3Endpoint, dynamoEndpoint bool
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
		s3Endpoint:     v["CreateS3Endpoint"].(bool),
		dynamoEndpoint: v["CreateDynamoEndpoint"].(bool),
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

// Render implements blueprint.Blueprint. The template is the one stacker
// 1.7 renders with stacker_blueprints.vpc.VPC for the same variables, byte
// for byte (no AWSTemplateFormatVersion, a single DependsOn as a string,
// the DHCP domain name as an Fn::Join, the NAT gateways' elastic IPs with
// InstanceId set to AWS::NoValue), except that a NAT instance's ImageId
// looks ImageName up in the AmiMap mapping by value (the Python blueprint
// refers to an ImageName parameter it never declares, a template
// CloudFormation refuses) and that an empty SshKeyName leaves KeyName out
// (the Python blueprint sends KeyName "").
func (b *VPC) Render(_ context.Context, in *blueprint.Input) (*blueprint.Template, error) {
	v, err := readVars(in)
	if err != nil {
		return nil, fmt.Errorf("blueprint %q: %w", in.Name, err)
	}
	t := blueprint.NewTemplate(in)
	t.AWSTemplateFormatVersion = "" // stacker's templates have none
	add := func(name, typ string, props obj, dependsOn string) {
		t.Resources[name] = &resource{typ: typ, props: props, dependsOn: dependsOn}
	}
	vpcID := ref(vpcName)
	out := func(name string, value any) { t.Outputs[name] = cloudformation.Output{Value: value} }

	// The VPC.
	add(vpcName, "AWS::EC2::VPC", obj{"CidrBlock": v.cidrBlock, "EnableDnsSupport": true, "EnableDnsHostnames": true}, "")
	out("VpcId", vpcID)

	// The internal zone.
	if v.internalDomain != "" {
		add("InternalZone", "AWS::Route53::HostedZone", obj{
			"Name": v.internalDomain,
			"VPCs": []any{obj{"VPCId": vpcID, "VPCRegion": ref("AWS::Region")}},
		}, "")
		out("InternalZoneId", ref("InternalZone"))
		out("InternalZoneName", v.internalDomain)
	}

	// The default security group.
	add(defaultSG, "AWS::EC2::SecurityGroup", obj{"VpcId": vpcID, "GroupDescription": "Default Security Group"}, "")
	out("DefaultSG", ref(defaultSG))

	// DHCP options: when either domain is set, both joined by a space as
	// the search domains (an unset one stays an empty string, as in the
	// Python blueprint).
	dhcp := obj{"DomainNameServers": []any{"AmazonProvidedDNS"}}
	if v.internalDomain != "" || v.baseDomain != "" {
		dhcp["DomainName"] = join(" ", []any{v.internalDomain, v.baseDomain})
	}
	add("DHCPOptions", "AWS::EC2::DHCPOptions", dhcp, "")
	add("DHCPAssociation", "AWS::EC2::VPCDHCPOptionsAssociation", obj{"VpcId": vpcID, "DhcpOptionsId": ref("DHCPOptions")}, "")

	// The network.
	add(gateway, "AWS::EC2::InternetGateway", nil, "")
	add(gwAttach, "AWS::EC2::VPCGatewayAttachment", obj{"VpcId": vpcID, "InternetGatewayId": ref(gateway)}, "")
	add("DefaultACL", "AWS::EC2::NetworkAcl", obj{"VpcId": vpcID}, "")
	if !v.useNatGateway {
		add(natSG, "AWS::EC2::SecurityGroup", obj{
			"VpcId":            vpcID,
			"GroupDescription": "NAT Instance Security Group",
			"SecurityGroupIngress": []any{obj{
				"IpProtocol": "-1", "FromPort": "-1", "ToPort": "-1", "SourceSecurityGroupId": ref(defaultSG),
			}},
			"SecurityGroupEgress": []any{obj{
				"IpProtocol": "-1", "FromPort": "-1", "ToPort": "-1", "CidrIp": "0.0.0.0/0",
			}},
		}, "")
	}

	var zones, routeTables []any
	subnetNames := map[string][]string{}
	for i := range v.azCount {
		az := obj{"Fn::Select": []any{i, obj{"Fn::GetAZs": ""}}}
		zones = append(zones, az)
		for _, kind := range []string{"Public", "Private"} {
			netType := strings.ToLower(kind)
			subnet := fmt.Sprintf("%sSubnet%d", kind, i)
			subnetNames[kind] = append(subnetNames[kind], subnet)
			cidrs := v.public
			if kind == "Private" {
				cidrs = v.private
			}
			typeTag := []any{obj{"Key": "type", "Value": netType}}
			add(subnet, "AWS::EC2::Subnet", obj{
				"AvailabilityZone": az, "VpcId": vpcID, "CidrBlock": cidrs[i], "Tags": typeTag,
			}, gwAttach)

			rt := fmt.Sprintf("%sRouteTable%d", kind, i)
			add(rt, "AWS::EC2::RouteTable", obj{"VpcId": vpcID, "Tags": typeTag}, "")
			routeTables = append(routeTables, ref(rt))
			add(fmt.Sprintf("%sRouteTableAssociation%d", kind, i), "AWS::EC2::SubnetRouteTableAssociation",
				obj{"SubnetId": ref(subnet), "RouteTableId": ref(rt)}, "")
			route := obj{"RouteTableId": ref(rt), "DestinationCidrBlock": "0.0.0.0/0"}
			routeName := fmt.Sprintf("%sRoute%d", kind, i)
			switch {
			case kind == "Public":
				// NAT lives in the public subnets, whose default route is
				// the internet gateway.
				route["GatewayId"] = ref(gateway)
				add(routeName, "AWS::EC2::Route", route, "")
				natFor(t, v, i, subnet)
				continue
			case v.useNatGateway:
				route["NatGatewayId"] = ref(fmt.Sprintf("NatGateway%d", i))
			default:
				route["InstanceId"] = ref(fmt.Sprintf("NatInstance%d", i))
			}
			add(routeName, "AWS::EC2::Route", route, "")
		}
	}
	for _, kind := range []string{"Public", "Private"} {
		refs := make([]any, len(subnetNames[kind]))
		for i, sn := range subnetNames[kind] {
			refs[i] = ref(sn)
			out(fmt.Sprintf("%sSubnet%d", kind, i), ref(sn))
		}
		out(kind+"Subnets", join(",", refs))
	}
	out("AvailabilityZones", join(",", zones))
	for i, az := range zones {
		out(fmt.Sprintf("AvailabilityZone%d", i), az)
	}

	// Gateway endpoints, on every route table.
	for _, ep := range []struct {
		flag          bool
		name, service string
	}{
		{v.s3Endpoint, "s3VpcEndpoint", "s3"},
		{v.dynamoEndpoint, "dynamoVpcEndpoint", "dynamodb"},
	} {
		if ep.flag {
			add(ep.name, "AWS::EC2::VPCEndpoint", obj{
				"RouteTableIds": routeTables,
				"VpcId":         vpcID,
				"ServiceName":   obj{"Fn::Sub": "com.amazonaws.${AWS::Region}." + ep.service},
			}, "")
		}
	}
	tpl, err := blueprint.RenderTemplate(t, b.Variables(), in)
	if err != nil {
		return nil, err
	}
	if tpl.Body, err = blueprint.MarshalJSON(t, in.Indent); err != nil {
		return nil, fmt.Errorf("rendering blueprint %q: %w", in.Name, err)
	}
	return tpl, nil
}

// natFor adds the NAT gateway (or instance) of zone i and its elastic IP.
func natFor(t *cloudformation.Template, v vars, i int, subnet string) {
	eipName := fmt.Sprintf("NATExternalIp%d", i)
	// A NAT gateway's elastic IP stays unattached: the gateway takes it.
	eip := obj{"Domain": "vpc", "InstanceId": ref("AWS::NoValue")}
	if v.useNatGateway {
		gw := fmt.Sprintf("NatGateway%d", i)
		t.Resources[gw] = &resource{typ: "AWS::EC2::NatGateway", props: obj{
			"AllocationId": obj{"Fn::GetAtt": []any{eipName, "AllocationId"}},
			"SubnetId":     ref(subnet),
		}}
		t.Outputs[gw+"Id"] = cloudformation.Output{Value: ref(gw)}
	} else {
		inst := fmt.Sprintf("NatInstance%d", i)
		props := obj{
			"ImageId":          obj{"Fn::FindInMap": []any{amiMap, ref("AWS::Region"), v.imageName}},
			"SecurityGroupIds": []any{ref(defaultSG), ref(natSG)},
			"SubnetId":         ref(subnet),
			"InstanceType":     v.instanceType,
			"SourceDestCheck":  false,
			"Tags":             []any{obj{"Key": "Name", "Value": fmt.Sprintf("nat-gw%d", i)}},
		}
		if v.sshKeyName != "" {
			props["KeyName"] = v.sshKeyName
		}
		t.Resources[inst] = &resource{typ: "AWS::EC2::Instance", props: props, dependsOn: gwAttach}
		t.Outputs[inst+"PublicHostname"] = cloudformation.Output{Value: obj{"Fn::GetAtt": []any{inst, "PublicDnsName"}}}
		t.Outputs[inst+"InstanceId"] = cloudformation.Output{Value: ref(inst)}
		eip["InstanceId"] = ref(inst)
	}
	t.Resources[eipName] = &resource{typ: "AWS::EC2::EIP", props: eip, dependsOn: gwAttach}
}

// obj is a JSON object of the template.
type obj = map[string]any

func ref(name string) obj { return obj{"Ref": name} }

func join(sep string, items []any) obj { return obj{"Fn::Join": []any{sep, items}} }

// resource is a template resource written as troposphere writes it: no
// Properties key when it has none, and DependsOn as a single name.
type resource struct {
	typ       string
	props     obj
	dependsOn string
}

// AWSCloudFormationType implements cloudformation.Resource.
func (r *resource) AWSCloudFormationType() string { return r.typ }

// MarshalJSON writes the resource.
func (r *resource) MarshalJSON() ([]byte, error) {
	m := obj{"Type": r.typ}
	if len(r.props) > 0 {
		m["Properties"] = r.props
	}
	if r.dependsOn != "" {
		m["DependsOn"] = r.dependsOn
	}
	return json.Marshal(m)
}
