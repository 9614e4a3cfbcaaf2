package config

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Text substitution is stacker's semantics for a simple environment (a
// simple env file and -e values, all text): string.Template applied to the
// whole raw config before YAML parsing. A placeholder can therefore sit
// anywhere, in a flow mapping ({Param1: ${subnets}}) as well as in a block
// value, and the substituted text is typed by YAML (true, 5, [a, b]).
//
// Unlike stacker, which fell back to leaving everything in place after the
// first lookup, every missing ${key} is reported; and every position (of
// YAML errors and of the nodes the decoder reports on) is mapped back to
// the user's file. Two private-use runes stand for what must survive YAML
// parsing untouched: a missing ${key} becomes markMissing+index+markEnd (so
// a missing key in a flow mapping is reported as missing, not as bad YAML),
// and $$ becomes markDollar until the unterminated-${ check has run.
const (
	markDollar  = '\ue000'
	markMissing = '\ue001'
	markEnd     = '\ue002'
)

// edit is one replaced span: out[outStart:outEnd] stands for
// in[inStart:inEnd].
type edit struct {
	inStart, inEnd, outStart, outEnd int
}

// missingRef is a ${name} the environment does not hold.
type missingRef struct {
	name string
	in   int // byte offset of the "$" in the input
}

// textSubst is the result of substituting a simple environment into text.
type textSubst struct {
	in, out  []byte
	edits    []edit
	missing  []missingRef
	inLines  []int // byte offset of each input line start
	outLines []int
}

// allSimple reports whether every environment value is text (simple env
// file and -e), the case stacker substituted textually.
func (env environment) allSimple() bool {
	for _, v := range env {
		if !v.simple {
			return false
		}
	}
	return true
}

// substituteText applies env to data.
func substituteText(data []byte, env environment) *textSubst {
	ts := &textSubst{in: data}
	var out bytes.Buffer
	out.Grow(len(data))
	last := 0
	replace := func(start, end int, with string) {
		out.Write(data[last:start])
		ts.edits = append(ts.edits, edit{inStart: start, inEnd: end, outStart: out.Len(), outEnd: out.Len() + len(with)})
		out.WriteString(with)
		last = end
	}
	for i := 0; i < len(data); i++ {
		if data[i] != '$' || i+1 >= len(data) {
			continue
		}
		switch c := data[i+1]; {
		case c == '$':
			replace(i, i+2, string(markDollar))
			i++
		case c == '{':
			j := i + 2
			if j >= len(data) || !isIdentStart(data[j]) {
				continue
			}
			k := j + 1
			for k < len(data) && isIdent(data[k]) {
				k++
			}
			if k >= len(data) || data[k] != '}' {
				continue
			}
			name := string(data[j:k])
			if ev, ok := env[name]; ok {
				replace(i, k+1, ev.v.(string))
			} else {
				replace(i, k+1, string(markMissing)+strconv.Itoa(len(ts.missing))+string(markEnd))
				ts.missing = append(ts.missing, missingRef{name: name, in: i})
			}
			i = k
		case isIdentStart(c):
			k := i + 2
			for k < len(data) && isIdent(data[k]) {
				k++
			}
			if ev, ok := env[string(data[i+1:k])]; ok {
				replace(i, k, ev.v.(string))
			}
			i = k - 1
		}
	}
	out.Write(data[last:])
	ts.out = out.Bytes()
	ts.inLines = lineStarts(ts.in)
	ts.outLines = lineStarts(ts.out)
	return ts
}

func lineStarts(b []byte) []int {
	starts := []int{0}
	for i, c := range b {
		if c == '\n' {
			starts = append(starts, i+1)
		}
	}
	return starts
}

// offsetOf is the byte offset of a 1-based line and rune column.
func offsetOf(b []byte, starts []int, line, col int) int {
	if line < 1 {
		return 0
	}
	if line > len(starts) {
		return len(b)
	}
	off := starts[line-1]
	for c := 1; c < col && off < len(b) && b[off] != '\n'; c++ {
		_, n := utf8.DecodeRune(b[off:])
		off += n
	}
	return off
}

// posOf is the 1-based line and rune column of a byte offset.
func posOf(b []byte, starts []int, off int) (line, col int) {
	line = sort.Search(len(starts), func(i int) bool { return starts[i] > off })
	if line == 0 {
		line = 1
	}
	return line, utf8.RuneCount(b[starts[line-1]:min(off, len(b))]) + 1
}

// inOffset maps an output offset back to the input: text that was copied
// maps one to one, a substituted value maps to its placeholder.
func (ts *textSubst) inOffset(o int) int {
	i := sort.Search(len(ts.edits), func(i int) bool { return ts.edits[i].outStart > o }) - 1
	if i < 0 {
		return o
	}
	e := ts.edits[i]
	if o < e.outEnd {
		return e.inStart
	}
	return e.inEnd + (o - e.outEnd)
}

// mapPos maps a 1-based line and column in the output to the input.
func (ts *textSubst) mapPos(line, col int) (int, int) {
	return posOf(ts.in, ts.inLines, ts.inOffset(offsetOf(ts.out, ts.outLines, line, col)))
}

// mapNodes rewrites every node's position into input coordinates.
func (ts *textSubst) mapNodes(n *yaml.Node, seen map[*yaml.Node]bool) {
	if n == nil || seen[n] {
		return
	}
	seen[n] = true
	if n.Line > 0 {
		n.Line, n.Column = ts.mapPos(n.Line, n.Column)
	}
	for _, c := range n.Content {
		ts.mapNodes(c, seen)
	}
}

// missingErrors reports the missing keys that reached a scalar (those in
// comments are dropped with the comment) and turns markDollar back into
// "$" everywhere.
func (ts *textSubst) missingErrors(file string, n *yaml.Node, errs *errorList, seen map[*yaml.Node]bool) {
	if n == nil || seen[n] {
		return
	}
	seen[n] = true
	if n.Kind == yaml.ScalarNode {
		v := n.Value
		for {
			i := strings.IndexRune(v, markMissing)
			if i < 0 {
				break
			}
			j := strings.IndexRune(v[i:], markEnd)
			if j < 0 {
				break
			}
			if k, err := strconv.Atoi(v[i+len(string(markMissing)) : i+j]); err == nil && k >= 0 && k < len(ts.missing) {
				m := ts.missing[k]
				line, col := posOf(ts.in, ts.inLines, m.in)
				errs.add(Pos{File: file, Line: line, Col: col}, "%s", missingKeyMsg(m.name))
			}
			v = v[i+j+len(string(markEnd)):]
		}
	}
	for _, c := range n.Content {
		ts.missingErrors(file, c, errs, seen)
	}
}

// missingKeyMsg is stacker's MissingEnvironment message with the fix.
func missingKeyMsg(name string) string {
	return fmt.Sprintf("Environment missing key %s. Define it in the environment file or with -e %s=..., or write $${%s} for a literal ${%s}", name, name, name, name)
}

// unescapeDollars turns markDollar back into "$" in every scalar.
func unescapeDollars(n *yaml.Node, seen map[*yaml.Node]bool) {
	if n == nil || seen[n] {
		return
	}
	seen[n] = true
	if n.Kind == yaml.ScalarNode && strings.ContainsRune(n.Value, markDollar) {
		n.Value = strings.ReplaceAll(n.Value, string(markDollar), "$")
	}
	for _, c := range n.Content {
		unescapeDollars(c, seen)
	}
}

// hasMarks reports whether a value holds one of the private-use runes text
// substitution uses (then node substitution is used instead).
func (env environment) hasMarks() bool {
	for _, v := range env {
		if s, ok := v.v.(string); ok && strings.ContainsAny(s, string([]rune{markDollar, markMissing, markEnd})) {
			return true
		}
	}
	return false
}
