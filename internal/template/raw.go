package template

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/stacker-go/stacker/blueprint"
)

// detectFormat is "json" when the body is valid JSON, else "yaml".
func detectFormat(body []byte) string {
	if json.Valid(body) {
		return "json"
	}
	return "yaml"
}

// Parse reads a raw template body (after any j2 rendering) without changing
// it: Body is body itself, Format is "json" when it parses as JSON, else
// "yaml". Only Parameters (name, Type, Default, NoEcho, in template order),
// Outputs (names, in template order) and the presence of Transform are
// extracted, from JSON with encoding/json or from YAML as yaml.v3 nodes, so
// short tags such as !Ref, !Sub and !GetAtt a.b need no interpretation.
func Parse(body []byte) (t *blueprint.Template, err error) {
	defer func() {
		if r := recover(); r != nil { // the YAML parser is third-party code
			t, err = nil, fmt.Errorf("parsing template: %v", r)
		}
	}()
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, ErrNoTemplate
	}
	t = &blueprint.Template{Body: body, Format: detectFormat(body)}
	if t.Format == "json" {
		err = parseJSON(body, t)
	} else {
		err = parseYAML(body, t)
	}
	if err != nil {
		return nil, err
	}
	return t, nil
}

// orderedObject decodes a JSON object keeping its key order.
func orderedObject(raw json.RawMessage) ([]string, map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, nil, fmt.Errorf("expected an object")
	}
	var keys []string
	vals := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		k, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, nil, err
		}
		if _, dup := vals[k]; !dup {
			keys = append(keys, k)
		}
		vals[k] = v
	}
	return keys, vals, nil
}

func parseJSON(body []byte, t *blueprint.Template) error {
	_, top, err := orderedObject(body)
	if err != nil {
		return fmt.Errorf("a template must be a JSON object: %w", err)
	}
	_, t.RequiresChangeSet = top["Transform"]
	if raw, ok := top["Parameters"]; ok && !isNull(raw) {
		names, params, err := orderedObject(raw)
		if err != nil {
			//lint:ignore ST1005 names the template section as written
			return fmt.Errorf("Parameters: %w", err)
		}
		for _, n := range names {
			_, fields, err := orderedObject(params[n])
			if err != nil {
				return fmt.Errorf("parameter %s: %w", n, err)
			}
			p := blueprint.Parameter{Name: n}
			_ = json.Unmarshal(fields["Type"], &p.Type)
			if d, ok := fields["Default"]; ok {
				p.HasDefault = true
				p.Default = jsonScalar(d)
			}
			p.NoEcho = strings.EqualFold(jsonScalar(fields["NoEcho"]), "true")
			if raw, ok := fields["AllowedValues"]; ok {
				var l []json.RawMessage
				if json.Unmarshal(raw, &l) == nil {
					for _, e := range l {
						p.AllowedValues = append(p.AllowedValues, jsonScalar(e))
					}
				}
			}
			p.AllowedPattern = jsonScalar(fields["AllowedPattern"])
			p.MinLength, p.MaxLength = intField(jsonScalar(fields["MinLength"])), intField(jsonScalar(fields["MaxLength"]))
			p.MinValue, p.MaxValue = floatField(jsonScalar(fields["MinValue"])), floatField(jsonScalar(fields["MaxValue"]))
			t.Parameters = append(t.Parameters, p)
		}
	}
	if raw, ok := top["Outputs"]; ok && !isNull(raw) {
		names, _, err := orderedObject(raw)
		if err != nil {
			//lint:ignore ST1005 names the template section as written
			return fmt.Errorf("Outputs: %w", err)
		}
		t.Outputs = names
	}
	return nil
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// jsonScalar formats a JSON value as a parameter string: strings unquoted,
// numbers and bools as written, lists comma-joined.
func jsonScalar(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var l []json.RawMessage
	if json.Unmarshal(raw, &l) == nil {
		parts := make([]string, len(l))
		for i, e := range l {
			parts[i] = jsonScalar(e)
		}
		return strings.Join(parts, ",")
	}
	return string(bytes.TrimSpace(raw))
}

func parseYAML(body []byte, t *blueprint.Template) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(body, &doc); err != nil {
		return fmt.Errorf("parsing YAML: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return ErrNoTemplate
	}
	root := deref(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: a template must be a mapping", root.Line)
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		key, val := root.Content[i], deref(root.Content[i+1])
		switch key.Value {
		case "Transform":
			t.RequiresChangeSet = true
		case "Parameters":
			if isYAMLNull(val) {
				continue
			}
			if val.Kind != yaml.MappingNode {
				return fmt.Errorf("line %d: Parameters must be a mapping", val.Line)
			}
			for j := 0; j+1 < len(val.Content); j += 2 {
				name, def := val.Content[j].Value, deref(val.Content[j+1])
				if def.Kind != yaml.MappingNode {
					return fmt.Errorf("line %d: parameter %s must be a mapping", def.Line, name)
				}
				p := blueprint.Parameter{Name: name}
				for k := 0; k+1 < len(def.Content); k += 2 {
					f, v := def.Content[k].Value, deref(def.Content[k+1])
					switch f {
					case "Type":
						p.Type = v.Value
					case "Default":
						p.HasDefault = true
						p.Default = yamlScalar(v)
					case "NoEcho":
						p.NoEcho = strings.EqualFold(v.Value, "true")
					case "AllowedValues":
						for _, e := range v.Content {
							p.AllowedValues = append(p.AllowedValues, yamlScalar(deref(e)))
						}
					case "AllowedPattern":
						p.AllowedPattern = v.Value
					case "MinLength":
						p.MinLength = intField(v.Value)
					case "MaxLength":
						p.MaxLength = intField(v.Value)
					case "MinValue":
						p.MinValue = floatField(v.Value)
					case "MaxValue":
						p.MaxValue = floatField(v.Value)
					}
				}
				t.Parameters = append(t.Parameters, p)
			}
		case "Outputs":
			if isYAMLNull(val) {
				continue
			}
			if val.Kind != yaml.MappingNode {
				return fmt.Errorf("line %d: Outputs must be a mapping", val.Line)
			}
			for j := 0; j+1 < len(val.Content); j += 2 {
				t.Outputs = append(t.Outputs, val.Content[j].Value)
			}
		}
	}
	return nil
}

func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func isYAMLNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && (n.Tag == "!!null" || n.Value == "")
}

func yamlScalar(n *yaml.Node) string {
	if n.Kind == yaml.SequenceNode {
		parts := make([]string, len(n.Content))
		for i, e := range n.Content {
			parts[i] = yamlScalar(deref(e))
		}
		return strings.Join(parts, ",")
	}
	return n.Value
}

func intField(s string) *int {
	if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil {
		return &n
	}
	return nil
}

func floatField(s string) *float64 {
	if f, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
		return &f
	}
	return nil
}
