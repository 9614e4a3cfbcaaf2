package config

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/stacker-go/stacker/internal/suggest"
)

// maxValueNodes bounds how many nodes decoding may produce, so a few
// nested aliases (the "billion laughs") cannot exhaust memory.
const maxValueNodes = 5_000_000

// maxDepth bounds nesting of values and merge keys.
const maxDepth = 200

// errorList collects positioned errors.
type errorList struct{ list Errors }

func (l *errorList) add(p Pos, format string, args ...any) {
	l.list = append(l.list, &Error{Pos: p, Msg: fmt.Sprintf(format, args...)})
}

// err returns nil, the single error, or all of them sorted by position.
func (l *errorList) err() error {
	switch len(l.list) {
	case 0:
		return nil
	case 1:
		return l.list[0]
	}
	sort.SliceStable(l.list, func(i, j int) bool {
		a, b := l.list[i].Pos, l.list[j].Pos
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	return l.list
}

// decoder turns yaml nodes into typed values, collecting every error.
type decoder struct {
	file   string
	errs   errorList
	warns  []string
	budget int
	merged map[*yaml.Node][]pair // see mergedPairs
}

func (d *decoder) pos(n *yaml.Node) Pos { return Pos{File: d.file, Line: n.Line, Col: n.Column} }

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	d.errs.add(d.pos(n), format, args...)
}

func (d *decoder) warnf(n *yaml.Node, format string, args ...any) {
	d.warns = append(d.warns, (&Error{Pos: d.pos(n), Msg: fmt.Sprintf(format, args...)}).Error())
}

// deref follows aliases.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	n = deref(n)
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// pair is one mapping entry, merge keys expanded.
type pair struct {
	key  string
	k, v *yaml.Node
}

func isMergeKey(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && (k.Tag == "!!merge" || (k.Value == "<<" && k.Style == 0 && (k.Tag == "" || k.Tag == "!!merge")))
}

// pairs returns the entries of a mapping in document order, with merge keys
// (<<: *x, <<: [*x, *y]) expanded: explicit keys win over merged ones, and
// earlier merged mappings over later ones. Duplicate explicit keys are
// errors.
func (d *decoder) pairs(n *yaml.Node, depth int) []pair {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		return nil
	}
	if depth > maxDepth {
		d.errorf(n, "merge keys nested too deeply")
		return nil
	}
	hasMerge := false
	for i := 0; i+1 < len(n.Content); i += 2 {
		if isMergeKey(deref(n.Content[i])) {
			hasMerge = true
			break
		}
	}
	if !hasMerge {
		return d.plainPairs(n)
	}
	explicit := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := deref(n.Content[i])
		if isMergeKey(k) {
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, "mapping keys must be text, not a %s", kindName(k))
			continue
		}
		if first, dup := explicit[k.Value]; dup {
			d.errorf(n.Content[i], "duplicate key %q (first at line %d)", k.Value, first.Line)
			continue
		}
		explicit[k.Value] = n.Content[i]
	}
	out := make([]pair, 0, len(n.Content)/2)
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		k := deref(kn)
		if isMergeKey(k) {
			v := deref(vn)
			var srcs []*yaml.Node
			switch v.Kind {
			case yaml.MappingNode:
				srcs = []*yaml.Node{v}
			case yaml.SequenceNode:
				for _, e := range v.Content {
					if e = deref(e); e.Kind != yaml.MappingNode {
						d.errorf(e, "a merge key (<<) takes a mapping or a list of mappings")
						continue
					}
					srcs = append(srcs, e)
				}
			default:
				d.errorf(vn, "a merge key (<<) takes a mapping or a list of mappings")
			}
			for _, src := range srcs {
				for _, p := range d.mergedPairs(src, depth+1) {
					if _, ok := explicit[p.key]; ok || seen[p.key] {
						continue
					}
					seen[p.key] = true
					out = append(out, p)
				}
			}
			continue
		}
		if k.Kind != yaml.ScalarNode || explicit[k.Value] != kn || seen[k.Value] {
			continue
		}
		seen[k.Value] = true
		out = append(out, pair{key: k.Value, k: kn, v: vn})
	}
	return out
}

// mergedPairs is pairs for a mapping merged in with <<, computed once per
// node: merges of merges of the same anchors would otherwise take
// exponential time.
func (d *decoder) mergedPairs(n *yaml.Node, depth int) []pair {
	if ps, ok := d.merged[n]; ok {
		return ps
	}
	ps := d.pairs(n, depth)
	if d.merged == nil {
		d.merged = map[*yaml.Node][]pair{}
	}
	d.merged[n] = ps
	return ps
}

// plainPairs is pairs for a mapping without merge keys, the common case:
// small mappings are checked for duplicates without allocating a map.
func (d *decoder) plainPairs(n *yaml.Node) []pair {
	out := make([]pair, 0, len(n.Content)/2)
	var index map[string]int
	if len(n.Content) > 32 {
		index = make(map[string]int, len(n.Content)/2)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn := n.Content[i]
		k := deref(kn)
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, "mapping keys must be text, not a %s", kindName(k))
			continue
		}
		dup := -1
		if index != nil {
			if j, ok := index[k.Value]; ok {
				dup = j
			} else {
				index[k.Value] = len(out)
			}
		} else {
			for j := range out {
				if out[j].key == k.Value {
					dup = j
					break
				}
			}
		}
		if dup >= 0 {
			d.errorf(kn, "duplicate key %q (first at line %d)", k.Value, out[dup].k.Line)
			continue
		}
		out = append(out, pair{key: k.Value, k: kn, v: n.Content[i+1]})
	}
	return out
}

func kindName(n *yaml.Node) string {
	n = deref(n)
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "null"
		case "!!bool":
			return "boolean"
		case "!!int", "!!float":
			return "number"
		}
		return "string"
	}
	return "value"
}

// show quotes a node for messages.
func show(n *yaml.Node) string {
	n = deref(n)
	if n.Kind == yaml.ScalarNode {
		v := n.Value
		if len(v) > 60 {
			v = v[:57] + "..."
		}
		return strconv.Quote(v)
	}
	return "a " + kindName(n)
}

// value converts a node to plain Go values: string, bool, int, float64,
// nil, []any, map[string]any.
func (d *decoder) value(n *yaml.Node, depth int) any {
	d.budget--
	if d.budget == 0 {
		d.errorf(n, "document too large: aliases expand to more than %d values", maxValueNodes)
	}
	if d.budget <= 0 {
		return nil
	}
	if depth > maxDepth {
		d.errorf(n, "values nested too deeply")
		d.budget = 0
		return nil
	}
	n = deref(n)
	switch n.Kind {
	case yaml.ScalarNode:
		return d.scalar(n)
	case yaml.SequenceNode:
		out := make([]any, len(n.Content))
		for i, c := range n.Content {
			out[i] = d.value(c, depth+1)
		}
		return out
	case yaml.MappingNode:
		ps := d.pairs(n, 0)
		out := make(map[string]any, len(ps))
		for _, p := range ps {
			out[p.key] = d.value(p.v, depth+1)
		}
		return out
	case yaml.AliasNode:
		d.errorf(n, "unresolved alias")
	}
	return nil
}

func (d *decoder) scalar(n *yaml.Node) any {
	tag := n.ShortTag()
	switch tag {
	case "!!null":
		return nil
	case "!!bool":
		if b, ok := parseBool(n.Value); ok {
			return b
		}
		return n.Value
	case "!!int":
		s := strings.ReplaceAll(n.Value, "_", "")
		if i, err := strconv.ParseInt(s, 0, 64); err == nil && i >= math.MinInt && i <= math.MaxInt {
			return int(i)
		}
		// Out of range, or digits like 012345678901 that are not octal:
		// text, as PyYAML (which stacker used) keeps them.
		return n.Value
	case "!!float":
		low := strings.ToLower(n.Value)
		switch strings.TrimLeft(low, "+") {
		case ".inf":
			return math.Inf(1)
		case "-.inf":
			return math.Inf(-1)
		case ".nan":
			return math.NaN()
		}
		if !strings.ContainsAny(low, ".e") {
			// yaml.v3 calls 012345678901 a float; it is an account id.
			return n.Value
		}
		if f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64); err == nil {
			return f
		}
		return n.Value
	case "!!str", "!!binary", "!!timestamp", "!!merge":
		return n.Value
	}
	if strings.HasPrefix(tag, "!!") {
		return n.Value
	}
	d.errorf(n, "unsupported YAML tag %q (config values are plain YAML; CloudFormation short forms such as !Ref belong in templates)", tag)
	return n.Value
}

func parseBool(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "true", "yes", "on":
		return true, true
	case "false", "no", "off":
		return false, true
	}
	return false, false
}

// ---- typed fields -------------------------------------------------------

// str decodes a string field. Null means unset. Numbers and booleans are
// taken as their text.
func (d *decoder) str(n *yaml.Node, key string) (string, bool) {
	n = deref(n)
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, "%s: expected a string, got a %s", key, kindName(n))
		return "", false
	}
	if n.ShortTag() == "!!null" {
		return "", false
	}
	if t := n.ShortTag(); strings.HasPrefix(t, "!") && !strings.HasPrefix(t, "!!") {
		d.errorf(n, "%s: unsupported YAML tag %q", key, t)
	}
	return n.Value, true
}

func (d *decoder) boolean(n *yaml.Node, key string, def bool) bool {
	n = deref(n)
	if n.Kind == yaml.ScalarNode {
		if n.ShortTag() == "!!null" {
			return def
		}
		if b, ok := parseBool(n.Value); ok {
			return b
		}
	}
	d.errorf(n, "%s: expected true or false, got %s", key, show(n))
	return def
}

func (d *decoder) integer(n *yaml.Node, key string, def int) int {
	n = deref(n)
	if n.Kind == yaml.ScalarNode {
		if n.ShortTag() == "!!null" {
			return def
		}
		if i, err := strconv.Atoi(strings.TrimSpace(n.Value)); err == nil {
			return i
		}
	}
	d.errorf(n, "%s: expected a whole number, got %s", key, show(n))
	return def
}

func (d *decoder) strList(n *yaml.Node, key string) []string {
	n = deref(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "%s: expected a list of strings, got %s", key, show(n))
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for _, c := range n.Content {
		c = deref(c)
		if c.Kind != yaml.ScalarNode || c.ShortTag() == "!!null" {
			d.errorf(c, "%s: expected a list of strings, but an item is %s", key, show(c))
			continue
		}
		out = append(out, c.Value)
	}
	return out
}

// strMap decodes a mapping of text values (numbers and booleans are taken
// as their text, null as "").
func (d *decoder) strMap(n *yaml.Node, key string) map[string]string {
	n = deref(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s: expected a mapping, got %s", key, show(n))
		return nil
	}
	ps := d.pairs(n, 0)
	out := make(map[string]string, len(ps))
	for _, p := range ps {
		v := deref(p.v)
		if v.Kind != yaml.ScalarNode {
			d.errorf(v, "%s.%s: expected a string, got a %s", key, p.key, kindName(v))
			continue
		}
		if v.ShortTag() == "!!null" {
			out[p.key] = ""
			continue
		}
		out[p.key] = v.Value
	}
	return out
}

func (d *decoder) anyMap(n *yaml.Node, key string) map[string]any {
	n = deref(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s: expected a mapping, got %s", key, show(n))
		return nil
	}
	m, _ := d.value(n, 0).(map[string]any)
	return m
}

// unknownKey reports a key not in known, suggesting the nearest.
func (d *decoder) unknownKey(p pair, where string, known []string, warn bool) {
	msg := fmt.Sprintf("%sunknown key %q", where, p.key)
	if sug := suggestKey(p.key, known); sug != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", sug)
	}
	if warn {
		d.warnf(p.k, "%s; it is ignored", msg)
		return
	}
	d.errorf(p.k, "%s; valid keys: %s", msg, strings.Join(known, ", "))
}

func suggestKey(key string, known []string) string {
	max := 2
	if l := len(key) / 3; l > max {
		max = l
	}
	return suggest.One(key, known, max)
}

var accountIDRE = regexp.MustCompile(`^[0-9]{12}$`)

func (d *decoder) accountID(n *yaml.Node, key string) string {
	s, ok := d.str(n, key)
	if !ok {
		return ""
	}
	if !accountIDRE.MatchString(s) {
		d.errorf(n, "%s: %q is not an AWS account id (expected 12 digits)", key, s)
	}
	return s
}
