package cfn

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/stacker-go/stacker/blueprint"
)

// ParamStatus says how one parameter differs between the stack and a
// change set.
type ParamStatus int

// Parameter statuses (stacker's DictValue).
const (
	ParamUnchanged ParamStatus = iota
	ParamAdded
	ParamRemoved
	ParamModified
)

// ParamChange is one parameter of a change set's parameter diff. Values
// of NoEcho parameters are already masked (****) on both sides.
type ParamChange struct {
	Key, Old, New string
	Status        ParamStatus
}

// ParameterDiff compares the stack's parameters (old) with those a change
// set sends (stacker's diff_parameters): a declared parameter without a
// value keeps the stack's (UsePreviousValue). It returns every parameter,
// sorted by key, when at least one changed, and nil otherwise. NoEcho
// values are masked on both sides and never count as a change: the old
// value is unknown (CloudFormation shows ****) and the new one is secret.
func ParameterDiff(declared []blueprint.Parameter, values, old map[string]string) []ParamChange {
	all := ParameterChanges(declared, values, old)
	for _, c := range all {
		if c.Status != ParamUnchanged {
			return all
		}
	}
	return nil
}

// ParameterChanges is ParameterDiff's comparison of every parameter,
// returned also when none changed (diff --json lists them all).
func ParameterChanges(declared []blueprint.Parameter, values, old map[string]string) []ParamChange {
	noEcho := map[string]bool{}
	newv := map[string]string{}
	for _, d := range declared {
		noEcho[d.Name] = d.NoEcho
		if v, ok := values[d.Name]; ok {
			newv[d.Name] = v
		} else if v, ok := old[d.Name]; ok {
			newv[d.Name] = v
		}
	}
	keys := map[string]bool{}
	for k := range old {
		keys[k] = true
	}
	for k := range newv {
		keys[k] = true
	}
	var out []ParamChange
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		o, hadOld := old[k]
		n, hasNew := newv[k]
		if noEcho[k] || o == noEchoMask {
			if hadOld {
				o = noEchoMask
			}
			if hasNew {
				n = noEchoMask
			}
		}
		c := ParamChange{Key: k, Old: o, New: n}
		switch {
		case hadOld && hasNew && o == n:
			c.Status = ParamUnchanged
		case hadOld && hasNew:
			c.Status = ParamModified
		case hasNew:
			c.Status = ParamAdded
		default:
			c.Status = ParamRemoved
		}
		out = append(out, c)
	}
	return out
}

// Review is what a person sees of a change set before it is executed
// (stacker's output_summary and output_full_changeset).
type Review struct {
	FQN string
	// Params is the parameter diff (nil: no parameter changed).
	Params []ParamChange
	// Changes are the change set's changes, all of them.
	Changes []types.Change
	// ReplacementsOnly shows and asks about replacements only.
	ReplacementsOnly bool
	// Secrets are NoEcho values: never printed, in case a change's
	// property values carry one. NoEcho names the NoEcho parameters:
	// property values a change of one of them causes are masked whole
	// (the old secret is not known, so it cannot be searched for).
	Secrets []string
	NoEcho  []string
}

// isReplacement is stacker's requires_replacement test.
func isReplacement(c types.Change) bool {
	return c.ResourceChange != nil && c.ResourceChange.Replacement == types.ReplacementTrue
}

// shown are the changes the summary lists: all of them, or only the
// replacements.
func (r *Review) shown() []types.Change {
	if !r.ReplacementsOnly {
		return r.Changes
	}
	var out []types.Change
	for _, c := range r.Changes {
		if isReplacement(c) {
			out = append(out, c)
		}
	}
	return out
}

// NeedsAnswer reports whether a person is asked at all: as in stacker, a
// change set whose shown changes are empty and that changes no parameter
// is executed without a prompt (with ReplacementsOnly, every update that
// replaces nothing).
func (r *Review) NeedsAnswer() bool {
	return len(r.shown()) > 0 || len(r.Params) > 0
}

// Summary is stacker's summary block:
//
//	<fqn> changes:
//	Parameters Added: a, b
//	Parameters Removed: c
//	Parameters Modified: d
//	Replacements:
//	- Modify Db (AWS::RDS::DBInstance)
//	Changes:
//	- Add Dummy2 (AWS::CloudFormation::WaitConditionHandle)
//
// With ReplacementsOnly the first line says "replacements:" and the
// replacements are listed without their header.
func (r *Review) Summary() string {
	action := "changes"
	if r.ReplacementsOnly {
		action = "replacements"
	}
	var names [3][]string // added, removed, modified
	for _, p := range r.Params {
		switch p.Status {
		case ParamAdded:
			names[0] = append(names[0], p.Key)
		case ParamRemoved:
			names[1] = append(names[1], p.Key)
		case ParamModified:
			names[2] = append(names[2], p.Key)
		}
	}
	var repl, other []string
	for _, c := range r.shown() {
		rc := c.ResourceChange
		if rc == nil {
			continue
		}
		line := fmt.Sprintf("- %s %s (%s)", rc.Action, aws.ToString(rc.LogicalResourceId), aws.ToString(rc.ResourceType))
		if isReplacement(c) {
			repl = append(repl, line)
		} else {
			other = append(other, line)
		}
	}
	return summaryText(r.FQN+" "+action, names, repl, other, !r.ReplacementsOnly)
}

// summaryText is the text of stacker's summary block: the header line, the
// parameter names added, removed and modified, the replacements (under
// "Replacements:" when replHeader) and the other changes.
func summaryText(header string, names [3][]string, repl, other []string, replHeader bool) string {
	var b strings.Builder
	b.WriteString(header + ":\n")
	for i, label := range []string{"Added", "Removed", "Modified"} {
		if len(names[i]) > 0 {
			fmt.Fprintf(&b, "Parameters %s: %s\n", label, strings.Join(names[i], ", "))
		}
	}
	if len(repl) > 0 {
		if replHeader {
			b.WriteString("Replacements:\n")
		}
		b.WriteString(strings.Join(repl, "\n") + "\n")
	}
	if len(other) > 0 {
		b.WriteString("Changes:\n" + strings.Join(other, "\n") + "\n")
	}
	return b.String()
}

// Full is stacker's full change set: the parameter lines (all parameters,
// sorted, once one changed) and every change as YAML, keys sorted as
// PyYAML's safe_dump writes them.
//
//	<fqn> full changeset:
//
//	--- Old Parameters
//	+++ New Parameters
//	******************
//	 A = 1
//	-B = x
//	+B = y
//
//	- ResourceChange:
//	    Action: Modify
//	    ...
//	  Type: Resource
func (r *Review) Full() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s full changeset:\n", r.FQN)
	if len(r.Params) > 0 {
		b.WriteString("\n--- Old Parameters\n+++ New Parameters\n******************\n")
		for _, l := range ParamLines(r.Params) {
			b.WriteString(l + "\n")
		}
		b.WriteString("\n")
	}
	var items []any
	for _, c := range r.Changes {
		items = append(items, changeTree(c, r.Secrets, r.NoEcho))
	}
	if len(items) == 0 {
		b.WriteString("[]\n")
	} else {
		writeYAML(&b, items, 0, false)
	}
	return b.String()
}

// ParamLines are stacker's DictValue lines of a parameter diff:
// " K = v" unchanged, "+K = v" added, "-K = v" removed, and "-K = old"
// then "+K = new" modified.
func ParamLines(params []ParamChange) []string {
	var lines []string
	for _, p := range params {
		switch p.Status {
		case ParamUnchanged:
			lines = append(lines, fmt.Sprintf(" %s = %s", p.Key, p.New))
		case ParamAdded:
			lines = append(lines, fmt.Sprintf("+%s = %s", p.Key, p.New))
		case ParamRemoved:
			lines = append(lines, fmt.Sprintf("-%s = %s", p.Key, p.Old))
		case ParamModified:
			lines = append(lines, fmt.Sprintf("-%s = %s", p.Key, p.Old), fmt.Sprintf("+%s = %s", p.Key, p.New))
		}
	}
	return lines
}

// changeTree is a change as the nested maps boto3 returns (what stacker
// dumps), empty fields left out and secrets masked.
func changeTree(c types.Change, secrets, noEcho []string) map[string]any {
	m := map[string]any{}
	if c.Type != "" {
		m["Type"] = string(c.Type)
	}
	rc := c.ResourceChange
	if rc == nil {
		return m
	}
	r := map[string]any{}
	put := func(m map[string]any, k string, v *string) {
		if v != nil {
			m[k] = mask(aws.ToString(v), secrets)
		}
	}
	putS := func(m map[string]any, k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	putS(r, "Action", string(rc.Action))
	put(r, "LogicalResourceId", rc.LogicalResourceId)
	put(r, "PhysicalResourceId", rc.PhysicalResourceId)
	putS(r, "Replacement", string(rc.Replacement))
	put(r, "ResourceType", rc.ResourceType)
	if rc.Scope != nil {
		scope := []any{}
		for _, s := range rc.Scope {
			scope = append(scope, string(s))
		}
		r["Scope"] = scope
	}
	if rc.Details != nil {
		details := []any{}
		for _, d := range rc.Details {
			dm := map[string]any{}
			put(dm, "CausingEntity", d.CausingEntity)
			putS(dm, "ChangeSource", string(d.ChangeSource))
			putS(dm, "Evaluation", string(d.Evaluation))
			if t := d.Target; t != nil {
				tm := map[string]any{}
				putS(tm, "Attribute", string(t.Attribute))
				putS(tm, "AttributeChangeType", string(t.AttributeChangeType))
				put(tm, "Name", t.Name)
				putS(tm, "RequiresRecreation", string(t.RequiresRecreation))
				// Property values may carry a NoEcho value (a property
				// that references the parameter): masked.
				secretCause := d.CausingEntity != nil && slices.Contains(noEcho, aws.ToString(d.CausingEntity))
				if secretCause {
					if t.BeforeValue != nil {
						tm["BeforeValue"] = noEchoMask
					}
					if t.AfterValue != nil {
						tm["AfterValue"] = noEchoMask
					}
				} else if t.BeforeValue != nil {
					tm["BeforeValue"] = maskValue(aws.ToString(t.BeforeValue), secrets)
				}
				if t.AfterValue != nil && !secretCause {
					tm["AfterValue"] = maskValue(aws.ToString(t.AfterValue), secrets)
				}
				dm["Target"] = tm
			}
			details = append(details, dm)
		}
		r["Details"] = details
	}
	m["ResourceChange"] = r
	return m
}

// mask replaces a string that is a secret.
func mask(s string, secrets []string) string {
	if slices.Contains(secrets, s) {
		return noEchoMask
	}
	return s
}

// maskValue replaces every secret inside a property value (secrets of
// fewer than four characters only when they are the whole value, so a
// short secret does not mangle unrelated text).
func maskValue(s string, secrets []string) string {
	for _, sec := range secrets {
		switch {
		case sec == "":
		case s == sec:
			return noEchoMask
		case len(sec) >= 4:
			s = strings.ReplaceAll(s, sec, noEchoMask)
		}
	}
	return s
}

// writeYAML writes v in PyYAML's default block style (safe_dump): keys
// sorted, sequences inside mappings not indented, and strings quoted when
// YAML would read them as something else.
func writeYAML(b *strings.Builder, v any, indent int, inSeq bool) {
	pad := strings.Repeat(" ", indent)
	switch v := v.(type) {
	case []any:
		for _, item := range v {
			b.WriteString(pad + "- ")
			switch item.(type) {
			case map[string]any, []any:
				writeYAMLInline(b, item, indent+2)
			default:
				b.WriteString(yamlScalar(item) + "\n")
			}
		}
	case map[string]any:
		first := inSeq
		for _, k := range sortedMapKeys(v) {
			if !first {
				b.WriteString(pad)
			}
			first = false
			writeYAMLEntry(b, k, v[k], indent)
		}
	}
}

// writeYAMLInline writes a collection that starts after "- " on the
// current line.
func writeYAMLInline(b *strings.Builder, v any, indent int) {
	switch v := v.(type) {
	case map[string]any:
		if len(v) == 0 {
			b.WriteString("{}\n")
			return
		}
		writeYAML(b, v, indent, true)
	case []any:
		if len(v) == 0 {
			b.WriteString("[]\n")
			return
		}
		b.WriteString("\n")
		writeYAML(b, v, indent, false)
	}
}

func writeYAMLEntry(b *strings.Builder, k string, v any, indent int) {
	b.WriteString(yamlScalar(k) + ":")
	switch v := v.(type) {
	case map[string]any:
		if len(v) == 0 {
			b.WriteString(" {}\n")
			return
		}
		b.WriteString("\n")
		writeYAML(b, v, indent+2, false)
	case []any:
		if len(v) == 0 {
			b.WriteString(" []\n")
			return
		}
		b.WriteString("\n")
		writeYAML(b, v, indent, false) // PyYAML: "- " at the key's indent
	default:
		b.WriteString(" " + yamlScalar(v) + "\n")
	}
}

func sortedMapKeys(m map[string]any) []string { return slices.Sorted(maps.Keys(m)) }

// yamlPlainUnsafe matches strings PyYAML would not write plain: YAML 1.1
// booleans, nulls, numbers and timestamps-ish.
var yamlPlainUnsafe = regexp.MustCompile(`^(?i:y|yes|n|no|true|false|on|off|null|~)$|^[-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?$|^[-+]?\.(?i:inf|nan)$|^0x[0-9a-fA-F_]+$|^[0-9]{4}-[0-9]{2}-[0-9]{2}`)

func yamlScalar(v any) string {
	s := fmt.Sprint(v)
	needQuote := s == "" || yamlPlainUnsafe.MatchString(s) ||
		strings.ContainsAny(s[:1], "-?:,[]{}#&*!|>'\"%@` ") ||
		strings.HasSuffix(s, " ") || strings.Contains(s, ": ") || strings.Contains(s, " #") ||
		strings.HasSuffix(s, ":") || strings.ContainsAny(s, "\n\t")
	if !needQuote {
		return s
	}
	if strings.ContainsAny(s, "\n\t") {
		return fmt.Sprintf("%q", s)
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
