package config

import (
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// findUnterminated returns the byte offset of the first "${" in v that no
// "}" closes (braces balance, so lookups may nest), or -1. "$$" (and the
// markDollar it became) is an escaped "$" and starts nothing.
func findUnterminated(v string) int {
	for i := 0; i < len(v); i++ {
		if v[i] != '$' || i+1 >= len(v) {
			continue
		}
		switch v[i+1] {
		case '$':
			i++
		case '{':
			depth, j := 0, i+1
			for ; j < len(v); j++ {
				if v[j] == '{' {
					depth++
				} else if v[j] == '}' {
					if depth--; depth == 0 {
						break
					}
				}
			}
			if j >= len(v) {
				return i
			}
			i = j
		}
	}
	return -1
}

// isIdentTail reports whether s, trailing blanks aside, is one identifier.
func isIdentTail(s string) bool {
	s = strings.TrimRight(s, " \t")
	if s == "" || !isIdentStart(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isIdent(s[i]) {
			return false
		}
	}
	return true
}

// unterminatedChecker reports every scalar holding a "${" that nothing
// closes: `namespace: ${ns` or `VpcId: ${output vpc::VpcId` is a mistake
// that would otherwise reach stack names or CloudFormation as literal text.
//
// One form is kept, with a warning, because stacker's own functional test
// (13, "simple build with environment") relies on it: in a stack's
// variables, "${" followed by a bare name that runs to the end of the
// value (PrivateSubnets: ${vpc_private_subnets) is sent as literal text.
type unterminatedChecker struct {
	errs  *errorList
	warns []string
	pos   func(n *yaml.Node, off int) Pos
	seen  map[*yaml.Node]bool
}

func (c *unterminatedChecker) root(root *yaml.Node) {
	c.seen = map[*yaml.Node]bool{}
	if root.Kind != yaml.MappingNode {
		c.walk(root, "")
		return
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		c.walk(k, "")
		if k.Value != "stacks" {
			c.walk(v, "")
			continue
		}
		switch v.Kind {
		case yaml.SequenceNode:
			for _, st := range v.Content {
				c.stack(st, "")
			}
		case yaml.MappingNode:
			for j := 0; j+1 < len(v.Content); j += 2 {
				c.walk(v.Content[j], "")
				c.stack(v.Content[j+1], v.Content[j].Value)
			}
		default:
			c.walk(v, "")
		}
	}
}

func (c *unterminatedChecker) stack(st *yaml.Node, name string) {
	if st.Kind != yaml.MappingNode {
		c.walk(st, "")
		return
	}
	for i := 0; i+1 < len(st.Content); i += 2 {
		if st.Content[i].Value == "name" && name == "" {
			name = st.Content[i+1].Value
		}
	}
	for i := 0; i+1 < len(st.Content); i += 2 {
		k, v := st.Content[i], st.Content[i+1]
		c.walk(k, "")
		if k.Value == "variables" {
			c.walk(v, "stack "+strconv.Quote(name))
		} else {
			c.walk(v, "")
		}
	}
}

// walk checks every scalar under n; vars names the stack when n is in its
// variables.
func (c *unterminatedChecker) walk(n *yaml.Node, vars string) {
	if n == nil || c.seen[n] {
		return
	}
	c.seen[n] = true
	if n.Kind == yaml.ScalarNode {
		c.scalar(n, vars)
		return
	}
	for _, ch := range n.Content {
		c.walk(ch, vars)
	}
}

func (c *unterminatedChecker) scalar(n *yaml.Node, vars string) {
	v := n.Value
	off := findUnterminated(v)
	if off < 0 {
		return
	}
	shown := strings.ReplaceAll(v[off:], string(markDollar), "$$")
	if nl := strings.IndexByte(shown, '\n'); nl >= 0 {
		shown = shown[:nl] + "..."
	}
	if len(shown) > 60 {
		shown = shown[:60] + "..."
	}
	if vars != "" && isIdentTail(v[off+2:]) {
		p := c.pos(n, off)
		c.warns = append(c.warns, fmt.Sprintf("%s:%d:%d: %s: unterminated %s is sent as literal text, as stacker did; close it with } if it is a lookup or an environment key, or write $$ for a literal $",
			p.File, p.Line, p.Col, vars, shown))
		return
	}
	c.errs.add(c.pos(n, off), "unterminated %s: a ${ needs a closing } (write $${ for a literal ${)", shown)
}

// scalarPos is the position of byte off of n's value, in n's own
// coordinates: exact on one line for plain and quoted scalars, the
// scalar's start otherwise.
func scalarPos(file string, n *yaml.Node, off int) Pos {
	p := Pos{File: file, Line: n.Line, Col: n.Column}
	if strings.Contains(n.Value[:off], "\n") {
		return p
	}
	switch n.Style {
	case 0:
		p.Col += len([]rune(n.Value[:off]))
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		if !strings.ContainsAny(n.Value[:off], "\\'\"") {
			p.Col += 1 + len([]rune(n.Value[:off]))
		}
	}
	return p
}
