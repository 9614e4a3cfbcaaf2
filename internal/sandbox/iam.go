package sandbox

import (
	"encoding/base64"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/stacker-go/stacker/internal/sandbox/platform"
	"github.com/stacker-go/stacker/internal/sandbox/policy"
)

// IAM error helpers (AWS's words).
func noSuchEntity(msg string) *platform.APIError { return apiErr(404, "NoSuchEntity", msg) }
func entityExists(msg string) *platform.APIError { return apiErr(409, "EntityAlreadyExists", msg) }
func malformedPolicy(err error) *platform.APIError {
	return apiErr(400, "MalformedPolicyDocument", "Syntax errors in policy. "+err.Error())
}

const iamTime = "2006-01-02T15:04:05Z"

// iamAPI implements platform.IAM on the server's state.
type iamAPI Server

func (s *Server) accountLocked(id string) (*acctState, *platform.APIError) {
	a := s.st.Accounts[id]
	if a == nil {
		return nil, apiErr(400, "InvalidClientTokenId", "account "+id+" does not exist")
	}
	return a, nil
}

func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

// --- core operations shared by the IAM API and platform.IAM -------------

func (s *Server) createRole(acct string, r platform.RoleSpec) (*role, error) {
	if !iamNameRe.MatchString(r.Name) {
		return nil, constraint(r.Name, "roleName", `Member must satisfy regular expression pattern: [\w+=,.@-]+`)
	}
	if err := checkPolicy(r.AssumeRolePolicyDocument); err != nil {
		return nil, malformedPolicy(err)
	}
	for _, d := range r.InlinePolicies {
		if err := checkPolicy(d); err != nil {
			return nil, malformedPolicy(err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, aerr := s.accountLocked(acct)
	if aerr != nil {
		return nil, aerr
	}
	if _, ok := a.Roles[r.Name]; ok {
		return nil, entityExists("Role with name " + r.Name + " already exists.")
	}
	for _, arn := range r.ManagedPolicyARNs {
		if !s.policyExistsLocked(a, arn) {
			return nil, noSuchEntity("Policy " + arn + " does not exist or is not attachable.")
		}
	}
	max := r.MaxSessionDuration
	if max == 0 {
		max = 3600
	}
	if max < 3600 || max > 43200 {
		return nil, constraint(strconv.Itoa(max), "maxSessionDuration", "Member must have value less than or equal to 43200")
	}
	path := cleanPath(r.Path)
	ro := &role{Name: r.Name, Path: path, ID: randomID("AROA", 17), ARN: "arn:aws:iam::" + acct + ":role" + path + r.Name,
		Trust: r.AssumeRolePolicyDocument, Description: r.Description, MaxSession: max, Created: s.clock.Now(),
		Inline: map[string]string{}, Attached: append([]string{}, r.ManagedPolicyARNs...), Tags: r.Tags}
	for k, v := range r.InlinePolicies {
		ro.Inline[k] = v
	}
	a.Roles[r.Name] = ro
	return ro, nil
}

func (s *Server) policyExistsLocked(a *acctState, arn string) bool {
	if _, ok := awsManaged[arn]; ok {
		return true
	}
	_, ok := a.Policies[arn]
	return ok
}

// withAccount runs f on an account with s.mu held.
func (s *Server) withAccount(acct string, f func(a *acctState) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, aerr := s.accountLocked(acct)
	if aerr != nil {
		return aerr
	}
	return f(a)
}

func (s *Server) withRole(acct, name string, f func(a *acctState, r *role) error) error {
	return s.withAccount(acct, func(a *acctState) error {
		r := a.Roles[name]
		if r == nil {
			return noSuchEntity("The role with name " + name + " cannot be found.")
		}
		return f(a, r)
	})
}

func (s *Server) withUser(acct, name string, f func(a *acctState, u *user) error) error {
	return s.withAccount(acct, func(a *acctState) error {
		u := a.Users[name]
		if u == nil {
			return noSuchEntity("The user with name " + name + " cannot be found.")
		}
		return f(a, u)
	})
}

// holder is the policy-carrying part of a role or a user.
type holder struct {
	inline   map[string]string
	attached *[]string
}

// withHolder runs f on the role (kind "role") or the user (kind "user")
// called name.
func (s *Server) withHolder(acct, kind, name string, f func(a *acctState, h holder) error) error {
	if kind == "role" {
		return s.withRole(acct, name, func(a *acctState, r *role) error { return f(a, holder{r.Inline, &r.Attached}) })
	}
	return s.withUser(acct, name, func(a *acctState, u *user) error { return f(a, holder{u.Inline, &u.Attached}) })
}

func (s *Server) putInlinePolicy(acct, kind, name, policyName, document string) error {
	if err := checkPolicy(document); err != nil {
		return malformedPolicy(err)
	}
	return s.withHolder(acct, kind, name, func(a *acctState, h holder) error {
		h.inline[policyName] = document
		return nil
	})
}

func (s *Server) getInlinePolicy(acct, kind, name, policyName string) (string, error) {
	var doc string
	err := s.withHolder(acct, kind, name, func(a *acctState, h holder) error {
		d, found := h.inline[policyName]
		if !found {
			return noSuchEntity("The " + kind + " policy with name " + policyName + " cannot be found.")
		}
		doc = d
		return nil
	})
	return doc, err
}

func (s *Server) deleteInlinePolicy(acct, kind, name, policyName string) error {
	return s.withHolder(acct, kind, name, func(a *acctState, h holder) error {
		if _, ok := h.inline[policyName]; !ok {
			return noSuchEntity("The " + kind + " policy with name " + policyName + " cannot be found.")
		}
		delete(h.inline, policyName)
		return nil
	})
}

func (s *Server) attachPolicy(acct, kind, name, arn string) error {
	return s.withHolder(acct, kind, name, func(a *acctState, h holder) error {
		if !s.policyExistsLocked(a, arn) {
			return noSuchEntity("Policy " + arn + " does not exist or is not attachable.")
		}
		*h.attached = attach(*h.attached, arn)
		return nil
	})
}

func (s *Server) detachPolicy(acct, kind, name, arn string) error {
	return s.withHolder(acct, kind, name, func(a *acctState, h holder) error {
		var ok bool
		if *h.attached, ok = detach(*h.attached, arn); !ok {
			return noSuchEntity("Policy " + arn + " was not found.")
		}
		return nil
	})
}

// attachedCount is how many roles and users of a have arn attached.
func attachedCount(a *acctState, arn string) int {
	n := 0
	for _, r := range a.Roles {
		for _, x := range r.Attached {
			if x == arn {
				n++
			}
		}
	}
	for _, u := range a.Users {
		for _, x := range u.Attached {
			if x == arn {
				n++
			}
		}
	}
	return n
}

func attach(list []string, arn string) []string {
	for _, x := range list {
		if x == arn {
			return list
		}
	}
	return append(list, arn)
}

func detach(list []string, arn string) ([]string, bool) {
	for i, x := range list {
		if x == arn {
			return append(list[:i:i], list[i+1:]...), true
		}
	}
	return list, false
}

func (s *Server) createPolicy(acct, name, path, doc, now string) (*managedPolicy, error) {
	if err := checkPolicy(doc); err != nil {
		return nil, malformedPolicy(err)
	}
	if !iamNameRe.MatchString(name) {
		return nil, constraint(name, "policyName", `Member must satisfy regular expression pattern: [\w+=,.@-]+`)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, aerr := s.accountLocked(acct)
	if aerr != nil {
		return nil, aerr
	}
	path = cleanPath(path)
	arn := "arn:aws:iam::" + acct + ":policy" + path + name
	if _, ok := a.Policies[arn]; ok {
		return nil, entityExists("A policy called " + name + " already exists. Duplicate names are not allowed.")
	}
	t := s.clock.Now()
	mp := &managedPolicy{Name: name, Path: path, ID: randomID("ANPA", 17), ARN: arn, Document: doc, Version: 1, Created: t, Updated: t}
	a.Policies[arn] = mp
	return mp, nil
}

// --- platform.IAM ---------------------------------------------------------

func (i *iamAPI) s() *Server { return (*Server)(i) }

func (i *iamAPI) CreateRole(account string, r platform.RoleSpec) (string, string, error) {
	ro, err := i.s().createRole(account, r)
	if err != nil {
		return "", "", err
	}
	return ro.ARN, ro.ID, nil
}

func (i *iamAPI) UpdateRole(account string, r platform.RoleSpec) error {
	if err := checkPolicy(r.AssumeRolePolicyDocument); err != nil {
		return malformedPolicy(err)
	}
	return i.s().withRole(account, r.Name, func(a *acctState, ro *role) error {
		ro.Trust = r.AssumeRolePolicyDocument
		ro.Description = r.Description
		if r.MaxSessionDuration > 0 {
			ro.MaxSession = r.MaxSessionDuration
		}
		ro.Attached = append([]string{}, r.ManagedPolicyARNs...)
		ro.Inline = map[string]string{}
		for k, v := range r.InlinePolicies {
			ro.Inline[k] = v
		}
		ro.Tags = r.Tags
		return nil
	})
}

func (i *iamAPI) DeleteRole(account, name string) error {
	s := i.s()
	return s.withRole(account, name, func(a *acctState, r *role) error {
		if len(r.Inline) > 0 || len(r.Attached) > 0 {
			return apiErr(409, "DeleteConflict", "Cannot delete entity, must delete policies first.")
		}
		for _, p := range a.Profiles {
			for _, rn := range p.Roles {
				if rn == name {
					return apiErr(409, "DeleteConflict", "Cannot delete entity, must remove roles from instance profile first.")
				}
			}
		}
		delete(a.Roles, name)
		return nil
	})
}

func (i *iamAPI) PutRolePolicy(account, roleName, policyName, document string) error {
	return i.s().putInlinePolicy(account, "role", roleName, policyName, document)
}

func (i *iamAPI) DeleteRolePolicy(account, roleName, policyName string) error {
	return i.s().deleteInlinePolicy(account, "role", roleName, policyName)
}

func (i *iamAPI) CreatePolicy(account, name, path, document string) (string, error) {
	mp, err := i.s().createPolicy(account, name, path, document, "")
	if err != nil {
		return "", err
	}
	return mp.ARN, nil
}

func (i *iamAPI) UpdatePolicy(account, arn, document string) error {
	if err := checkPolicy(document); err != nil {
		return malformedPolicy(err)
	}
	s := i.s()
	return s.withAccount(account, func(a *acctState) error {
		mp := a.Policies[arn]
		if mp == nil {
			return noSuchEntity("Policy " + arn + " was not found.")
		}
		mp.Document = document
		mp.Version++
		mp.Updated = s.clock.Now()
		return nil
	})
}

func (i *iamAPI) DeletePolicy(account, arn string) error {
	return i.s().withAccount(account, func(a *acctState) error {
		if a.Policies[arn] == nil {
			return noSuchEntity("Policy " + arn + " was not found.")
		}
		if attachedCount(a, arn) > 0 {
			return apiErr(409, "DeleteConflict", "Cannot delete a policy attached to entities.")
		}
		delete(a.Policies, arn)
		return nil
	})
}

func (i *iamAPI) AttachRolePolicy(account, roleName, arn string) error {
	return i.s().attachPolicy(account, "role", roleName, arn)
}

func (i *iamAPI) DetachRolePolicy(account, roleName, arn string) error {
	return i.s().detachPolicy(account, "role", roleName, arn)
}

func (i *iamAPI) AttachUserPolicy(account, userName, arn string) error {
	return i.s().attachPolicy(account, "user", userName, arn)
}

func (i *iamAPI) DetachUserPolicy(account, userName, arn string) error {
	return i.s().detachPolicy(account, "user", userName, arn)
}

func (i *iamAPI) CreateUser(account, name, path string) (string, string, error) {
	u, err := i.s().createUser(account, name, path)
	if err != nil {
		return "", "", err
	}
	return u.ARN, u.ID, nil
}

func (s *Server) createUser(acct, name, path string) (*user, error) {
	if !iamNameRe.MatchString(name) {
		return nil, constraint(name, "userName", `Member must satisfy regular expression pattern: [\w+=,.@-]+`)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, aerr := s.accountLocked(acct)
	if aerr != nil {
		return nil, aerr
	}
	if _, ok := a.Users[name]; ok {
		return nil, entityExists("User with name " + name + " already exists.")
	}
	path = cleanPath(path)
	u := &user{Name: name, Path: path, ID: randomID("AIDA", 17), ARN: "arn:aws:iam::" + acct + ":user" + path + name, Created: s.clock.Now(), Inline: map[string]string{}}
	a.Users[name] = u
	return u, nil
}

func (i *iamAPI) DeleteUser(account, name string) error {
	s := i.s()
	return s.withUser(account, name, func(a *acctState, u *user) error {
		if len(u.Inline) > 0 || len(u.Attached) > 0 {
			return apiErr(409, "DeleteConflict", "Cannot delete entity, must delete policies first.")
		}
		for _, k := range s.st.Keys {
			if k.Account == account && k.User == name {
				return apiErr(409, "DeleteConflict", "Cannot delete entity, must delete access keys first.")
			}
		}
		for _, d := range a.MFA {
			if d.User == name {
				return apiErr(409, "DeleteConflict", "Cannot delete entity, must delete MFA device first.")
			}
		}
		delete(a.Users, name)
		return nil
	})
}

func (i *iamAPI) PutUserPolicy(account, userName, policyName, document string) error {
	return i.s().putInlinePolicy(account, "user", userName, policyName, document)
}

func (i *iamAPI) DeleteUserPolicy(account, userName, policyName string) error {
	return i.s().deleteInlinePolicy(account, "user", userName, policyName)
}

func (i *iamAPI) CreateAccessKey(account, userName string) (string, string, error) {
	k, err := i.s().createAccessKey(account, userName)
	if err != nil {
		return "", "", err
	}
	return k.ID, k.Secret, nil
}

func (s *Server) createAccessKey(acct, userName string) (*accessKey, error) {
	var k *accessKey
	err := s.withUser(acct, userName, func(a *acctState, u *user) error {
		n := 0
		for _, x := range s.st.Keys {
			if x.Account == acct && x.User == userName {
				n++
			}
		}
		if n >= 2 {
			return apiErr(409, "LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2")
		}
		k = &accessKey{ID: randomID("AKIA", 16), Secret: randomSecret(), Account: acct, User: userName, Status: "Active", Created: s.clock.Now()}
		s.st.Keys[k.ID] = k
		return nil
	})
	return k, err
}

func (i *iamAPI) DeleteAccessKey(account, userName, keyID string) error {
	s := i.s()
	return s.withUser(account, userName, func(a *acctState, u *user) error {
		k := s.st.Keys[keyID]
		if k == nil || k.Account != account || k.User != userName {
			return noSuchEntity("The Access Key with id " + keyID + " cannot be found.")
		}
		delete(s.st.Keys, keyID)
		return nil
	})
}

func (i *iamAPI) CreateInstanceProfile(account, name, path string, roles []string) (string, error) {
	var arn string
	err := i.s().withAccount(account, func(a *acctState) error {
		if _, ok := a.Profiles[name]; ok {
			return entityExists("Instance Profile " + name + " already exists.")
		}
		for _, r := range roles {
			if a.Roles[r] == nil {
				return noSuchEntity("The role with name " + r + " cannot be found.")
			}
		}
		path = cleanPath(path)
		p := &instanceProfile{Name: name, Path: path, ID: randomID("AIPA", 17), ARN: "arn:aws:iam::" + account + ":instance-profile" + path + name, Roles: append([]string{}, roles...)}
		a.Profiles[name] = p
		arn = p.ARN
		return nil
	})
	return arn, err
}

func (i *iamAPI) DeleteInstanceProfile(account, name string) error {
	return i.s().withAccount(account, func(a *acctState) error {
		if a.Profiles[name] == nil {
			return noSuchEntity("Instance Profile " + name + " cannot be found.")
		}
		delete(a.Profiles, name)
		return nil
	})
}

func (i *iamAPI) RoleARN(account, name string) (string, bool) {
	s := i.s()
	s.mu.RLock()
	defer s.mu.RUnlock()
	if a := s.st.Accounts[account]; a != nil {
		if r := a.Roles[name]; r != nil {
			return r.ARN, true
		}
	}
	return "", false
}

// AssumeServiceRole implements platform.IAM: the role named by roleARN
// must exist (with that exact ARN, path included) and its trust policy
// must allow sts:AssumeRole to the service principal.
func (i *iamAPI) AssumeServiceRole(roleARN, service, session string) (platform.Principal, bool) {
	parts := strings.SplitN(roleARN, ":", 6)
	if len(parts) != 6 || parts[2] != "iam" || !strings.HasPrefix(parts[5], "role/") {
		return platform.Principal{}, false
	}
	acct, name := parts[4], parts[5][strings.LastIndex(parts[5], "/")+1:]
	s := i.s()
	s.mu.RLock()
	defer s.mu.RUnlock()
	a := s.st.Accounts[acct]
	if a == nil || a.Roles[name] == nil || a.Roles[name].ARN != roleARN {
		return platform.Principal{}, false
	}
	ro := a.Roles[name]
	d, err := cachedParse(ro.Trust)
	if err != nil {
		return platform.Principal{}, false
	}
	req := policy.Request{Action: "sts:AssumeRole", Resource: roleARN, Caller: policy.Caller{Service: service},
		Context: map[string][]string{"aws:currenttime": {s.clock.Now().Format("2006-01-02T15:04:05Z")}}}
	if d.Evaluate(req, true) != policy.Allowed {
		return platform.Principal{}, false
	}
	return platform.Principal{
		Account: acct, Kind: "assumed-role", RoleName: name, RoleARN: roleARN, SessionName: session,
		ARN: "arn:aws:sts::" + acct + ":assumed-role/" + name + "/" + session, UserID: ro.ID + ":" + session,
	}, true
}

// --- IAM query API ---------------------------------------------------------

type xmlUser struct {
	Path       string `xml:"Path"`
	UserName   string `xml:"UserName"`
	UserID     string `xml:"UserId"`
	Arn        string `xml:"Arn"`
	CreateDate string `xml:"CreateDate"`
}

func userXML(u *user) xmlUser {
	return xmlUser{Path: u.Path, UserName: u.Name, UserID: u.ID, Arn: u.ARN, CreateDate: u.Created.Format(iamTime)}
}

type xmlRole struct {
	Path                     string   `xml:"Path"`
	RoleName                 string   `xml:"RoleName"`
	RoleID                   string   `xml:"RoleId"`
	Arn                      string   `xml:"Arn"`
	CreateDate               string   `xml:"CreateDate"`
	AssumeRolePolicyDocument string   `xml:"AssumeRolePolicyDocument"`
	Description              string   `xml:"Description,omitempty"`
	MaxSessionDuration       int      `xml:"MaxSessionDuration"`
	Tags                     []xmlTag `xml:"Tags>member,omitempty"`
}

type xmlTag struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

func roleXML(r *role) xmlRole {
	x := xmlRole{Path: r.Path, RoleName: r.Name, RoleID: r.ID, Arn: r.ARN, CreateDate: r.Created.Format(iamTime),
		AssumeRolePolicyDocument: url.QueryEscape(r.Trust), Description: r.Description, MaxSessionDuration: r.MaxSession}
	for _, k := range slices.Sorted(maps.Keys(r.Tags)) {
		x.Tags = append(x.Tags, xmlTag{k, r.Tags[k]})
	}
	return x
}

type xmlPolicy struct {
	PolicyName       string `xml:"PolicyName"`
	PolicyID         string `xml:"PolicyId"`
	Arn              string `xml:"Arn"`
	Path             string `xml:"Path"`
	DefaultVersionID string `xml:"DefaultVersionId"`
	AttachmentCount  int    `xml:"AttachmentCount"`
	IsAttachable     bool   `xml:"IsAttachable"`
	CreateDate       string `xml:"CreateDate"`
	UpdateDate       string `xml:"UpdateDate"`
}

func policyXML(p *managedPolicy, attachments int) xmlPolicy {
	return xmlPolicy{PolicyName: p.Name, PolicyID: p.ID, Arn: p.ARN, Path: p.Path, DefaultVersionID: "v" + strconv.Itoa(p.Version),
		AttachmentCount: attachments, IsAttachable: true, CreateDate: p.Created.Format(iamTime), UpdateDate: p.Updated.Format(iamTime)}
}

type xmlAttached struct {
	PolicyName string `xml:"PolicyName"`
	PolicyArn  string `xml:"PolicyArn"`
}

func attachedXML(arns []string) []xmlAttached {
	out := []xmlAttached{}
	for _, a := range arns {
		out = append(out, xmlAttached{PolicyName: a[strings.LastIndex(a, "/")+1:], PolicyArn: a})
	}
	return out
}

type xmlAccessKey struct {
	UserName        string `xml:"UserName"`
	AccessKeyID     string `xml:"AccessKeyId"`
	Status          string `xml:"Status"`
	SecretAccessKey string `xml:"SecretAccessKey,omitempty"`
	CreateDate      string `xml:"CreateDate"`
}

// iamResource is the ARN an IAM action is authorized against.
func iamResource(acct string, c *platform.Call) string {
	f := c.Form
	switch {
	case f.Get("RoleName") != "":
		return "arn:aws:iam::" + acct + ":role/" + f.Get("RoleName")
	case f.Get("UserName") != "":
		return "arn:aws:iam::" + acct + ":user/" + f.Get("UserName")
	case f.Get("PolicyArn") != "":
		return f.Get("PolicyArn")
	case f.Get("PolicyName") != "":
		return "arn:aws:iam::" + acct + ":policy/" + f.Get("PolicyName")
	case f.Get("VirtualMFADeviceName") != "":
		return "arn:aws:iam::" + acct + ":mfa/" + f.Get("VirtualMFADeviceName")
	case f.Get("ServerCertificateName") != "":
		return "arn:aws:iam::" + acct + ":server-certificate/" + f.Get("ServerCertificateName")
	case f.Get("InstanceProfileName") != "":
		return "arn:aws:iam::" + acct + ":instance-profile/" + f.Get("InstanceProfileName")
	}
	return "*"
}

func (s *Server) attachmentsLocked(acct, arn string) int {
	return attachedCount(s.st.Accounts[acct], arn)
}

// b64 is the Base32StringSeed wire form (base64 of the base32 text, as AWS
// sends it in a blob field).
func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
