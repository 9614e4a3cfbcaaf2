package preflight

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"path"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stacker-go/stacker/internal/awserr"
	"github.com/stacker-go/stacker/internal/config"
)

// BucketAPI is the read-only S3 calls the template-bucket check makes.
type BucketAPI interface {
	HeadBucket(ctx context.Context, in *s3.HeadBucketInput, optFns ...func(*s3.Options)) (*s3.HeadBucketOutput, error)
}

// PolicyAPI reads a bucket policy; the cross-account check needs it.
type PolicyAPI interface {
	GetBucketPolicy(ctx context.Context, in *s3.GetBucketPolicyInput, optFns ...func(*s3.Options)) (*s3.GetBucketPolicyOutput, error)
}

// Reader is an account whose CloudFormation reads templates from the
// bucket: the stacks of one target, as the target's identity.
type Reader struct {
	Account string
	// RoleARN is the principal a bucket policy must name (the IAM role of
	// an assumed-role session, else the caller's ARN).
	RoleARN string
	Stacks  []string
}

// BucketCheck is what the template-bucket check needs.
type BucketCheck struct {
	Name   string
	Region string
	// Profile and Account are the top-level credentials (--profile) that
	// upload templates and, when the bucket is missing, create it.
	Profile string
	Account string
	API     BucketAPI
	// Readers are the targets that deploy stacks; those in another account
	// than Account must be allowed s3:GetObject by the bucket policy.
	Readers []Reader
}

// Bucket checks, without changing anything, that build can use the
// template bucket: its name is valid; it exists and the top-level
// credentials can use it, or it does not exist and build will create it in
// their account; and CloudFormation in every other account that deploys
// stacks may read its objects (the bucket policy allows s3:GetObject to the
// role the stacks are deployed as: the cross-account setup of stacker's
// example). It returns the problems (a *Problems, exit 2) and warnings for
// what it could not verify.
func Bucket(ctx context.Context, c BucketCheck) ([]string, error) {
	fail := func(format string, args ...any) ([]string, error) {
		return nil, &Problems{config.Errors{&Problem{Msg: fmt.Sprintf(format, args...)}}}
	}
	if msg := bucketNameProblem(c.Name); msg != "" {
		return fail("stacker_bucket %q: %s", c.Name, msg)
	}
	var foreign []Reader
	for _, r := range c.Readers {
		if r.Account != "" && r.Account != c.Account {
			foreign = append(foreign, r)
		}
	}
	_, err := c.API.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(c.Name)})
	switch code := awserr.Code(err); {
	case err == nil:
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case code == "NotFound" || code == "NoSuchBucket" || code == "404":
		if len(foreign) == 0 {
			return nil, nil // build creates it, in the top-level account
		}
		return fail("template bucket %s does not exist: build would create it in account %s (profile %s) with no bucket policy, so CloudFormation in %s could not read the templates; create the bucket with a policy allowing s3:GetObject to %s first (stacker's cross-account example does it with its stacker-bucket stack)",
			c.Name, c.Account, c.Profile, readersText(foreign), principalsText(foreign))
	case code == "Forbidden" || code == "AccessDenied" || code == "403":
		return fail("template bucket %s exists but profile %s (account %s) may not use it: bucket names are global, so it may belong to another account; choose another stacker_bucket, or, if it is yours, allow s3:ListBucket, s3:GetObject and s3:PutObject to account %s in its bucket policy",
			c.Name, c.Profile, c.Account, c.Account)
	case code == "PermanentRedirect" || code == "301" || code == "MovedPermanently":
		return fail("template bucket %s is not in region %s: set stacker_bucket_region to the bucket's region", c.Name, c.Region)
	default:
		return fail("check template bucket %s (profile %s): %v", c.Name, c.Profile, err)
	}
	if len(foreign) == 0 {
		return nil, nil
	}
	pa, ok := c.API.(PolicyAPI)
	if !ok {
		return nil, nil
	}
	out, err := pa.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String(c.Name)})
	policy := ""
	switch code := awserr.Code(err); {
	case err == nil:
		policy = aws.ToString(out.Policy)
	case code == "NoSuchBucketPolicy":
	case ctx.Err() != nil:
		return nil, ctx.Err()
	default:
		return []string{fmt.Sprintf("template bucket %s: could not read its policy to check that CloudFormation in %s may read templates (%v)", c.Name, readersText(foreign), err)}, nil
	}
	var problems config.Errors
	for _, r := range foreign {
		if PolicyAllowsGet(policy, c.Name, r.Account, r.RoleARN) {
			continue
		}
		problems = append(problems, &Problem{Msg: fmt.Sprintf(
			"template bucket %s (account %s): CloudFormation in account %s (stacks %s) cannot read templates from it as %s; add to its bucket policy the statement "+
				`{"Effect": "Allow", "Principal": {"AWS": %q}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::%s/*"}`+
				" (in stacker's cross-account example: add the role to the Roles variable of the stacker-bucket stack)",
			c.Name, c.Account, r.Account, strings.Join(r.Stacks, ", "), r.RoleARN, r.RoleARN, c.Name)})
	}
	if len(problems) > 0 {
		return nil, &Problems{problems}
	}
	return nil, nil
}

func readersText(rs []Reader) string {
	var parts []string
	for _, r := range rs {
		parts = append(parts, fmt.Sprintf("account %s (stacks %s)", r.Account, strings.Join(r.Stacks, ", ")))
	}
	return strings.Join(parts, " and ")
}

func principalsText(rs []Reader) string {
	var parts []string
	for _, r := range rs {
		parts = append(parts, r.RoleARN)
	}
	return strings.Join(parts, ", ")
}

// bucketNameProblem says why name is not a valid S3 bucket name, or "".
func bucketNameProblem(name string) string {
	switch {
	case len(name) < 3 || len(name) > 63:
		return "a bucket name has 3 to 63 characters"
	case strings.Contains(name, ".."):
		return "a bucket name has no two adjacent periods"
	case net.ParseIP(name) != nil:
		return "a bucket name is not an IP address"
	}
	for i, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || (r == '.' || r == '-') && i > 0 && i < len(name)-1
		if !ok {
			return "a bucket name has only lowercase letters, digits, periods and hyphens, and begins and ends with a letter or digit"
		}
	}
	return ""
}

// PolicyAllowsGet reports whether the bucket policy (JSON) has an Allow
// statement giving s3:GetObject on the bucket's objects to the role (or its
// account, or everyone), and no Deny statement refusing it. Statements
// with a Condition are taken as allowing (their conditions cannot be judged
// before the call). An empty or unparsable policy allows nothing.
func PolicyAllowsGet(policy, bucket, account, roleARN string) bool {
	var doc struct {
		Statement json.RawMessage
	}
	if json.Unmarshal([]byte(policy), &doc) != nil {
		return false
	}
	var stmts []policyStatement
	if json.Unmarshal(doc.Statement, &stmts) != nil {
		var one policyStatement
		if json.Unmarshal(doc.Statement, &one) != nil {
			return false
		}
		stmts = []policyStatement{one}
	}
	object := "arn:aws:s3:::" + bucket + "/stack_templates/x.json"
	allowed := false
	for _, s := range stmts {
		if len(s.NotAction) > 0 || len(s.NotResource) > 0 || s.NotPrincipal != nil {
			continue // not judged: neither grants nor refuses here
		}
		if !anyMatch(s.Action, "s3:GetObject", true) || !anyMatch(s.Resource, object, false) || !principalMatches(s.Principal, account, roleARN) {
			continue
		}
		switch s.Effect {
		case "Deny":
			if len(s.Condition) == 0 {
				return false
			}
		case "Allow":
			allowed = true
		}
	}
	return allowed
}

type policyStatement struct {
	Effect       string
	Principal    json.RawMessage
	NotPrincipal json.RawMessage
	Action       stringList
	NotAction    stringList
	Resource     stringList
	NotResource  stringList
	Condition    map[string]json.RawMessage
}

// stringList is a policy field that is a string or a list of strings.
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*l = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*l = many
	return nil
}

func anyMatch(patterns []string, s string, fold bool) bool {
	for _, p := range patterns {
		if fold {
			p, s = strings.ToLower(p), strings.ToLower(s)
		}
		if wildcard(p, s) {
			return true
		}
	}
	return false
}

// wildcard matches IAM's * and ? (path.Match treats / specially and knows
// [...]; neither applies to IAM, so both are escaped first).
func wildcard(p, s string) bool {
	var b strings.Builder
	for _, r := range p {
		switch r {
		case '*':
			b.WriteString("*")
		case '?':
			b.WriteString("?")
		case '[', ']', '\\', '-', '^':
			b.WriteString(`\`)
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	// path.Match's * stops at '/': match segment-free by replacing '/'.
	ok, err := path.Match(strings.ReplaceAll(b.String(), "/", "\x00"), strings.ReplaceAll(s, "/", "\x00"))
	return err == nil && ok
}

func principalMatches(raw json.RawMessage, account, roleARN string) bool {
	if len(raw) == 0 {
		return false
	}
	var star string
	if json.Unmarshal(raw, &star) == nil {
		return star == "*"
	}
	var m map[string]stringList
	if json.Unmarshal(raw, &m) != nil {
		return false
	}
	return slices.ContainsFunc(m["AWS"], func(p string) bool {
		p = strings.TrimSpace(p)
		return p == "*" || p == roleARN || p == account || p == "arn:aws:iam::"+account+":root"
	})
}
