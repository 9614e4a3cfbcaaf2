package graph

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode/utf8"
)

// SVG layout, in pixels. Labels are drawn in a 12px monospace font, about
// charWidth per character.
const (
	svgMargin    = 16
	svgTitleH    = 28
	svgRowH      = 26
	svgNodeH     = 18
	svgGapX      = 56
	svgPadX      = 8
	svgCharWidth = 7.3
	svgMinNodeW  = 48
)

// svgLegend is the line under the title.
const svgLegend = "columns: build order, left to right · arrows: from a stack to the stacks that need it · orange: across lanes · dashed: config targets"

// lanePalette fills the lanes' nodes, in lane order (repeating).
var lanePalette = []string{"#dbeafe", "#dcfce7", "#fef3c7", "#fce7f3", "#e0e7ff", "#ccfbf1", "#fee2e2", "#f3e8ff"}

// WriteSVG draws the graph as a standalone SVG picture (no scripts, no
// fonts or images from the network), laid out in layers with no external
// tool:
//
//   - columns are build order: a stack stands one column right of its
//     furthest dependency, and an arrow goes from a stack to each stack that
//     needs it;
//   - lanes group the stacks by where they are deployed (profile and
//     region, as the config says), config targets in a lane of their own;
//     an arrow between lanes, drawn in a stronger colour, is a dependency
//     across accounts or regions;
//   - within a lane and column, stacks are ordered to keep arrows short
//     (a few barycentre sweeps, as in Sugiyama's method).
//
// Each node's tooltip names what it needs.
func (g *Graph) WriteSVG(w io.Writer) error {
	l := g.layout()
	bw := bufio.NewWriter(w)
	width, height := l.width, l.height
	fmt.Fprintf(bw, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="ui-monospace, Menlo, Consolas, monospace" font-size="12">`+"\n", width, height, width, height)
	bw.WriteString(`<defs><marker id="arrow" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#64748b"/></marker>` +
		`<marker id="arrow-x" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#c2410c"/></marker></defs>` + "\n")
	fmt.Fprintf(bw, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", width, height)
	stacks, targets := 0, 0
	for i := range g.nodes {
		if g.nodes[i].target {
			targets++
		} else {
			stacks++
		}
	}
	edges := 0
	for i := range g.nodes {
		edges += len(g.nodes[i].deps)
	}
	fmt.Fprintf(bw, `<text x="%d" y="%d" font-size="14" font-weight="bold">%d stacks, %d targets, %d dependencies</text>`+"\n",
		svgMargin, svgMargin+6, stacks, targets, edges)
	fmt.Fprintf(bw, `<text x="%d" y="%d" fill="#475569">%s</text>`+"\n", svgMargin, svgMargin+22, svgLegend)

	// Lanes: a band with its label.
	for k, ln := range l.lanes {
		y := l.laneY[k]
		fill := "#f8fafc"
		if k%2 == 1 {
			fill = "#f1f5f9"
		}
		fmt.Fprintf(bw, `<rect x="0" y="%d" width="%d" height="%d" fill="%s"/>`+"\n", y, width, l.laneH[k], fill)
		fmt.Fprintf(bw, `<text x="%d" y="%d" font-weight="bold" fill="#334155">%s</text>`+"\n", svgMargin, y+16, xmlEscape(ln.label))
	}

	// Edges under the nodes: from a dependency's right side to the
	// dependant's left side.
	bw.WriteString(`<g fill="none" stroke-width="1.2">` + "\n")
	for _, i := range g.order {
		for _, d := range g.nodes[i].deps {
			x1, y1 := l.x[d]+l.w[d], l.y[d]+svgNodeH/2
			x2, y2 := l.x[i], l.y[i]+svgNodeH/2
			mid := float64(x1+x2) / 2
			stroke, marker, opacity, dash := "#64748b", "arrow", "0.55", ""
			switch {
			case g.nodes[i].target || g.nodes[d].target:
				dash = ` stroke-dasharray="4 3"`
			case l.lane[d] != l.lane[i]:
				stroke, marker, opacity = "#c2410c", "arrow-x", "0.8"
			}
			fmt.Fprintf(bw, `<path d="M%d,%d C%.1f,%d %.1f,%d %d,%d" stroke="%s" stroke-opacity="%s"%s marker-end="url(#%s)"/>`+"\n",
				x1, y1, mid, y1, mid, y2, x2, y2, stroke, opacity, dash, marker)
		}
	}
	bw.WriteString("</g>\n")

	// Nodes, with a tooltip naming what each needs.
	for _, i := range g.order {
		n := &g.nodes[i]
		fill, dash := lanePalette[l.lane[i]%len(lanePalette)], ""
		if n.target {
			fill, dash = "#ffffff", ` stroke-dasharray="4 3"`
		}
		fmt.Fprintf(bw, `<g><title>%s</title><rect x="%d" y="%d" width="%d" height="%d" rx="4" fill="%s" stroke="#475569"%s/><text x="%d" y="%d">%s</text></g>`+"\n",
			xmlEscape(g.tooltip(i)), l.x[i], l.y[i], l.w[i], svgNodeH, fill, dash, l.x[i]+svgPadX, l.y[i]+13, xmlEscape(n.name))
	}
	bw.WriteString("</svg>\n")
	return bw.Flush()
}

func (g *Graph) tooltip(i int) string {
	n := &g.nodes[i]
	var b strings.Builder
	b.WriteString(n.kind() + " " + n.name)
	if st := n.stack; st != nil && (st.Profile != "" || st.Region != "") {
		fmt.Fprintf(&b, " (%s)", laneOf(n).label)
	}
	if len(n.deps) > 0 {
		b.WriteString("\nneeds: " + strings.Join(g.namesOf(n.deps), ", "))
	}
	if len(n.dependants) > 0 {
		b.WriteString("\nneeded by: " + strings.Join(g.namesOf(n.dependants), ", "))
	}
	return b.String()
}

// lane is where a node is drawn: the stacks of one profile and region, or
// the config targets.
type lane struct{ key, label string }

func laneOf(n *node) lane {
	if n.target {
		return lane{key: "\x00targets", label: "config targets"}
	}
	st := n.stack
	profile, region := "default profile", "default region"
	if st != nil && st.Profile != "" {
		profile = "profile " + st.Profile
	}
	if st != nil && st.Region != "" {
		region = st.Region
	}
	label := profile + " · " + region
	if st != nil && st.AccountID != "" {
		label += " · account " + st.AccountID
	}
	return lane{key: label, label: label}
}

// svgLayout is where every node is drawn.
type svgLayout struct {
	lanes         []lane
	laneY, laneH  []int
	lane          []int // node -> lane index
	x, y, w       []int // node -> box
	width, height int
}

func (g *Graph) layout() *svgLayout {
	n := len(g.nodes)
	l := &svgLayout{lane: make([]int, n), x: make([]int, n), y: make([]int, n), w: make([]int, n)}

	// Lanes in config order of their first stack; targets last.
	laneIdx := map[string]int{}
	for i := range g.nodes {
		ln := laneOf(&g.nodes[i])
		if g.nodes[i].target {
			continue
		}
		k, ok := laneIdx[ln.key]
		if !ok {
			k = len(l.lanes)
			laneIdx[ln.key] = k
			l.lanes = append(l.lanes, ln)
		}
		l.lane[i] = k
	}
	for i := range g.nodes {
		if !g.nodes[i].target {
			continue
		}
		ln := laneOf(&g.nodes[i])
		k, ok := laneIdx[ln.key]
		if !ok {
			k = len(l.lanes)
			laneIdx[ln.key] = k
			l.lanes = append(l.lanes, ln)
		}
		l.lane[i] = k
	}

	// Columns: one right of the furthest dependency (order is
	// dependencies first).
	col := make([]int, n)
	cols := 0
	for _, i := range g.order {
		for _, d := range g.nodes[i].deps {
			col[i] = max(col[i], col[d]+1)
		}
		cols = max(cols, col[i]+1)
	}

	// Cells: the nodes of one lane and column, first in plan order, then
	// sorted by the mean row of their neighbours, sweeping right (by
	// dependencies) and left (by dependants) a few times.
	type cell struct{ lane, col int }
	cells := map[cell][]int{}
	for _, i := range g.order {
		c := cell{l.lane[i], col[i]}
		cells[c] = append(cells[c], i)
	}
	row := make([]float64, n) // global vertical rank, for barycentres
	rank := func() {
		laneRows := make([]int, len(l.lanes))
		for c, ids := range cells {
			laneRows[c.lane] = max(laneRows[c.lane], len(ids))
		}
		top := make([]int, len(l.lanes))
		for k := 1; k < len(l.lanes); k++ {
			top[k] = top[k-1] + laneRows[k-1] + 1
		}
		for c, ids := range cells {
			for r, i := range ids {
				row[i] = float64(top[c.lane] + r)
			}
		}
	}
	rank()
	bary := func(i int, nbrs []int) float64 {
		if len(nbrs) == 0 {
			return row[i]
		}
		s := 0.0
		for _, j := range nbrs {
			s += row[j]
		}
		return s / float64(len(nbrs))
	}
	sweep := func(c int, byDeps bool) {
		for k := range l.lanes {
			ids := cells[cell{k, c}]
			if len(ids) < 2 {
				continue
			}
			key := make(map[int]float64, len(ids))
			for _, i := range ids {
				if byDeps {
					key[i] = bary(i, g.nodes[i].deps)
				} else {
					key[i] = bary(i, g.nodes[i].dependants)
				}
			}
			base := row[ids[0]]
			for _, i := range ids {
				base = min(base, row[i])
			}
			sort.SliceStable(ids, func(a, b int) bool { return key[ids[a]] < key[ids[b]] })
			for r, i := range ids {
				row[i] = base + float64(r)
			}
		}
	}
	for pass := 0; pass < 4; pass++ {
		for c := 1; c < cols; c++ {
			sweep(c, true)
		}
		rank()
		for c := cols - 2; c >= 0; c-- {
			sweep(c, false)
		}
		rank()
	}

	// Coordinates.
	colW := make([]int, cols)
	for i := range g.nodes {
		l.w[i] = max(svgMinNodeW, int(float64(utf8.RuneCountInString(g.nodes[i].name))*svgCharWidth)+2*svgPadX)
		colW[col[i]] = max(colW[col[i]], l.w[i])
	}
	colX := make([]int, cols)
	x := svgMargin
	for c := range cols {
		colX[c] = x
		x += colW[c] + svgGapX
	}
	l.width = max(x-svgGapX+svgMargin, 2*svgMargin+int(float64(utf8.RuneCountInString(svgLegend))*svgCharWidth))
	laneRows := make([]int, len(l.lanes))
	for c, ids := range cells {
		laneRows[c.lane] = max(laneRows[c.lane], len(ids))
	}
	l.laneY, l.laneH = make([]int, len(l.lanes)), make([]int, len(l.lanes))
	y := svgMargin + svgTitleH + 8
	for k := range l.lanes {
		l.laneY[k] = y
		l.laneH[k] = (laneRows[k] + 1) * svgRowH // one row for the label
		y += l.laneH[k]
	}
	l.height = y + svgMargin
	for c, ids := range cells {
		for r, i := range ids {
			l.x[i] = colX[c.col]
			l.y[i] = l.laneY[c.lane] + (r+1)*svgRowH + (svgRowH-svgNodeH)/2
		}
	}
	return l
}

func xmlEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '"':
			b.WriteString("&quot;")
		case '\'':
			b.WriteString("&#39;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
