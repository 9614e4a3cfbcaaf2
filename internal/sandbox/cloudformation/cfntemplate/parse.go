// Package cfntemplate parses and evaluates CloudFormation templates for the
// sandbox: JSON or YAML (with the short-form tags), parameters with their
// constraints, conditions, mappings, every intrinsic function and the pseudo
// parameters. Errors carry CloudFormation's wording.
package cfntemplate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Error is a template or parameter error; Msg is CloudFormation's text.
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

func errf(format string, a ...any) error { return &Error{Msg: fmt.Sprintf(format, a...)} }

// Template is a parsed template.
type Template struct {
	Version        string
	Description    string
	HasDescription bool
	Transforms     []string
	Metadata       any
	Parameters     map[string]*Parameter
	ParamOrder     []string
	Mappings       map[string]any
	Conditions     map[string]any
	CondOrder      []string
	Resources      map[string]*Resource
	ResourceOrder  []string
	Outputs        map[string]*Output
	OutputOrder    []string
}

// Parameter is a declared parameter.
type Parameter struct {
	Name                  string
	Type                  string
	Default               string
	HasDefault            bool
	Description           string
	NoEcho                bool
	AllowedValues         []string
	AllowedPattern        string
	MinLength, MaxLength  *int
	MinValue, MaxValue    *float64
	ConstraintDescription string
}

// IsList reports whether the parameter's value is a list.
func (p *Parameter) IsList() bool {
	return p.Type == "CommaDelimitedList" || strings.HasPrefix(p.Type, "List<")
}

// Resource is a declared resource.
type Resource struct {
	Name                string
	Type                string
	Properties          map[string]any
	DependsOn           []string
	Condition           string
	DeletionPolicy      string
	UpdateReplacePolicy string
	Metadata            any
	CreationPolicy      any
	UpdatePolicy        any
}

// Output is a declared output.
type Output struct {
	Name        string
	Value       any
	Description any
	Export      any // the Export.Name expression, nil if none
	Condition   string
}

// Parse parses a template body (JSON or YAML).
func Parse(body string) (*Template, error) {
	raw, err := Decode(body)
	if err != nil {
		return nil, err
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, errf("Template format error: unsupported structure.")
	}
	return FromMap(m)
}

// Decode decodes a template body into generic values: map[string]any,
// []any, string, json.Number, bool and nil; YAML short tags become their
// long forms.
func Decode(body string) (any, error) {
	trimmed := strings.TrimSpace(body)
	if trimmed == "" {
		return nil, errf("Template format error: unsupported structure.")
	}
	if trimmed[0] == '{' {
		dec := json.NewDecoder(strings.NewReader(body))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			line, col := jsonPos(body, err)
			return nil, errf("Template format error: JSON not well-formed. (line %d,  column %d)", line, col)
		}
		if dec.More() {
			return nil, errf("Template format error: JSON not well-formed. (line 1,  column 1)")
		}
		return v, nil
	}
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(body), &n); err != nil {
		line, col := 1, 1
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			fmt.Sscanf(yamlLine(err.Error()), "%d", &line)
		}
		return nil, errf("Template format error: YAML not well-formed. (line %d, column %d)", line, col)
	}
	v, err := fromNode(&n)
	if err != nil {
		return nil, err
	}
	return v, nil
}

func yamlLine(s string) string {
	if i := strings.Index(s, "line "); i >= 0 {
		return s[i+5:]
	}
	return "1"
}

func jsonPos(body string, err error) (int, int) {
	var off int64
	var se *json.SyntaxError
	var ue *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &ue):
		off = ue.Offset
	default:
		off = int64(len(body))
	}
	if off > int64(len(body)) {
		off = int64(len(body))
	}
	pre := body[:off]
	line := strings.Count(pre, "\n") + 1
	col := int(off) - strings.LastIndex(pre, "\n")
	return line, col
}

var shortTags = map[string]string{
	"!Ref": "Ref", "!Condition": "Condition",
	"!GetAtt": "Fn::GetAtt", "!Sub": "Fn::Sub", "!Join": "Fn::Join", "!Select": "Fn::Select",
	"!Split": "Fn::Split", "!If": "Fn::If", "!Equals": "Fn::Equals", "!And": "Fn::And",
	"!Or": "Fn::Or", "!Not": "Fn::Not", "!FindInMap": "Fn::FindInMap", "!Base64": "Fn::Base64",
	"!GetAZs": "Fn::GetAZs", "!ImportValue": "Fn::ImportValue", "!Cidr": "Fn::Cidr",
	"!Length": "Fn::Length", "!ToJsonString": "Fn::ToJsonString", "!Transform": "Fn::Transform",
}

func fromNode(n *yaml.Node) (any, error) {
	var v any
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return fromNode(n.Content[0])
	case yaml.AliasNode:
		return fromNode(n.Alias)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode {
				return nil, errf("Template format error: YAML not well-formed. (line %d, column %d)", k.Line, k.Column)
			}
			if k.Value == "<<" && n.Content[i+1].Kind != yaml.ScalarNode {
				mv, err := fromNode(n.Content[i+1])
				if err != nil {
					return nil, err
				}
				if mm, ok := mv.(map[string]any); ok {
					for kk, vv := range mm {
						if _, dup := m[kk]; !dup {
							m[kk] = vv
						}
					}
				}
				continue
			}
			val, err := fromNode(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[k.Value] = val
		}
		v = m
	case yaml.SequenceNode:
		l := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			val, err := fromNode(c)
			if err != nil {
				return nil, err
			}
			l = append(l, val)
		}
		v = l
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!int", "!!float":
			v = json.Number(n.Value)
		case "!!bool":
			b, _ := strconv.ParseBool(strings.ToLower(n.Value))
			v = b
		case "!!null":
			v = nil
		default:
			v = n.Value
		}
	}
	if fn, ok := shortTags[n.Tag]; ok {
		if n.Kind == yaml.ScalarNode {
			v = n.Value
		}
		if fn == "Fn::GetAtt" {
			if s, ok := v.(string); ok {
				a, b, _ := strings.Cut(s, ".")
				v = []any{a, b}
			}
		}
		return map[string]any{fn: v}, nil
	} else if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		return nil, errf("Template format error: YAML not well-formed. (line %d, column %d)", n.Line, n.Column)
	}
	return v, nil
}

var topLevel = map[string]bool{
	"AWSTemplateFormatVersion": true, "Description": true, "Metadata": true, "Parameters": true,
	"Mappings": true, "Conditions": true, "Transform": true, "Resources": true, "Outputs": true,
	"Rules": true, "Hooks": true,
}

// FromMap builds a Template from decoded values.
func FromMap(m map[string]any) (*Template, error) {
	t := &Template{
		Parameters: map[string]*Parameter{}, Mappings: map[string]any{}, Conditions: map[string]any{},
		Resources: map[string]*Resource{}, Outputs: map[string]*Output{},
	}
	var bad []string
	for k := range m {
		if !topLevel[k] {
			bad = append(bad, k)
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return nil, errf("Template format error: Invalid template property or properties [%s]", strings.Join(bad, ", "))
	}
	if v, ok := m["AWSTemplateFormatVersion"]; ok {
		s, _ := Scalar(v)
		if s != "2010-09-09" {
			return nil, errf("Template format error: Unsupported template version")
		}
		t.Version = s
	}
	if v, ok := m["Description"]; ok {
		s, ok := Scalar(v)
		if !ok {
			return nil, errf("Template format error: Every Description member must be a string.")
		}
		t.Description, t.HasDescription = s, true
	}
	t.Metadata = m["Metadata"]
	switch tr := m["Transform"].(type) {
	case nil:
	case string:
		t.Transforms = []string{tr}
	case []any:
		for _, x := range tr {
			if s, ok := x.(string); ok {
				t.Transforms = append(t.Transforms, s)
			}
		}
	default:
		return nil, errf("Template format error: Transform must be a string or list of strings")
	}
	if v, ok := m["Parameters"]; ok && v != nil {
		pm, ok := v.(map[string]any)
		if !ok {
			return nil, errf("Template format error: Parameters must be an object")
		}
		for _, name := range slices.Sorted(maps.Keys(pm)) {
			p, err := parseParam(name, pm[name])
			if err != nil {
				return nil, err
			}
			t.Parameters[name] = p
			t.ParamOrder = append(t.ParamOrder, name)
		}
	}
	if v, ok := m["Mappings"]; ok && v != nil {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil, errf("Template format error: Mappings must be an object")
		}
		for k, x := range mm {
			if _, ok := x.(map[string]any); !ok {
				return nil, errf("Template format error: Every Mappings member %s must be a map", k)
			}
		}
		t.Mappings = mm
	}
	if v, ok := m["Conditions"]; ok && v != nil {
		cm, ok := v.(map[string]any)
		if !ok {
			return nil, errf("Template format error: Conditions must be an object")
		}
		t.Conditions = cm
		t.CondOrder = slices.Sorted(maps.Keys(cm))
	}
	rv, ok := m["Resources"]
	rm, _ := rv.(map[string]any)
	if !ok || len(rm) == 0 {
		return nil, errf("Template format error: At least one Resources member must be defined.")
	}
	for _, name := range slices.Sorted(maps.Keys(rm)) {
		if !alnum(name) {
			return nil, errf("Template format error: Resource name %s is non alphanumeric.", name)
		}
		r, err := parseResource(name, rm[name])
		if err != nil {
			return nil, err
		}
		if _, dup := t.Parameters[name]; dup {
			return nil, errf("Template format error: Resource name %s is already used as a parameter name.", name)
		}
		t.Resources[name] = r
		t.ResourceOrder = append(t.ResourceOrder, name)
	}
	if v, ok := m["Outputs"]; ok && v != nil {
		om, ok := v.(map[string]any)
		if !ok {
			return nil, errf("Template format error: Outputs must be an object")
		}
		for _, name := range slices.Sorted(maps.Keys(om)) {
			o, ok := om[name].(map[string]any)
			if !ok {
				return nil, errf("Template format error: Every Outputs member must be an object")
			}
			out := &Output{Name: name, Value: o["Value"], Description: o["Description"]}
			if _, ok := o["Value"]; !ok {
				return nil, errf("Template format error: Every Outputs member must contain a Value object")
			}
			if c, ok := o["Condition"].(string); ok {
				out.Condition = c
			}
			if e, ok := o["Export"].(map[string]any); ok {
				out.Export = e["Name"]
			}
			t.Outputs[name] = out
			t.OutputOrder = append(t.OutputOrder, name)
		}
	}
	return t, nil
}

func alnum(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// ValidParamType reports whether t is a parameter type CloudFormation knows.
func ValidParamType(t string) bool {
	switch t {
	case "String", "Number", "List<Number>", "CommaDelimitedList":
		return true
	}
	if strings.HasPrefix(t, "AWS::SSM::Parameter::Value<") && strings.HasSuffix(t, ">") {
		return true
	}
	if strings.HasPrefix(t, "AWS::SSM::Parameter::Name") {
		return true
	}
	if strings.HasPrefix(t, "List<AWS::") && strings.HasSuffix(t, ">") {
		return true
	}
	return strings.HasPrefix(t, "AWS::EC2::") || strings.HasPrefix(t, "AWS::Route53::")
}

func parseParam(name string, v any) (*Parameter, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errf("Template format error: Every Parameters object must contain a Type member.")
	}
	p := &Parameter{Name: name}
	p.Type, _ = Scalar(m["Type"])
	if p.Type == "" {
		return nil, errf("Template format error: Every Parameters object must contain a Type member.")
	}
	if !ValidParamType(p.Type) {
		return nil, errf("Template format error: Unrecognized parameter type: %s", p.Type)
	}
	if d, ok := m["Default"]; ok {
		switch dv := d.(type) {
		case []any:
			var parts []string
			for _, x := range dv {
				s, _ := Scalar(x)
				parts = append(parts, s)
			}
			p.Default = strings.Join(parts, ",")
		default:
			p.Default, _ = Scalar(d)
		}
		p.HasDefault = true
	}
	p.Description, _ = Scalar(m["Description"])
	if ne, ok := m["NoEcho"]; ok {
		s, _ := Scalar(ne)
		p.NoEcho = strings.EqualFold(s, "true")
	}
	if av, ok := m["AllowedValues"].([]any); ok {
		for _, x := range av {
			s, _ := Scalar(x)
			p.AllowedValues = append(p.AllowedValues, s)
		}
	}
	p.AllowedPattern, _ = Scalar(m["AllowedPattern"])
	p.ConstraintDescription, _ = Scalar(m["ConstraintDescription"])
	intField := func(k string) (*int, error) {
		x, ok := m[k]
		if !ok {
			return nil, nil
		}
		s, _ := Scalar(x)
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, errf("Template format error: Parameter '%s' %s must be an integer", name, k)
		}
		return &n, nil
	}
	numField := func(k string) (*float64, error) {
		x, ok := m[k]
		if !ok {
			return nil, nil
		}
		s, _ := Scalar(x)
		n, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, errf("Template format error: Parameter '%s' %s must be a number", name, k)
		}
		return &n, nil
	}
	var err error
	if p.MinLength, err = intField("MinLength"); err != nil {
		return nil, err
	}
	if p.MaxLength, err = intField("MaxLength"); err != nil {
		return nil, err
	}
	if p.MinValue, err = numField("MinValue"); err != nil {
		return nil, err
	}
	if p.MaxValue, err = numField("MaxValue"); err != nil {
		return nil, err
	}
	return p, nil
}

func parseResource(name string, v any) (*Resource, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errf("Template format error: [/Resources/%s] Every Resources object must contain a Type member.", name)
	}
	r := &Resource{Name: name}
	r.Type, _ = m["Type"].(string)
	if r.Type == "" {
		return nil, errf("Template format error: [/Resources/%s] Every Resources object must contain a Type member.", name)
	}
	if p, ok := m["Properties"]; ok && p != nil {
		pm, ok := p.(map[string]any)
		if !ok {
			return nil, errf("Template format error: [/Resources/%s/Properties] Every Properties member must be an object", name)
		}
		r.Properties = pm
	}
	switch d := m["DependsOn"].(type) {
	case nil:
	case string:
		r.DependsOn = []string{d}
	case []any:
		for _, x := range d {
			s, ok := x.(string)
			if !ok {
				return nil, errf("Template format error: DependsOn must be a string or list of strings")
			}
			r.DependsOn = append(r.DependsOn, s)
		}
	default:
		return nil, errf("Template format error: DependsOn must be a string or list of strings")
	}
	if c, ok := m["Condition"]; ok {
		s, ok := c.(string)
		if !ok {
			return nil, errf("Template format error: Every Condition member must be a string.")
		}
		r.Condition = s
	}
	r.DeletionPolicy, _ = m["DeletionPolicy"].(string)
	r.UpdateReplacePolicy, _ = m["UpdateReplacePolicy"].(string)
	r.Metadata = m["Metadata"]
	r.CreationPolicy = m["CreationPolicy"]
	r.UpdatePolicy = m["UpdatePolicy"]
	return r, nil
}

// Scalar converts a scalar value to its string form.
func Scalar(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		if x {
			return "true", true
		}
		return "false", true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case int:
		return strconv.Itoa(x), true
	}
	return "", false
}

// JSON renders a value as compact JSON (for policy documents and events).
func JSON(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return strings.TrimSuffix(b.String(), "\n")
}
