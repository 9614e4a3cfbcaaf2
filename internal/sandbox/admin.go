package sandbox

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stacker-go/stacker/internal/sandbox/platform"
)

// Admin API (JSON, under /_sandbox/). Errors are {"error": "..."} with a
// 4xx status. See docs/sandbox.md for the shapes.

// AccountInfo describes an account and its users' credentials.
type AccountInfo struct {
	Name  string     `json:"name"`
	ID    string     `json:"id"`
	Users []UserInfo `json:"users"`
	Roles []string   `json:"roles"`
}

// UserInfo is an IAM user with its access keys and MFA devices.
type UserInfo struct {
	Name       string          `json:"name"`
	ARN        string          `json:"arn"`
	AccessKeys []AccessKeySpec `json:"access_keys"`
	MFA        []MFASpec       `json:"mfa,omitempty"`
}

// Accounts describes every account (with secrets: the sandbox's own keys).
func (s *Server) Accounts() []AccountInfo {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []AccountInfo
	for _, id := range slices.Sorted(maps.Keys(s.st.Accounts)) {
		out = append(out, s.accountInfoLocked(s.st.Accounts[id]))
	}
	// Order by the spec's order where known.
	order := map[string]int{}
	for i, a := range s.spec.Accounts {
		order[a.ID] = i - len(s.spec.Accounts)
	}
	sortStable(out, func(a, b AccountInfo) bool { return order[a.ID] < order[b.ID] })
	return out
}

func sortStable[T any](xs []T, less func(a, b T) bool) {
	for i := 1; i < len(xs); i++ {
		for j := i; j > 0 && less(xs[j], xs[j-1]); j-- {
			xs[j], xs[j-1] = xs[j-1], xs[j]
		}
	}
}

func (s *Server) accountInfoLocked(a *acctState) AccountInfo {
	ai := AccountInfo{Name: a.Name, ID: a.ID, Users: []UserInfo{}, Roles: slices.Sorted(maps.Keys(a.Roles))}
	for _, un := range slices.Sorted(maps.Keys(a.Users)) {
		u := a.Users[un]
		ui := UserInfo{Name: u.Name, ARN: u.ARN, AccessKeys: []AccessKeySpec{}}
		for _, kid := range slices.Sorted(maps.Keys(s.st.Keys)) {
			if k := s.st.Keys[kid]; k.Account == a.ID && k.User == u.Name {
				ui.AccessKeys = append(ui.AccessKeys, AccessKeySpec{ID: k.ID, Secret: k.Secret})
			}
		}
		for _, serial := range slices.Sorted(maps.Keys(a.MFA)) {
			if d := a.MFA[serial]; d.User == u.Name {
				ui.MFA = append(ui.MFA, MFASpec{Serial: d.Serial, Seed: d.Seed})
			}
		}
		ai.Users = append(ai.Users, ui)
	}
	return ai
}

// AddAccount adds an account (as in the spec). An account without users
// gets an administrator "admin" with a generated key.
func (s *Server) AddAccount(as AccountSpec) (AccountInfo, error) {
	if len(as.Users) == 0 {
		as.Users = []UserSpec{{Name: "admin", Admin: true}}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.st.addAccount(as, s.clock.Now()); err != nil {
		return AccountInfo{}, err
	}
	return s.accountInfoLocked(s.st.Accounts[as.ID]), nil
}

// AddUser adds a user to an account.
func (s *Server) AddUser(acct string, us UserSpec) (UserInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accountByRefLocked(acct)
	if a == nil {
		return UserInfo{}, fmt.Errorf("no account %q", acct)
	}
	spec := AccountSpec{Name: a.Name, ID: a.ID, Users: []UserSpec{us}}
	if err := spec.validate(); err != nil {
		return UserInfo{}, err
	}
	if _, err := s.st.addUser(a, us, s.clock.Now()); err != nil {
		return UserInfo{}, err
	}
	for _, u := range s.accountInfoLocked(a).Users {
		if u.Name == us.Name {
			return u, nil
		}
	}
	return UserInfo{}, fmt.Errorf("user %s vanished", us.Name)
}

// AddRole adds a role to an account and returns its ARN.
func (s *Server) AddRole(acct string, rs RoleSpec) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accountByRefLocked(acct)
	if a == nil {
		return "", fmt.Errorf("no account %q", acct)
	}
	spec := AccountSpec{Name: a.Name, ID: a.ID, Roles: []RoleSpec{rs}}
	if err := spec.validate(); err != nil {
		return "", err
	}
	if err := s.st.addRole(a, rs, s.clock.Now()); err != nil {
		return "", err
	}
	return a.Roles[rs.Name].ARN, nil
}

// accountByRefLocked finds an account by id or name.
func (s *Server) accountByRefLocked(ref string) *acctState {
	if a := s.st.Accounts[ref]; a != nil {
		return a
	}
	for _, a := range s.st.Accounts {
		if a.Name == ref {
			return a
		}
	}
	return nil
}

// AddFailureRule adds a CloudFormation failure rule.
func (s *Server) AddFailureRule(r platform.FailureRule) platform.FailureRule {
	return s.faults.AddFailure(r)
}

// ClearFailureRules removes one rule (by id) or all (id "").
func (s *Server) ClearFailureRules(id string) bool { return s.faults.ClearFailures(id) }

// AddThrottleRule adds a throttling rule.
func (s *Server) AddThrottleRule(t ThrottleRule) ThrottleRule { return s.faults.AddThrottle(t) }

// SetFaults replaces the random fault settings (rates, rules, seed).
func (s *Server) SetFaults(fs FaultSpec) error { return s.faults.SetFaults(fs) }

// SetLatency replaces the latency model.
func (s *Server) SetLatency(m platform.LatencyModel) { s.faults.SetLatency(m) }

// Stats returns the per-action counters of calls, throttles, injected
// errors and dropped connections since the start (or the last ClearStats
// or Reset).
func (s *Server) Stats() []ActionStats { return s.faults.Stats() }

// ClearStats zeroes the per-action counters.
func (s *Server) ClearStats() { s.faults.ClearStats() }

// RequestLog returns entries with Seq > since.
func (s *Server) RequestLog(since uint64) []LogEntry { return s.reqLog.since(since) }

// adminReq is one admin API request.
type adminReq struct {
	s  *Server
	w  http.ResponseWriter
	r  *http.Request
	id string // the path element after the collection (failures/ID)
}

func (a *adminReq) reply(status int, v any) {
	a.w.Header().Set("Content-Type", "application/json")
	a.w.WriteHeader(status)
	enc := json.NewEncoder(a.w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func (a *adminReq) ok() { a.reply(200, map[string]any{"ok": true}) }

func (a *adminReq) fail(status int, format string, args ...any) {
	a.reply(status, map[string]string{"error": fmt.Sprintf(format, args...)})
}

// decode reads the JSON body into v, answering 400 when it cannot.
func (a *adminReq) decode(v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(a.w, a.r.Body, 8<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		a.fail(400, "bad request body: %v", err)
		return false
	}
	return true
}

// adminRoutes is the admin API's table: "METHOD path" to handler. A path
// ending in "/*" also serves "path/ID" (the ID in adminReq.id).
var adminRoutes map[string]func(a *adminReq)

func init() {
	adminRoutes = map[string]func(a *adminReq){
		"GET health":         func(a *adminReq) { a.reply(200, map[string]any{"ok": true, "url": a.s.URL()}) },
		"POST reset":         adminReset,
		"GET accounts":       func(a *adminReq) { a.reply(200, a.s.Accounts()) },
		"POST accounts":      adminAddAccount,
		"POST users":         adminAddUser,
		"POST roles":         adminAddRole,
		"GET clock":          adminClock,
		"POST clock/advance": adminAdvanceClock,
		"GET failures":       func(a *adminReq) { a.reply(200, a.s.faults.Failures()) },
		"POST failures":      adminAddFailure,
		"DELETE failures/*":  adminClearFailures,
		"GET throttles":      func(a *adminReq) { a.reply(200, a.s.faults.Throttles()) },
		"POST throttles":     adminAddThrottle,
		"DELETE throttles/*": adminClearThrottles,
		"PUT faults":         adminSetFaults,
		"PUT latency":        adminSetLatency,
		"GET log":            adminLog,
		"DELETE log":         func(a *adminReq) { a.s.reqLog.clear(); a.ok() },
		"POST tamper":        adminTamper,
		"POST snapshot":      adminSnapshot,
		"GET stats":          func(a *adminReq) { a.reply(200, a.s.Stats()) },
		"DELETE stats":       func(a *adminReq) { a.s.ClearStats(); a.ok() },
	}
}

func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	route := strings.Trim(strings.TrimPrefix(r.URL.Path, "/_sandbox"), "/")
	a := &adminReq{s: s, w: w, r: r}
	if h := adminRoutes[r.Method+" "+route]; h != nil {
		h(a)
		return
	}
	head, id, _ := strings.Cut(route, "/")
	if h := adminRoutes[r.Method+" "+head+"/*"]; h != nil {
		a.id = id
		h(a)
		return
	}
	for k := range adminRoutes {
		if _, p, _ := strings.Cut(k, " "); p == route || p == head+"/*" {
			a.fail(405, "method %s not allowed on %s", r.Method, r.URL.Path)
			return
		}
	}
	a.fail(404, "no admin endpoint %s %s", r.Method, r.URL.Path)
}

func adminReset(a *adminReq) {
	if err := a.s.Reset(); err != nil {
		a.fail(500, "reset: %v", err)
		return
	}
	a.ok()
}

func adminAddAccount(a *adminReq) {
	var as AccountSpec
	if !a.decode(&as) {
		return
	}
	ai, err := a.s.AddAccount(as)
	if err != nil {
		a.fail(400, "%v", err)
		return
	}
	a.reply(201, ai)
}

func adminAddUser(a *adminReq) {
	var req struct {
		Account string `json:"account"`
		UserSpec
	}
	if !a.decode(&req) {
		return
	}
	ui, err := a.s.AddUser(req.Account, req.UserSpec)
	if err != nil {
		a.fail(400, "%v", err)
		return
	}
	a.reply(201, ui)
}

func adminAddRole(a *adminReq) {
	var req struct {
		Account            string                     `json:"account"`
		Name               string                     `json:"name"`
		Path               string                     `json:"path"`
		TrustPolicy        json.RawMessage            `json:"trust_policy"`
		Policies           map[string]json.RawMessage `json:"policies"`
		ManagedPolicies    []string                   `json:"managed_policies"`
		MaxSessionDuration int                        `json:"max_session_duration"`
	}
	if !a.decode(&req) {
		return
	}
	rs := RoleSpec{Name: req.Name, Path: req.Path, TrustPolicy: rawPolicy(req.TrustPolicy), ManagedPolicies: req.ManagedPolicies, MaxSessionDuration: req.MaxSessionDuration, Policies: map[string]PolicyDoc{}}
	for k, v := range req.Policies {
		rs.Policies[k] = rawPolicy(v)
	}
	arn, err := a.s.AddRole(req.Account, rs)
	if err != nil {
		a.fail(400, "%v", err)
		return
	}
	a.reply(201, map[string]string{"arn": arn})
}

func adminClock(a *adminReq) {
	a.reply(200, map[string]any{"now": a.s.clock.Now().Format(time.RFC3339Nano), "offset_seconds": a.s.clock.Offset().Seconds()})
}

func adminAdvanceClock(a *adminReq) {
	var req struct {
		Seconds  float64 `json:"seconds"`
		Duration string  `json:"duration"`
	}
	if !a.decode(&req) {
		return
	}
	d := time.Duration(req.Seconds * float64(time.Second))
	if req.Duration != "" {
		pd, err := time.ParseDuration(req.Duration)
		if err != nil {
			a.fail(400, "duration: %v", err)
			return
		}
		d += pd
	}
	if d < 0 {
		a.fail(400, "the clock only moves forward")
		return
	}
	now := a.s.clock.Advance(d)
	a.reply(200, map[string]any{"now": now.Format(time.RFC3339Nano), "offset_seconds": a.s.clock.Offset().Seconds()})
}

func adminAddFailure(a *adminReq) {
	var fr platform.FailureRule
	if !a.decode(&fr) {
		return
	}
	a.reply(201, a.s.AddFailureRule(fr))
}

func adminClearFailures(a *adminReq) {
	if !a.s.ClearFailureRules(a.id) {
		a.fail(404, "no failure rule %q", a.id)
		return
	}
	a.ok()
}

func adminAddThrottle(a *adminReq) {
	var t ThrottleRule
	if !a.decode(&t) {
		return
	}
	a.reply(201, a.s.AddThrottleRule(t))
}

func adminClearThrottles(a *adminReq) {
	if !a.s.faults.ClearThrottles(a.id) {
		a.fail(404, "no throttle rule %q", a.id)
		return
	}
	a.ok()
}

func adminSetFaults(a *adminReq) {
	var fs FaultSpec
	if !a.decode(&fs) {
		return
	}
	if err := a.s.SetFaults(fs); err != nil {
		a.fail(400, "%v", err)
		return
	}
	a.reply(200, fs)
}

func adminSetLatency(a *adminReq) {
	var m platform.LatencyModel
	if !a.decode(&m) {
		return
	}
	a.s.faults.SetLatency(m)
	a.reply(200, m)
}

func adminLog(a *adminReq) {
	since, _ := strconv.ParseUint(a.r.URL.Query().Get("since"), 10, 64)
	a.reply(200, a.s.RequestLog(since))
}

func adminTamper(a *adminReq) {
	var req struct {
		Account   string `json:"account"`
		Region    string `json:"region"`
		Stack     string `json:"stack"`
		LogicalID string `json:"logical_id"`
		Property  string `json:"property"`
		Value     any    `json:"value"`
	}
	if !a.decode(&req) {
		return
	}
	if req.Region == "" {
		req.Region = "us-east-1"
	}
	if err := a.s.cfn.Tamper(req.Account, req.Region, req.Stack, req.LogicalID, req.Property, req.Value); err != nil {
		a.fail(400, "tamper: %v", err)
		return
	}
	a.ok()
}

func adminSnapshot(a *adminReq) {
	var req struct {
		Dir string `json:"dir"`
	}
	if !a.decode(&req) {
		return
	}
	if req.Dir == "" {
		req.Dir = a.s.stateDir
	}
	if req.Dir == "" {
		a.fail(400, "no dir given and no --state-dir")
		return
	}
	if err := a.s.save(req.Dir); err != nil {
		a.fail(500, "%v", err)
		return
	}
	a.reply(200, map[string]any{"ok": true, "file": filepath.Join(req.Dir, snapshotFile)})
}

// rawPolicy accepts a JSON object or a JSON string holding a document.
func rawPolicy(raw json.RawMessage) PolicyDoc {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return PolicyDoc(s)
	}
	return PolicyDoc(raw)
}

// WriteAWSConfig writes an AWS config file with one profile per account
// ("sandbox-<name>"): endpoint_url, region us-east-1, the first user's
// first access key (the "admin" user when present), and mfa_serial where
// that user has a device.
func (s *Server) WriteAWSConfig(path string) error {
	b := []byte(s.AWSConfig())
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("write AWS config: %w", err)
	}
	return nil
}

// AWSConfig is the text WriteAWSConfig writes.
func (s *Server) AWSConfig() string {
	var b strings.Builder
	b.WriteString("# Written by stacker sandbox. Use with AWS_CONFIG_FILE.\n")
	for _, a := range s.Accounts() {
		u := pickAdmin(a.Users)
		fmt.Fprintf(&b, "\n[profile sandbox-%s]\n", a.Name)
		fmt.Fprintf(&b, "endpoint_url = %s\n", s.URL())
		b.WriteString("region = us-east-1\n")
		if u != nil && len(u.AccessKeys) > 0 {
			fmt.Fprintf(&b, "aws_access_key_id = %s\n", u.AccessKeys[0].ID)
			fmt.Fprintf(&b, "aws_secret_access_key = %s\n", u.AccessKeys[0].Secret)
			if len(u.MFA) > 0 {
				fmt.Fprintf(&b, "mfa_serial = %s\n", u.MFA[0].Serial)
			}
		}
		b.WriteString("s3 =\n  addressing_style = path\n")
	}
	return b.String()
}

func pickAdmin(users []UserInfo) *UserInfo {
	for i := range users {
		if users[i].Name == "admin" {
			return &users[i]
		}
	}
	if len(users) > 0 {
		return &users[0]
	}
	return nil
}
