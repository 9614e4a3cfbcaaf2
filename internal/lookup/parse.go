package lookup

import (
	"fmt"
	"strings"

	"github.com/stacker-go/stacker/internal/suggest"
)

// maxNesting bounds how deeply lookups may nest inside one another.
const maxNesting = 64

// A part of a parsed value is literal text or a lookup call.
type part struct {
	lit  string
	call *call
}

// call is one ${type data} lookup. Its data may itself hold lookups.
type call struct {
	typ  string
	data []part
	raw  string // the source text, "${type data}"
}

// UnknownTypeError reports a ${T data} whose T looks like a misspelt
// lookup type.
type UnknownTypeError struct {
	Type       string
	Suggestion string
}

func (e *UnknownTypeError) Error() string {
	return fmt.Sprintf("unknown lookup type %q (did you mean %q?)", e.Type, e.Suggestion)
}

// UnterminatedError reports a lookup whose closing "}" is missing. Offset
// is the byte offset of its "${" in the parsed string.
type UnterminatedError struct {
	Offset int
	Text   string
}

func (e *UnterminatedError) Error() string {
	t := e.Text
	if len(t) > 60 {
		t = t[:60] + "..."
	}
	return fmt.Sprintf("unterminated lookup %s: it needs a closing }", t)
}

// parser turns a string into parts. Inside a lookup's data, braces must
// balance: "{...}" and non-lookup "${...}" are data text, and the "}" that
// closes the lookup is the first unbalanced one. What is a lookup: "${T" followed by
// whitespace, where T is a registered type. Any other "${...}" is literal
// text, so CloudFormation Fn::Sub strings such as ${AWS::Region} or ${Foo}
// pass through; but a T within two edits of a registered type is taken as
// a typo and reported. An unterminated "${T data" is an UnterminatedError.
type parser struct {
	s     string
	known func(string) bool
	types func() []string
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// parse splits s into literal text and lookups.
func (p *parser) parse() ([]part, error) {
	parts, _, _, err := p.seq(0, false, 0)
	return parts, err
}

// seq scans from i. In data mode it stops at the '}' closing the enclosing
// lookup and returns its index with closed=true; closed=false means the
// string ended first.
func (p *parser) seq(i int, data bool, depth int) (parts []part, end int, closed bool, err error) {
	s := p.s
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			parts = append(parts, part{lit: lit.String()})
			lit.Reset()
		}
	}
	litDepth := 0 // open literal "{" inside data, so their "}" do not close the lookup
	for i < len(s) {
		c := s[i]
		if c == '{' && data {
			litDepth++
			lit.WriteByte(c)
			i++
			continue
		}
		if c == '}' && data {
			if litDepth == 0 {
				flush()
				return parts, i, true, nil
			}
			litDepth--
			lit.WriteByte(c)
			i++
			continue
		}
		if c == '$' && i+1 < len(s) && s[i+1] == '{' {
			cl, next, err := p.call(i, depth)
			if err != nil {
				return nil, 0, false, err
			}
			if cl != nil {
				flush()
				parts = append(parts, part{call: cl})
				i = next
				continue
			}
			if data {
				litDepth++
			}
			lit.WriteString("${")
			i += 2
			continue
		}
		// Copy a run of ordinary bytes at once.
		j := i + 1
		for j < len(s) && s[j] != '$' && !(data && (s[j] == '}' || s[j] == '{')) {
			j++
		}
		lit.WriteString(s[i:j])
		i = j
	}
	flush()
	return parts, i, false, nil
}

// call tries to read a lookup at s[i:] (which starts with "${"). It returns
// nil when the text there is not a lookup.
func (p *parser) call(i, depth int) (*call, int, error) {
	s := p.s
	j := i + 2
	k := j
	for k < len(s) && !isSpace(s[k]) && s[k] != '}' && s[k] != '$' && s[k] != '{' {
		k++
	}
	if k == j || k == len(s) || !isSpace(s[k]) {
		return nil, 0, nil
	}
	typ := s[j:k]
	if !p.known(typ) {
		if sug := suggest.One(typ, p.types(), 2); sug != "" {
			return nil, 0, &UnknownTypeError{Type: typ, Suggestion: sug}
		}
		return nil, 0, nil
	}
	if depth >= maxNesting {
		return nil, 0, fmt.Errorf("lookups nested more than %d deep", maxNesting)
	}
	for k < len(s) && isSpace(s[k]) {
		k++
	}
	data, end, closed, err := p.seq(k, true, depth+1)
	if err != nil {
		return nil, 0, err
	}
	if !closed {
		// "${output vpc::Id" without its "}" is a mistake, not text to
		// send to CloudFormation: the dependency would silently vanish.
		return nil, 0, &UnterminatedError{Offset: i, Text: s[i:]}
	}
	return &call{typ: typ, data: data, raw: s[i : end+1]}, end + 1, nil
}

// literal reports whether parts hold no lookup, and their text.
func literal(parts []part) (string, bool) {
	if len(parts) == 0 {
		return "", true
	}
	if len(parts) == 1 && parts[0].call == nil {
		return parts[0].lit, true
	}
	var b strings.Builder
	for _, pt := range parts {
		if pt.call != nil {
			return "", false
		}
		b.WriteString(pt.lit)
	}
	return b.String(), true
}

// walkCalls visits every call in parts, outer before inner.
func walkCalls(parts []part, fn func(*call) error) error {
	for _, pt := range parts {
		if pt.call == nil {
			continue
		}
		if err := fn(pt.call); err != nil {
			return err
		}
		if err := walkCalls(pt.call.data, fn); err != nil {
			return err
		}
	}
	return nil
}
