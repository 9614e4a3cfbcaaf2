// Package platform is the contract between the sandbox's server (routing,
// SigV4, accounts, IAM, STS, S3, policy evaluation, faults, admin API: the
// package sandbox and its subpackages) and its CloudFormation service
// (package sandbox/cloudformation). The CloudFormation service codes against
// these interfaces only; the server implements them.
package platform

import (
	"net/http"
	"net/url"
	"time"
)

// Principal is an authenticated caller.
type Principal struct {
	Account     string // 12-digit account id
	ARN         string // arn:aws:iam::ACCT:user/NAME or arn:aws:sts::ACCT:assumed-role/ROLE/SESSION or arn:aws:iam::ACCT:root
	UserID      string // AIDA... / AROA...:session
	Kind        string // "user", "assumed-role", "root", "federated-user"
	UserName    string // for users
	RoleName    string // for assumed roles
	RoleARN     string // arn:aws:iam::ACCT:role/NAME for assumed roles
	SessionName string
	AccessKeyID string
	// MFA context, carried through role sessions chained from an MFA session.
	MFAPresent  bool
	MFAAuthTime time.Time
	// ChainedRole is true for a role session obtained with role credentials.
	ChainedRole bool
	Expiration  time.Time // zero for long-term keys
}

// Call is one authenticated API request routed to a service.
type Call struct {
	Principal Principal
	Region    string
	Service   string // "cloudformation", "sts", "iam", "s3"
	Action    string // e.g. "CreateStack"
	Form      url.Values
	RequestID string
	HTTP      *http.Request
	// Body is the decoded request payload (aws-chunked bodies unwrapped);
	// Form holds it parsed for the query protocols.
	Body []byte
	// Anonymous is true for an unsigned request (S3 only; Principal is then zero).
	Anonymous bool
}

// Decision is the result of a policy evaluation.
type Decision struct {
	Allowed bool
	// Reason is AWS's wording of a denial, e.g.
	// "User: arn:... is not authorized to perform: cloudformation:CreateStack on resource: arn:... because no identity-based policy allows the cloudformation:CreateStack action"
	Reason string
}

// Authorizer evaluates identity (and, for S3, resource) policies.
type Authorizer interface {
	// Authorize checks whether p may perform action ("cloudformation:CreateStack")
	// on resource (an ARN, or "*"). context keys (aws:* and service keys) are
	// added by the implementation from p; extra may add more.
	Authorize(p Principal, action, resource string, extra map[string][]string) Decision
}

// RoleSpec describes an IAM role created by a stack.
type RoleSpec struct {
	Name                     string
	Path                     string
	AssumeRolePolicyDocument string // JSON
	Description              string
	MaxSessionDuration       int
	ManagedPolicyARNs        []string
	InlinePolicies           map[string]string // name -> JSON document
	Tags                     map[string]string
}

// IAM is the subset of the sandbox's IAM the CloudFormation service drives.
// Every method works in the given account; errors carry AWS's code and
// message (see APIError).
type IAM interface {
	CreateRole(account string, r RoleSpec) (arn, roleID string, err error)
	UpdateRole(account string, r RoleSpec) error // replaces trust, policies, tags
	DeleteRole(account, name string) error
	PutRolePolicy(account, role, policyName, document string) error
	DeleteRolePolicy(account, role, policyName string) error
	// Managed policies (AWS::IAM::ManagedPolicy).
	CreatePolicy(account, name, path, document string) (arn string, err error)
	UpdatePolicy(account, arn, document string) error
	DeletePolicy(account, arn string) error
	AttachRolePolicy(account, role, policyARN string) error
	DetachRolePolicy(account, role, policyARN string) error
	AttachUserPolicy(account, user, policyARN string) error
	DetachUserPolicy(account, user, policyARN string) error
	// Users and keys.
	CreateUser(account, name, path string) (arn, userID string, err error)
	DeleteUser(account, name string) error
	PutUserPolicy(account, user, policyName, document string) error
	DeleteUserPolicy(account, user, policyName string) error
	CreateAccessKey(account, user string) (keyID, secret string, err error)
	DeleteAccessKey(account, user, keyID string) error
	// Instance profiles.
	CreateInstanceProfile(account, name, path string, roles []string) (arn string, err error)
	DeleteInstanceProfile(account, name string) error
	// RoleARN returns the ARN of an existing role, for GetAtt.
	RoleARN(account, name string) (string, bool)
	// AssumeServiceRole is a service (servicePrincipal, e.g.
	// "cloudformation.amazonaws.com") assuming the role roleARN: ok is
	// false unless the role exists and its trust policy allows the service.
	// The principal is the role's session named session.
	AssumeServiceRole(roleARN, servicePrincipal, session string) (p Principal, ok bool)
}

// BucketSpec describes a bucket created by a stack.
type BucketSpec struct {
	Name              string
	Region            string
	SSEAlgorithm      string // "" for none, "AES256" or "aws:kms"
	BlockPublicAccess bool
	Tags              map[string]string
}

// S3 is the subset of the sandbox's S3 the CloudFormation service drives.
type S3 interface {
	CreateBucket(account string, b BucketSpec) error // BucketAlreadyExists etc. as APIError
	DeleteBucket(account, name string) error         // BucketNotEmpty as APIError
	PutBucketPolicy(account, bucket, policy string) error
	DeleteBucketPolicy(account, bucket string) error
	// GetObjectAs reads an object as principal p, evaluating the bucket
	// policy together with p's identity policies. Errors are APIError with
	// code AccessDenied, NoSuchBucket or NoSuchKey.
	GetObjectAs(p Principal, bucket, key, versionID string) ([]byte, error)
	// BucketRegion returns the bucket's region.
	BucketRegion(bucket string) (string, bool)
}

// Clock is the sandbox's controllable clock.
type Clock interface {
	Now() time.Time
	// After is like time.After on the sandbox clock: advancing the clock
	// through the admin API fires it early.
	After(d time.Duration) <-chan time.Time
}

// FailureRule makes a resource fail (declared in the spec or added with the
// admin API). Empty fields match everything; Stack and Resource are globs.
type FailureRule struct {
	ID        string `json:"id,omitempty" yaml:"id,omitempty"`
	Account   string `json:"account,omitempty" yaml:"account,omitempty"`
	Region    string `json:"region,omitempty" yaml:"region,omitempty"`
	Stack     string `json:"stack,omitempty" yaml:"stack,omitempty"`
	Resource  string `json:"resource,omitempty" yaml:"resource,omitempty"`   // logical id
	Type      string `json:"type,omitempty" yaml:"type,omitempty"`           // resource type
	Operation string `json:"operation,omitempty" yaml:"operation,omitempty"` // create, update, delete
	Message   string `json:"message,omitempty" yaml:"message,omitempty"`
	// Times limits how often the rule fires (0 = always).
	Times int `json:"times,omitempty" yaml:"times,omitempty"`
}

// LatencyModel is how long resource operations take.
type LatencyModel struct {
	// Default per resource operation.
	Default time.Duration `json:"default" yaml:"default"`
	// ByType overrides per resource type ("AWS::EC2::VPC": 2s).
	ByType map[string]time.Duration `json:"by_type,omitempty" yaml:"by_type,omitempty"`
	// ByStack overrides per stack name glob.
	ByStack map[string]time.Duration `json:"by_stack,omitempty" yaml:"by_stack,omitempty"`
	// StackTime is the backend time of a whole stack operation, per stack
	// name glob: the operation waits this long (on the sandbox clock)
	// before its resources start, so a stack's create, update or delete
	// takes StackTime plus its resources' latencies. Scale applies.
	StackTime map[string]time.Duration `json:"stack_time,omitempty" yaml:"stack_time,omitempty"`
	// Scale multiplies every latency (0 is treated as 1; use a tiny value for ~0).
	Scale float64 `json:"scale,omitempty" yaml:"scale,omitempty"`
}

// Faults gives the CloudFormation service the failure and latency rules in force.
type Faults interface {
	// MatchFailure returns the first rule matching and consumes one use of it.
	MatchFailure(account, region, stack, logicalID, resourceType, operation string) (FailureRule, bool)
	Latency(stack, resourceType string) time.Duration
	// StackLatency is the backend time of a stack operation (LatencyModel.StackTime).
	StackLatency(stack string) time.Duration
}

// APIError is an error in AWS's terms; the server writes it in the
// protocol of the service that returns it.
type APIError struct {
	Status  int    // HTTP status
	Code    string // e.g. "ValidationError"
	Message string
	Sender  bool // "Sender" vs "Receiver" fault type
}

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

// Platform is everything a service gets from the server.
type Platform struct {
	Auth   Authorizer
	IAM    IAM
	S3     S3
	Clock  Clock
	Faults Faults
	// Accounts returns the ids of all accounts.
	Accounts func() []string
	// Endpoint is the server's base URL (http://127.0.0.1:PORT), for
	// recognising TemplateURLs that point at the sandbox's S3.
	Endpoint func() string
}

// Protocol is the wire protocol a service speaks. The server reads the
// action of a request by it and writes a service's errors in it.
type Protocol int

const (
	// ProtocolQuery is AWS's query protocol (STS, IAM, CloudFormation):
	// form-encoded Action=..., XML <ActionResponse> or <ErrorResponse>.
	ProtocolQuery Protocol = iota
	// ProtocolEC2 is EC2's query dialect: errors are
	// <Response><Errors><Error>... with the request id in <RequestID>.
	ProtocolEC2
	// ProtocolJSON is awsJson1.1 (SSM, ECS): the action is named by the
	// X-Amz-Target header "Prefix.Action"; errors are {"__type","message"}.
	ProtocolJSON
	// ProtocolRESTXML is REST with XML bodies (Route53): the service names
	// the action from method and path (Operation); errors are
	// <ErrorResponse><Error><Type><Code><Message>.
	ProtocolRESTXML
	// ProtocolS3 is S3's REST XML: errors are <Error><Code><Message>.
	ProtocolS3
)

// Service is what the server routes calls to, one per SigV4 service name
// (the credential scope's service). Every service has the same shape: an
// action table (see Actions) behind Serve, which writes the response or
// returns an *APIError that the server writes in the service's protocol.
// Adding a service is: a package (or, for services that share the
// account state of IAM, a file set in package sandbox) with a Service
// implementation and its Actions table, registered in sandbox.New.
type Service interface {
	Name() string
	Protocol() Protocol
	Serve(w http.ResponseWriter, c *Call) error
}

// Operator is implemented by REST services (Protocol RESTXML and S3),
// whose action is not in the request's form or headers: it names the
// operation of a request (for the request log, throttling and faults), or
// "" when the request matches none.
type Operator interface {
	Operation(r *http.Request) string
}

// Stateful is implemented by services that hold their own state (not the
// server's shared account, IAM and S3 state): the server snapshots it for
// --state-dir and clears it on Reset.
type Stateful interface {
	Snapshot() ([]byte, error)
	Restore(data []byte) error
	// Reset clears all state.
	Reset()
}

// Actions is a service's action table: action name to handler. R is the
// service's per-request type (the call with the service and whatever the
// handlers share, e.g. the caller's account and region).
type Actions[R any] map[string]func(r R, w http.ResponseWriter) error

// Serve dispatches to the handler of action, or returns unknown(action)
// (the service's own "no such action" error) when the table has none.
func (a Actions[R]) Serve(r R, action string, w http.ResponseWriter, unknown func(action string) error) error {
	h, ok := a[action]
	if !ok {
		return unknown(action)
	}
	return h(r, w)
}

// Drifter is implemented by the CloudFormation service so the admin API can
// change a resource behind its stack's back (drift detection).
type Drifter interface {
	// Tamper sets property prop of resource logicalID of stack in account/region
	// to value (JSON), or deletes the resource when prop is "" and value is nil.
	Tamper(account, region, stack, logicalID, prop string, value any) error
}
