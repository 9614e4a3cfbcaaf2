package sandbox

import (
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stacker-go/stacker/internal/sandbox/platform"
)

// iamService is the IAM query API. Its state is the server's account
// state (shared with STS, S3 and the policy engine); iam.go holds the
// operations on it, this file the wire API and its action table.
type iamService struct{ s *Server }

func (iamService) Name() string                { return "iam" }
func (iamService) Protocol() platform.Protocol { return platform.ProtocolQuery }

// iamReq is one IAM call.
type iamReq struct {
	s    *Server
	c    *platform.Call
	f    url.Values
	acct string
}

// Serve authorizes the call (iam:ACTION on the entity's ARN) and
// dispatches it through iamActions.
func (svc iamService) Serve(w http.ResponseWriter, c *platform.Call) error {
	s := svc.s
	acct := c.Principal.Account
	if c.Action != "GetUser" || c.Form.Get("UserName") != "" {
		res := iamResource(acct, c)
		if d := s.Authorize(c.Principal, "iam:"+c.Action, res, nil); !d.Allowed {
			return apiErr(403, "AccessDenied", d.Reason)
		}
	}
	r := &iamReq{s: s, c: c, f: c.Form, acct: acct}
	return iamActions.Serve(r, c.Action, w, func(action string) error {
		return apiErr(400, "InvalidAction", "Could not find operation "+action+" for version 2010-05-08")
	})
}

// iamActions is IAM's action table.
var iamActions platform.Actions[*iamReq]

func init() {
	iamActions = platform.Actions[*iamReq]{
		"GetUser":                  (*iamReq).getUser,
		"CreateUser":               (*iamReq).createUser,
		"DeleteUser":               (*iamReq).deleteUser,
		"ListUsers":                (*iamReq).listUsers,
		"CreateAccessKey":          (*iamReq).createAccessKey,
		"DeleteAccessKey":          (*iamReq).deleteAccessKey,
		"ListAccessKeys":           (*iamReq).listAccessKeys,
		"CreateRole":               (*iamReq).createRole,
		"GetRole":                  (*iamReq).getRole,
		"ListRoles":                (*iamReq).listRoles,
		"DeleteRole":               (*iamReq).deleteRole,
		"UpdateAssumeRolePolicy":   (*iamReq).updateAssumeRolePolicy,
		"PutRolePolicy":            (*iamReq).putPolicy,
		"PutUserPolicy":            (*iamReq).putPolicy,
		"DeleteRolePolicy":         (*iamReq).deletePolicy,
		"DeleteUserPolicy":         (*iamReq).deletePolicy,
		"GetRolePolicy":            (*iamReq).getPolicy,
		"GetUserPolicy":            (*iamReq).getPolicy,
		"ListRolePolicies":         (*iamReq).listPolicies,
		"ListUserPolicies":         (*iamReq).listPolicies,
		"AttachRolePolicy":         (*iamReq).attachPolicy,
		"AttachUserPolicy":         (*iamReq).attachPolicy,
		"DetachRolePolicy":         (*iamReq).detachPolicy,
		"DetachUserPolicy":         (*iamReq).detachPolicy,
		"ListAttachedRolePolicies": (*iamReq).listAttachedPolicies,
		"ListAttachedUserPolicies": (*iamReq).listAttachedPolicies,
		"CreatePolicy":             (*iamReq).createPolicy,
		"GetPolicy":                (*iamReq).getManagedPolicy,
		"GetPolicyVersion":         (*iamReq).getPolicyVersion,
		"DeletePolicy":             (*iamReq).deleteManagedPolicy,
		"CreateVirtualMFADevice":   (*iamReq).createVirtualMFA,
		"EnableMFADevice":          (*iamReq).enableMFA,
		"DeactivateMFADevice":      (*iamReq).deactivateMFA,
		"DeleteVirtualMFADevice":   (*iamReq).deleteVirtualMFA,
		"ListMFADevices":           (*iamReq).listMFADevices,
		"GetAccountSummary":        (*iamReq).getAccountSummary,
		"ListAccountAliases":       (*iamReq).listAccountAliases,
	}
}

// ok writes the action's result (nil for an empty one).
func (r *iamReq) ok(w http.ResponseWriter, result any) error {
	return writeQuery(w, "iam", r.c.Action, r.c.RequestID, result)
}

// done writes an empty result, or returns err.
func (r *iamReq) done(w http.ResponseWriter, err error) error {
	if err != nil {
		return err
	}
	return r.ok(w, nil)
}

// api is the platform.IAM view of the server.
func (r *iamReq) api() *iamAPI { return (*iamAPI)(r.s) }

// userName is the UserName parameter.
func (r *iamReq) userName() string { return r.f.Get("UserName") }

// userOrCaller is UserName, defaulting to the calling user.
func (r *iamReq) userOrCaller() string {
	if u := r.userName(); u != "" {
		return u
	}
	return r.c.Principal.UserName
}

// holder is the role or user a Role/User policy action names.
func (r *iamReq) holder() (kind, name string) {
	if strings.Contains(r.c.Action, "Role") {
		return "role", r.f.Get("RoleName")
	}
	return "user", r.userName()
}

func (r *iamReq) getUser(w http.ResponseWriter) error {
	userName := r.userName()
	if userName == "" {
		if r.c.Principal.Kind != "user" {
			return validationErr("Must specify userName when calling with non-User credentials")
		}
		userName = r.c.Principal.UserName
	}
	var x xmlUser
	if err := r.s.withUser(r.acct, userName, func(a *acctState, u *user) error { x = userXML(u); return nil }); err != nil {
		return err
	}
	return r.ok(w, struct {
		User xmlUser `xml:"User"`
	}{x})
}

func (r *iamReq) createUser(w http.ResponseWriter) error {
	u, err := r.s.createUser(r.acct, r.userName(), r.f.Get("Path"))
	if err != nil {
		return err
	}
	return r.ok(w, struct {
		User xmlUser `xml:"User"`
	}{userXML(u)})
}

func (r *iamReq) deleteUser(w http.ResponseWriter) error {
	return r.done(w, r.api().DeleteUser(r.acct, r.userName()))
}

func (r *iamReq) listUsers(w http.ResponseWriter) error {
	s := r.s
	s.mu.RLock()
	a := s.st.Accounts[r.acct]
	var users []xmlUser
	for _, n := range slices.Sorted(maps.Keys(a.Users)) {
		users = append(users, userXML(a.Users[n]))
	}
	s.mu.RUnlock()
	return r.ok(w, struct {
		Users       []xmlUser `xml:"Users>member"`
		IsTruncated bool      `xml:"IsTruncated"`
	}{Users: users})
}

func (r *iamReq) createAccessKey(w http.ResponseWriter) error {
	k, err := r.s.createAccessKey(r.acct, r.userOrCaller())
	if err != nil {
		return err
	}
	return r.ok(w, struct {
		AccessKey xmlAccessKey `xml:"AccessKey"`
	}{xmlAccessKey{UserName: k.User, AccessKeyID: k.ID, Status: k.Status, SecretAccessKey: k.Secret, CreateDate: k.Created.Format(iamTime)}})
}

func (r *iamReq) deleteAccessKey(w http.ResponseWriter) error {
	return r.done(w, r.api().DeleteAccessKey(r.acct, r.userOrCaller(), r.f.Get("AccessKeyId")))
}

func (r *iamReq) listAccessKeys(w http.ResponseWriter) error {
	s, acct, userName := r.s, r.acct, r.userOrCaller()
	var keys []xmlAccessKey
	err := s.withUser(acct, userName, func(a *acctState, u *user) error {
		for _, id := range slices.Sorted(maps.Keys(s.st.Keys)) {
			k := s.st.Keys[id]
			if k.Account == acct && k.User == userName {
				keys = append(keys, xmlAccessKey{UserName: k.User, AccessKeyID: k.ID, Status: k.Status, CreateDate: k.Created.Format(iamTime)})
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return r.ok(w, struct {
		AccessKeyMetadata []xmlAccessKey `xml:"AccessKeyMetadata>member"`
		IsTruncated       bool           `xml:"IsTruncated"`
	}{AccessKeyMetadata: keys})
}

func (r *iamReq) createRole(w http.ResponseWriter) error {
	f := r.f
	maxS, _ := strconv.Atoi(f.Get("MaxSessionDuration"))
	tags := map[string]string{}
	for i := 1; f.Get("Tags.member."+strconv.Itoa(i)+".Key") != ""; i++ {
		tags[f.Get("Tags.member."+strconv.Itoa(i)+".Key")] = f.Get("Tags.member." + strconv.Itoa(i) + ".Value")
	}
	ro, err := r.s.createRole(r.acct, platform.RoleSpec{Name: f.Get("RoleName"), Path: f.Get("Path"),
		AssumeRolePolicyDocument: f.Get("AssumeRolePolicyDocument"), Description: f.Get("Description"), MaxSessionDuration: maxS, Tags: tags})
	if err != nil {
		return err
	}
	return r.ok(w, struct {
		Role xmlRole `xml:"Role"`
	}{roleXML(ro)})
}

func (r *iamReq) getRole(w http.ResponseWriter) error {
	var x xmlRole
	if err := r.s.withRole(r.acct, r.f.Get("RoleName"), func(a *acctState, ro *role) error { x = roleXML(ro); return nil }); err != nil {
		return err
	}
	return r.ok(w, struct {
		Role xmlRole `xml:"Role"`
	}{x})
}

func (r *iamReq) listRoles(w http.ResponseWriter) error {
	s := r.s
	s.mu.RLock()
	a := s.st.Accounts[r.acct]
	var roles []xmlRole
	for _, n := range slices.Sorted(maps.Keys(a.Roles)) {
		roles = append(roles, roleXML(a.Roles[n]))
	}
	s.mu.RUnlock()
	return r.ok(w, struct {
		Roles       []xmlRole `xml:"Roles>member"`
		IsTruncated bool      `xml:"IsTruncated"`
	}{Roles: roles})
}

func (r *iamReq) deleteRole(w http.ResponseWriter) error {
	return r.done(w, r.api().DeleteRole(r.acct, r.f.Get("RoleName")))
}

func (r *iamReq) updateAssumeRolePolicy(w http.ResponseWriter) error {
	doc := r.f.Get("PolicyDocument")
	if err := checkPolicy(doc); err != nil {
		return malformedPolicy(err)
	}
	return r.done(w, r.s.withRole(r.acct, r.f.Get("RoleName"), func(a *acctState, ro *role) error { ro.Trust = doc; return nil }))
}

func (r *iamReq) putPolicy(w http.ResponseWriter) error {
	kind, who := r.holder()
	return r.done(w, r.s.putInlinePolicy(r.acct, kind, who, r.f.Get("PolicyName"), r.f.Get("PolicyDocument")))
}

func (r *iamReq) deletePolicy(w http.ResponseWriter) error {
	kind, who := r.holder()
	return r.done(w, r.s.deleteInlinePolicy(r.acct, kind, who, r.f.Get("PolicyName")))
}

func (r *iamReq) getPolicy(w http.ResponseWriter) error {
	name := r.f.Get("PolicyName")
	kind, who := r.holder()
	doc, err := r.s.getInlinePolicy(r.acct, kind, who, name)
	if err != nil {
		return err
	}
	return r.ok(w, struct {
		RoleName       string `xml:"RoleName,omitempty"`
		UserName       string `xml:"UserName,omitempty"`
		PolicyName     string `xml:"PolicyName"`
		PolicyDocument string `xml:"PolicyDocument"`
	}{RoleName: r.f.Get("RoleName"), UserName: r.userName(), PolicyName: name, PolicyDocument: url.QueryEscape(doc)})
}

func (r *iamReq) listPolicies(w http.ResponseWriter) error {
	var names []string
	kind, who := r.holder()
	if err := r.s.withHolder(r.acct, kind, who, func(a *acctState, h holder) error { names = slices.Sorted(maps.Keys(h.inline)); return nil }); err != nil {
		return err
	}
	return r.ok(w, struct {
		PolicyNames []string `xml:"PolicyNames>member"`
		IsTruncated bool     `xml:"IsTruncated"`
	}{PolicyNames: names})
}

func (r *iamReq) attachPolicy(w http.ResponseWriter) error {
	kind, who := r.holder()
	return r.done(w, r.s.attachPolicy(r.acct, kind, who, r.f.Get("PolicyArn")))
}

func (r *iamReq) detachPolicy(w http.ResponseWriter) error {
	kind, who := r.holder()
	return r.done(w, r.s.detachPolicy(r.acct, kind, who, r.f.Get("PolicyArn")))
}

func (r *iamReq) listAttachedPolicies(w http.ResponseWriter) error {
	var arns []string
	kind, who := r.holder()
	if err := r.s.withHolder(r.acct, kind, who, func(a *acctState, h holder) error { arns = append(arns, *h.attached...); return nil }); err != nil {
		return err
	}
	return r.ok(w, struct {
		AttachedPolicies []xmlAttached `xml:"AttachedPolicies>member"`
		IsTruncated      bool          `xml:"IsTruncated"`
	}{AttachedPolicies: attachedXML(arns)})
}

func (r *iamReq) createPolicy(w http.ResponseWriter) error {
	mp, err := r.s.createPolicy(r.acct, r.f.Get("PolicyName"), r.f.Get("Path"), r.f.Get("PolicyDocument"), "")
	if err != nil {
		return err
	}
	return r.ok(w, struct {
		Policy xmlPolicy `xml:"Policy"`
	}{policyXML(mp, 0)})
}

func (r *iamReq) getManagedPolicy(w http.ResponseWriter) error {
	s, acct, arn := r.s, r.acct, r.f.Get("PolicyArn")
	s.mu.RLock()
	mp := s.st.Accounts[acct].Policies[arn]
	var x xmlPolicy
	if mp != nil {
		x = policyXML(mp, s.attachmentsLocked(acct, arn))
	} else if _, isAWS := awsManaged[arn]; isAWS {
		name := arn[strings.LastIndex(arn, "/")+1:]
		x = xmlPolicy{PolicyName: name, PolicyID: "ANPA" + strings.ToUpper(name), Arn: arn, Path: "/", DefaultVersionID: "v1", IsAttachable: true,
			AttachmentCount: s.attachmentsLocked(acct, arn), CreateDate: "2015-02-06T18:39:46Z", UpdateDate: "2015-02-06T18:39:46Z"}
	}
	s.mu.RUnlock()
	if x.Arn == "" {
		return noSuchEntity("Policy " + arn + " was not found.")
	}
	return r.ok(w, struct {
		Policy xmlPolicy `xml:"Policy"`
	}{x})
}

func (r *iamReq) getPolicyVersion(w http.ResponseWriter) error {
	s, arn := r.s, r.f.Get("PolicyArn")
	s.mu.RLock()
	doc, found := awsManaged[arn]
	if mp := s.st.Accounts[r.acct].Policies[arn]; mp != nil {
		doc, found = mp.Document, "v"+strconv.Itoa(mp.Version) == r.f.Get("VersionId")
	}
	s.mu.RUnlock()
	if !found {
		return noSuchEntity("Policy " + arn + " version " + r.f.Get("VersionId") + " does not exist or is not attachable.")
	}
	type ver struct {
		Document         string `xml:"Document"`
		VersionID        string `xml:"VersionId"`
		IsDefaultVersion bool   `xml:"IsDefaultVersion"`
	}
	return r.ok(w, struct {
		PolicyVersion ver `xml:"PolicyVersion"`
	}{ver{url.QueryEscape(doc), r.f.Get("VersionId"), true}})
}

func (r *iamReq) deleteManagedPolicy(w http.ResponseWriter) error {
	return r.done(w, r.api().DeletePolicy(r.acct, r.f.Get("PolicyArn")))
}

func (r *iamReq) createVirtualMFA(w http.ResponseWriter) error {
	s := r.s
	name := r.f.Get("VirtualMFADeviceName")
	if !iamNameRe.MatchString(name) {
		return constraint(name, "virtualMFADeviceName", `Member must satisfy regular expression pattern: [\w+=,.@-]+`)
	}
	acct := r.acct
	path := cleanPath(r.f.Get("Path"))
	serial := "arn:aws:iam::" + acct + ":mfa" + path + name
	seed := randomID("", 32)
	s.mu.Lock()
	a := s.st.Accounts[acct]
	if _, ok := a.MFA[serial]; ok {
		s.mu.Unlock()
		return entityExists("MFADevice entity at the same path and name already exists.")
	}
	a.MFA[serial] = &mfaDevice{Serial: serial, Seed: seed}
	s.mu.Unlock()
	type dev struct {
		SerialNumber     string `xml:"SerialNumber"`
		Base32StringSeed string `xml:"Base32StringSeed"`
	}
	return r.ok(w, struct {
		VirtualMFADevice dev `xml:"VirtualMFADevice"`
	}{dev{serial, b64(seed)}})
}

func (r *iamReq) enableMFA(w http.ResponseWriter) error {
	s, f := r.s, r.f
	userName, serial := r.userName(), f.Get("SerialNumber")
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.st.Accounts[r.acct]
	if a.Users[userName] == nil {
		return noSuchEntity("The user with name " + userName + " cannot be found.")
	}
	d := a.MFA[serial]
	if d == nil {
		return noSuchEntity("VirtualMFADevice with serial number " + serial + " doesn't exist.")
	}
	if d.User != "" {
		return entityExists("MFA Device is already in use.")
	}
	now := time.Now()
	w1, ok1 := checkTOTP(d.Seed, f.Get("AuthenticationCode1"), now)
	w2, ok2 := checkTOTP(d.Seed, f.Get("AuthenticationCode2"), now.Add(30*time.Second))
	if !ok2 {
		w2, ok2 = checkTOTP(d.Seed, f.Get("AuthenticationCode2"), now)
	}
	if !ok1 || !ok2 || w1 == w2 {
		return apiErr(403, "InvalidAuthenticationCode", "Authentication code for device is not valid.")
	}
	d.User = userName
	d.Enabled = s.clock.Now()
	return r.ok(w, nil)
}

func (r *iamReq) deactivateMFA(w http.ResponseWriter) error {
	s, serial := r.s, r.f.Get("SerialNumber")
	s.mu.Lock()
	d := s.st.Accounts[r.acct].MFA[serial]
	if d == nil || d.User != r.userName() {
		s.mu.Unlock()
		return noSuchEntity("MFA Device with serial number " + serial + " not found.")
	}
	d.User = ""
	s.mu.Unlock()
	return r.ok(w, nil)
}

func (r *iamReq) deleteVirtualMFA(w http.ResponseWriter) error {
	s, serial := r.s, r.f.Get("SerialNumber")
	s.mu.Lock()
	a := s.st.Accounts[r.acct]
	d := a.MFA[serial]
	if d == nil {
		s.mu.Unlock()
		return noSuchEntity("VirtualMFADevice with serial number " + serial + " doesn't exist.")
	}
	if d.User != "" {
		s.mu.Unlock()
		return apiErr(409, "DeleteConflict", "MFA device is still in use.")
	}
	delete(a.MFA, serial)
	s.mu.Unlock()
	return r.ok(w, nil)
}

func (r *iamReq) listMFADevices(w http.ResponseWriter) error {
	s, userName := r.s, r.userOrCaller()
	type dev struct {
		UserName     string `xml:"UserName"`
		SerialNumber string `xml:"SerialNumber"`
		EnableDate   string `xml:"EnableDate"`
	}
	var devs []dev
	s.mu.RLock()
	a := s.st.Accounts[r.acct]
	for _, serial := range slices.Sorted(maps.Keys(a.MFA)) {
		if d := a.MFA[serial]; d.User == userName && userName != "" {
			devs = append(devs, dev{d.User, d.Serial, d.Enabled.Format(iamTime)})
		}
	}
	s.mu.RUnlock()
	return r.ok(w, struct {
		MFADevices  []dev `xml:"MFADevices>member"`
		IsTruncated bool  `xml:"IsTruncated"`
	}{MFADevices: devs})
}

func (r *iamReq) getAccountSummary(w http.ResponseWriter) error {
	return r.ok(w, struct {
		SummaryMap []xmlTag `xml:"SummaryMap>entry"`
	}{})
}

func (r *iamReq) listAccountAliases(w http.ResponseWriter) error {
	return r.ok(w, struct {
		AccountAliases []string `xml:"AccountAliases>member"`
		IsTruncated    bool     `xml:"IsTruncated"`
	}{AccountAliases: []string{}})
}
