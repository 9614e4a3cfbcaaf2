package sandbox

import (
	"strconv"
	"strings"
	"sync"

	"github.com/stacker-go/stacker/internal/sandbox/platform"
	"github.com/stacker-go/stacker/internal/sandbox/policy"
)

var parseCache sync.Map // document JSON -> *policy.Document

func cachedParse(doc string) (*policy.Document, error) {
	if d, ok := parseCache.Load(doc); ok {
		return d.(*policy.Document), nil
	}
	d, err := policy.Parse(doc)
	if err != nil {
		return nil, err
	}
	parseCache.Store(doc, d)
	return d, nil
}

func checkPolicy(doc string) error {
	_, err := cachedParse(doc)
	return err
}

// callerOf is p as a policy principal.
func callerOf(p platform.Principal) policy.Caller {
	c := policy.Caller{Account: p.Account, ARNs: []string{p.ARN}}
	if p.RoleARN != "" {
		c.ARNs = append(c.ARNs, p.RoleARN)
	}
	return c
}

// contextKeys are the global condition keys of a request by p (lower-case).
func (s *Server) contextKeys(p platform.Principal, extra map[string][]string) map[string][]string {
	now := s.clock.Now()
	ctx := map[string][]string{
		"aws:principalaccount": {p.Account},
		"aws:principalarn":     {principalARN(p)},
		"aws:userid":           {p.UserID},
		"aws:principaltype":    {principalType(p)},
		"aws:currenttime":      {now.Format("2006-01-02T15:04:05Z")},
		"aws:epochtime":        {strconv.FormatInt(now.Unix(), 10)},
		"aws:securetransport":  {"false"},
	}
	if p.Kind == "user" {
		ctx["aws:username"] = []string{p.UserName}
	}
	// aws:MultiFactorAuthPresent is absent for long-term keys, "false" for
	// temporary credentials without MFA; Age is present only with MFA.
	if p.MFAPresent {
		ctx["aws:multifactorauthpresent"] = []string{"true"}
		age := int64(now.Sub(p.MFAAuthTime).Seconds())
		if age < 0 {
			age = 0
		}
		ctx["aws:multifactorauthage"] = []string{strconv.FormatInt(age, 10)}
	} else if !p.Expiration.IsZero() {
		ctx["aws:multifactorauthpresent"] = []string{"false"}
	}
	for k, v := range extra {
		ctx[strings.ToLower(k)] = v
	}
	return ctx
}

// principalARN is aws:PrincipalArn: the role ARN for role sessions.
func principalARN(p platform.Principal) string {
	if p.RoleARN != "" {
		return p.RoleARN
	}
	return p.ARN
}

func principalType(p platform.Principal) string {
	switch p.Kind {
	case "user":
		return "User"
	case "assumed-role":
		return "AssumedRole"
	case "root":
		return "Account"
	case "federated-user":
		return "FederatedUser"
	}
	return p.Kind
}

// authzResult is the outcome of identity + resource policy evaluation.
type authzResult struct {
	identity policy.Result
	resource policy.Result
	allowed  bool
}

// evaluate applies AWS's logic: any explicit Deny wins; in the resource's
// own account an Allow from either policy suffices; across accounts both
// the identity policy and the resource policy must allow. resourceAccount
// is "" for resources without a resource policy. Caller holds s.mu (read).
func (s *Server) evaluateLocked(p platform.Principal, action, resource string, extra map[string][]string, resourcePolicy, resourceAccount string) authzResult {
	req := policy.Request{Action: action, Resource: resource, Caller: callerOf(p), Context: s.contextKeys(p, extra)}
	var r authzResult
	if p.Kind == "root" {
		r.identity = policy.Allowed
	} else {
		for _, d := range s.st.policiesOf(p) {
			switch d.Evaluate(req, false) {
			case policy.Denied:
				r.identity = policy.Denied
			case policy.Allowed:
				if r.identity != policy.Denied {
					r.identity = policy.Allowed
				}
			}
		}
	}
	if resourcePolicy != "" {
		if d, err := cachedParse(resourcePolicy); err == nil {
			r.resource = d.Evaluate(req, true)
		}
	}
	switch {
	case r.identity == policy.Denied || r.resource == policy.Denied:
		r.allowed = false
	case resourceAccount == "" || resourceAccount == p.Account:
		r.allowed = r.identity == policy.Allowed || r.resource == policy.Allowed
	default:
		r.allowed = r.identity == policy.Allowed && r.resource == policy.Allowed
	}
	return r
}

// Authorize implements platform.Authorizer for identity policies.
func (s *Server) Authorize(p platform.Principal, action, resource string, extra map[string][]string) platform.Decision {
	s.mu.RLock()
	r := s.evaluateLocked(p, action, resource, extra, "", "")
	s.mu.RUnlock()
	if r.allowed {
		return platform.Decision{Allowed: true}
	}
	return platform.Decision{Reason: denyReason(p, action, resource, r)}
}

// denyReason is AWS's wording of an authorization failure.
func denyReason(p platform.Principal, action, resource string, r authzResult) string {
	kind := "User"
	msg := kind + ": " + p.ARN + " is not authorized to perform: " + action + " on resource: " + resource
	switch {
	case r.identity == policy.Denied:
		return msg + " with an explicit deny in an identity-based policy"
	case r.resource == policy.Denied:
		return msg + " with an explicit deny in a resource-based policy"
	case r.identity != policy.Allowed:
		return msg + " because no identity-based policy allows the " + action + " action"
	default:
		return msg + " because no resource-based policy allows the " + action + " action"
	}
}
