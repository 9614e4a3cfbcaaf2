// Package policy parses and evaluates IAM policy documents (identity, trust
// and resource policies) for the sandbox. It knows AWS's policy grammar and
// evaluation logic, and nothing about accounts, HTTP or services.
package policy

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Effect of a statement.
type Effect string

// Effects.
const (
	Allow Effect = "Allow"
	Deny  Effect = "Deny"
)

// Document is a parsed policy document.
type Document struct {
	Version    string
	Statements []Statement
}

// Statement is one statement of a policy.
type Statement struct {
	Sid          string
	Effect       Effect
	Principal    *Principals // nil when absent
	NotPrincipal *Principals
	Action       []string
	NotAction    []string
	Resource     []string
	NotResource  []string
	// Condition: operator -> key -> values.
	Condition map[string]map[string][]string
}

// Principals is a statement's Principal element. Any is true for "*" or
// {"AWS": "*"}.
type Principals struct {
	Any       bool
	AWS       []string
	Service   []string
	Federated []string
}

// Parse parses a JSON policy document.
func Parse(doc string) (*Document, error) {
	var raw struct {
		Version   string          `json:"Version"`
		Statement json.RawMessage `json:"Statement"`
	}
	if err := json.Unmarshal([]byte(doc), &raw); err != nil {
		return nil, fmt.Errorf("policy is not valid JSON: %w", err)
	}
	if len(raw.Statement) == 0 {
		return nil, fmt.Errorf("policy has no Statement")
	}
	var rawStmts []map[string]json.RawMessage
	if strings.HasPrefix(strings.TrimSpace(string(raw.Statement)), "[") {
		if err := json.Unmarshal(raw.Statement, &rawStmts); err != nil {
			return nil, fmt.Errorf("policy Statement: %w", err)
		}
	} else {
		var one map[string]json.RawMessage
		if err := json.Unmarshal(raw.Statement, &one); err != nil {
			return nil, fmt.Errorf("policy Statement: %w", err)
		}
		rawStmts = []map[string]json.RawMessage{one}
	}
	if len(rawStmts) == 0 {
		return nil, fmt.Errorf("policy has no Statement")
	}
	d := &Document{Version: raw.Version}
	for i, rs := range rawStmts {
		st, err := parseStatement(rs)
		if err != nil {
			return nil, fmt.Errorf("statement %d: %w", i+1, err)
		}
		d.Statements = append(d.Statements, st)
	}
	return d, nil
}

func parseStatement(rs map[string]json.RawMessage) (Statement, error) {
	var st Statement
	for k, v := range rs {
		var err error
		switch k {
		case "Sid":
			err = json.Unmarshal(v, &st.Sid)
		case "Effect":
			var e string
			err = json.Unmarshal(v, &e)
			st.Effect = Effect(e)
		case "Action":
			st.Action, err = stringList(v)
		case "NotAction":
			st.NotAction, err = stringList(v)
		case "Resource":
			st.Resource, err = stringList(v)
		case "NotResource":
			st.NotResource, err = stringList(v)
		case "Principal":
			st.Principal, err = parsePrincipals(v)
		case "NotPrincipal":
			st.NotPrincipal, err = parsePrincipals(v)
		case "Condition":
			st.Condition, err = parseCondition(v)
		default:
			return st, fmt.Errorf("unknown element %q", k)
		}
		if err != nil {
			return st, fmt.Errorf("%s: %w", k, err)
		}
	}
	if st.Effect != Allow && st.Effect != Deny {
		return st, fmt.Errorf("Effect must be Allow or Deny, not %q", st.Effect)
	}
	if st.Action == nil && st.NotAction == nil {
		return st, fmt.Errorf("statement has neither Action nor NotAction")
	}
	return st, nil
}

// stringList decodes a string or a list of strings (numbers and booleans
// are accepted and formatted, as AWS does for condition values).
func stringList(v json.RawMessage) ([]string, error) {
	var any0 any
	if err := json.Unmarshal(v, &any0); err != nil {
		return nil, err
	}
	switch t := any0.(type) {
	case []any:
		out := make([]string, 0, len(t))
		for _, e := range t {
			s, err := scalar(e)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	default:
		s, err := scalar(t)
		if err != nil {
			return nil, err
		}
		return []string{s}, nil
	}
}

func scalar(v any) (string, error) {
	switch t := v.(type) {
	case string:
		return t, nil
	case bool:
		return strconv.FormatBool(t), nil
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64), nil
	default:
		return "", fmt.Errorf("expected a string, got %T", v)
	}
}

func parsePrincipals(v json.RawMessage) (*Principals, error) {
	var s string
	if json.Unmarshal(v, &s) == nil {
		if s != "*" {
			return nil, fmt.Errorf("principal string must be \"*\"")
		}
		return &Principals{Any: true}, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(v, &m); err != nil {
		return nil, err
	}
	p := &Principals{}
	for k, raw := range m {
		l, err := stringList(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		switch k {
		case "AWS":
			for _, a := range l {
				if a == "*" {
					p.Any = true
				}
			}
			p.AWS = append(p.AWS, l...)
		case "Service":
			p.Service = append(p.Service, l...)
		case "Federated":
			p.Federated = append(p.Federated, l...)
		case "CanonicalUser":
		default:
			return nil, fmt.Errorf("unknown principal type %q", k)
		}
	}
	return p, nil
}

func parseCondition(v json.RawMessage) (map[string]map[string][]string, error) {
	var m map[string]map[string]json.RawMessage
	if err := json.Unmarshal(v, &m); err != nil {
		return nil, err
	}
	out := make(map[string]map[string][]string, len(m))
	for op, kv := range m {
		out[op] = make(map[string][]string, len(kv))
		for k, raw := range kv {
			l, err := stringList(raw)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", op, k, err)
			}
			out[op][k] = l
		}
	}
	return out, nil
}

// Caller identifies the principal of a request, for Principal matching in
// resource and trust policies.
type Caller struct {
	Account string
	// ARNs the caller is known by: its own ARN (user ARN, assumed-role
	// session ARN) and, for role sessions, the role's ARN.
	ARNs []string
	// Service is set when the caller is an AWS service principal.
	Service string
}

// Request is what is being evaluated.
type Request struct {
	Action   string // "s3:GetObject"
	Resource string // ARN or "*"
	Caller   Caller
	// Context keys (lower-cased names) and their values.
	Context map[string][]string
}

// Result of evaluating statements.
type Result int

// Results.
const (
	NoMatch Result = iota
	Allowed
	Denied
)

func (r Result) String() string {
	switch r {
	case Allowed:
		return "Allowed"
	case Denied:
		return "Denied"
	}
	return "NoMatch"
}

// Evaluate returns Denied if any statement denies, Allowed if any allows,
// else NoMatch. resourcePolicy says whether Principal elements apply.
func (d *Document) Evaluate(r Request, resourcePolicy bool) Result {
	res := NoMatch
	for i := range d.Statements {
		st := &d.Statements[i]
		if !st.matches(r, resourcePolicy) {
			continue
		}
		if st.Effect == Deny {
			return Denied
		}
		res = Allowed
	}
	return res
}

func (st *Statement) matches(r Request, resourcePolicy bool) bool {
	if resourcePolicy {
		if st.Principal != nil && !st.Principal.Match(r.Caller) {
			return false
		}
		if st.NotPrincipal != nil && st.NotPrincipal.Match(r.Caller) {
			return false
		}
		if st.Principal == nil && st.NotPrincipal == nil {
			return false
		}
	}
	if st.Action != nil && !anyMatch(st.Action, r.Action, true) {
		return false
	}
	if st.NotAction != nil && anyMatch(st.NotAction, r.Action, true) {
		return false
	}
	if st.Resource != nil && !anyMatch(st.Resource, r.Resource, false) {
		return false
	}
	if st.NotResource != nil && anyMatch(st.NotResource, r.Resource, false) {
		return false
	}
	if st.Resource == nil && st.NotResource == nil && !resourcePolicy {
		return false
	}
	return conditionsHold(st.Condition, r.Context)
}

func anyMatch(patterns []string, s string, fold bool) bool {
	for _, p := range patterns {
		if fold {
			if Glob(strings.ToLower(p), strings.ToLower(s)) {
				return true
			}
		} else if Glob(p, s) {
			return true
		}
	}
	return false
}

// Match reports whether the caller is one of the principals.
func (p *Principals) Match(c Caller) bool {
	if p.Any {
		return true
	}
	for _, a := range p.AWS {
		if a == c.Account || a == "arn:aws:iam::"+c.Account+":root" {
			return true
		}
		for _, arn := range c.ARNs {
			if a == arn {
				return true
			}
		}
	}
	if c.Service != "" {
		for _, s := range p.Service {
			if s == c.Service {
				return true
			}
		}
	}
	return false
}

// Glob matches s against a pattern with * (any run) and ? (one character).
func Glob(pattern, s string) bool {
	// Iterative matcher with backtracking on the last star.
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// conditionsHold evaluates a Condition block: every operator and every key
// must hold. Unknown operators never hold (fail closed).
func conditionsHold(cond map[string]map[string][]string, ctx map[string][]string) bool {
	for op, kv := range cond {
		for key, want := range kv {
			if !conditionHolds(op, key, want, ctx) {
				return false
			}
		}
	}
	return true
}

func conditionHolds(op, key string, want []string, ctx map[string][]string) bool {
	have, present := ctx[strings.ToLower(key)]
	if op == "Null" {
		// Null: true means the key must be absent; false means present.
		for _, w := range want {
			isNull := strings.EqualFold(w, "true")
			if isNull == present {
				return false
			}
		}
		return true
	}
	set := ""
	if i := strings.Index(op, ":"); i >= 0 {
		set, op = op[:i], op[i+1:]
	}
	ifExists := false
	if strings.HasSuffix(op, "IfExists") {
		ifExists = true
		op = strings.TrimSuffix(op, "IfExists")
	}
	if !present || len(have) == 0 {
		if ifExists || set == "ForAllValues" {
			return true
		}
		// Negated operators hold on a missing key in AWS.
		return isNegated(op)
	}
	cmp, ok := operators[op]
	if !ok {
		return false
	}
	negated := isNegated(op)
	matchOne := func(h string) bool {
		for _, w := range want {
			if cmp(h, w) {
				return true
			}
		}
		return false
	}
	switch set {
	case "ForAllValues":
		for _, h := range have {
			if matchOne(h) == negated {
				return false
			}
		}
		return true
	case "ForAnyValue":
		for _, h := range have {
			if matchOne(h) != negated {
				return true
			}
		}
		return false
	default:
		// Single-valued: any of the context values matching counts.
		if negated {
			for _, h := range have {
				if matchOne(h) {
					return false
				}
			}
			return true
		}
		for _, h := range have {
			if matchOne(h) {
				return true
			}
		}
		return false
	}
}

func isNegated(op string) bool { return strings.Contains(op, "Not") }

// operators compare one context value with one policy value; negated
// operators return whether the positive form matches (negation is applied
// by the caller).
var operators = map[string]func(have, want string) bool{
	"StringEquals":              func(h, w string) bool { return h == w },
	"StringNotEquals":           func(h, w string) bool { return h == w },
	"StringEqualsIgnoreCase":    strings.EqualFold,
	"StringNotEqualsIgnoreCase": strings.EqualFold,
	"StringLike":                like,
	"StringNotLike":             like,
	"ArnEquals":                 func(h, w string) bool { return h == w },
	"ArnNotEquals":              func(h, w string) bool { return h == w },
	"ArnLike":                   like,
	"ArnNotLike":                like,
	"Bool":                      strings.EqualFold,
	"NumericEquals":             numeric(func(a, b float64) bool { return a == b }),
	"NumericNotEquals":          numeric(func(a, b float64) bool { return a == b }),
	"NumericLessThan":           numeric(func(a, b float64) bool { return a < b }),
	"NumericLessThanEquals":     numeric(func(a, b float64) bool { return a <= b }),
	"NumericGreaterThan":        numeric(func(a, b float64) bool { return a > b }),
	"NumericGreaterThanEquals":  numeric(func(a, b float64) bool { return a >= b }),
	"DateEquals":                date(func(a, b time.Time) bool { return a.Equal(b) }),
	"DateNotEquals":             date(func(a, b time.Time) bool { return a.Equal(b) }),
	"DateLessThan":              date(func(a, b time.Time) bool { return a.Before(b) }),
	"DateLessThanEquals":        date(func(a, b time.Time) bool { return !a.After(b) }),
	"DateGreaterThan":           date(func(a, b time.Time) bool { return a.After(b) }),
	"DateGreaterThanEquals":     date(func(a, b time.Time) bool { return !a.Before(b) }),
	"IpAddress":                 ipIn,
	"NotIpAddress":              ipIn,
}

func like(h, w string) bool { return Glob(w, h) }

func numeric(f func(a, b float64) bool) func(string, string) bool {
	return func(h, w string) bool {
		a, err1 := strconv.ParseFloat(h, 64)
		b, err2 := strconv.ParseFloat(w, 64)
		return err1 == nil && err2 == nil && f(a, b)
	}
}

func parseDate(s string) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, true
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, true
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0), true
	}
	return time.Time{}, false
}

func date(f func(a, b time.Time) bool) func(string, string) bool {
	return func(h, w string) bool {
		a, ok1 := parseDate(h)
		b, ok2 := parseDate(w)
		return ok1 && ok2 && f(a, b)
	}
}

func ipIn(h, w string) bool {
	addr, err := netip.ParseAddr(h)
	if err != nil {
		return false
	}
	if !strings.Contains(w, "/") {
		b, err := netip.ParseAddr(w)
		return err == nil && b == addr
	}
	pfx, err := netip.ParsePrefix(w)
	return err == nil && pfx.Contains(addr)
}
