package cfn

import (
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// OutputDef is one output a template declares: its name and its Value as
// Python's str() writes the parsed value (what stacker puts in its
// placeholders: {'Ref': 'VPC'}).
type OutputDef struct {
	Name, Value string
}

// OutputDefinitions reads the Outputs of a JSON or YAML template, in
// template order. CloudFormation's short-form tags (!Ref X, !GetAtt A.B,
// !Sub ...) read as their long forms.
func OutputDefinitions(body string) ([]OutputDef, error) {
	if strings.TrimSpace(body) == "" {
		return nil, nil
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(body), &doc); err != nil {
		return nil, fmt.Errorf("read template outputs: %w", err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, nil
	}
	top := doc.Content[0]
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value != "Outputs" || top.Content[i+1].Kind != yaml.MappingNode {
			continue
		}
		outs := top.Content[i+1]
		var defs []OutputDef
		for j := 0; j+1 < len(outs.Content); j += 2 {
			d := OutputDef{Name: outs.Content[j].Value}
			if o := outs.Content[j+1]; o.Kind == yaml.MappingNode {
				for k := 0; k+1 < len(o.Content); k += 2 {
					if o.Content[k].Value == "Value" {
						d.Value = pyStr(o.Content[k+1])
					}
				}
			}
			defs = append(defs, d)
		}
		return defs, nil
	}
	return nil, nil
}

// pyStr is Python's str() of a parsed YAML/JSON value: a top-level string
// as is, anything else as its repr.
func pyStr(n *yaml.Node) string {
	for i := 0; n.Kind == yaml.AliasNode && i < maxReprDepth; i++ {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" {
		return n.Value
	}
	var b strings.Builder
	pyRepr(&b, n, 0)
	return b.String()
}

// maxReprDepth bounds the nesting pyRepr follows (an alias can make a
// value contain itself); deeper values print as Python prints a recursive
// one, "...".
const maxReprDepth = 64

// pyRepr writes Python's repr() of a parsed value.
func pyRepr(b *strings.Builder, n *yaml.Node, depth int) {
	if depth > maxReprDepth {
		b.WriteString("...")
		return
	}
	depth++
	if tag := n.Tag; strings.HasPrefix(tag, "!") && !strings.HasPrefix(tag, "!!") {
		// CloudFormation short form: !Ref X is {'Ref': 'X'}, !GetAtt A.B
		// is {'Fn::GetAtt': ['A', 'B']}, !Other v is {'Fn::Other': v}.
		name := tag[1:]
		key := "Fn::" + name
		if name == "Ref" || name == "Condition" {
			key = name
		}
		b.WriteString("{" + pyQuote(key) + ": ")
		plain := *n
		plain.Tag = ""
		if plain.Kind == yaml.ScalarNode {
			plain.Tag = "!!str"
		}
		if name == "GetAtt" && n.Kind == yaml.ScalarNode {
			parts := strings.SplitN(n.Value, ".", 2)
			b.WriteString("[")
			for i, p := range parts {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString(pyQuote(p))
			}
			b.WriteString("]")
		} else {
			pyRepr(b, &plain, depth)
		}
		b.WriteString("}")
		return
	}
	switch n.Kind {
	case yaml.AliasNode:
		pyRepr(b, n.Alias, depth)
	case yaml.MappingNode:
		b.WriteString("{")
		for i := 0; i+1 < len(n.Content); i += 2 {
			if i > 0 {
				b.WriteString(", ")
			}
			pyRepr(b, n.Content[i], depth)
			b.WriteString(": ")
			pyRepr(b, n.Content[i+1], depth)
		}
		b.WriteString("}")
	case yaml.SequenceNode:
		b.WriteString("[")
		for i, c := range n.Content {
			if i > 0 {
				b.WriteString(", ")
			}
			pyRepr(b, c, depth)
		}
		b.WriteString("]")
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			b.WriteString("None")
		case "!!bool":
			if v, err := strconv.ParseBool(strings.ToLower(n.Value)); err == nil && v {
				b.WriteString("True")
			} else {
				b.WriteString("False")
			}
		case "!!int":
			if v, err := strconv.ParseInt(n.Value, 0, 64); err == nil {
				b.WriteString(strconv.FormatInt(v, 10))
			} else {
				b.WriteString(n.Value)
			}
		case "!!float":
			if v, err := strconv.ParseFloat(n.Value, 64); err == nil {
				s := strconv.FormatFloat(v, 'g', -1, 64)
				if !strings.ContainsAny(s, ".eEn") {
					s += ".0"
				}
				b.WriteString(s)
			} else {
				b.WriteString(n.Value)
			}
		default:
			b.WriteString(pyQuote(n.Value))
		}
	}
}

// pyQuote is Python's repr() of a str: single quotes unless the text has
// a single quote and no double quote.
func pyQuote(s string) string {
	q := byte('\'')
	if strings.Contains(s, "'") && !strings.Contains(s, `"`) {
		q = '"'
	}
	var b strings.Builder
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == rune(q):
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte(q)
	return b.String()
}

// invalidating are the logical ids of the resources whose change may alter
// the outputs that mention them: not added, and replaced or with modified
// properties (stacker 1.7).
func invalidating(changes []ResourceChange) []string {
	var refs []string
	for _, c := range changes {
		if c.Action == "Add" {
			continue
		}
		props := false
		for _, s := range c.Scope {
			props = props || s == "Properties"
		}
		if c.Replacement == "True" || props {
			refs = append(refs, c.LogicalResourceID)
		}
	}
	return refs
}

// inferOutputs are the outputs dependants see during diff (stacker 1.7
// get_stack_changes): the stack's current outputs, less those whose old
// definition mentions a resource the change replaces or whose properties
// it modifies, plus `<inferred-change: <fqn>.<Output>=<Value>>` for every
// output of the new template now missing.
func inferOutputs(fqn string, current map[string]string, oldDefs, newDefs []OutputDef, changes []ResourceChange) map[string]string {
	out := map[string]string{}
	for k, v := range current {
		out[k] = v
	}
	refs := invalidating(changes)
	for _, d := range oldDefs {
		for _, r := range refs {
			if strings.Contains(d.Value, r) {
				delete(out, d.Name)
				break
			}
		}
	}
	for _, d := range newDefs {
		if _, ok := out[d.Name]; !ok {
			if d.Value == "" { // the template's value is not known
				out[d.Name] = fmt.Sprintf("<inferred-change: %s.%s>", fqn, d.Name)
			} else {
				out[d.Name] = fmt.Sprintf("<inferred-change: %s.%s=%s>", fqn, d.Name, d.Value)
			}
		}
	}
	return out
}
