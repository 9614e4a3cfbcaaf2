package blueprint

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

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

// MarshalJSON renders a goformation template as JSON: intrinsic functions
// resolved to their {"Fn::…"} form, keys sorted (like troposphere's
// to_json), no HTML escaping, indent spaces per level (DefaultIndent when
// indent is not positive) and no trailing newline.
func MarshalJSON(t *cloudformation.Template, indent int) ([]byte, error) {
	if indent <= 0 {
		indent = DefaultIndent
	}
	raw, err := t.JSON() // resolves goformation's encoded intrinsics
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
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encoding template: %w", err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
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
