package graph

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Formats lists the output formats of Write, default first.
var Formats = []string{"dot", "json", "mermaid", "svg"}

// Write renders the graph in one of Formats.
func (g *Graph) Write(w io.Writer, format string) error {
	switch format {
	case "dot":
		return g.WriteDOT(w)
	case "json":
		return g.WriteJSON(w)
	case "mermaid":
		return g.WriteMermaid(w)
	case "svg":
		return g.WriteSVG(w)
	}
	return fmt.Errorf("unknown graph format %q (want one of %s)", format, strings.Join(Formats, ", "))
}

// WriteDOT writes stacker's dot format: one `"step" -> "dep";` line per
// edge, steps in Order, dependencies in name order. Nodes without edges do
// not appear (as in stacker).
func (g *Graph) WriteDOT(w io.Writer) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("digraph digraph {\n")
	for _, i := range g.order {
		n := &g.nodes[i]
		for _, d := range n.deps {
			fmt.Fprintf(bw, "  \"%s\" -> \"%s\";\n", dotEscape(n.name), dotEscape(g.nodes[d].name))
		}
	}
	bw.WriteString("}\n")
	return bw.Flush()
}

func dotEscape(s string) string {
	if !strings.ContainsAny(s, `"\`) {
		return s
	}
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}

// WriteJSON writes stacker's json format byte for byte: Python's
// json.dump({"steps": {step: {"deps": [...]}}}, indent=4) plus a newline,
// steps in Order, dependencies in name order, non-ASCII escaped.
func (g *Graph) WriteJSON(w io.Writer) error {
	bw := bufio.NewWriter(w)
	if len(g.order) == 0 {
		bw.WriteString("{\n    \"steps\": {}\n}\n")
		return bw.Flush()
	}
	bw.WriteString("{\n    \"steps\": {\n")
	for p, i := range g.order {
		n := &g.nodes[i]
		bw.WriteString("        ")
		bw.WriteString(pyQuote(n.name))
		bw.WriteString(": {\n            \"deps\": ")
		if len(n.deps) == 0 {
			bw.WriteString("[]")
		} else {
			bw.WriteString("[\n")
			for k, d := range n.deps {
				bw.WriteString("                ")
				bw.WriteString(pyQuote(g.nodes[d].name))
				if k < len(n.deps)-1 {
					bw.WriteByte(',')
				}
				bw.WriteByte('\n')
			}
			bw.WriteString("            ]")
		}
		bw.WriteString("\n        }")
		if p < len(g.order)-1 {
			bw.WriteByte(',')
		}
		bw.WriteByte('\n')
	}
	bw.WriteString("    }\n}\n")
	return bw.Flush()
}

// pyQuote quotes s like Python's json.dumps with ensure_ascii=True.
func pyQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			switch {
			case r < 0x20 || (r >= 0x7f && r <= 0xffff) || r == utf8.RuneError:
				fmt.Fprintf(&b, `\u%04x`, r)
			case r > 0xffff:
				r -= 0x10000
				fmt.Fprintf(&b, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
			default:
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// WriteMermaid writes a mermaid flowchart: every node (targets drawn as
// stadiums) then one `dependant --> dependency` edge per line, both in
// Order. Node ids are s0, s1, ... in Order so any stack name is safe.
func (g *Graph) WriteMermaid(w io.Writer) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("flowchart TD\n")
	id := make([]string, len(g.nodes))
	for p, i := range g.order {
		id[i] = "s" + strconv.Itoa(p)
	}
	for _, i := range g.order {
		n := &g.nodes[i]
		open, closing := "[", "]"
		if n.target {
			open, closing = "([", "])"
		}
		fmt.Fprintf(bw, "    %s%s\"%s\"%s\n", id[i], open, mermaidEscape(n.name), closing)
	}
	for _, i := range g.order {
		for _, d := range g.nodes[i].deps {
			fmt.Fprintf(bw, "    %s --> %s\n", id[i], id[d])
		}
	}
	return bw.Flush()
}

func mermaidEscape(s string) string {
	return strings.NewReplacer(`"`, "#quot;", "<", "#lt;", ">", "#gt;").Replace(s)
}
