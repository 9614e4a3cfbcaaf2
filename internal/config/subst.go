package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Node substitution is used when the environment holds typed values (a
// YAML environment file): it runs on the parsed YAML nodes, so comments are
// never touched and every node keeps its line and column. A simple
// environment is substituted into the text instead (textsubst.go).
//
// In every scalar (mapping keys included):
//   - $$ is a literal $;
//   - ${name} (name = [_a-zA-Z][_a-zA-Z0-9]*) must name an environment key,
//     else it is an error at the scalar's position;
//   - $name is replaced when name is an environment key and left as it is
//     otherwise, so shell text such as "echo $HOME" in hook args survives;
//   - any other ${...} (lookups such as ${output vpc::Id}, CloudFormation
//     ${AWS::Region}) is left for the lookup stage, but environment
//     references inside it are replaced.
//
// A plain (unquoted, untagged) scalar that is wholly one placeholder takes
// the type of the value: YAML-env values keep theirs (a list stays a list),
// simple-env and -e text is re-typed as YAML would ("true" -> bool).

// substituter walks a node tree and collects errors.
type substituter struct {
	env  environment
	file string
	errs *errorList
}

func (s *substituter) walk(n *yaml.Node, isKey bool) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			s.walk(c, false)
		}
	case yaml.MappingNode:
		for i, c := range n.Content {
			s.walk(c, i%2 == 0)
		}
	case yaml.ScalarNode:
		if strings.IndexByte(n.Value, '$') >= 0 {
			s.scalar(n, isKey)
		}
	}
	// Aliases point at nodes substituted where they are anchored.
}

// ref is one environment reference found in a scalar.
type ref struct {
	name       string
	braced     bool
	start, end int // byte offsets in the scalar value
}

// scanRefs finds the references in v. Unknown $name refs are not refs.
func scanRefs(v string, known func(string) bool) []ref {
	var refs []ref
	for i := 0; i < len(v); i++ {
		if v[i] != '$' || i+1 >= len(v) {
			continue
		}
		switch c := v[i+1]; {
		case c == '$':
			refs = append(refs, ref{name: "$", start: i, end: i + 2})
			i++
		case c == '{':
			j := i + 2
			if j < len(v) && isIdentStart(v[j]) {
				k := j + 1
				for k < len(v) && isIdent(v[k]) {
					k++
				}
				if k < len(v) && v[k] == '}' {
					refs = append(refs, ref{name: v[j:k], braced: true, start: i, end: k + 1})
					i = k
				}
			}
		case isIdentStart(c):
			k := i + 2
			for k < len(v) && isIdent(v[k]) {
				k++
			}
			if known(v[i+1 : k]) {
				refs = append(refs, ref{name: v[i+1 : k], start: i, end: k})
				i = k - 1
			}
		}
	}
	return refs
}

func isIdentStart(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isIdent(c byte) bool      { return isIdentStart(c) || c >= '0' && c <= '9' }

// substitute is the text form: it returns v with references replaced, or
// the first error (for the fuzz target and callers without nodes).
func (env environment) substitute(v string) (string, error) {
	var out strings.Builder
	last := 0
	for _, r := range scanRefs(v, env.has) {
		out.WriteString(v[last:r.start])
		last = r.end
		if r.name == "$" {
			out.WriteByte('$')
			continue
		}
		ev, ok := env[r.name]
		if !ok {
			return "", errors.New(missingKeyMsg(r.name))
		}
		s, err := envText(r.name, ev)
		if err != nil {
			return "", err
		}
		out.WriteString(s)
	}
	out.WriteString(v[last:])
	return out.String(), nil
}

func (env environment) has(name string) bool { _, ok := env[name]; return ok }

// envText renders an environment value inside a longer string.
func envText(name string, ev envValue) (string, error) {
	switch t := ev.v.(type) {
	case string:
		return t, nil
	case nil:
		return "", nil
	case bool:
		return strconv.FormatBool(t), nil
	case int:
		return strconv.Itoa(t), nil
	case int64:
		return strconv.FormatInt(t, 10), nil
	case uint64:
		return strconv.FormatUint(t, 10), nil
	case float64:
		return strconv.FormatFloat(t, 'g', -1, 64), nil
	}
	return "", fmt.Errorf("environment key %q holds %s and can't be merged into a string (only a value that is wholly ${%s} can take it)", name, kindOf(ev.v), name)
}

func kindOf(v any) string {
	switch v.(type) {
	case []any:
		return "a list"
	case map[string]any:
		return "a mapping"
	}
	return fmt.Sprintf("a %T", v)
}

func (s *substituter) scalar(n *yaml.Node, isKey bool) {
	v := n.Value
	refs := scanRefs(v, s.env.has)
	if len(refs) == 0 {
		return
	}
	// Whole placeholder in a plain scalar: take the value's type.
	if !isKey && n.Style == 0 && len(refs) == 1 && refs[0].name != "$" {
		r := refs[0]
		if strings.TrimSpace(v) == v[r.start:r.end] {
			if ev, ok := s.env[r.name]; ok {
				s.replaceNode(n, ev)
				return
			}
		}
	}
	var out strings.Builder
	last := 0
	for _, r := range refs {
		out.WriteString(v[last:r.start])
		last = r.end
		if r.name == "$" {
			out.WriteByte('$')
			continue
		}
		ev, ok := s.env[r.name]
		if !ok {
			s.errs.add(s.refPos(n, r.start), "%s", missingKeyMsg(r.name))
			continue
		}
		text, err := envText(r.name, ev)
		if err != nil {
			s.errs.add(s.refPos(n, r.start), "%v", err)
			continue
		}
		out.WriteString(text)
	}
	out.WriteString(v[last:])
	n.Value = out.String()
	if n.Style == 0 {
		// A plain scalar that was partly substituted is text.
		n.Tag = "!!str"
	}
}

// refPos is the position of byte off of a scalar's value: exact for
// single-line plain scalars, the scalar's start otherwise.
func (s *substituter) refPos(n *yaml.Node, off int) Pos {
	p := Pos{File: s.file, Line: n.Line, Col: n.Column}
	if n.Style == 0 && !strings.Contains(n.Value, "\n") {
		p.Col += len([]rune(n.Value[:off]))
	}
	return p
}

// replaceNode makes n hold ev, keeping n's position.
func (s *substituter) replaceNode(n *yaml.Node, ev envValue) {
	if ev.simple {
		n.Value = ev.v.(string)
		n.Tag = "" // re-resolved by ShortTag: true -> !!bool, 5 -> !!int
		return
	}
	var nn yaml.Node
	if err := nn.Encode(ev.v); err != nil {
		s.errs.add(Pos{File: s.file, Line: n.Line, Col: n.Column}, "environment value cannot be used here: %v", err)
		return
	}
	line, col, anchor := n.Line, n.Column, n.Anchor
	*n = nn
	n.Anchor = anchor
	setPos(n, line, col)
}

func setPos(n *yaml.Node, line, col int) {
	n.Line, n.Column = line, col
	for _, c := range n.Content {
		setPos(c, line, col)
	}
}
