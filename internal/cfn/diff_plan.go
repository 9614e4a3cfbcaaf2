package cfn

import (
	"maps"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/stacker-go/stacker/blueprint"
)

// DiffPlan is what `stacker diff` found for a whole run, stacks in graph
// order (dependencies first). It is printed as text (WriteDiffText) or as
// one JSON document (WriteDiffJSON, schema docs/diff-json.schema.json).
type DiffPlan struct {
	// SchemaVersion is the version of the JSON document's shape.
	SchemaVersion int         `json:"schema_version"`
	Namespace     string      `json:"namespace"`
	Stacks        []StackDiff `json:"stacks"`
}

// DiffSchemaVersion is DiffPlan.SchemaVersion.
const DiffSchemaVersion = 1

// DiffAction is what a build would do to a stack.
type DiffAction string

// Diff actions.
const (
	DiffCreate   DiffAction = "create" // the stack does not exist
	DiffUpdate   DiffAction = "update" // changes, none replacing a resource
	DiffReplace  DiffAction = "replace-risk"
	DiffNoChange DiffAction = "nochange" // CloudFormation found nothing to change
	DiffSkipped  DiffAction = "skipped"  // disabled (or skipped for another reason)
	DiffLocked   DiffAction = "locked"   // locked and not forced: not compared
	DiffFailed   DiffAction = "failed"   // the comparison failed (Reason says why)
	DiffCanceled DiffAction = "cancelled"
)

// DiffTarget is where a stack lives.
type DiffTarget struct {
	Account string `json:"account"`
	Region  string `json:"region"`
	Profile string `json:"profile"`
}

// StackDiff is one stack of a DiffPlan. Values of NoEcho parameters are
// masked (****) everywhere, also inside resource property values.
type StackDiff struct {
	Name   string     `json:"name"`
	FQN    string     `json:"fqn"`
	Target DiffTarget `json:"target"`
	Action DiffAction `json:"action"`
	// Reason says why a stack was skipped, locked or failed.
	Reason string `json:"reason,omitempty"`
	// Parameters are all parameters, old and new values side by side.
	Parameters []ValueDiff `json:"parameters"`
	// Tags are the stack tags, old and new.
	Tags            []ValueDiff      `json:"tags"`
	ResourceChanges []ResourceChange `json:"resource_changes"`
	// Outputs are what dependants receive in this diff: the stack's current
	// outputs, with `<inferred-change: ...>` placeholders for those the
	// change may alter or add (stacker §5.13).
	Outputs map[string]string `json:"outputs,omitempty"`
	// Warnings are problems that did not stop the diff (a change set that
	// could not be deleted).
	Warnings []string `json:"warnings,omitempty"`
}

// ValueStatus says how a parameter or tag differs.
type ValueStatus string

// Value statuses.
const (
	ValueUnchanged ValueStatus = "unchanged"
	ValueAdded     ValueStatus = "added"
	ValueRemoved   ValueStatus = "removed"
	ValueModified  ValueStatus = "modified"
)

// ValueDiff is one parameter or tag. Old is nil when it is added, New when
// it is removed.
type ValueDiff struct {
	Key    string      `json:"key"`
	Old    *string     `json:"old,omitempty"`
	New    *string     `json:"new,omitempty"`
	Status ValueStatus `json:"status"`
	// Masked is true for NoEcho parameters: the values shown are ****.
	Masked bool `json:"masked,omitempty"`
}

// ResourceChange is one resource a build would add, modify or remove.
type ResourceChange struct {
	Action             string `json:"action"`
	LogicalResourceID  string `json:"logical_resource_id"`
	PhysicalResourceID string `json:"physical_resource_id,omitempty"`
	ResourceType       string `json:"resource_type"`
	// Replacement is True, False or Conditional (Modify only).
	Replacement string         `json:"replacement,omitempty"`
	Scope       []string       `json:"scope"`
	Details     []ChangeDetail `json:"details"`
}

// ChangeDetail is one attribute or property a Modify changes.
type ChangeDetail struct {
	Attribute          string  `json:"attribute"`
	Name               string  `json:"name,omitempty"`
	RequiresRecreation string  `json:"requires_recreation,omitempty"`
	Evaluation         string  `json:"evaluation,omitempty"`
	ChangeSource       string  `json:"change_source,omitempty"`
	CausingEntity      string  `json:"causing_entity,omitempty"`
	Before             *string `json:"before,omitempty"`
	After              *string `json:"after,omitempty"`
}

// Replaces reports whether the change replaces (or may replace) a resource.
func (c ResourceChange) Replaces() bool {
	return c.Replacement == string(types.ReplacementTrue) || c.Replacement == string(types.ReplacementConditional)
}

// Changed reports whether the stack diff shows any parameter or tag change.
func changedValues(vs []ValueDiff) bool {
	for _, v := range vs {
		if v.Status != ValueUnchanged {
			return true
		}
	}
	return false
}

// secrets are the NoEcho values a stack sends and the names of its NoEcho
// parameters: never printed.
type secrets struct {
	values, names []string
}

func newSecrets(declared []blueprint.Parameter, values map[string]string) secrets {
	var s secrets
	for _, d := range declared {
		if !d.NoEcho {
			continue
		}
		s.names = append(s.names, d.Name)
		if v, ok := values[d.Name]; ok && v != "" {
			s.values = append(s.values, v)
		}
	}
	return s
}

func (s secrets) mask(v string) string { return maskValue(v, s.values) }

// paramDiffs are all parameters, old (the stack's) and new (what build
// sends; UsePreviousValue keeps the old), NoEcho masked on both sides.
func paramDiffs(req *Request, old map[string]string) []ValueDiff {
	noEcho := map[string]bool{}
	for _, d := range req.Declared {
		noEcho[d.Name] = d.NoEcho
	}
	out := []ValueDiff{}
	for _, c := range ParameterChanges(req.Declared, req.Values, old) {
		v := ValueDiff{Key: c.Key, Masked: noEcho[c.Key] || c.Old == noEchoMask}
		switch c.Status {
		case ParamUnchanged:
			v.Status, v.Old, v.New = ValueUnchanged, aws.String(c.Old), aws.String(c.New)
		case ParamAdded:
			v.Status, v.New = ValueAdded, aws.String(c.New)
		case ParamRemoved:
			v.Status, v.Old = ValueRemoved, aws.String(c.Old)
		case ParamModified:
			v.Status, v.Old, v.New = ValueModified, aws.String(c.Old), aws.String(c.New)
		}
		out = append(out, v)
	}
	return out
}

// tagDiffs compares the stack's tags with the configured ones, sorted by
// key.
func tagDiffs(old, want map[string]string) []ValueDiff {
	keys := map[string]bool{}
	for k := range old {
		keys[k] = true
	}
	for k := range want {
		keys[k] = true
	}
	out := []ValueDiff{}
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		o, hadOld := old[k]
		n, hasNew := want[k]
		v := ValueDiff{Key: k}
		switch {
		case hadOld && hasNew && o == n:
			v.Status, v.Old, v.New = ValueUnchanged, aws.String(o), aws.String(n)
		case hadOld && hasNew:
			v.Status, v.Old, v.New = ValueModified, aws.String(o), aws.String(n)
		case hasNew:
			v.Status, v.New = ValueAdded, aws.String(n)
		default:
			v.Status, v.Old = ValueRemoved, aws.String(o)
		}
		out = append(out, v)
	}
	return out
}

// resourceChanges turns a change set's changes into the plan's, secrets
// masked: a property value a NoEcho parameter causes is masked whole (its
// old value is not known, so it cannot be searched for), any other value
// has every NoEcho value sent replaced.
func resourceChanges(changes []types.Change, sec secrets) []ResourceChange {
	out := []ResourceChange{}
	for _, c := range changes {
		rc := c.ResourceChange
		if rc == nil {
			continue
		}
		r := ResourceChange{
			Action: string(rc.Action), LogicalResourceID: aws.ToString(rc.LogicalResourceId),
			PhysicalResourceID: sec.mask(aws.ToString(rc.PhysicalResourceId)),
			ResourceType:       aws.ToString(rc.ResourceType), Replacement: string(rc.Replacement),
			Scope: []string{}, Details: []ChangeDetail{},
		}
		for _, s := range rc.Scope {
			r.Scope = append(r.Scope, string(s))
		}
		for _, d := range rc.Details {
			cd := ChangeDetail{
				Evaluation: string(d.Evaluation), ChangeSource: string(d.ChangeSource),
				CausingEntity: aws.ToString(d.CausingEntity),
			}
			if t := d.Target; t != nil {
				cd.Attribute, cd.Name, cd.RequiresRecreation = string(t.Attribute), aws.ToString(t.Name), string(t.RequiresRecreation)
				secretCause := slices.Contains(sec.names, cd.CausingEntity)
				for _, v := range []struct {
					in  *string
					out **string
				}{{t.BeforeValue, &cd.Before}, {t.AfterValue, &cd.After}} {
					if v.in == nil {
						continue
					}
					s := sec.mask(*v.in)
					if secretCause {
						s = noEchoMask
					}
					*v.out = &s
				}
			}
			r.Details = append(r.Details, cd)
		}
		out = append(out, r)
	}
	return out
}

// action is what a build would do, from the change set's type and changes.
func diffAction(csType types.ChangeSetType, changes []ResourceChange) DiffAction {
	if csType == types.ChangeSetTypeCreate {
		return DiffCreate
	}
	for _, c := range changes {
		if c.Replaces() {
			return DiffReplace
		}
	}
	return DiffUpdate
}
