package blueprint

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"unicode/utf16"

	"github.com/awslabs/goformation/v7/cloudformation"
)

// DefaultIndent is the JSON indent used when Input.Indent is not positive
// (stacker's template_indent default).
const DefaultIndent = 4

// NewTemplate returns an empty goformation template with the config's
// mappings already added as Mappings. It is step 1 of stacker's render
// order (import_mappings, then create_template, then the description, then
// the parameters); RenderTemplate does the rest.
func NewTemplate(in *Input) *cloudformation.Template {
	t := cloudformation.NewTemplate()
	if in != nil {
		for name, m := range in.Mappings {
			t.Mappings[name] = m
		}
	}
	return t
}

// RenderTemplate finishes a template a blueprint has filled: it sets the
// stack's description (when the config has one, overriding the
// blueprint's), adds a Parameter for every variable of a CloudFormation type
// (Type, Description, NoEcho, AllowedValues, AllowedPattern, Min/MaxLength,
// Min/MaxValue, ConstraintDescription) and renders JSON with keys sorted
// and in.Indent spaces. The values of those variables (in.Variables, already
// strings after ResolveVariables) become Template.ParameterValues.
func RenderTemplate(t *cloudformation.Template, vars []Variable, in *Input) (*Template, error) {
	if in == nil {
		in = &Input{}
	}
	if in.Description != "" {
		t.Description = in.Description
	}
	values := map[string]string{}
	for _, v := range vars {
		if !v.Type.IsCFN() {
			continue
		}
		p := cloudformation.Parameter{Type: v.Type.CFNType()}
		if v.Description != "" {
			p.Description = cloudformation.String(v.Description)
		}
		if v.NoEcho {
			p.NoEcho = cloudformation.Bool(true)
		}
		for _, a := range v.AllowedValues {
			p.AllowedValues = append(p.AllowedValues, a)
		}
		if v.AllowedPattern != "" {
			p.AllowedPattern = cloudformation.String(v.AllowedPattern)
		}
		if v.ConstraintDescription != "" {
			p.ConstraintDescription = cloudformation.String(v.ConstraintDescription)
		}
		p.MinLength, p.MaxLength = v.MinLength, v.MaxLength
		p.MinValue, p.MaxValue = v.MinValue, v.MaxValue
		t.Parameters[v.Name] = p
		if val, ok := in.Variables[v.Name]; ok && val != nil {
			s, ok := Scalar(val)
			if !ok {
				return nil, fmt.Errorf("rendering blueprint %q: variable %q of type %s has a %s value; call ResolveVariables first",
					in.Name, v.Name, v.Type, typeName(val))
			}
			values[v.Name] = s
		}
	}
	body, err := MarshalJSON(t, in.Indent)
	if err != nil {
		return nil, fmt.Errorf("rendering blueprint %q: %w", in.Name, err)
	}
	out := &Template{
		Body:              body,
		Format:            "json",
		ParameterValues:   values,
		RequiresChangeSet: t.Transform != nil,
	}
	pnames := make([]string, 0, len(t.Parameters))
	for n := range t.Parameters {
		pnames = append(pnames, n)
	}
	sort.Strings(pnames)
	for _, n := range pnames {
		p := t.Parameters[n]
		bp := Parameter{Name: n, Type: p.Type, NoEcho: p.NoEcho != nil && *p.NoEcho}
		if p.Default != nil {
			bp.HasDefault = true
			bp.Default, _ = Scalar(p.Default)
		}
		out.Parameters = append(out.Parameters, bp)
	}
	for n := range t.Outputs {
		out.Outputs = append(out.Outputs, n)
	}
	sort.Strings(out.Outputs)
	return out, nil
}

// MarshalJSON renders a goformation template as troposphere's to_json
// does (json.dumps with sort_keys, separators "," and ": ", indent spaces
// a level, ensure_ascii): goformation's encoded intrinsic functions
// (cloudformation.Ref, Join, ...) written in their {"Fn::…"} form, keys
// sorted, no HTML escaping, characters outside printable ASCII as \uXXXX
// escapes, indent spaces per level (DefaultIndent when indent is not
// positive) and no trailing newline. Nothing is evaluated: goformation's
// own Template.JSON runs its intrinsic processor, which resolves plain
// {"Ref": "AWS::Region"}, Fn::Select of Fn::GetAZs, Fn::Join of literals,
// Fn::FindInMap and parameter defaults at render time, so a blueprint's
// plain maps would not reach CloudFormation as written.
func MarshalJSON(t *cloudformation.Template, indent int) ([]byte, error) {
	if indent <= 0 {
		indent = DefaultIndent
	}
	raw, err := json.Marshal(t)
	if err != nil {
		return nil, fmt.Errorf("encoding template: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("encoding template: %w", err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", strings.Repeat(" ", indent))
	if err := enc.Encode(decodeIntrinsics(v)); err != nil {
		return nil, fmt.Errorf("encoding template: %w", err)
	}
	return asciiOnly(bytes.TrimRight(buf.Bytes(), "\n")), nil
}

// asciiOnly is Python's ensure_ascii: every character outside printable
// ASCII as a \uXXXX escape (a surrogate pair beyond the BMP). Outside
// strings the encoder writes only ASCII, so this touches string contents
// only; newlines and tabs outside strings are indentation (in strings the
// encoder escaped them).
func asciiOnly(body []byte) []byte {
	var esc bytes.Buffer
	for _, r := range string(body) {
		switch {
		case r >= 0x20 && r < 0x7f, r == '\n', r == '\t', r == '\r':
			esc.WriteRune(r)
		case r > 0xffff:
			hi, lo := utf16.EncodeRune(r)
			fmt.Fprintf(&esc, "\\u%04x\\u%04x", hi, lo)
		default:
			fmt.Fprintf(&esc, "\\u%04x", r)
		}
	}
	return esc.Bytes()
}

// decodeIntrinsics replaces goformation's encoded intrinsic functions
// (base64 of a one-key JSON object such as { "Ref": "X" }) with the
// objects they encode, nested ones included; every other value is kept as
// it is.
func decodeIntrinsics(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = decodeIntrinsics(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = decodeIntrinsics(e)
		}
		return x
	case string:
		fn, ok := encodedIntrinsic(x)
		if !ok {
			return x
		}
		return decodeIntrinsics(fn)
	}
	return v
}

// encodedIntrinsic decodes s when it is one of goformation's encoded
// intrinsic functions.
func encodedIntrinsic(s string) (map[string]any, bool) {
	if len(s) < 8 || len(s)%4 != 0 {
		return nil, false
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if dec.Decode(&m) != nil || len(m) != 1 {
		return nil, false
	}
	for k := range m {
		if k != "Ref" && k != "Condition" && !strings.HasPrefix(k, "Fn::") {
			return nil, false
		}
	}
	return m, true
}

// Simple is a Blueprint made of a variable list and a function that fills
// a goformation template. Render calls NewTemplate, Build, then
// RenderTemplate.
type Simple struct {
	Vars  []Variable
	Build func(ctx context.Context, in *Input, t *cloudformation.Template) error
}

// Variables implements Blueprint.
func (s *Simple) Variables() []Variable { return s.Vars }

// Render implements Blueprint.
func (s *Simple) Render(ctx context.Context, in *Input) (*Template, error) {
	t := NewTemplate(in)
	if s.Build != nil {
		if err := s.Build(ctx, in, t); err != nil {
			return nil, fmt.Errorf("rendering blueprint %q: %w", in.Name, err)
		}
	}
	return RenderTemplate(t, s.Vars, in)
}
