package sandbox

import (
	"crypto/rand"
	"encoding/base64"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/stacker-go/stacker/internal/sandbox/platform"
	"github.com/stacker-go/stacker/internal/sandbox/policy"
)

// state is everything the platform services hold. It is guarded by
// Server.mu and serialised as JSON for --state-dir.
type state struct {
	Accounts map[string]*acctState `json:"accounts"` // by id
	Keys     map[string]*accessKey `json:"keys"`     // by access key id
	Sessions map[string]*session   `json:"sessions"` // by access key id
	Buckets  map[string]*bucket    `json:"buckets"`  // by name (global)
	// UsedMFA records consumed TOTP windows per device serial (only with
	// Spec.RejectMFAReuse).
	UsedMFA map[string]uint64 `json:"used_mfa,omitempty"`
}

type acctState struct {
	ID       string                      `json:"id"`
	Name     string                      `json:"name"`
	Users    map[string]*user            `json:"users"`
	Roles    map[string]*role            `json:"roles"`
	Policies map[string]*managedPolicy   `json:"policies"` // by ARN
	MFA      map[string]*mfaDevice       `json:"mfa"`      // by serial
	Profiles map[string]*instanceProfile `json:"instance_profiles"`
	// ServerCerts are IAM server certificates by name.
	ServerCerts map[string]*serverCert `json:"server_certs,omitempty"`
}

type serverCert struct {
	Name     string    `json:"name"`
	Path     string    `json:"path"`
	ID       string    `json:"id"`
	ARN      string    `json:"arn"`
	Body     string    `json:"body"`
	Chain    string    `json:"chain,omitempty"`
	Key      string    `json:"key"` // the private key, never returned by the API
	Uploaded time.Time `json:"uploaded"`
	Expires  time.Time `json:"expires"`
}

type user struct {
	Name     string            `json:"name"`
	Path     string            `json:"path"`
	ID       string            `json:"id"`
	ARN      string            `json:"arn"`
	Created  time.Time         `json:"created"`
	Inline   map[string]string `json:"inline"`
	Attached []string          `json:"attached"`
}

type accessKey struct {
	ID      string    `json:"id"`
	Secret  string    `json:"secret"`
	Account string    `json:"account"`
	User    string    `json:"user"`
	Status  string    `json:"status"`
	Created time.Time `json:"created"`
}

type session struct {
	KeyID     string             `json:"key_id"`
	Secret    string             `json:"secret"`
	Token     string             `json:"token"`
	Principal platform.Principal `json:"principal"`
}

type role struct {
	Name        string            `json:"name"`
	Path        string            `json:"path"`
	ID          string            `json:"id"`
	ARN         string            `json:"arn"`
	Trust       string            `json:"trust"`
	Description string            `json:"description,omitempty"`
	MaxSession  int               `json:"max_session"`
	Created     time.Time         `json:"created"`
	Inline      map[string]string `json:"inline"`
	Attached    []string          `json:"attached"`
	Tags        map[string]string `json:"tags,omitempty"`
}

type managedPolicy struct {
	Name     string    `json:"name"`
	Path     string    `json:"path"`
	ID       string    `json:"id"`
	ARN      string    `json:"arn"`
	Document string    `json:"document"`
	Version  int       `json:"version"`
	Created  time.Time `json:"created"`
	Updated  time.Time `json:"updated"`
}

type mfaDevice struct {
	Serial  string    `json:"serial"`
	Seed    string    `json:"seed"`
	User    string    `json:"user,omitempty"` // "" until enabled
	Enabled time.Time `json:"enabled"`
}

type instanceProfile struct {
	Name  string   `json:"name"`
	Path  string   `json:"path"`
	ID    string   `json:"id"`
	ARN   string   `json:"arn"`
	Roles []string `json:"roles"`
}

type bucket struct {
	Name    string             `json:"name"`
	Account string             `json:"account"`
	Region  string             `json:"region"`
	Created time.Time          `json:"created"`
	Policy  string             `json:"policy,omitempty"`
	SSE     string             `json:"sse,omitempty"` // raw XML of ServerSideEncryptionConfiguration
	PAB     string             `json:"pab,omitempty"` // raw XML of PublicAccessBlockConfiguration
	Tags    map[string]string  `json:"tags,omitempty"`
	Objects map[string]*object `json:"objects"`
}

type object struct {
	Key          string            `json:"key"`
	Data         []byte            `json:"data"`
	ETag         string            `json:"etag"`
	VersionID    string            `json:"version_id"`
	ContentType  string            `json:"content_type,omitempty"`
	LastModified time.Time         `json:"last_modified"`
	Meta         map[string]string `json:"meta,omitempty"`
}

func newState() *state {
	return &state{
		Accounts: map[string]*acctState{},
		Keys:     map[string]*accessKey{},
		Sessions: map[string]*session{},
		Buckets:  map[string]*bucket{},
		UsedMFA:  map[string]uint64{},
	}
}

func newAccount(id, name string) *acctState {
	return &acctState{
		ID: id, Name: name,
		Users:       map[string]*user{},
		Roles:       map[string]*role{},
		Policies:    map[string]*managedPolicy{},
		MFA:         map[string]*mfaDevice{},
		Profiles:    map[string]*instanceProfile{},
		ServerCerts: map[string]*serverCert{},
	}
}

// awsManaged are the AWS-managed policies every account can attach.
var awsManaged = map[string]string{
	AdministratorAccessARN:                    `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`,
	"arn:aws:iam::aws:policy/ReadOnlyAccess":  `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["*:Get*","*:List*","*:Describe*"],"Resource":"*"}]}`,
	"arn:aws:iam::aws:policy/PowerUserAccess": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":["iam:*","organizations:*","account:*"],"Resource":"*"},{"Effect":"Allow","Action":["iam:CreateServiceLinkedRole","iam:DeleteServiceLinkedRole","iam:ListRoles","organizations:DescribeOrganization","account:ListRegions"],"Resource":"*"}]}`,
}

const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

func randomID(prefix string, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	var sb strings.Builder
	sb.WriteString(prefix)
	for _, c := range b {
		sb.WriteByte(idAlphabet[int(c)%len(idAlphabet)])
	}
	return sb.String()
}

func randomSecret() string {
	b := make([]byte, 30)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

func randomToken() string {
	b := make([]byte, 96)
	_, _ = rand.Read(b)
	return "FwoGZXIvYXdzE" + base64.StdEncoding.EncodeToString(b)
}

// policiesOf returns the parsed identity policies of a principal. Caller
// holds s.mu.
func (st *state) policiesOf(p platform.Principal) []*policy.Document {
	a := st.Accounts[p.Account]
	if a == nil {
		return nil
	}
	var inline map[string]string
	var attached []string
	switch p.Kind {
	case "user":
		u := a.Users[p.UserName]
		if u == nil {
			return nil
		}
		inline, attached = u.Inline, u.Attached
	case "assumed-role":
		r := a.Roles[p.RoleName]
		if r == nil {
			return nil
		}
		inline, attached = r.Inline, r.Attached
	default:
		return nil
	}
	var docs []*policy.Document
	for _, name := range slices.Sorted(maps.Keys(inline)) {
		if d, err := cachedParse(inline[name]); err == nil {
			docs = append(docs, d)
		}
	}
	for _, arn := range attached {
		doc, ok := awsManaged[arn]
		if !ok {
			if mp := a.Policies[arn]; mp != nil {
				doc = mp.Document
			}
		}
		if doc == "" {
			continue
		}
		if d, err := cachedParse(doc); err == nil {
			docs = append(docs, d)
		}
	}
	return docs
}
