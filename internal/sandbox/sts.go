package sandbox

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/stacker-go/stacker/internal/sandbox/platform"
	"github.com/stacker-go/stacker/internal/sandbox/policy"
)

// STS error texts (AWS's words).
const (
	msgMFAInvalid       = "MultiFactorAuthentication failed with invalid MFA one time pass code. "
	msgMFAReused        = "MultiFactorAuthentication failed, unable to validate MFA code"
	msgChainedDuration  = "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
	msgMaxDuration      = "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
	msgSessionTokenTemp = "Cannot call GetSessionToken with session credentials"
)

var (
	sessionNameRe = regexp.MustCompile(`^[\w+=,.@-]*$`)
	tokenCodeRe   = regexp.MustCompile(`^[\d]*$`)
	roleARNRe     = regexp.MustCompile(`^arn:aws:iam::([0-9]{12}):role/(?:.*/)?([\w+=,.@-]+)$`)
	externalIDRe  = regexp.MustCompile(`^[\w+=,.@:/-]*$`)
)

func validationErr(msg string) *platform.APIError { return apiErr(400, "ValidationError", msg) }

func constraint(value, field, rule string) *platform.APIError {
	return validationErr(fmt.Sprintf("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: %s", value, field, rule))
}

type stsCredentials struct {
	AccessKeyID     string `xml:"AccessKeyId"`
	SecretAccessKey string `xml:"SecretAccessKey"`
	SessionToken    string `xml:"SessionToken"`
	Expiration      string `xml:"Expiration"`
}

// stsService is STS's query API; sessions live in the server's state.
type stsService struct{ s *Server }

func (stsService) Name() string                { return "sts" }
func (stsService) Protocol() platform.Protocol { return platform.ProtocolQuery }

// stsReq is one STS call.
type stsReq struct {
	s *Server
	c *platform.Call
}

// stsActions is STS's action table.
var stsActions = platform.Actions[*stsReq]{
	"GetCallerIdentity": (*stsReq).getCallerIdentity,
	"GetSessionToken":   func(r *stsReq, w http.ResponseWriter) error { return r.s.getSessionToken(w, r.c) },
	"AssumeRole":        func(r *stsReq, w http.ResponseWriter) error { return r.s.assumeRole(w, r.c) },
	"GetAccessKeyInfo":  (*stsReq).getAccessKeyInfo,
}

// Serve dispatches through stsActions.
func (svc stsService) Serve(w http.ResponseWriter, c *platform.Call) error {
	return stsActions.Serve(&stsReq{s: svc.s, c: c}, c.Action, w, func(action string) error {
		return apiErr(400, "InvalidAction", "Could not find operation "+action+" for version 2011-06-15")
	})
}

func (r *stsReq) getCallerIdentity(w http.ResponseWriter) error {
	c := r.c
	type result struct {
		Arn     string `xml:"Arn"`
		UserID  string `xml:"UserId"`
		Account string `xml:"Account"`
	}
	return writeQuery(w, "sts", c.Action, c.RequestID, result{Arn: c.Principal.ARN, UserID: c.Principal.UserID, Account: c.Principal.Account})
}

func (r *stsReq) getAccessKeyInfo(w http.ResponseWriter) error {
	s, c := r.s, r.c
	key := c.Form.Get("AccessKeyId")
	s.mu.RLock()
	acct := ""
	if k := s.st.Keys[key]; k != nil {
		acct = k.Account
	} else if ses := s.st.Sessions[key]; ses != nil {
		acct = ses.Principal.Account
	}
	s.mu.RUnlock()
	if acct == "" {
		return apiErr(400, "InvalidParameterValue", "The access key ID is not valid")
	}
	type result struct {
		Account string `xml:"Account"`
	}
	return writeQuery(w, "sts", c.Action, c.RequestID, result{acct})
}

// durationParam parses DurationSeconds with AWS's constraint messages.
func durationParam(form map[string][]string, def, min, max int) (int, *platform.APIError) {
	v := ""
	if l := form["DurationSeconds"]; len(l) > 0 {
		v = l[0]
	}
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, apiErr(400, "MalformedInput", "Invalid value for DurationSeconds: "+v)
	}
	if n < min {
		return 0, constraint(v, "durationSeconds", fmt.Sprintf("Member must have value greater than or equal to %d", min))
	}
	if n > max {
		return 0, constraint(v, "durationSeconds", fmt.Sprintf("Member must have value less than or equal to %d", max))
	}
	return n, nil
}

// checkMFA validates SerialNumber/TokenCode for a caller. It returns
// whether MFA was presented.
func (s *Server) checkMFA(c *platform.Call) (bool, *platform.APIError) {
	serial, code := c.Form.Get("SerialNumber"), c.Form.Get("TokenCode")
	if serial == "" && code == "" {
		return false, nil
	}
	if serial != "" && (len(serial) < 9 || len(serial) > 256) {
		return false, constraint(serial, "serialNumber", "Member must have length greater than or equal to 9")
	}
	if code != "" {
		if !tokenCodeRe.MatchString(code) {
			return false, constraint(code, "tokenCode", `Member must satisfy regular expression pattern: [\d]*`)
		}
		if len(code) != 6 {
			return false, constraint(code, "tokenCode", "Member must have length less than or equal to 6")
		}
	}
	if serial == "" || code == "" {
		return false, apiErr(403, "AccessDenied", msgMFAInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.st.Accounts[c.Principal.Account]
	var dev *mfaDevice
	if a != nil {
		dev = a.MFA[serial]
	}
	// The device must be enabled for the calling user (or, for role
	// sessions chained from a user, belong to the same account).
	if dev == nil || dev.User == "" || (c.Principal.Kind == "user" && dev.User != c.Principal.UserName) {
		return false, apiErr(403, "AccessDenied", msgMFAInvalid)
	}
	// TOTP codes come from wall-clock time (authenticator apps, `stacker
	// sandbox totp`); the sandbox clock is accepted too.
	win, ok := checkTOTP(dev.Seed, code, time.Now())
	if !ok {
		win, ok = checkTOTP(dev.Seed, code, s.clock.Now())
	}
	if !ok {
		return false, apiErr(403, "AccessDenied", msgMFAInvalid)
	}
	if s.spec.RejectMFAReuse {
		if last, used := s.st.UsedMFA[serial]; used && win <= last {
			return false, apiErr(403, "AccessDenied", msgMFAReused)
		}
		s.st.UsedMFA[serial] = win
	}
	return true, nil
}

func (s *Server) getSessionToken(w http.ResponseWriter, c *platform.Call) error {
	if (c.Principal.Kind != "user" && c.Principal.Kind != "root") || !c.Principal.Expiration.IsZero() {
		return apiErr(403, "AccessDenied", msgSessionTokenTemp)
	}
	dur, aerr := durationParam(c.Form, 43200, 900, 129600)
	if aerr != nil {
		return aerr
	}
	mfa, aerr := s.checkMFA(c)
	if aerr != nil {
		return aerr
	}
	now := s.clock.Now()
	p := c.Principal
	p.Expiration = now.Add(time.Duration(dur) * time.Second)
	p.MFAPresent = mfa
	if mfa {
		p.MFAAuthTime = now
	}
	ses := s.newSession(p)
	type result struct {
		Credentials stsCredentials `xml:"Credentials"`
	}
	return writeQuery(w, "sts", c.Action, c.RequestID, result{credsOf(ses)})
}

func credsOf(ses *session) stsCredentials {
	return stsCredentials{AccessKeyID: ses.KeyID, SecretAccessKey: ses.Secret, SessionToken: ses.Token,
		Expiration: ses.Principal.Expiration.UTC().Format("2006-01-02T15:04:05Z")}
}

func (s *Server) newSession(p platform.Principal) *session {
	ses := &session{KeyID: randomID("ASIA", 16), Secret: randomSecret(), Token: randomToken()}
	p.AccessKeyID = ses.KeyID
	ses.Principal = p
	s.mu.Lock()
	defer s.mu.Unlock()
	// Drop sessions that expired more than a day ago (sandbox time).
	now := s.clock.Now()
	if len(s.st.Sessions) > 1000 {
		for k, old := range s.st.Sessions {
			if now.Sub(old.Principal.Expiration) > 24*time.Hour {
				delete(s.st.Sessions, k)
			}
		}
	}
	s.st.Sessions[ses.KeyID] = ses
	return ses
}

func (s *Server) assumeRole(w http.ResponseWriter, c *platform.Call) error {
	roleARN, name, extID := c.Form.Get("RoleArn"), c.Form.Get("RoleSessionName"), c.Form.Get("ExternalId")
	if roleARN == "" {
		return apiErr(400, "MissingParameter", "The request must contain the parameter RoleArn")
	}
	if name == "" {
		return apiErr(400, "MissingParameter", "The request must contain the parameter RoleSessionName")
	}
	if len(roleARN) < 20 {
		return constraint(roleARN, "roleArn", "Member must have length greater than or equal to 20")
	}
	if len(name) < 2 || len(name) > 64 {
		rule := "Member must have length greater than or equal to 2"
		if len(name) > 64 {
			rule = "Member must have length less than or equal to 64"
		}
		return constraint(name, "roleSessionName", rule)
	}
	if !sessionNameRe.MatchString(name) {
		return constraint(name, "roleSessionName", `Member must satisfy regular expression pattern: [\w+=,.@-]*`)
	}
	if extID != "" && (len(extID) < 2 || len(extID) > 1224 || !externalIDRe.MatchString(extID)) {
		return constraint(extID, "externalId", `Member must satisfy regular expression pattern: [\w+=,.@:\/-]*`)
	}
	dur, aerr := durationParam(c.Form, 3600, 900, 43200)
	if aerr != nil {
		return aerr
	}
	mfaNow, aerr := s.checkMFA(c)
	if aerr != nil {
		return aerr
	}
	caller := c.Principal
	now := s.clock.Now()
	if mfaNow {
		caller.MFAPresent = true
		caller.MFAAuthTime = now
	}
	m := roleARNRe.FindStringSubmatch(roleARN)
	denied := apiErr(403, "AccessDenied", "User: "+caller.ARN+" is not authorized to perform: sts:AssumeRole on resource: "+roleARN)
	if m == nil {
		if !strings.HasPrefix(roleARN, "arn:") {
			return validationErr(roleARN + " is invalid")
		}
		return denied
	}
	acct, roleName := m[1], m[2]
	extra := map[string][]string{"sts:rolesessionname": {name}}
	if extID != "" {
		extra["sts:externalid"] = []string{extID}
	}
	if si := c.Form.Get("SourceIdentity"); si != "" {
		extra["sts:sourceidentity"] = []string{si}
		extra["aws:sourceidentity"] = []string{si}
	}
	s.mu.RLock()
	var r *role
	if a := s.st.Accounts[acct]; a != nil {
		r = a.Roles[roleName]
	}
	if r == nil || r.ARN != roleARN {
		s.mu.RUnlock()
		return denied
	}
	// Identity policy of the caller (in its account), trust policy of the
	// role (in the role's account). The trust policy is the role's resource
	// policy, so same-account callers named in it need no identity grant.
	res := s.evaluateLocked(caller, "sts:AssumeRole", roleARN, extra, r.Trust, acct)
	// The trust policy must always allow. A trust policy naming only the
	// account (root) delegates to the account's identity policies, so an
	// identity allow is needed then, even within the account; across
	// accounts it is always needed.
	allowed := res.identity != policy.Denied && res.resource == policy.Allowed
	if allowed && res.identity != policy.Allowed {
		allowed = caller.Kind == "root" || (caller.Account == acct && trustNamesCaller(r.Trust, caller))
	}
	res.allowed = allowed
	maxSession := r.MaxSession
	s.mu.RUnlock()
	if !res.allowed {
		return denied
	}
	chained := caller.Kind == "assumed-role"
	if chained && dur > 3600 {
		return validationErr(msgChainedDuration)
	}
	if dur > maxSession {
		return validationErr(msgMaxDuration)
	}
	exp := now.Add(time.Duration(dur) * time.Second)
	p := platform.Principal{
		Account: acct, ARN: "arn:aws:sts::" + acct + ":assumed-role/" + roleName + "/" + name,
		UserID: r.ID + ":" + name, Kind: "assumed-role", RoleName: roleName, RoleARN: roleARN, SessionName: name,
		MFAPresent: caller.MFAPresent, MFAAuthTime: caller.MFAAuthTime, ChainedRole: chained, Expiration: exp,
	}
	ses := s.newSession(p)
	type assumedUser struct {
		AssumedRoleID string `xml:"AssumedRoleId"`
		Arn           string `xml:"Arn"`
	}
	type result struct {
		Credentials     stsCredentials `xml:"Credentials"`
		AssumedRoleUser assumedUser    `xml:"AssumedRoleUser"`
		SourceIdentity  string         `xml:"SourceIdentity,omitempty"`
	}
	return writeQuery(w, "sts", c.Action, c.RequestID, result{
		Credentials:     credsOf(ses),
		AssumedRoleUser: assumedUser{AssumedRoleID: p.UserID, Arn: p.ARN},
		SourceIdentity:  c.Form.Get("SourceIdentity"),
	})
}

// trustNamesCaller reports whether an Allow statement of the trust policy
// names the caller itself (user ARN, role ARN, session ARN) rather than
// only its account.
func trustNamesCaller(trust string, p platform.Principal) bool {
	d, err := cachedParse(trust)
	if err != nil {
		return false
	}
	c := callerOf(p)
	for _, st := range d.Statements {
		if st.Effect != policy.Allow || st.Principal == nil {
			continue
		}
		for _, a := range st.Principal.AWS {
			if a == "*" {
				return true
			}
			for _, arn := range c.ARNs {
				if a == arn {
					return true
				}
			}
		}
	}
	return false
}
