// Package ssm is the sandbox's SSM Parameter Store: PutParameter,
// GetParameter, GetParameters and DeleteParameter (String, StringList and
// SecureString, with versions), per account and region, over AWS's JSON 1.1
// protocol (X-Amz-Target AmazonSSM.<Action>). It has the shape of every
// sandbox service: a platform.Service with an action table.
package ssm

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/stacker-go/stacker/internal/sandbox/platform"
)

// Service implements platform.Service and platform.Stateful.
type Service struct {
	p      *platform.Platform
	mu     sync.Mutex
	params map[string]map[string]*Parameter // "account/region" -> name
}

var (
	_ platform.Service  = (*Service)(nil)
	_ platform.Stateful = (*Service)(nil)
)

// Parameter is a stored parameter. SecureString values are stored as
// given (the sandbox has no KMS) and returned encrypted-looking unless
// WithDecryption is set.
type Parameter struct {
	Name        string    `json:"name"`
	Type        string    `json:"type"`
	Value       string    `json:"value"`
	KeyID       string    `json:"key_id,omitempty"`
	Description string    `json:"description,omitempty"`
	Version     int64     `json:"version"`
	Modified    time.Time `json:"modified"`
}

// New returns the service.
func New(p *platform.Platform) *Service {
	return &Service{p: p, params: map[string]map[string]*Parameter{}}
}

// Name is "ssm".
func (s *Service) Name() string { return "ssm" }

// Protocol is JSON 1.1.
func (s *Service) Protocol() platform.Protocol { return platform.ProtocolJSON }

type req struct {
	s    *Service
	c    *platform.Call
	acct string
}

var actions platform.Actions[*req]

func init() {
	actions = platform.Actions[*req]{
		"PutParameter":    (*req).putParameter,
		"GetParameter":    (*req).getParameter,
		"GetParameters":   (*req).getParameters,
		"DeleteParameter": (*req).deleteParameter,
	}
}

// Serve dispatches through the action table.
func (s *Service) Serve(w http.ResponseWriter, c *platform.Call) error {
	r := &req{s: s, c: c, acct: c.Principal.Account}
	return actions.Serve(r, c.Action, w, func(action string) error {
		return apiErr(400, "InvalidAction", "The action %s is not valid for this web service.", action)
	})
}

// apiErr is an API error of this service.
var apiErr = platform.Errorf

func (r *req) decode(v any) error { return platform.DecodeJSON(r.c, v) }

func (r *req) write(w http.ResponseWriter, v any) error { return platform.WriteJSON(w, r.c, v) }

// arn is the parameter's ARN ("/a/b" and "a" give parameter/a/b and parameter/a).
func (r *req) arn(name string) string {
	return platform.ARN(r.c, "ssm", r.acct, "parameter/"+strings.TrimPrefix(name, "/"))
}

func (r *req) authorize(action, name string) error {
	return r.s.p.Authorize(r.c, "ssm:"+action, r.arn(name), func(reason string) error {
		return apiErr(400, "AccessDeniedException", "%s", reason)
	})
}

func (s *Service) region(acct, region string) map[string]*Parameter {
	k := acct + "/" + region
	m := s.params[k]
	if m == nil {
		m = map[string]*Parameter{}
		s.params[k] = m
	}
	return m
}

func (r *req) now() time.Time { return r.s.p.Now() }

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9_.\-/]+$`)

func (r *req) putParameter(w http.ResponseWriter) error {
	var in struct {
		Name, Value, Type, KeyId, Description string
		Overwrite                             bool
		Tier, DataType                        string
	}
	if err := r.decode(&in); err != nil {
		return err
	}
	lower := strings.ToLower(strings.TrimPrefix(in.Name, "/"))
	if len(in.Name) > 2048 || !nameRE.MatchString(in.Name) || strings.HasPrefix(lower, "aws") || strings.HasPrefix(lower, "ssm") {
		return apiErr(400, "ValidationException", "Parameter name: can't be prefixed with \"aws\" or \"ssm\" (case-insensitive). If formed as a path, it can consist of sub-paths divided by slash symbol; each sub-path can be formed as a mix of letters, numbers and the following 3 symbols .-_")
	}
	if err := r.authorize("PutParameter", in.Name); err != nil {
		return err
	}
	if in.Value == "" {
		return apiErr(400, "ValidationException", "1 validation error detected: Value '' at 'value' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	m := r.s.region(r.acct, r.c.Region)
	prev := m[in.Name]
	if prev != nil && !in.Overwrite {
		return apiErr(400, "ParameterAlreadyExists", "The parameter already exists. To overwrite this value, set the overwrite option in the request to true.")
	}
	if in.Type == "" {
		if prev == nil {
			return apiErr(400, "ValidationException", "A parameter type is required when you create a parameter.")
		}
		in.Type = prev.Type
	}
	switch in.Type {
	case "String", "StringList", "SecureString":
	default:
		return apiErr(400, "ValidationException", "1 validation error detected: Value '%s' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [SecureString, StringList, String]", in.Type)
	}
	if in.Type == "SecureString" && in.KeyId == "" {
		in.KeyId = "alias/aws/ssm"
	}
	p := &Parameter{Name: in.Name, Type: in.Type, Value: in.Value, KeyID: in.KeyId, Description: in.Description, Version: 1, Modified: r.now()}
	if prev != nil {
		p.Version = prev.Version + 1
	}
	m[in.Name] = p
	return r.write(w, map[string]any{"Version": p.Version, "Tier": "Standard"})
}

// view is a parameter as GetParameter returns it.
func (r *req) view(p *Parameter, decrypt bool) map[string]any {
	v := p.Value
	if p.Type == "SecureString" && !decrypt {
		// A stand-in ciphertext: stable, not the value.
		sum := sha256.Sum256([]byte(p.KeyID + "\x00" + p.Value))
		v = "AQICAH" + base64.StdEncoding.EncodeToString(sum[:])
	}
	return map[string]any{
		"Name": p.Name, "Type": p.Type, "Value": v, "Version": p.Version, "ARN": r.arn(p.Name),
		"LastModifiedDate": float64(p.Modified.UnixMilli()) / 1000, "DataType": "text",
	}
}

func (r *req) getParameter(w http.ResponseWriter) error {
	var in struct {
		Name           string
		WithDecryption bool
	}
	if err := r.decode(&in); err != nil {
		return err
	}
	if err := r.authorize("GetParameter", in.Name); err != nil {
		return err
	}
	r.s.mu.Lock()
	p := r.s.region(r.acct, r.c.Region)[in.Name]
	var out map[string]any
	if p != nil {
		out = r.view(p, in.WithDecryption)
	}
	r.s.mu.Unlock()
	if p == nil {
		return apiErr(400, "ParameterNotFound", "")
	}
	return r.write(w, map[string]any{"Parameter": out})
}

func (r *req) getParameters(w http.ResponseWriter) error {
	var in struct {
		Names          []string
		WithDecryption bool
	}
	if err := r.decode(&in); err != nil {
		return err
	}
	for _, n := range in.Names {
		if err := r.authorize("GetParameters", n); err != nil {
			return err
		}
	}
	params, invalid := []map[string]any{}, []string{}
	r.s.mu.Lock()
	m := r.s.region(r.acct, r.c.Region)
	for _, n := range in.Names {
		if p := m[n]; p != nil {
			params = append(params, r.view(p, in.WithDecryption))
		} else {
			invalid = append(invalid, n)
		}
	}
	r.s.mu.Unlock()
	return r.write(w, map[string]any{"Parameters": params, "InvalidParameters": invalid})
}

func (r *req) deleteParameter(w http.ResponseWriter) error {
	var in struct{ Name string }
	if err := r.decode(&in); err != nil {
		return err
	}
	if err := r.authorize("DeleteParameter", in.Name); err != nil {
		return err
	}
	r.s.mu.Lock()
	m := r.s.region(r.acct, r.c.Region)
	_, ok := m[in.Name]
	delete(m, in.Name)
	r.s.mu.Unlock()
	if !ok {
		return apiErr(400, "ParameterNotFound", "")
	}
	return r.write(w, map[string]any{})
}

// Snapshot returns the parameters as JSON (SecureString values included:
// the state file is as secret as the parameters).
func (s *Service) Snapshot() ([]byte, error) { return platform.SnapshotState(&s.mu, s.params) }

// Restore replaces the parameters.
func (s *Service) Restore(data []byte) error {
	return platform.RestoreState(&s.mu, &s.params, data, "ssm parameters")
}

// Reset clears all parameters.
func (s *Service) Reset() { platform.ResetState(&s.mu, &s.params, map[string]map[string]*Parameter{}) }
