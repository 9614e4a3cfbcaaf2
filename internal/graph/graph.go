// Package graph owns the dependency DAG of stacks and config targets: its
// construction from requires, required_by, targets and lookup dependencies,
// cycle detection, the deterministic order stacker 1.7 uses, narrowing for
// --stacks, transposition for destroy, transitive reduction and the dot, json
// and mermaid renderings. It knows nothing of AWS or of how stacks are built.
//
// Edges point from a dependant to its dependency ("app -> vpc": app needs
// vpc). A Graph is immutable once built, so it is safe for concurrent use.
package graph

import (
	"fmt"
	"slices"
	"strings"

	"github.com/stacker-go/stacker/internal/config"
)

// Graph is a DAG of stacks and targets.
type Graph struct {
	nodes []node         // in config order: stacks, then targets
	index map[string]int // name -> position in nodes
	order []int          // dependencies first (stacker §6.1)
	pos   []int          // node -> position in order
}

type node struct {
	name       string
	target     bool
	stack      *config.Stack // nil for targets
	filePos    config.Pos
	deps       []int // direct dependencies, sorted by name
	dependants []int // direct dependants, sorted by name
}

// New builds the graph of cfg. deps returns the stacks a stack depends on
// through its variables (output lookups); it may be nil. Requires and
// required_by may name stacks or targets.
//
// Errors are *config.Error values positioned at the offending stack or
// target: an unknown dependency (with the nearest names), a duplicate name,
// or a cycle printed as "a -> b -> c -> a".
func New(cfg *config.Config, deps func(*config.Stack) ([]string, error)) (*Graph, error) {
	g := &Graph{index: make(map[string]int, len(cfg.Stacks)+len(cfg.Targets))}
	add := func(n node) error {
		if prev, dup := g.index[n.name]; dup {
			return &config.Error{Pos: n.filePos, Msg: fmt.Sprintf("duplicate stack or target name %q (first declared at %s)", n.name, posString(g.nodes[prev].filePos))}
		}
		g.index[n.name] = len(g.nodes)
		g.nodes = append(g.nodes, n)
		return nil
	}
	for _, st := range cfg.Stacks {
		if err := add(node{name: st.Name, stack: st, filePos: st.Pos}); err != nil {
			return nil, err
		}
	}
	for _, t := range cfg.Targets {
		if err := add(node{name: t.Name, target: true, filePos: t.Pos}); err != nil {
			return nil, err
		}
	}

	// Edges, deduplicated once sorted.
	connect := func(from, to int) {
		g.nodes[from].deps = append(g.nodes[from].deps, to)
	}
	resolve := func(owner int, name, what string) (int, error) {
		i, ok := g.index[name]
		if !ok {
			n := g.nodes[owner]
			return 0, &config.Error{Pos: n.filePos, Msg: fmt.Sprintf("%s %q: %s unknown stack or target %q%s",
				n.kind(), n.name, what, name, suggestion(name, g.names()))}
		}
		return i, nil
	}
	link := func(owner int, requires, requiredBy []string) error {
		for _, r := range requires {
			d, err := resolve(owner, r, "requires")
			if err != nil {
				return err
			}
			connect(owner, d)
		}
		for _, r := range requiredBy {
			p, err := resolve(owner, r, "required_by names")
			if err != nil {
				return err
			}
			connect(p, owner)
		}
		return nil
	}
	for i, st := range cfg.Stacks {
		if err := link(i, st.Requires, st.RequiredBy); err != nil {
			return nil, err
		}
		if deps == nil {
			continue
		}
		names, err := deps(st)
		if err != nil {
			return nil, err
		}
		for _, d := range names {
			j, err := resolve(i, d, "output lookup refers to")
			if err != nil {
				return nil, err
			}
			connect(i, j)
		}
	}
	for k, t := range cfg.Targets {
		if err := link(len(cfg.Stacks)+k, t.Requires, t.RequiredBy); err != nil {
			return nil, err
		}
	}
	byName := func(a, b int) int { return strings.Compare(g.nodes[a].name, g.nodes[b].name) }
	for i := range g.nodes {
		slices.SortFunc(g.nodes[i].deps, byName)
		g.nodes[i].deps = slices.Compact(g.nodes[i].deps)
	}
	for i := range g.nodes {
		for _, d := range g.nodes[i].deps {
			g.nodes[d].dependants = append(g.nodes[d].dependants, i)
		}
	}
	for i := range g.nodes {
		slices.SortFunc(g.nodes[i].dependants, byName)
	}
	if err := g.computeOrder(); err != nil {
		return nil, err
	}
	return g, nil
}

func (n *node) kind() string {
	if n.target {
		return "target"
	}
	return "stack"
}

func posString(p config.Pos) string {
	if p.File == "" {
		return "?"
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

func (g *Graph) names() []string {
	out := make([]string, len(g.nodes))
	for i, n := range g.nodes {
		out[i] = n.name
	}
	return out
}

func (g *Graph) sortEdges() {
	byName := func(a, b int) int { return strings.Compare(g.nodes[a].name, g.nodes[b].name) }
	for i := range g.nodes {
		slices.SortFunc(g.nodes[i].deps, byName)
		slices.SortFunc(g.nodes[i].dependants, byName)
	}
}

// computeOrder is stacker's dag.topological_sort: Kahn's algorithm over the
// edges dependant -> dependency with a FIFO queue seeded, in config order,
// with the nodes no one depends on; successors are visited in name order.
// The result is reversed so dependencies come first.
func (g *Graph) computeOrder() error {
	n := len(g.nodes)
	indeg := make([]int, n)
	for i := range g.nodes {
		for _, d := range g.nodes[i].deps {
			indeg[d]++
		}
	}
	queue := make([]int, 0, n)
	for i := range g.nodes {
		if indeg[i] == 0 {
			queue = append(queue, i)
		}
	}
	for head := 0; head < len(queue); head++ {
		for _, d := range g.nodes[queue[head]].deps {
			indeg[d]--
			if indeg[d] == 0 {
				queue = append(queue, d)
			}
		}
	}
	if len(queue) != n {
		return g.cycleError()
	}
	slices.Reverse(queue)
	g.order = queue
	g.pos = make([]int, n)
	for p, i := range queue {
		g.pos[i] = p
	}
	return nil
}

// cycleError finds the first cycle met by a depth-first search that starts
// from nodes in config order and follows dependencies in name order.
func (g *Graph) cycleError() error {
	const (
		white = iota
		grey
		black
	)
	color := make([]int, len(g.nodes))
	var stack []int
	var cycle []int
	var visit func(i int) bool
	visit = func(i int) bool {
		color[i] = grey
		stack = append(stack, i)
		for _, d := range g.nodes[i].deps {
			switch color[d] {
			case grey:
				at := slices.Index(stack, d)
				cycle = append(slices.Clone(stack[at:]), d)
				return true
			case white:
				if visit(d) {
					return true
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[i] = black
		return false
	}
	for i := range g.nodes {
		if color[i] == white && visit(i) {
			break
		}
	}
	if cycle == nil { // cannot happen: Kahn failed, so a cycle exists
		return &config.Error{Msg: "dependency cycle detected"}
	}
	// Start the printed cycle at its earliest node in config order.
	body := cycle[:len(cycle)-1]
	start := slices.Index(body, slices.Min(body))
	rot := append(slices.Clone(body[start:]), body[:start]...)
	names := make([]string, 0, len(rot)+1)
	for _, i := range rot {
		names = append(names, g.nodes[i].name)
	}
	names = append(names, g.nodes[rot[0]].name)
	first := g.nodes[rot[0]]
	return &config.Error{Pos: first.filePos, Msg: "dependency cycle: " + strings.Join(names, " -> ")}
}

// Len returns the number of nodes (stacks and targets).
func (g *Graph) Len() int { return len(g.nodes) }

// Has reports whether name is a node of the graph.
func (g *Graph) Has(name string) bool { _, ok := g.index[name]; return ok }

// Order returns node names, dependencies first, in stacker's deterministic
// order (§6.1). For a reversed graph it is the destroy order.
func (g *Graph) Order() []string {
	out := make([]string, len(g.order))
	for p, i := range g.order {
		out[p] = g.nodes[i].name
	}
	return out
}

// Deps returns the direct dependencies of name, sorted by name.
func (g *Graph) Deps(name string) []string {
	i, ok := g.index[name]
	if !ok {
		return nil
	}
	return g.namesOf(g.nodes[i].deps)
}

// Dependants returns the direct dependants of name, sorted by name.
func (g *Graph) Dependants(name string) []string {
	i, ok := g.index[name]
	if !ok {
		return nil
	}
	return g.namesOf(g.nodes[i].dependants)
}

func (g *Graph) namesOf(idx []int) []string {
	out := make([]string, len(idx))
	for k, i := range idx {
		out[k] = g.nodes[i].name
	}
	return out
}

// IsTarget reports whether name is a config target (a node that prints
// nothing and has no stack).
func (g *Graph) IsTarget(name string) bool {
	i, ok := g.index[name]
	return ok && g.nodes[i].target
}

// Stack returns the stack of a node, or nil for targets and unknown names.
func (g *Graph) Stack(name string) *config.Stack {
	i, ok := g.index[name]
	if !ok {
		return nil
	}
	return g.nodes[i].stack
}

// Stacks returns the stacks of the graph in Order (targets left out).
func (g *Graph) Stacks() []*config.Stack {
	out := make([]*config.Stack, 0, len(g.order))
	for _, i := range g.order {
		if st := g.nodes[i].stack; st != nil {
			out = append(out, st)
		}
	}
	return out
}

// Select narrows the graph to the named nodes plus everything they depend
// on (reverse false: build, diff) or everything that depends on them
// (reverse true: destroy), transitively. The result keeps the orientation of
// g. An empty names list returns g. A name that is not in the graph is an
// error listing the nearest names.
func (g *Graph) Select(names []string, reverse bool) (*Graph, error) {
	if len(names) == 0 {
		return g, nil
	}
	keep := make([]bool, len(g.nodes))
	var work []int
	var unknown []string
	for _, name := range names {
		i, ok := g.index[name]
		if !ok {
			unknown = append(unknown, fmt.Sprintf("%q%s", name, suggestion(name, g.names())))
			continue
		}
		if !keep[i] {
			keep[i] = true
			work = append(work, i)
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("unknown stack or target %s", strings.Join(unknown, ", "))
	}
	for len(work) > 0 {
		i := work[len(work)-1]
		work = work[:len(work)-1]
		next := g.nodes[i].deps
		if reverse {
			next = g.nodes[i].dependants
		}
		for _, j := range next {
			if !keep[j] {
				keep[j] = true
				work = append(work, j)
			}
		}
	}
	return g.subgraph(keep), nil
}

// subgraph keeps the marked nodes (in config order) and the edges between them.
func (g *Graph) subgraph(keep []bool) *Graph {
	remap := make([]int, len(g.nodes))
	sub := &Graph{index: map[string]int{}}
	for i, n := range g.nodes {
		remap[i] = -1
		if keep[i] {
			remap[i] = len(sub.nodes)
			sub.index[n.name] = len(sub.nodes)
			sub.nodes = append(sub.nodes, node{name: n.name, target: n.target, stack: n.stack, filePos: n.filePos})
		}
	}
	for i, n := range g.nodes {
		if !keep[i] {
			continue
		}
		si := remap[i]
		for _, d := range n.deps { // already sorted by name
			if keep[d] {
				sub.nodes[si].deps = append(sub.nodes[si].deps, remap[d])
			}
		}
		for _, d := range n.dependants {
			if keep[d] {
				sub.nodes[si].dependants = append(sub.nodes[si].dependants, remap[d])
			}
		}
	}
	if err := sub.computeOrder(); err != nil { // a subgraph of a DAG is a DAG
		panic("graph: subgraph has a cycle: " + err.Error())
	}
	return sub
}

// Reverse returns the transposed graph: Deps and Dependants swap, and Order
// becomes the destroy order (dependants first), computed the way stacker
// does for destroy (Kahn over the transposed graph).
func (g *Graph) Reverse() *Graph {
	r := &Graph{index: g.index, nodes: make([]node, len(g.nodes))}
	for i, n := range g.nodes {
		n.deps, n.dependants = n.dependants, n.deps
		r.nodes[i] = n
	}
	if err := r.computeOrder(); err != nil {
		panic("graph: transposed graph has a cycle: " + err.Error())
	}
	return r
}

// Reduce returns the transitive reduction: an edge a -> c is dropped when c
// is reachable from a through another dependency. It runs in O(V·E/64):
// reachability is a bitset per node, filled in dependency-first order.
func (g *Graph) Reduce() *Graph {
	n := len(g.nodes)
	words := (n + 63) / 64
	reach := make([]uint64, n*words) // reach[i] = nodes reachable from i
	kept := make([][]int, n)
	byPosDesc := func(a, b int) int { return g.pos[b] - g.pos[a] }
	var deps []int
	for _, i := range g.order { // dependencies first
		row := reach[i*words : (i+1)*words]
		deps = append(deps[:0], g.nodes[i].deps...)
		// Closest dependencies (latest in order) first: anything reachable
		// through another dependency is then already in row.
		slices.SortFunc(deps, byPosDesc)
		for _, d := range deps {
			if row[d/64]&(1<<(d%64)) != 0 {
				continue
			}
			kept[i] = append(kept[i], d)
			row[d/64] |= 1 << (d % 64)
			drow := reach[d*words : (d+1)*words]
			for w := range row {
				row[w] |= drow[w]
			}
		}
	}
	r := &Graph{index: g.index, nodes: make([]node, n), order: g.order, pos: g.pos}
	for i, nd := range g.nodes {
		nd.deps = kept[i]
		nd.dependants = nil
		r.nodes[i] = nd
	}
	for i := range r.nodes {
		for _, d := range r.nodes[i].deps {
			r.nodes[d].dependants = append(r.nodes[d].dependants, i)
		}
	}
	r.sortEdges()
	// Fewer edges can change Kahn's order: recompute it so Order is what
	// stacker prints for the reduced graph.
	if err := r.computeOrder(); err != nil {
		panic("graph: reduced graph has a cycle: " + err.Error())
	}
	return r
}

// Subset narrows the graph to exactly the named nodes and the edges between
// them (info --stacks). An empty names list returns g; an unknown name is
// an error listing the nearest names.
func (g *Graph) Subset(names []string) (*Graph, error) {
	if len(names) == 0 {
		return g, nil
	}
	keep := make([]bool, len(g.nodes))
	var unknown []string
	for _, name := range names {
		i, ok := g.index[name]
		if !ok {
			unknown = append(unknown, fmt.Sprintf("%q%s", name, suggestion(name, g.names())))
			continue
		}
		keep[i] = true
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("unknown stack or target %s", strings.Join(unknown, ", "))
	}
	return g.subgraph(keep), nil
}
