package sandbox

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"

	"gopkg.in/yaml.v3"

	"github.com/stacker-go/stacker/internal/sandbox/platform"
)

// DefaultMFASeed is the base32 TOTP seed (RFC 6238: SHA1, 30 s, 6 digits)
// of the default virtual MFA device arn:aws:iam::111111111111:mfa/admin.
// It is fixed and public: `stacker sandbox totp` prints its current code.
const DefaultMFASeed = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

// AdministratorAccessARN is the AWS-managed administrator policy every
// account knows.
const AdministratorAccessARN = "arn:aws:iam::aws:policy/AdministratorAccess"

// Spec declares accounts, users, devices, roles, buckets and faults.
type Spec struct {
	Accounts []AccountSpec `yaml:"accounts" json:"accounts"`
	// Latency of CloudFormation resource operations.
	Latency platform.LatencyModel `yaml:"latency" json:"latency"`
	// Failures make CloudFormation resources fail.
	Failures []platform.FailureRule `yaml:"failures" json:"failures,omitempty"`
	// Throttling rules (off when empty).
	Throttling []ThrottleRule `yaml:"throttling" json:"throttling,omitempty"`
	// Faults: seeded random server errors and dropped connections.
	Faults FaultSpec `yaml:"faults" json:"faults"`
	// RejectMFAReuse makes a TOTP code usable once per device, as AWS does.
	// Off by default so that scripts may use one code for several calls.
	RejectMFAReuse bool `yaml:"reject_mfa_reuse" json:"reject_mfa_reuse,omitempty"`
}

// AccountSpec is one account.
type AccountSpec struct {
	Name    string       `yaml:"name" json:"name"`
	ID      string       `yaml:"id" json:"id"`
	Users   []UserSpec   `yaml:"users" json:"users,omitempty"`
	Roles   []RoleSpec   `yaml:"roles" json:"roles,omitempty"`
	Buckets []BucketSpec `yaml:"buckets" json:"buckets,omitempty"`
}

// UserSpec is an IAM user.
type UserSpec struct {
	Name string `yaml:"name" json:"name"`
	Path string `yaml:"path" json:"path,omitempty"`
	// Admin attaches AdministratorAccess.
	Admin           bool                 `yaml:"admin" json:"admin,omitempty"`
	Policies        map[string]PolicyDoc `yaml:"policies" json:"policies,omitempty"`
	ManagedPolicies []string             `yaml:"managed_policies" json:"managed_policies,omitempty"`
	// AccessKeys: when empty, one key is generated.
	AccessKeys []AccessKeySpec `yaml:"access_keys" json:"access_keys,omitempty"`
	// MFA: virtual MFA devices of the user.
	MFA []MFASpec `yaml:"mfa" json:"mfa,omitempty"`
}

// AccessKeySpec is a fixed access key.
type AccessKeySpec struct {
	ID     string `yaml:"id" json:"id"`
	Secret string `yaml:"secret" json:"secret"`
}

// MFASpec is a virtual MFA device. Serial defaults to
// arn:aws:iam::ACCOUNT:mfa/USER; Seed is base32.
type MFASpec struct {
	Serial string `yaml:"serial" json:"serial,omitempty"`
	Seed   string `yaml:"seed" json:"seed"`
}

// RoleSpec is an IAM role.
type RoleSpec struct {
	Name               string               `yaml:"name" json:"name"`
	Path               string               `yaml:"path" json:"path,omitempty"`
	TrustPolicy        PolicyDoc            `yaml:"trust_policy" json:"trust_policy"`
	Policies           map[string]PolicyDoc `yaml:"policies" json:"policies,omitempty"`
	ManagedPolicies    []string             `yaml:"managed_policies" json:"managed_policies,omitempty"`
	MaxSessionDuration int                  `yaml:"max_session_duration" json:"max_session_duration,omitempty"`
}

// BucketSpec is an S3 bucket.
type BucketSpec struct {
	Name   string    `yaml:"name" json:"name"`
	Region string    `yaml:"region" json:"region,omitempty"`
	Policy PolicyDoc `yaml:"policy" json:"policy,omitempty"`
}

// ThrottleRule throttles matching calls. Empty fields match everything;
// Service and Action are globs. Rate (requests per second, per
// (account, region, action)) with Burst uses a token bucket; Probability
// throttles that fraction of calls at random (seeded). Either may be set.
type ThrottleRule struct {
	ID          string  `yaml:"id" json:"id,omitempty"`
	Account     string  `yaml:"account" json:"account,omitempty"`
	Region      string  `yaml:"region" json:"region,omitempty"`
	Service     string  `yaml:"service" json:"service,omitempty"`
	Action      string  `yaml:"action" json:"action,omitempty"`
	Rate        float64 `yaml:"rate" json:"rate,omitempty"`
	Burst       int     `yaml:"burst" json:"burst,omitempty"`
	Probability float64 `yaml:"probability" json:"probability,omitempty"`
}

// FaultSpec injects random faults into API calls (not the admin API).
type FaultSpec struct {
	Seed int64 `yaml:"seed" json:"seed"`
	// ErrorRate is the fraction of calls answered with a 500
	// InternalFailure (InternalError for S3).
	ErrorRate float64 `yaml:"error_rate" json:"error_rate,omitempty"`
	// DropRate is the fraction of calls whose connection is closed
	// without a response.
	DropRate float64 `yaml:"drop_rate" json:"drop_rate,omitempty"`
	// Rules inject one kind of fault into the matching calls only, each at
	// its own rate, drawn from the same seeded generator.
	Rules []FaultRule `yaml:"rules" json:"rules,omitempty"`
}

// FaultRule injects one kind of fault at a rate into the calls it matches
// (account, region, service and action; service and action are globs,
// empty matches all).
type FaultRule struct {
	// Kind is "throttle" (400 Throttling "Rate exceeded"; S3: 503
	// SlowDown), "error" (500 InternalFailure; S3: InternalError),
	// "drop" (the connection is closed without a response) or "lost" (the
	// service performs the call, then the connection is closed without a
	// response: the call took effect but its answer is lost).
	Kind    string  `yaml:"kind" json:"kind"`
	Account string  `yaml:"account" json:"account,omitempty"`
	Region  string  `yaml:"region" json:"region,omitempty"`
	Service string  `yaml:"service" json:"service,omitempty"`
	Action  string  `yaml:"action" json:"action,omitempty"`
	Rate    float64 `yaml:"rate" json:"rate"` // fraction of matching calls, 0 to 1
}

// PolicyDoc is a policy document given in YAML as a mapping or as a JSON
// string; it holds JSON.
type PolicyDoc string

// UnmarshalYAML accepts a mapping or a string.
func (p *PolicyDoc) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*p = PolicyDoc(n.Value)
		return nil
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("line %d: policy: %w", n.Line, err)
	}
	*p = PolicyDoc(b)
	return nil
}

// DefaultSpec is master 111111111111, prod 222222222222, stage
// 333333333333, each with an administrator user "admin" and one access key;
// master's admin has the virtual MFA device arn:aws:iam::111111111111:mfa/admin
// with seed DefaultMFASeed.
func DefaultSpec() *Spec {
	acct := func(name, id string, mfa bool) AccountSpec {
		u := UserSpec{Name: "admin", Admin: true, AccessKeys: []AccessKeySpec{DefaultAccessKey(id)}}
		if mfa {
			u.MFA = []MFASpec{{Serial: "arn:aws:iam::" + id + ":mfa/admin", Seed: DefaultMFASeed}}
		}
		return AccountSpec{Name: name, ID: id, Users: []UserSpec{u}}
	}
	return &Spec{
		Accounts: []AccountSpec{
			acct("master", "111111111111", true),
			acct("prod", "222222222222", false),
			acct("stage", "333333333333", false),
		},
		Latency: platform.LatencyModel{Default: 0},
	}
}

// DefaultAccessKey is the fixed, documented access key of the admin user
// of a default account: AKIASANDBOX + the first 9 digits of the account id,
// secret "sandbox/" + account id + "/admin/secret-key-0000" (40 characters).
// They are sandbox-only and not secret.
func DefaultAccessKey(account string) AccessKeySpec {
	id := account
	if len(id) > 9 {
		id = id[:9]
	}
	secret := "sandbox/" + account + "/admin/secret-key-0000"
	for len(secret) < 40 {
		secret += "0"
	}
	return AccessKeySpec{ID: "AKIASANDBOX" + id, Secret: secret[:40]}
}

// LoadSpec reads a YAML spec.
func LoadSpec(path string) (*Spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read sandbox spec: %w", err)
	}
	return ParseSpec(b, path)
}

// ParseSpec parses a YAML spec; name is used in errors.
func ParseSpec(b []byte, name string) (*Spec, error) {
	var s Spec
	dec := yaml.NewDecoder(bytesReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &s, nil
}

var (
	accountIDRe = regexp.MustCompile(`^[0-9]{12}$`)
	iamNameRe   = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
)

// Validate checks names, ids and policies.
func (s *Spec) Validate() error {
	if err := s.Faults.validate(); err != nil {
		return err
	}
	if len(s.Accounts) == 0 {
		return fmt.Errorf("spec declares no accounts")
	}
	names, ids := map[string]bool{}, map[string]bool{}
	for _, a := range s.Accounts {
		if err := a.validate(); err != nil {
			return err
		}
		if names[a.Name] || ids[a.ID] {
			return fmt.Errorf("account %s (%s) declared twice", a.Name, a.ID)
		}
		names[a.Name], ids[a.ID] = true, true
	}
	for _, t := range s.Throttling {
		if t.Rate < 0 || t.Probability < 0 || t.Probability > 1 {
			return fmt.Errorf("throttling rule %q: rate must be >= 0 and probability in [0,1]", t.ID)
		}
	}
	if s.Faults.ErrorRate < 0 || s.Faults.ErrorRate > 1 || s.Faults.DropRate < 0 || s.Faults.DropRate > 1 {
		return fmt.Errorf("faults: rates must be in [0,1]")
	}
	return nil
}

func (a *AccountSpec) validate() error {
	if !accountIDRe.MatchString(a.ID) {
		return fmt.Errorf("account %q: id %q is not 12 digits", a.Name, a.ID)
	}
	if a.Name == "" {
		return fmt.Errorf("account %s: name is empty", a.ID)
	}
	for _, u := range a.Users {
		if !iamNameRe.MatchString(u.Name) {
			return fmt.Errorf("account %s: user name %q is invalid", a.Name, u.Name)
		}
		for _, m := range u.MFA {
			if _, err := decodeSeed(m.Seed); err != nil {
				return fmt.Errorf("account %s: user %s: MFA seed: %w", a.Name, u.Name, err)
			}
		}
		for pn, d := range u.Policies {
			if err := checkPolicy(string(d)); err != nil {
				return fmt.Errorf("account %s: user %s: policy %s: %w", a.Name, u.Name, pn, err)
			}
		}
	}
	for _, r := range a.Roles {
		if !iamNameRe.MatchString(r.Name) {
			return fmt.Errorf("account %s: role name %q is invalid", a.Name, r.Name)
		}
		if err := checkPolicy(string(r.TrustPolicy)); err != nil {
			return fmt.Errorf("account %s: role %s: trust_policy: %w", a.Name, r.Name, err)
		}
		for pn, d := range r.Policies {
			if err := checkPolicy(string(d)); err != nil {
				return fmt.Errorf("account %s: role %s: policy %s: %w", a.Name, r.Name, pn, err)
			}
		}
	}
	for _, b := range a.Buckets {
		if !validBucketName(b.Name) {
			return fmt.Errorf("account %s: bucket name %q is invalid", a.Name, b.Name)
		}
		if b.Policy != "" {
			if err := checkPolicy(string(b.Policy)); err != nil {
				return fmt.Errorf("account %s: bucket %s: policy: %w", a.Name, b.Name, err)
			}
		}
	}
	return nil
}

// UnmarshalJSON accepts a JSON object or a string holding a document.
func (p *PolicyDoc) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*p = PolicyDoc(s)
		return nil
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*p = PolicyDoc(b)
	return nil
}

func (f FaultSpec) validate() error {
	for i, r := range f.Rules {
		switch r.Kind {
		case "throttle", "error", "drop", "lost":
		default:
			return fmt.Errorf("faults.rules[%d]: kind %q is not throttle, error, drop or lost", i, r.Kind)
		}
		if r.Rate < 0 || r.Rate > 1 {
			return fmt.Errorf("faults.rules[%d]: rate %v is not between 0 and 1", i, r.Rate)
		}
	}
	if f.ErrorRate < 0 || f.ErrorRate > 1 || f.DropRate < 0 || f.DropRate > 1 {
		return fmt.Errorf("faults: error_rate and drop_rate must be between 0 and 1")
	}
	return nil
}
