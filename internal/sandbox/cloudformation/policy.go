package cloudformation

import (
	"encoding/json"
	"fmt"
	"path"
)

// stackPolicy is a parsed stack policy.
type stackPolicy struct {
	Statement []policyStatement `json:"Statement"`
}

type policyStatement struct {
	Effect      string                             `json:"Effect"`
	Action      stringOrList                       `json:"Action"`
	NotAction   stringOrList                       `json:"NotAction"`
	Principal   any                                `json:"Principal"`
	Resource    stringOrList                       `json:"Resource"`
	NotResource stringOrList                       `json:"NotResource"`
	Condition   map[string]map[string]stringOrList `json:"Condition"`
}

type stringOrList []string

func (s *stringOrList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = []string{one}
		return nil
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return err
	}
	*s = l
	return nil
}

// validatePolicy checks a stack policy body.
func validatePolicy(body string) error {
	var p stackPolicy
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		return validation("Error validating stack policy: Invalid stack policy")
	}
	for _, st := range p.Statement {
		if st.Effect != "Allow" && st.Effect != "Deny" {
			return validation("Error validating stack policy: Invalid value for Effect")
		}
	}
	return nil
}

func globMatch(pattern, s string) bool {
	ok, err := path.Match(pattern, s)
	return err == nil && ok
}

func anyMatch(patterns []string, s string) bool {
	for _, p := range patterns {
		if globMatch(p, s) {
			return true
		}
	}
	return false
}

// policyAllows evaluates a stack policy for one update action
// ("Update:Modify", "Update:Replace", "Update:Delete") on a resource. An
// empty policy allows everything; with a policy, an action is denied
// unless a statement allows it and none denies it.
func policyAllows(body, action, logical, typ string) (bool, string) {
	if body == "" {
		return true, ""
	}
	var p stackPolicy
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		return false, "Action denied by stack policy: the stack policy is not valid JSON"
	}
	res := "LogicalResourceId/" + logical
	allowed := false
	for i, st := range p.Statement {
		actOK := len(st.Action) > 0 && anyMatch(st.Action, action)
		if len(st.NotAction) > 0 {
			actOK = !anyMatch(st.NotAction, action)
		}
		if !actOK {
			continue
		}
		resOK := len(st.Resource) > 0 && anyMatch(st.Resource, res)
		if len(st.NotResource) > 0 {
			resOK = !anyMatch(st.NotResource, res)
		}
		if !resOK {
			continue
		}
		condOK := true
		for op, kv := range st.Condition {
			for k, vals := range kv {
				if k != "ResourceType" {
					continue
				}
				m := false
				for _, v := range vals {
					switch op {
					case "StringEquals":
						m = m || v == typ
					case "StringLike":
						m = m || globMatch(v, typ)
					case "StringNotEquals":
						m = m || v != typ
					case "StringNotLike":
						m = m || !globMatch(v, typ)
					}
				}
				condOK = condOK && m
			}
		}
		if !condOK {
			continue
		}
		if st.Effect == "Deny" {
			return false, fmt.Sprintf("Action denied by stack policy: Statement [#%d] has a Deny effect for [%s] on resource [%s]", i+1, action, res)
		}
		allowed = true
	}
	if !allowed {
		return false, fmt.Sprintf("Action not allowed by stack policy: no statement allows [%s] on resource [%s]", action, res)
	}
	return true, ""
}
