package cloudformation

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/stacker-go/stacker/internal/sandbox/cloudformation/cfntemplate"
	"github.com/stacker-go/stacker/internal/sandbox/platform"
)

type timeT = time.Time

var afterReal = time.After

// rctx is what a resource handler gets.
type rctx struct {
	s                  *Service
	r                  *run
	res                *resource
	account, region    string
	stackName, stackID string
}

func (r *run) rctx(res *resource) *rctx {
	return &rctx{s: r.s, r: r, res: res, account: r.rg.Account, region: r.rg.Region, stackName: r.st.Name, stackID: r.st.ID}
}

func (c *rctx) str(k string) string {
	s, _ := cfntemplate.Scalar(c.res.Props[k])
	return s
}

// strOr is property k, or def when it is empty.
func (c *rctx) strOr(k, def string) string {
	if s := c.str(k); s != "" {
		return s
	}
	return def
}

// nameOr is the name property k, or a generated name of at most max.
func (c *rctx) nameOr(k string, max int) string {
	if s := c.str(k); s != "" {
		return s
	}
	return c.genName(max)
}

func (c *rctx) strs(k string) []string {
	var out []string
	switch v := c.res.Props[k].(type) {
	case []any:
		for _, x := range v {
			if s, ok := cfntemplate.Scalar(x); ok {
				out = append(out, s)
			}
		}
	case string:
		out = append(out, v)
	}
	return out
}

// hash12 is a deterministic suffix for generated names.
func hash12(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	var b [12]byte
	for i := range b {
		b[i] = alphabet[int(h[i])%len(alphabet)]
	}
	return string(b[:])
}

func hexID(n int, parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(h[:])[:n]
}

// genName is CloudFormation's generated physical name:
// stackname-LogicalId-SUFFIX, truncated to max.
func (c *rctx) genName(max int) string {
	suffix := hash12(c.account, c.region, c.stackID, c.res.Logical, strconv.Itoa(c.res.Gen))
	stack, logical := c.stackName, c.res.Logical
	room := max - len(suffix) - 2
	if room < 2 {
		return suffix[:min(max, len(suffix))]
	}
	for len(stack)+len(logical) > room {
		if len(stack) >= len(logical) {
			stack = stack[:len(stack)-1]
		} else {
			logical = logical[:len(logical)-1]
		}
	}
	return stack + "-" + logical + "-" + suffix
}

func (c *rctx) seed() string {
	return c.account + "/" + c.region + "/" + c.stackID + "/" + c.res.Logical + "/" + strconv.Itoa(c.res.Gen)
}

// policyDoc renders a policy document property (map or JSON string).
func policyDoc(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	}
	return cfntemplate.JSON(v)
}

// objectsToMap maps a list of objects (a property such as Tags) to the
// key and value entry returns for each object; nil when v is no list.
func objectsToMap(v any, entry func(m map[string]any) (string, string)) map[string]string {
	l, ok := v.([]any)
	if !ok {
		return nil
	}
	out := map[string]string{}
	for _, x := range l {
		m, ok := x.(map[string]any)
		if !ok {
			continue
		}
		k, val := entry(m)
		out[k] = val
	}
	return out
}

func tagsOf(v any) map[string]string {
	return objectsToMap(v, func(m map[string]any) (string, string) {
		k, _ := cfntemplate.Scalar(m["Key"])
		val, _ := cfntemplate.Scalar(m["Value"])
		return k, val
	})
}

// keepAttrs is the update of a resource type whose attributes do not
// change in an update.
type keepAttrs struct{}

func (keepAttrs) update(c *rctx, prev *resource) (map[string]any, error) { return prev.Attrs, nil }

// noDelete is the delete of a resource type with nothing to delete.
type noDelete struct{}

func (noDelete) delete(c *rctx) error { return nil }

type handler interface {
	create(c *rctx, ph *phase) (physical string, attrs map[string]any, err error)
	update(c *rctx, prev *resource) (attrs map[string]any, err error)
	delete(c *rctx) error
}

func handlerFor(typ string) handler {
	switch typ {
	case "AWS::IAM::Role":
		return roleHandler{}
	case "AWS::IAM::Policy":
		return policyHandler{}
	case "AWS::IAM::ManagedPolicy":
		return managedPolicyHandler{}
	case "AWS::IAM::User":
		return userHandler{}
	case "AWS::IAM::AccessKey":
		return accessKeyHandler{}
	case "AWS::IAM::InstanceProfile":
		return instanceProfileHandler{}
	case "AWS::S3::Bucket":
		return bucketHandler{}
	case "AWS::S3::BucketPolicy":
		return bucketPolicyHandler{}
	case "AWS::CloudFormation::WaitConditionHandle":
		return waitHandleHandler{}
	case "AWS::CloudFormation::WaitCondition":
		return waitConditionHandler{}
	}
	return genericHandler{}
}

// fixedAttrs lists the GetAtt attributes of types with a known set.
var fixedAttrs = map[string][]string{
	"AWS::IAM::Role":                           {"Arn", "RoleId"},
	"AWS::IAM::User":                           {"Arn"},
	"AWS::IAM::AccessKey":                      {"SecretAccessKey"},
	"AWS::IAM::InstanceProfile":                {"Arn"},
	"AWS::IAM::ManagedPolicy":                  {"PolicyArn", "PolicyId", "AttachmentCount", "CreateDate", "DefaultVersionId", "IsAttachable", "UpdateDate"},
	"AWS::IAM::Policy":                         {"Id"},
	"AWS::S3::Bucket":                          {"Arn", "DomainName", "DualStackDomainName", "RegionalDomainName", "WebsiteURL", "MetadataTableConfiguration.S3TablesDestination.TableArn"},
	"AWS::S3::BucketPolicy":                    {"Id"},
	"AWS::CloudFormation::WaitConditionHandle": {},
	"AWS::CloudFormation::WaitCondition":       {"Data"},
}

func attrSupported(typ, attr string) bool {
	l, ok := fixedAttrs[typ]
	if !ok {
		return true
	}
	for _, a := range l {
		if a == attr {
			return true
		}
	}
	return false
}

// attrValue returns a resource's attribute (deterministic for generic types).
func attrValue(res *resource, attr string, rg *region) any {
	if v, ok := res.Attrs[attr]; ok {
		return v
	}
	if v, ok := res.Props[attr]; ok {
		return v
	}
	svc, noun := typeParts(res.Type)
	seed := rg.Account + "/" + rg.Region + "/" + res.Physical + "/" + attr
	switch {
	case attr == "Arn" || strings.HasSuffix(attr, "Arn"):
		if strings.HasPrefix(res.Physical, "arn:") {
			return res.Physical
		}
		return fmt.Sprintf("arn:aws:%s:%s:%s:%s/%s", svc, rg.Region, rg.Account, strings.ToLower(noun), res.Physical)
	case attr == "Id" || strings.HasSuffix(attr, "Id") || attr == "Name" || strings.HasSuffix(attr, "Name"):
		return res.Physical
	case strings.HasSuffix(attr, "Ids") || strings.HasSuffix(attr, "s") && strings.HasPrefix(attr, "Default"):
		return []any{res.Physical}
	case strings.HasSuffix(attr, "Url") || strings.HasSuffix(attr, "URL") || strings.HasSuffix(attr, "Endpoint") || strings.Contains(attr, "Endpoint."):
		return fmt.Sprintf("https://%s.%s.%s.amazonaws.com", strings.ToLower(hexID(10, seed)), strings.ToLower(svc), rg.Region)
	}
	return strings.ToLower(noun) + "-" + hexID(12, seed)
}

func typeParts(typ string) (svc, noun string) {
	parts := strings.Split(typ, "::")
	if len(parts) == 3 {
		return strings.ToLower(parts[1]), parts[2]
	}
	return "custom", parts[len(parts)-1]
}

// ---- generic ----

var ec2Prefixes = map[string]string{
	"AWS::EC2::VPC": "vpc", "AWS::EC2::Subnet": "subnet", "AWS::EC2::SecurityGroup": "sg",
	"AWS::EC2::InternetGateway": "igw", "AWS::EC2::RouteTable": "rtb", "AWS::EC2::NatGateway": "nat",
	"AWS::EC2::NetworkAcl": "acl", "AWS::EC2::Instance": "i", "AWS::EC2::Volume": "vol",
	"AWS::EC2::VPCEndpoint": "vpce", "AWS::EC2::TransitGateway": "tgw", "AWS::EC2::LaunchTemplate": "lt",
	"AWS::EC2::NetworkInterface": "eni", "AWS::EC2::DHCPOptions": "dopt", "AWS::EC2::VPNGateway": "vgw",
	"AWS::EC2::CustomerGateway": "cgw", "AWS::EC2::FlowLog": "fl", "AWS::EC2::PrefixList": "pl",
	"AWS::EC2::VPCPeeringConnection": "pcx", "AWS::EC2::EgressOnlyInternetGateway": "eigw",
	"AWS::EC2::SubnetRouteTableAssociation": "rtbassoc", "AWS::EC2::TransitGatewayAttachment": "tgw-attach",
	"AWS::EC2::SecurityGroupIngress": "sgr", "AWS::EC2::SecurityGroupEgress": "sgr",
	"AWS::EC2::PlacementGroup": "pg", "AWS::EC2::VPCCidrBlock": "vpc-cidr-assoc",
}

type genericHandler struct {
	keepAttrs
	noDelete
}

func (genericHandler) create(c *rctx, _ *phase) (string, map[string]any, error) {
	typ := c.res.Type
	svc, noun := typeParts(typ)
	seed := c.seed()
	attrs := map[string]any{}
	name := c.str(noun + "Name")
	if name == "" {
		name = c.str("Name")
	}
	if p, ok := ec2Prefixes[typ]; ok {
		id := p + "-" + hexID(17, seed)
		switch typ {
		case "AWS::EC2::VPC":
			attrs["VpcId"] = id
			attrs["DefaultSecurityGroup"] = "sg-" + hexID(17, seed, "sg")
			attrs["DefaultNetworkAcl"] = "acl-" + hexID(17, seed, "acl")
			attrs["CidrBlockAssociations"] = []any{"vpc-cidr-assoc-" + hexID(17, seed, "assoc")}
		case "AWS::EC2::Subnet":
			attrs["SubnetId"] = id
		case "AWS::EC2::SecurityGroup":
			attrs["GroupId"] = id
		case "AWS::EC2::Instance":
			h := sha256.Sum256([]byte(seed))
			attrs["PrivateIp"] = fmt.Sprintf("10.%d.%d.%d", h[0], h[1], h[2]%254+1)
			attrs["PublicIp"] = fmt.Sprintf("54.%d.%d.%d", h[3], h[4], h[5]%254+1)
			attrs["PrivateDnsName"] = fmt.Sprintf("ip-10-%d-%d-%d.ec2.internal", h[0], h[1], h[2]%254+1)
			attrs["AvailabilityZone"] = c.region + "a"
		}
		return id, attrs, nil
	}
	switch typ {
	case "AWS::EC2::EIP":
		h := sha256.Sum256([]byte(seed))
		ip := fmt.Sprintf("54.%d.%d.%d", h[0], h[1], h[2]%254+1)
		attrs["AllocationId"] = "eipalloc-" + hexID(17, seed)
		attrs["PublicIp"] = ip
		return ip, attrs, nil
	case "AWS::SNS::Topic":
		if name == "" {
			name = c.genName(256)
		}
		arn := fmt.Sprintf("arn:aws:sns:%s:%s:%s", c.region, c.account, name)
		attrs["TopicArn"], attrs["TopicName"] = arn, name
		return arn, attrs, nil
	case "AWS::SQS::Queue":
		if name == "" {
			name = c.genName(80)
		}
		u := fmt.Sprintf("https://sqs.%s.amazonaws.com/%s/%s", c.region, c.account, name)
		attrs["Arn"] = fmt.Sprintf("arn:aws:sqs:%s:%s:%s", c.region, c.account, name)
		attrs["QueueName"], attrs["QueueUrl"] = name, u
		return u, attrs, nil
	case "AWS::Lambda::Function":
		if name == "" {
			name = c.genName(64)
		}
		attrs["Arn"] = fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", c.region, c.account, name)
		return name, attrs, nil
	case "AWS::DynamoDB::Table":
		if name == "" {
			name = c.genName(255)
		}
		attrs["Arn"] = fmt.Sprintf("arn:aws:dynamodb:%s:%s:table/%s", c.region, c.account, name)
		attrs["StreamArn"] = attrs["Arn"].(string) + "/stream/2020-01-01T00:00:00.000"
		return name, attrs, nil
	case "AWS::Logs::LogGroup":
		name = c.str("LogGroupName")
		if name == "" {
			name = c.genName(512)
		}
		attrs["Arn"] = fmt.Sprintf("arn:aws:logs:%s:%s:log-group:%s:*", c.region, c.account, name)
		return name, attrs, nil
	case "AWS::KMS::Key":
		id := uuidOf(seed)
		attrs["Arn"] = fmt.Sprintf("arn:aws:kms:%s:%s:key/%s", c.region, c.account, id)
		attrs["KeyId"] = id
		return id, attrs, nil
	case "AWS::SSM::Parameter":
		if name == "" {
			name = "CFN-" + c.res.Logical + "-" + hash12(seed)
		}
		attrs["Type"], attrs["Value"] = c.str("Type"), c.str("Value")
		return name, attrs, nil
	case "AWS::CloudFormation::Stack":
		return fmt.Sprintf("arn:aws:cloudformation:%s:%s:stack/%s/%s", c.region, c.account, c.genName(128), uuidOf(seed)), attrs, nil
	}
	if name != "" && !strings.HasPrefix(typ, "Custom::") && typ != "AWS::CloudFormation::CustomResource" {
		return name, attrs, nil
	}
	_ = svc
	return c.genName(128), attrs, nil
}

func uuidOf(seed string) string {
	x := hexID(32, seed)
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// ---- IAM ----

func nameFromARN(s string) string {
	if strings.HasPrefix(s, "arn:") {
		return path.Base(s)
	}
	return s
}

func iamOf(c *rctx) (platform.IAM, error) {
	if c.s.p == nil || c.s.p.IAM == nil {
		return nil, fmt.Errorf("IAM is not available in this sandbox")
	}
	return c.s.p.IAM, nil
}

func s3Of(c *rctx) (platform.S3, error) {
	if c.s.p == nil || c.s.p.S3 == nil {
		return nil, fmt.Errorf("S3 is not available in this sandbox")
	}
	return c.s.p.S3, nil
}

func inlinePolicies(v any) map[string]string {
	return objectsToMap(v, func(m map[string]any) (string, string) {
		n, _ := cfntemplate.Scalar(m["PolicyName"])
		return n, policyDoc(m["PolicyDocument"])
	})
}

func (c *rctx) roleSpec(name string) platform.RoleSpec {
	msd, _ := strconv.Atoi(c.str("MaxSessionDuration"))
	return platform.RoleSpec{
		Name: name, Path: c.strOr("Path", "/"), AssumeRolePolicyDocument: policyDoc(c.res.Props["AssumeRolePolicyDocument"]),
		Description: c.str("Description"), MaxSessionDuration: msd,
		ManagedPolicyARNs: c.strs("ManagedPolicyArns"), InlinePolicies: inlinePolicies(c.res.Props["Policies"]),
		Tags: tagsOf(c.res.Props["Tags"]),
	}
}

type roleHandler struct{}

func (roleHandler) create(c *rctx, _ *phase) (string, map[string]any, error) {
	iam, err := iamOf(c)
	if err != nil {
		return "", nil, err
	}
	name := c.nameOr("RoleName", 64)
	arn, id, err := iam.CreateRole(c.account, c.roleSpec(name))
	if err != nil {
		return "", nil, err
	}
	return name, map[string]any{"Arn": arn, "RoleId": id}, nil
}

func (roleHandler) update(c *rctx, prev *resource) (map[string]any, error) {
	iam, err := iamOf(c)
	if err != nil {
		return nil, err
	}
	return prev.Attrs, iam.UpdateRole(c.account, c.roleSpec(prev.Physical))
}

func (roleHandler) delete(c *rctx) error {
	iam, err := iamOf(c)
	if err != nil {
		return err
	}
	for n := range inlinePolicies(c.res.Props["Policies"]) {
		_ = iam.DeleteRolePolicy(c.account, c.res.Physical, n)
	}
	for _, a := range c.strs("ManagedPolicyArns") {
		_ = iam.DetachRolePolicy(c.account, c.res.Physical, a)
	}
	return ignoreNotFound(iam.DeleteRole(c.account, c.res.Physical))
}

func ignoreNotFound(err error) error {
	if e, ok := err.(*platform.APIError); ok && (e.Code == "NoSuchEntity" || e.Code == "NoSuchBucket" || e.Code == "NoSuchBucketPolicy") {
		return nil
	}
	return err
}

// eachPrincipal calls role for each of the Roles property's role names,
// then user for each of the Users property's, and stops at an error.
func (c *rctx) eachPrincipal(role, user func(name string) error) error {
	for _, r := range c.strs("Roles") {
		if err := role(nameFromARN(r)); err != nil {
			return err
		}
	}
	for _, u := range c.strs("Users") {
		if err := user(nameFromARN(u)); err != nil {
			return err
		}
	}
	return nil
}

type policyHandler struct{}

func (policyHandler) apply(c *rctx, iam platform.IAM, props map[string]any) error {
	cc := *c
	cc.res = &resource{Props: props}
	name, doc := cc.str("PolicyName"), policyDoc(props["PolicyDocument"])
	return cc.eachPrincipal(
		func(r string) error { return iam.PutRolePolicy(c.account, r, name, doc) },
		func(u string) error { return iam.PutUserPolicy(c.account, u, name, doc) })
}

func (policyHandler) remove(c *rctx, iam platform.IAM, props map[string]any, keep map[string]any) {
	cc := *c
	cc.res = &resource{Props: props}
	kc := *c
	kc.res = &resource{Props: keep}
	name := cc.str("PolicyName")
	keepName := kc.str("PolicyName")
	keepRoles, keepUsers := map[string]bool{}, map[string]bool{}
	if keep != nil && keepName == name {
		for _, r := range kc.strs("Roles") {
			keepRoles[nameFromARN(r)] = true
		}
		for _, u := range kc.strs("Users") {
			keepUsers[nameFromARN(u)] = true
		}
	}
	for _, r := range cc.strs("Roles") {
		if !keepRoles[nameFromARN(r)] {
			_ = iam.DeleteRolePolicy(c.account, nameFromARN(r), name)
		}
	}
	for _, u := range cc.strs("Users") {
		if !keepUsers[nameFromARN(u)] {
			_ = iam.DeleteUserPolicy(c.account, nameFromARN(u), name)
		}
	}
}

func (h policyHandler) create(c *rctx, _ *phase) (string, map[string]any, error) {
	iam, err := iamOf(c)
	if err != nil {
		return "", nil, err
	}
	if err := h.apply(c, iam, c.res.Props); err != nil {
		return "", nil, err
	}
	id := c.genName(64)
	return id, map[string]any{"Id": id}, nil
}

func (h policyHandler) update(c *rctx, prev *resource) (map[string]any, error) {
	iam, err := iamOf(c)
	if err != nil {
		return nil, err
	}
	h.remove(c, iam, prev.Props, c.res.Props)
	return prev.Attrs, h.apply(c, iam, c.res.Props)
}

func (h policyHandler) delete(c *rctx) error {
	iam, err := iamOf(c)
	if err != nil {
		return err
	}
	h.remove(c, iam, c.res.Props, nil)
	return nil
}

type managedPolicyHandler struct{}

func (managedPolicyHandler) create(c *rctx, _ *phase) (string, map[string]any, error) {
	iam, err := iamOf(c)
	if err != nil {
		return "", nil, err
	}
	name := c.nameOr("ManagedPolicyName", 128)
	arn, err := iam.CreatePolicy(c.account, name, c.strOr("Path", "/"), policyDoc(c.res.Props["PolicyDocument"]))
	if err != nil {
		return "", nil, err
	}
	if err := c.eachPrincipal(
		func(r string) error { return iam.AttachRolePolicy(c.account, r, arn) },
		func(u string) error { return iam.AttachUserPolicy(c.account, u, arn) }); err != nil {
		return "", nil, err
	}
	return arn, map[string]any{"PolicyArn": arn, "PolicyId": "ANPA" + strings.ToUpper(hexID(17, c.seed())), "IsAttachable": "true", "DefaultVersionId": "v1"}, nil
}

func (managedPolicyHandler) update(c *rctx, prev *resource) (map[string]any, error) {
	iam, err := iamOf(c)
	if err != nil {
		return nil, err
	}
	arn := prev.Physical
	if err := iam.UpdatePolicy(c.account, arn, policyDoc(c.res.Props["PolicyDocument"])); err != nil {
		return nil, err
	}
	pc := *c
	pc.res = prev
	diff := func(old, new []string, attach, detach func(string) error) error {
		o, n := map[string]bool{}, map[string]bool{}
		for _, x := range old {
			o[nameFromARN(x)] = true
		}
		for _, x := range new {
			n[nameFromARN(x)] = true
		}
		for x := range o {
			if !n[x] {
				_ = detach(x)
			}
		}
		for x := range n {
			if !o[x] {
				if err := attach(x); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := diff(pc.strs("Roles"), c.strs("Roles"),
		func(r string) error { return iam.AttachRolePolicy(c.account, r, arn) },
		func(r string) error { return iam.DetachRolePolicy(c.account, r, arn) }); err != nil {
		return nil, err
	}
	if err := diff(pc.strs("Users"), c.strs("Users"),
		func(u string) error { return iam.AttachUserPolicy(c.account, u, arn) },
		func(u string) error { return iam.DetachUserPolicy(c.account, u, arn) }); err != nil {
		return nil, err
	}
	return prev.Attrs, nil
}

func (managedPolicyHandler) delete(c *rctx) error {
	iam, err := iamOf(c)
	if err != nil {
		return err
	}
	_ = c.eachPrincipal(
		func(r string) error { _ = iam.DetachRolePolicy(c.account, r, c.res.Physical); return nil },
		func(u string) error { _ = iam.DetachUserPolicy(c.account, u, c.res.Physical); return nil })
	return ignoreNotFound(iam.DeletePolicy(c.account, c.res.Physical))
}

type userHandler struct{}

func (userHandler) create(c *rctx, _ *phase) (string, map[string]any, error) {
	iam, err := iamOf(c)
	if err != nil {
		return "", nil, err
	}
	name := c.nameOr("UserName", 64)
	arn, _, err := iam.CreateUser(c.account, name, c.strOr("Path", "/"))
	if err != nil {
		return "", nil, err
	}
	for n, doc := range inlinePolicies(c.res.Props["Policies"]) {
		if err := iam.PutUserPolicy(c.account, name, n, doc); err != nil {
			return "", nil, err
		}
	}
	for _, a := range c.strs("ManagedPolicyArns") {
		if err := iam.AttachUserPolicy(c.account, name, a); err != nil {
			return "", nil, err
		}
	}
	return name, map[string]any{"Arn": arn}, nil
}

func (userHandler) update(c *rctx, prev *resource) (map[string]any, error) {
	iam, err := iamOf(c)
	if err != nil {
		return nil, err
	}
	pc := *c
	pc.res = prev
	newPol := inlinePolicies(c.res.Props["Policies"])
	for n := range inlinePolicies(prev.Props["Policies"]) {
		if _, ok := newPol[n]; !ok {
			_ = iam.DeleteUserPolicy(c.account, prev.Physical, n)
		}
	}
	for n, doc := range newPol {
		if err := iam.PutUserPolicy(c.account, prev.Physical, n, doc); err != nil {
			return nil, err
		}
	}
	newM := map[string]bool{}
	for _, a := range c.strs("ManagedPolicyArns") {
		newM[a] = true
	}
	for _, a := range pc.strs("ManagedPolicyArns") {
		if !newM[a] {
			_ = iam.DetachUserPolicy(c.account, prev.Physical, a)
		}
	}
	for a := range newM {
		if err := iam.AttachUserPolicy(c.account, prev.Physical, a); err != nil {
			return nil, err
		}
	}
	return prev.Attrs, nil
}

func (userHandler) delete(c *rctx) error {
	iam, err := iamOf(c)
	if err != nil {
		return err
	}
	for n := range inlinePolicies(c.res.Props["Policies"]) {
		_ = iam.DeleteUserPolicy(c.account, c.res.Physical, n)
	}
	for _, a := range c.strs("ManagedPolicyArns") {
		_ = iam.DetachUserPolicy(c.account, c.res.Physical, a)
	}
	return ignoreNotFound(iam.DeleteUser(c.account, c.res.Physical))
}

type accessKeyHandler struct{ keepAttrs }

func (accessKeyHandler) create(c *rctx, _ *phase) (string, map[string]any, error) {
	iam, err := iamOf(c)
	if err != nil {
		return "", nil, err
	}
	id, secret, err := iam.CreateAccessKey(c.account, nameFromARN(c.str("UserName")))
	if err != nil {
		return "", nil, err
	}
	return id, map[string]any{"SecretAccessKey": secret}, nil
}

func (accessKeyHandler) delete(c *rctx) error {
	iam, err := iamOf(c)
	if err != nil {
		return err
	}
	return ignoreNotFound(iam.DeleteAccessKey(c.account, nameFromARN(c.str("UserName")), c.res.Physical))
}

type instanceProfileHandler struct{}

// put creates the instance profile called name from the properties.
func (instanceProfileHandler) put(c *rctx, iam platform.IAM, name string) (map[string]any, error) {
	var roles []string
	for _, r := range c.strs("Roles") {
		roles = append(roles, nameFromARN(r))
	}
	arn, err := iam.CreateInstanceProfile(c.account, name, c.strOr("Path", "/"), roles)
	if err != nil {
		return nil, err
	}
	return map[string]any{"Arn": arn}, nil
}

func (h instanceProfileHandler) create(c *rctx, _ *phase) (string, map[string]any, error) {
	iam, err := iamOf(c)
	if err != nil {
		return "", nil, err
	}
	name := c.nameOr("InstanceProfileName", 128)
	attrs, err := h.put(c, iam, name)
	if err != nil {
		return "", nil, err
	}
	return name, attrs, nil
}

func (h instanceProfileHandler) update(c *rctx, prev *resource) (map[string]any, error) {
	iam, err := iamOf(c)
	if err != nil {
		return nil, err
	}
	if err := ignoreNotFound(iam.DeleteInstanceProfile(c.account, prev.Physical)); err != nil {
		return nil, err
	}
	return h.put(c, iam, prev.Physical)
}

func (instanceProfileHandler) delete(c *rctx) error {
	iam, err := iamOf(c)
	if err != nil {
		return err
	}
	return ignoreNotFound(iam.DeleteInstanceProfile(c.account, c.res.Physical))
}

// ---- S3 ----

type bucketHandler struct{ keepAttrs }

func (bucketHandler) create(c *rctx, _ *phase) (string, map[string]any, error) {
	s3, err := s3Of(c)
	if err != nil {
		return "", nil, err
	}
	name := c.str("BucketName")
	if name == "" {
		name = strings.ToLower(c.genName(63))
	}
	spec := platform.BucketSpec{Name: name, Region: c.region, Tags: tagsOf(c.res.Props["Tags"])}
	if enc, ok := c.res.Props["BucketEncryption"].(map[string]any); ok {
		if l, ok := enc["ServerSideEncryptionConfiguration"].([]any); ok && len(l) > 0 {
			if rule, ok := l[0].(map[string]any); ok {
				if d, ok := rule["ServerSideEncryptionByDefault"].(map[string]any); ok {
					spec.SSEAlgorithm, _ = cfntemplate.Scalar(d["SSEAlgorithm"])
				}
			}
		}
	}
	if pab, ok := c.res.Props["PublicAccessBlockConfiguration"].(map[string]any); ok {
		all := true
		for _, k := range []string{"BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"} {
			if s, _ := cfntemplate.Scalar(pab[k]); s != "true" {
				all = false
			}
		}
		spec.BlockPublicAccess = all
	}
	if err := s3.CreateBucket(c.account, spec); err != nil {
		return "", nil, err
	}
	return name, bucketAttrs(name, c.region), nil
}

func bucketAttrs(name, region string) map[string]any {
	return map[string]any{
		"Arn":                 "arn:aws:s3:::" + name,
		"DomainName":          name + ".s3.amazonaws.com",
		"RegionalDomainName":  name + ".s3." + region + ".amazonaws.com",
		"DualStackDomainName": name + ".s3.dualstack." + region + ".amazonaws.com",
		"WebsiteURL":          "http://" + name + ".s3-website-" + region + ".amazonaws.com",
	}
}

func (bucketHandler) delete(c *rctx) error {
	s3, err := s3Of(c)
	if err != nil {
		return err
	}
	return ignoreNotFound(s3.DeleteBucket(c.account, c.res.Physical))
}

type bucketPolicyHandler struct{}

func (bucketPolicyHandler) put(c *rctx, s3 platform.S3) error {
	return s3.PutBucketPolicy(c.account, c.str("Bucket"), policyDoc(c.res.Props["PolicyDocument"]))
}

func (h bucketPolicyHandler) create(c *rctx, _ *phase) (string, map[string]any, error) {
	s3, err := s3Of(c)
	if err != nil {
		return "", nil, err
	}
	if err := h.put(c, s3); err != nil {
		return "", nil, err
	}
	id := c.genName(128)
	return id, map[string]any{"Id": id}, nil
}

func (h bucketPolicyHandler) update(c *rctx, prev *resource) (map[string]any, error) {
	s3, err := s3Of(c)
	if err != nil {
		return nil, err
	}
	return prev.Attrs, h.put(c, s3)
}

func (bucketPolicyHandler) delete(c *rctx) error {
	s3, err := s3Of(c)
	if err != nil {
		return err
	}
	return ignoreNotFound(s3.DeleteBucketPolicy(c.account, c.str("Bucket")))
}

// ---- wait conditions ----

type waitHandleHandler struct {
	keepAttrs
	noDelete
}

func (waitHandleHandler) create(c *rctx, _ *phase) (string, map[string]any, error) {
	u := fmt.Sprintf("https://cloudformation-waitcondition-%s.s3.amazonaws.com/%s?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=86399",
		c.region, url.PathEscape(c.stackID+"/"+c.res.Logical))
	return u, map[string]any{}, nil
}

type waitConditionHandler struct {
	keepAttrs
	noDelete
}

// MaxWaitTimeout is CloudFormation's limit on a WaitCondition's Timeout.
const MaxWaitTimeout = 43200

func (waitConditionHandler) create(c *rctx, ph *phase) (string, map[string]any, error) {
	phys := c.stackID + "/" + c.res.Logical
	ts := c.str("Timeout")
	if ts == "" && c.res.Props["Handle"] == nil {
		// creation-policy form: completes at once in the sandbox
		return phys, map[string]any{"Data": "{}"}, nil
	}
	timeout, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || timeout < 1 || timeout > MaxWaitTimeout {
		//lint:ignore ST1005 CloudFormation's exact message
		return "", nil, fmt.Errorf("Value for Timeout property must be less than %d", MaxWaitTimeout)
	}
	count := 1
	if cs := c.str("Count"); cs != "" {
		n, err := strconv.Atoi(cs)
		if err != nil || n < 0 {
			//lint:ignore ST1005 CloudFormation's exact message
			return "", nil, fmt.Errorf("Count must be a positive integer")
		}
		count = n
	}
	if count == 0 {
		return phys, map[string]any{"Data": "{}"}, nil
	}
	// wait for signals (SignalResource) or the timeout on the sandbox clock
	var timer <-chan time.Time
	if c.s.p != nil && c.s.p.Clock != nil {
		timer = c.s.p.Clock.After(time.Duration(timeout) * time.Second)
	} else {
		timer = time.After(time.Duration(timeout) * time.Second)
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		c.r.rg.mu.Lock()
		var got int
		var failMsg string
		data := map[string]any{}
		ids := make([]string, 0, len(c.res.Signals))
		for id := range c.res.Signals {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			sig := c.res.Signals[id]
			if strings.HasPrefix(sig, "FAILURE") {
				failMsg = fmt.Sprintf("WaitCondition received failed message: '%s' for uniqueId: %s", strings.TrimPrefix(sig, "FAILURE:"), id)
			} else {
				got++
				data[id] = strings.TrimPrefix(sig, "SUCCESS:")
			}
		}
		c.r.rg.mu.Unlock()
		if failMsg != "" {
			return "", nil, fmt.Errorf("%s", failMsg)
		}
		if got >= count {
			b, _ := json.Marshal(data)
			return phys, map[string]any{"Data": string(b)}, nil
		}
		select {
		case <-timer:
			return "", nil, fmt.Errorf("WaitCondition timed out. Received %d conditions when expecting %d", got, count)
		case <-ph.stop:
			//lint:ignore ST1005 CloudFormation's exact message
			return "", nil, fmt.Errorf("Resource creation cancelled")
		case <-tick.C:
		}
	}
}

// ---- replacement table ----

// replacementTable lists, per resource type, the properties whose change
// requires replacement ("Always") or may ("Conditionally"); other
// properties of a listed type update in place ("Never"). Unlisted types
// answer "Conditionally" for every property.
var replacementTable = map[string]map[string]string{
	"AWS::S3::Bucket":                          {"BucketName": "Always", "ObjectLockEnabled": "Always"},
	"AWS::S3::BucketPolicy":                    {"Bucket": "Always"},
	"AWS::IAM::Role":                           {"RoleName": "Always", "Path": "Always"},
	"AWS::IAM::User":                           {"UserName": "Always"},
	"AWS::IAM::ManagedPolicy":                  {"ManagedPolicyName": "Always", "Path": "Always", "Description": "Always"},
	"AWS::IAM::InstanceProfile":                {"InstanceProfileName": "Always", "Path": "Always"},
	"AWS::IAM::AccessKey":                      {"UserName": "Always", "Serial": "Always"},
	"AWS::IAM::Policy":                         {},
	"AWS::EC2::VPC":                            {"CidrBlock": "Always", "InstanceTenancy": "Conditionally", "Ipv4IpamPoolId": "Always", "Ipv4NetmaskLength": "Always"},
	"AWS::EC2::Subnet":                         {"AvailabilityZone": "Always", "AvailabilityZoneId": "Always", "CidrBlock": "Always", "VpcId": "Always", "Ipv6CidrBlock": "Conditionally"},
	"AWS::EC2::SecurityGroup":                  {"GroupDescription": "Always", "GroupName": "Always", "VpcId": "Always"},
	"AWS::EC2::Instance":                       {"ImageId": "Always", "KeyName": "Always", "AvailabilityZone": "Always", "SubnetId": "Always", "SecurityGroups": "Always", "PrivateIpAddress": "Always", "NetworkInterfaces": "Always", "InstanceType": "Never", "UserData": "Never"},
	"AWS::EC2::InternetGateway":                {},
	"AWS::EC2::RouteTable":                     {"VpcId": "Always"},
	"AWS::EC2::Route":                          {"RouteTableId": "Always", "DestinationCidrBlock": "Always", "DestinationIpv6CidrBlock": "Always"},
	"AWS::EC2::EIP":                            {"Domain": "Always", "InstanceId": "Conditionally"},
	"AWS::EC2::NatGateway":                     {"SubnetId": "Always", "AllocationId": "Always", "ConnectivityType": "Always"},
	"AWS::EC2::SubnetRouteTableAssociation":    {"SubnetId": "Always", "RouteTableId": "Never"},
	"AWS::EC2::VPCGatewayAttachment":           {"VpcId": "Always"},
	"AWS::SNS::Topic":                          {"TopicName": "Always", "FifoTopic": "Always"},
	"AWS::SQS::Queue":                          {"QueueName": "Always", "FifoQueue": "Always"},
	"AWS::DynamoDB::Table":                     {"TableName": "Always", "KeySchema": "Always", "LocalSecondaryIndexes": "Always"},
	"AWS::Lambda::Function":                    {"FunctionName": "Always", "PackageType": "Always"},
	"AWS::Logs::LogGroup":                      {"LogGroupName": "Always"},
	"AWS::KMS::Key":                            {},
	"AWS::KMS::Alias":                          {"AliasName": "Always"},
	"AWS::ECR::Repository":                     {"RepositoryName": "Always", "EncryptionConfiguration": "Always"},
	"AWS::SSM::Parameter":                      {"Name": "Always"},
	"AWS::CloudFormation::WaitConditionHandle": {},
	"AWS::CloudFormation::WaitCondition":       {"Handle": "Always", "Timeout": "Always", "Count": "Always"},
	"AWS::Route53::HostedZone":                 {"Name": "Always"},
	"AWS::Route53::RecordSet":                  {"Name": "Always", "Type": "Always", "HostedZoneId": "Always", "HostedZoneName": "Always"},
}

// recreation returns Always, Never or Conditionally for one property.
func recreation(typ, prop string) string {
	t, ok := replacementTable[typ]
	if !ok {
		return "Conditionally"
	}
	if v, ok := t[prop]; ok {
		return v
	}
	return "Never"
}

// changedProps lists the top-level properties that differ.
func changedProps(old, new map[string]any) []string {
	set := map[string]bool{}
	for k, v := range new {
		if ov, ok := old[k]; !ok || !jsonEqual(ov, v) {
			set[k] = true
		}
	}
	for k := range old {
		if _, ok := new[k]; !ok {
			set[k] = true
		}
	}
	return sortedStrings(set)
}

func jsonEqual(a, b any) bool {
	return cfntemplate.JSON(normalize(a)) == cfntemplate.JSON(normalize(b))
}

// requiresReplacement is Always, Conditionally or Never for a change.
func requiresReplacement(typ string, old, new map[string]any) string {
	res := "Never"
	for _, p := range changedProps(old, new) {
		switch recreation(typ, p) {
		case "Always":
			return "Always"
		case "Conditionally":
			res = "Conditionally"
		}
	}
	return res
}
