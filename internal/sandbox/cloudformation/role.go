package cloudformation

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"

	"github.com/stacker-go/stacker/internal/sandbox/platform"
)

// servicePrincipal is the principal CloudFormation assumes service roles as.
const servicePrincipal = "cloudformation.amazonaws.com"

// roleSession is the session name of CloudFormation's service-role sessions.
const roleSession = "AWSCloudFormation"

var roleARNRE = regexp.MustCompile(`^arn:aws[a-zA-Z-]*:iam::\d{12}:role/[\w+=,.@/-]+$`)

// serviceRole returns the principal a stack operation acts as: the session
// of the service role roleARN (passed: given in this request, so the caller
// needs iam:PassRole on it), or the caller when roleARN is empty. As on AWS,
// the role must be in the stack's account and trust
// cloudformation.amazonaws.com; otherwise the request fails with
// "Role ARN is invalid or cannot be assumed".
func (r *req) serviceRole(roleARN string, passed bool) (platform.Principal, error) {
	if roleARN == "" {
		return r.c.Principal, nil
	}
	if !roleARNRE.MatchString(roleARN) {
		return platform.Principal{}, validation("%s is not a valid RoleARN", roleARN)
	}
	if passed && r.s.p != nil && r.s.p.Auth != nil {
		d := r.s.p.Auth.Authorize(r.c.Principal, "iam:PassRole", roleARN, map[string][]string{"iam:PassedToService": {servicePrincipal}})
		if !d.Allowed {
			msg := d.Reason
			if msg == "" {
				msg = fmt.Sprintf("User: %s is not authorized to perform: iam:PassRole on resource: %s", r.c.Principal.ARN, roleARN)
			}
			return platform.Principal{}, apiErr(403, "AccessDenied", "%s", msg)
		}
	}
	invalid := validation("Role %s is invalid or cannot be assumed", roleARN)
	if strings.Split(roleARN, ":")[4] != r.acct || r.s.p == nil || r.s.p.IAM == nil {
		return platform.Principal{}, invalid
	}
	p, ok := r.s.p.IAM.AssumeServiceRole(roleARN, servicePrincipal, roleSession)
	if !ok {
		return platform.Principal{}, invalid
	}
	return p, nil
}

// resourceActions are the IAM actions CloudFormation needs for the types
// it creates as real sandbox objects: create, update, delete.
var resourceActions = map[string][3]string{
	"AWS::IAM::Role":            {"iam:CreateRole", "iam:UpdateRole", "iam:DeleteRole"},
	"AWS::IAM::Policy":          {"iam:PutRolePolicy", "iam:PutRolePolicy", "iam:DeleteRolePolicy"},
	"AWS::IAM::ManagedPolicy":   {"iam:CreatePolicy", "iam:CreatePolicyVersion", "iam:DeletePolicy"},
	"AWS::IAM::User":            {"iam:CreateUser", "iam:UpdateUser", "iam:DeleteUser"},
	"AWS::IAM::AccessKey":       {"iam:CreateAccessKey", "iam:UpdateAccessKey", "iam:DeleteAccessKey"},
	"AWS::IAM::InstanceProfile": {"iam:CreateInstanceProfile", "iam:AddRoleToInstanceProfile", "iam:DeleteInstanceProfile"},
	"AWS::S3::Bucket":           {"s3:CreateBucket", "s3:PutBucketTagging", "s3:DeleteBucket"},
	"AWS::S3::BucketPolicy":     {"s3:PutBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy"},
}

// resourceAction is the IAM action a resource operation (create, update,
// delete) needs, or "" for types CloudFormation handles itself (its own
// types and custom resources). Types without an entry in resourceActions
// need "<service>:<Operation><Type>", e.g. ec2:CreateVPC (IAM action names
// match case-insensitively).
func resourceAction(typ, operation string) string {
	i := map[string]int{"create": 0, "update": 1, "delete": 2}[operation]
	if a, ok := resourceActions[typ]; ok {
		return a[i]
	}
	parts := strings.Split(typ, "::")
	if len(parts) != 3 || parts[0] != "AWS" || parts[1] == "CloudFormation" {
		return ""
	}
	return strings.ToLower(parts[1]) + ":" + [3]string{"Create", "Update", "Delete"}[i] + parts[2]
}

// denied returns the failure reason when the stack's acting principal (its
// service role's session, or the principal that started the operation) may
// not perform a resource operation, in the wording of CloudFormation's
// resource handlers.
func (r *run) denied(logical, typ, operation string) (string, bool) {
	actor := r.st.Actor
	if actor == nil || actor.Account == "" || r.s.p == nil || r.s.p.Auth == nil {
		return "", false
	}
	action := resourceAction(typ, operation)
	if action == "" {
		return "", false
	}
	d := r.s.p.Auth.Authorize(*actor, action, "*", nil)
	if d.Allowed {
		return "", false
	}
	svc, _, _ := strings.Cut(action, ":")
	sum := sha256.Sum256([]byte(r.st.ID + "/" + logical + "/" + operation))
	id := hex.EncodeToString(sum[:16])
	reqID := id[:8] + "-" + id[8:12] + "-" + id[12:16] + "-" + id[16:20] + "-" + id[20:32]
	return fmt.Sprintf("Resource handler returned message: \"%s (Service: %s, Status Code: 403, Request ID: %s)\" (HandlerErrorCode: AccessDenied)",
		d.Reason, strings.ToUpper(svc[:1])+svc[1:], reqID), true
}
