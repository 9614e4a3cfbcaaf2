package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// buildState creates the initial state of a spec.
func buildState(spec *Spec, now time.Time) (*state, error) {
	st := newState()
	for _, as := range spec.Accounts {
		if err := st.addAccount(as, now); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// addAccount adds an account with its users, roles and buckets. It returns
// an error if the id or name is taken. Caller holds the lock (or owns st).
func (st *state) addAccount(as AccountSpec, now time.Time) error {
	if err := as.validate(); err != nil {
		return err
	}
	if _, ok := st.Accounts[as.ID]; ok {
		return fmt.Errorf("account %s already exists", as.ID)
	}
	for _, a := range st.Accounts {
		if a.Name == as.Name {
			return fmt.Errorf("account name %q is taken by %s", as.Name, a.ID)
		}
	}
	a := newAccount(as.ID, as.Name)
	st.Accounts[as.ID] = a
	for _, us := range as.Users {
		if _, err := st.addUser(a, us, now); err != nil {
			return err
		}
	}
	for _, rs := range as.Roles {
		if err := st.addRole(a, rs, now); err != nil {
			return err
		}
	}
	for _, bs := range as.Buckets {
		if _, ok := st.Buckets[bs.Name]; ok {
			return fmt.Errorf("bucket %s already exists", bs.Name)
		}
		region := bs.Region
		if region == "" {
			region = "us-east-1"
		}
		st.Buckets[bs.Name] = &bucket{Name: bs.Name, Account: a.ID, Region: region, Created: now, Policy: string(bs.Policy), Objects: map[string]*object{}}
	}
	return nil
}

// addUser creates a user from a spec and returns its access keys.
func (st *state) addUser(a *acctState, us UserSpec, now time.Time) ([]AccessKeySpec, error) {
	if _, ok := a.Users[us.Name]; ok {
		return nil, fmt.Errorf("user %s already exists in account %s", us.Name, a.ID)
	}
	p := us.Path
	if p == "" {
		p = "/"
	}
	u := &user{Name: us.Name, Path: p, ID: randomID("AIDA", 17), ARN: "arn:aws:iam::" + a.ID + ":user" + p + us.Name, Created: now, Inline: map[string]string{}}
	for n, d := range us.Policies {
		u.Inline[n] = string(d)
	}
	if us.Admin {
		u.Attached = append(u.Attached, AdministratorAccessARN)
	}
	u.Attached = append(u.Attached, us.ManagedPolicies...)
	a.Users[us.Name] = u
	keys := us.AccessKeys
	if len(keys) == 0 {
		keys = []AccessKeySpec{{ID: randomID("AKIA", 16), Secret: randomSecret()}}
	}
	for _, k := range keys {
		if _, ok := st.Keys[k.ID]; ok {
			return nil, fmt.Errorf("access key %s is declared twice", k.ID)
		}
		st.Keys[k.ID] = &accessKey{ID: k.ID, Secret: k.Secret, Account: a.ID, User: us.Name, Status: "Active", Created: now}
	}
	for _, m := range us.MFA {
		serial := m.Serial
		if serial == "" {
			serial = "arn:aws:iam::" + a.ID + ":mfa/" + us.Name
		}
		a.MFA[serial] = &mfaDevice{Serial: serial, Seed: m.Seed, User: us.Name, Enabled: now}
	}
	return keys, nil
}

func (st *state) addRole(a *acctState, rs RoleSpec, now time.Time) error {
	if _, ok := a.Roles[rs.Name]; ok {
		return fmt.Errorf("role %s already exists in account %s", rs.Name, a.ID)
	}
	p := rs.Path
	if p == "" {
		p = "/"
	}
	max := rs.MaxSessionDuration
	if max == 0 {
		max = 3600
	}
	r := &role{Name: rs.Name, Path: p, ID: randomID("AROA", 17), ARN: "arn:aws:iam::" + a.ID + ":role" + p + rs.Name,
		Trust: string(rs.TrustPolicy), MaxSession: max, Created: now, Inline: map[string]string{}}
	for n, d := range rs.Policies {
		r.Inline[n] = string(d)
	}
	r.Attached = append(r.Attached, rs.ManagedPolicies...)
	a.Roles[rs.Name] = r
	return nil
}

// snapshot is the on-disk form of --state-dir.
type snapshot struct {
	Version     int           `json:"version"`
	ClockOffset time.Duration `json:"clock_offset"`
	State       *state        `json:"state"`
	// Services holds each platform.Stateful service's snapshot by name
	// (JSON, or a JSON string of base64 for non-JSON snapshots).
	Services map[string]json.RawMessage `json:"services,omitempty"`
	// CFN is where version 1 files kept CloudFormation's snapshot; read only.
	CFN json.RawMessage `json:"cloudformation,omitempty"`
}

const snapshotFile = "sandbox-state.json"

func (s *Server) save(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("sandbox: save state: %w", err)
	}
	snap := snapshot{Version: 2, ClockOffset: s.clock.Offset(), Services: map[string]json.RawMessage{}}
	for name, svc := range s.stateful() {
		data, err := svc.Snapshot()
		if err != nil {
			return fmt.Errorf("sandbox: snapshot %s: %w", name, err)
		}
		if !json.Valid(data) {
			data, _ = json.Marshal(data) // base64 string
		}
		snap.Services[name] = data
	}
	s.mu.RLock()
	snap.State = s.st
	b, err := json.Marshal(snap)
	s.mu.RUnlock()
	if err != nil {
		return fmt.Errorf("sandbox: encode state: %w", err)
	}
	tmp := filepath.Join(dir, snapshotFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("sandbox: save state: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, snapshotFile)); err != nil {
		return fmt.Errorf("sandbox: save state: %w", err)
	}
	return nil
}

func (s *Server) load(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, snapshotFile))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sandbox: load state: %w", err)
	}
	var snap snapshot
	if err := json.Unmarshal(b, &snap); err != nil {
		return fmt.Errorf("sandbox: load state %s: %w", filepath.Join(dir, snapshotFile), err)
	}
	if snap.State == nil {
		return fmt.Errorf("sandbox: load state: no state in %s", filepath.Join(dir, snapshotFile))
	}
	fixState(snap.State)
	s.mu.Lock()
	s.st = snap.State
	s.mu.Unlock()
	s.clock.setOffset(snap.ClockOffset)
	if len(snap.CFN) > 0 && snap.Services["cloudformation"] == nil {
		if snap.Services == nil {
			snap.Services = map[string]json.RawMessage{}
		}
		snap.Services["cloudformation"] = snap.CFN
	}
	for name, svc := range s.stateful() {
		raw := snap.Services[name]
		if len(raw) == 0 {
			continue
		}
		data := []byte(raw)
		var str []byte
		if raw[0] == '"' && json.Unmarshal(raw, &str) == nil {
			data = str
		}
		if err := svc.Restore(data); err != nil {
			return fmt.Errorf("sandbox: restore %s: %w", name, err)
		}
	}
	return nil
}

// fixState makes nil maps non-nil after decoding.
func fixState(st *state) {
	if st.Accounts == nil {
		st.Accounts = map[string]*acctState{}
	}
	if st.Keys == nil {
		st.Keys = map[string]*accessKey{}
	}
	if st.Sessions == nil {
		st.Sessions = map[string]*session{}
	}
	if st.Buckets == nil {
		st.Buckets = map[string]*bucket{}
	}
	if st.UsedMFA == nil {
		st.UsedMFA = map[string]uint64{}
	}
	for _, a := range st.Accounts {
		if a.Users == nil {
			a.Users = map[string]*user{}
		}
		if a.Roles == nil {
			a.Roles = map[string]*role{}
		}
		if a.Policies == nil {
			a.Policies = map[string]*managedPolicy{}
		}
		if a.MFA == nil {
			a.MFA = map[string]*mfaDevice{}
		}
		if a.Profiles == nil {
			a.Profiles = map[string]*instanceProfile{}
		}
		if a.ServerCerts == nil {
			a.ServerCerts = map[string]*serverCert{}
		}
		for _, u := range a.Users {
			if u.Inline == nil {
				u.Inline = map[string]string{}
			}
		}
		for _, r := range a.Roles {
			if r.Inline == nil {
				r.Inline = map[string]string{}
			}
		}
	}
	for _, b := range st.Buckets {
		if b.Objects == nil {
			b.Objects = map[string]*object{}
		}
	}
}
