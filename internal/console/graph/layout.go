package graph

import (
	"cmp"
	"math"
	"slices"
	"strconv"
)

// Sizes in SVG user units (pixels at scale 1). Every box of a kind has the
// same size, as in the Step Functions console, so that a long name is
// shortened rather than making its box stand out.
const (
	nodeW   = 196.0
	nodeH   = 44.0
	choiceW = 212.0 // a diamond needs more room than a box for the same text
	choiceH = 68.0

	fontSize  = 13.0
	labelFont = 11.0
	labelH    = 15.0

	gapReal   = 40.0 // between two boxes of a layer
	gapDummy  = 16.0 // between an edge passing through a layer and its neighbours
	dummyW    = 6.0
	rankGap   = 52.0 // between two layers, where edges bend and carry labels
	chanStep  = 11.0 // between two back edges crossing the same gap
	chanClear = 14.0 // between a back edge crossing a gap and the boxes
	laneStep  = 18.0 // between two back edges running up the same side
	laneGap   = 26.0 // between a back edge and the boxes it runs beside

	containerPad  = 16.0
	containerHead = 34.0 // the band holding a Map's or Parallel's name
	branchGap     = 20.0

	margin       = 16.0
	nestedMargin = 10.0
	startR       = 10.0
	nestedStartR = 6.0
	cornerR      = 8.0
	hexInset     = 10.0 // how far a Wait's hexagon cuts into its box
)

type nodeKind uint8

const (
	kindState nodeKind = iota
	kindStart
	kindEnd
	kindDummy // where a long edge crosses a layer
)

type pt struct{ x, y float64 }

type rect struct{ x, y, w, h float64 } // top-left corner and size

func (r rect) overlaps(o rect) bool {
	return r.x < o.x+o.w && o.x < r.x+r.w && r.y < o.y+o.h && o.y < r.y+r.h
}

// node is one box of a layout: a state, the start or end marker, or a
// dummy standing for a long edge in a layer it crosses, so that the
// ordering and positioning keep a lane free for it.
type node struct {
	kind   nodeKind
	st     *state
	sub    []*layout // the nested scopes of a Map or Parallel
	subAt  []pt      // where each nested layout starts, from the node's corner
	w, h   float64
	idx    int // creation order, the tie-break that keeps output deterministic
	rank   int
	pos    int
	x, y   float64 // centre
	out    []*edge
	up     []link // neighbours through edge segments, one layer up
	down   []link // and one layer down
	bary   float64
	placed bool
}

type link struct {
	n *node
	w float64 // how much the segment wants to be vertical
}

func (n *node) box() rect { return rect{n.x - n.w/2, n.y - n.h/2, n.w, n.h} }

// edge is one transition of the file (or from the start marker, or to the
// end marker).
type edge struct {
	from, to *node
	kind     string // next, default, choice, catch, start, end
	label    string
	idx      int
	back     bool    // closes a loop: drawn up the side of the layout
	chain    []*node // forward edges: from, the dummies, to

	// Back edges only.
	side       float64 // +1 right, -1 left
	exitSide   bool    // leaves from's side rather than its bottom
	enterSide  bool    // enters to's side rather than its top
	lane       float64
	lo, hi     int // the half-layers it spans: 2*rank for a layer, 2*rank+1 for the gap below
	exitChanY  float64
	enterChanY float64

	outX, inX   float64 // bottom and top port
	outPY, inPY float64
	outY, inY   float64 // side port y
	path        []cmd
	labelAt     pt
	labelShown  bool
	labelCands  []pt
	labelW      float64
}

// cmd is one path command in absolute coordinates: M, L, Q or C.
type cmd struct {
	op byte
	p  [3]pt
}

// points is how many of p the command uses.
func (c cmd) points() int {
	switch c.op {
	case 'Q':
		return 2
	case 'C':
		return 3
	}
	return 1
}

// layout is one laid-out scope. Coordinates are its own, from (0,0) to
// (w,h); a nested layout is drawn translated inside its container.
type layout struct {
	nested bool
	nodes  []*node
	edges  []*edge
	layers [][]*node
	w, h   float64

	bandTop, bandH []float64 // per layer
	gapH           []float64 // below each layer
	gapExits       [][]*edge // back edges crossing the gap below a layer
	gapEnters      [][]*edge
}

func (l *layout) addNode(n *node) *node {
	n.idx = len(l.nodes)
	l.nodes = append(l.nodes, n)
	return n
}

func (l *layout) addEdge(from, to *node, kind, label string) {
	e := &edge{from: from, to: to, kind: kind, label: label, idx: len(l.edges)}
	l.edges = append(l.edges, e)
	from.out = append(from.out, e)
}

// newLayout lays out one scope, its nested scopes first since a
// container's size is that of its content.
func newLayout(m *machine, nested bool) *layout {
	l := &layout{nested: nested}
	r := startR
	if nested {
		r = nestedStartR
	}
	start := l.addNode(&node{kind: kindStart, w: 2 * r, h: 2 * r})
	byName := make(map[string]*node, len(m.states))
	for _, s := range m.states {
		n := &node{kind: kindState, st: s, w: nodeW, h: nodeH}
		switch s.typ {
		case "Choice":
			n.w, n.h = choiceW, choiceH
		case "Map", "Parallel":
			sizeContainer(n)
		}
		byName[s.name] = l.addNode(n)
	}
	l.addEdge(start, byName[m.startAt], "start", "")
	var end *node
	for _, s := range m.states {
		n := byName[s.name]
		if s.next != "" {
			l.addEdge(n, byName[s.next], "next", "")
		}
		for i, t := range s.choices {
			l.addEdge(n, byName[t], "choice", strconv.Itoa(i+1))
		}
		if s.def != "" {
			l.addEdge(n, byName[s.def], "default", "Default")
		}
		for _, t := range s.catches {
			l.addEdge(n, byName[t], "catch", "Catch")
		}
		if s.end {
			if end == nil {
				end = l.addNode(&node{kind: kindEnd, w: 2 * r, h: 2 * r})
			}
			l.addEdge(n, end, "end", "")
		}
	}
	l.markBackEdges(start)
	l.rank(end)
	l.addDummies()
	l.order(start)
	l.positionX()
	l.planBackEdges()
	l.positionY()
	l.route()
	l.placeLabels()
	l.normalise()
	return l
}

// sizeContainer lays out the nested scopes of a Map or Parallel and sizes
// the container around them: a Map's iteration in the middle, a
// Parallel's branches side by side, tops aligned.
func sizeContainer(n *node) {
	total, tallest := 0.0, 0.0
	for i, child := range n.st.children {
		sub := newLayout(child, true)
		n.sub = append(n.sub, sub)
		if i > 0 {
			total += branchGap
		}
		total += sub.w
		tallest = max(tallest, sub.h)
	}
	// The header holds the name (shortened if need be) and the type.
	minW := nodeW + 60
	n.w = max(total+2*containerPad, minW)
	n.h = containerHead + tallest + containerPad
	x := (n.w - total) / 2
	for _, sub := range n.sub {
		n.subAt = append(n.subAt, pt{x, containerHead})
		x += sub.w + branchGap
	}
}

// markBackEdges finds the edges that close loops by a depth-first search
// from the start, following transitions in the order of the file, so that
// the path a reader follows first is the one drawn downwards.
func (l *layout) markBackEdges(start *node) {
	seen := make([]uint8, len(l.nodes)) // 0 new, 1 on the stack, 2 done
	var visit func(n *node)
	visit = func(n *node) {
		seen[n.idx] = 1
		for _, e := range n.out {
			switch seen[e.to.idx] {
			case 0:
				visit(e.to)
			case 1:
				e.back = true
			}
		}
		seen[n.idx] = 2
	}
	visit(start)
	// States no transition reaches still get drawn, below the start.
	for _, n := range l.nodes {
		if seen[n.idx] == 0 {
			visit(n)
		}
	}
}

// rank puts each node in the layer of its longest path from the start over
// forward edges, and the end marker alone below everything.
func (l *layout) rank(end *node) {
	indeg := make([]int, len(l.nodes))
	for _, e := range l.edges {
		if !e.back {
			indeg[e.to.idx]++
		}
	}
	queue := make([]*node, 0, len(l.nodes))
	for _, n := range l.nodes {
		if indeg[n.idx] == 0 {
			if n.kind != kindStart {
				n.rank = 1
			}
			queue = append(queue, n)
		}
	}
	maxRank := 0
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		if n != end {
			maxRank = max(maxRank, n.rank)
		}
		for _, e := range n.out {
			if e.back {
				continue
			}
			e.to.rank = max(e.to.rank, n.rank+1)
			if indeg[e.to.idx]--; indeg[e.to.idx] == 0 {
				queue = append(queue, e.to)
			}
		}
	}
	if end != nil {
		end.rank = maxRank + 1
	}
}

// addDummies splits every forward edge longer than one layer with a dummy
// node in each layer it crosses.
func (l *layout) addDummies() {
	for _, e := range l.edges {
		if e.back {
			continue
		}
		e.chain = []*node{e.from}
		for r := e.from.rank + 1; r < e.to.rank; r++ {
			e.chain = append(e.chain, l.addNode(&node{kind: kindDummy, w: dummyW, rank: r}))
		}
		e.chain = append(e.chain, e.to)
		for i := 1; i < len(e.chain); i++ {
			a, b := e.chain[i-1], e.chain[i]
			// Long edges are weighted so that they run straight, the
			// weights of the usual layered layout.
			w := 1.0
			switch {
			case a.kind == kindDummy && b.kind == kindDummy:
				w = 32
			case a.kind == kindDummy || b.kind == kindDummy:
				w = 2
			}
			a.down = append(a.down, link{b, w})
			b.up = append(b.up, link{a, w})
		}
	}
	maxRank := 0
	for _, n := range l.nodes {
		maxRank = max(maxRank, n.rank)
	}
	l.layers = make([][]*node, maxRank+1)
}

// order sets the order of the nodes within each layer. From each of a few
// starting orders (depth first in the order of the file, depth first in
// reverse, breadth first), barycenter sweeps down and up with adjacent swaps
// improve the order; the one with the fewest crossings wins. Sweeps alone
// cannot move a whole long edge across a neighbour, the starting order can.
func (l *layout) order(start *node) {
	var best [][]*node
	bestCross := -1
	for _, init := range []func(*node){l.depthFirst(false), l.depthFirst(true), l.breadthFirst} {
		for r := range l.layers {
			l.layers[r] = l.layers[r][:0:0]
		}
		for _, n := range l.nodes {
			n.placed = false
		}
		init(start)
		for _, n := range l.nodes {
			if !n.placed {
				init(n)
			}
		}
		l.renumber()
		cross, saved := l.improveOrder()
		if bestCross < 0 || cross < bestCross {
			best, bestCross = saved, cross
		}
	}
	l.layers = best
	l.renumber()
}

// depthFirst returns a starting order: nodes appended to their layers as a
// depth-first search from n meets them.
func (l *layout) depthFirst(reverse bool) func(*node) {
	var visit func(n *node)
	visit = func(n *node) {
		n.placed = true
		l.layers[n.rank] = append(l.layers[n.rank], n)
		for i := range n.down {
			k := n.down[i]
			if reverse {
				k = n.down[len(n.down)-1-i]
			}
			if !k.n.placed {
				visit(k.n)
			}
		}
	}
	return visit
}

// breadthFirst is a starting order by breadth-first search from n.
func (l *layout) breadthFirst(n *node) {
	n.placed = true
	queue := []*node{n}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		l.layers[n.rank] = append(l.layers[n.rank], n)
		for _, k := range n.down {
			if !k.n.placed {
				k.n.placed = true
				queue = append(queue, k.n)
			}
		}
	}
}

// improveOrder runs the sweeps from the current order and returns the
// best order met and its crossings.
func (l *layout) improveOrder() (int, [][]*node) {
	best := l.crossings()
	saved := l.saveOrder()
	for iter := 0; iter < 24 && best > 0; iter++ {
		if iter%2 == 0 {
			for r := 1; r < len(l.layers); r++ {
				sortByBarycenter(l.layers[r], true)
			}
		} else {
			for r := len(l.layers) - 2; r >= 0; r-- {
				sortByBarycenter(l.layers[r], false)
			}
		}
		l.renumber()
		l.transpose()
		if c := l.crossings(); c <= best {
			best, saved = c, l.saveOrder()
		}
	}
	return best, saved
}

func (l *layout) renumber() {
	for _, layer := range l.layers {
		for i, n := range layer {
			n.pos = i
		}
	}
}

func (l *layout) saveOrder() [][]*node {
	out := make([][]*node, len(l.layers))
	for r, layer := range l.layers {
		out[r] = slices.Clone(layer)
	}
	return out
}

// sortByBarycenter orders a layer by the mean position of each node's
// neighbours in the layer above (fromAbove) or below; a node without any
// keeps its place.
func sortByBarycenter(layer []*node, fromAbove bool) {
	for _, n := range layer {
		links := n.down
		if fromAbove {
			links = n.up
		}
		n.bary = float64(n.pos)
		if len(links) > 0 {
			sum := 0.0
			for _, k := range links {
				sum += float64(k.n.pos)
			}
			n.bary = sum / float64(len(links))
		}
	}
	slices.SortStableFunc(layer, func(a, b *node) int {
		return cmp.Or(cmp.Compare(a.bary, b.bary), cmp.Compare(a.pos, b.pos))
	})
}

// crossings counts the crossings of segments between adjacent layers.
func (l *layout) crossings() int {
	total := 0
	type seg struct{ a, b int }
	var segs []seg
	for _, layer := range l.layers {
		segs = segs[:0]
		for _, n := range layer {
			for _, k := range n.down {
				segs = append(segs, seg{n.pos, k.n.pos})
			}
		}
		for i := range segs {
			for j := i + 1; j < len(segs); j++ {
				if (segs[i].a-segs[j].a)*(segs[i].b-segs[j].b) < 0 {
					total++
				}
			}
		}
	}
	return total
}

// pairCrossings counts the crossings between the segments of a and those of
// b when a is left of b.
func pairCrossings(a, b *node) int {
	c := 0
	for _, x := range a.up {
		for _, y := range b.up {
			if x.n.pos > y.n.pos {
				c++
			}
		}
	}
	for _, x := range a.down {
		for _, y := range b.down {
			if x.n.pos > y.n.pos {
				c++
			}
		}
	}
	return c
}

// transpose swaps adjacent nodes while that removes crossings.
func (l *layout) transpose() {
	for round := 0; round < 4; round++ {
		improved := false
		for _, layer := range l.layers {
			for i := 0; i+1 < len(layer); i++ {
				a, b := layer[i], layer[i+1]
				if pairCrossings(b, a) < pairCrossings(a, b) {
					layer[i], layer[i+1] = b, a
					a.pos, b.pos = i+1, i
					improved = true
				}
			}
		}
		if !improved {
			return
		}
	}
}

// separation is the least distance between the centres of neighbours a
// (left) and b.
func separation(a, b *node) float64 {
	gap := gapReal
	if a.kind == kindDummy || b.kind == kindDummy {
		gap = gapDummy
	}
	return a.w/2 + gap + b.w/2
}

// positionX places the nodes horizontally. It minimises the weighted sum of
// the squared horizontal lengths of all segments, keeping each layer's order
// and spacing: each layer in turn is solved exactly (an isotonic regression,
// pool-adjacent-violators), which converges since the problem is convex.
// The result centres a node over its successors and keeps long edges
// straight.
func (l *layout) positionX() {
	for _, layer := range l.layers {
		x := 0.0
		for i, n := range layer {
			if i > 0 {
				x += separation(layer[i-1], n)
			}
			n.x = x
		}
		for _, n := range layer {
			n.x -= x / 2
		}
	}
	for iter := 0; iter < 48; iter++ {
		if iter%2 == 0 {
			for _, layer := range l.layers {
				solveLayer(layer)
			}
		} else {
			for r := len(l.layers) - 1; r >= 0; r-- {
				solveLayer(l.layers[r])
			}
		}
	}
	l.straighten()
}

// straighten lines up the dummies of each long edge on one x where the
// neighbours in their layers leave room, so that a long edge bends at its
// ends rather than wandering down the page. Where no x suits the whole
// edge, the longest run of dummies that can be lined up is, and the rest
// is tried again on either side of it.
func (l *layout) straighten() {
	var long []*edge
	for _, e := range l.edges {
		if len(e.chain) > 3 {
			long = append(long, e)
		}
	}
	slices.SortStableFunc(long, func(a, b *edge) int { return cmp.Compare(len(b.chain), len(a.chain)) })
	for _, e := range long {
		l.alignRun(e.chain[1:len(e.chain)-1], e.chain[0].x, e.chain[len(e.chain)-1].x)
	}
}

// alignRun lines up as many consecutive dummies of ds as it can.
func (l *layout) alignRun(ds []*node, ends ...float64) {
	if len(ds) < 2 {
		return
	}
	fits := func(d *node, x float64) bool {
		layer := l.layers[d.rank]
		return !(d.pos > 0 && layer[d.pos-1].x+separation(layer[d.pos-1], d) > x+1e-6 ||
			d.pos+1 < len(layer) && x+separation(d, layer[d.pos+1]) > layer[d.pos+1].x+1e-6)
	}
	cands := ends
	for _, d := range ds {
		cands = append(cands, d.x)
	}
	bestX, bestFrom, bestTo, bestMove := 0.0, 0, 0, math.Inf(1)
	for _, c := range cands {
		for i := 0; i < len(ds); {
			if !fits(ds[i], c) {
				i++
				continue
			}
			j, move := i, 0.0
			for j < len(ds) && fits(ds[j], c) {
				move += math.Abs(ds[j].x - c)
				j++
			}
			if j-i > bestTo-bestFrom || j-i == bestTo-bestFrom && move < bestMove {
				bestX, bestFrom, bestTo, bestMove = c, i, j, move
			}
			i = j
		}
	}
	if bestTo-bestFrom < 2 {
		return
	}
	for _, d := range ds[bestFrom:bestTo] {
		d.x = bestX
	}
	l.alignRun(ds[:bestFrom])
	l.alignRun(ds[bestTo:])
}

// solveLayer moves the nodes of one layer to where their neighbours pull
// them, as near as order and spacing allow.
func solveLayer(layer []*node) {
	type block struct {
		w, sum float64
		start  int
	}
	offset := make([]float64, len(layer))
	for i := 1; i < len(layer); i++ {
		offset[i] = offset[i-1] + separation(layer[i-1], layer[i])
	}
	blocks := make([]block, 0, len(layer))
	for i, n := range layer {
		w, sum := 0.0, 0.0
		for _, k := range n.up {
			w += k.w
			sum += k.w * k.n.x
		}
		for _, k := range n.down {
			w += k.w
			sum += k.w * k.n.x
		}
		want := n.x
		if w > 0 {
			want = sum / w
		} else {
			w = 1e-3
		}
		blocks = append(blocks, block{w: w, sum: w * (want - offset[i]), start: i})
		for len(blocks) > 1 {
			a, b := blocks[len(blocks)-2], blocks[len(blocks)-1]
			if a.sum/a.w <= b.sum/b.w {
				break
			}
			blocks = blocks[:len(blocks)-1]
			blocks[len(blocks)-1] = block{w: a.w + b.w, sum: a.sum + b.sum, start: a.start}
		}
	}
	for bi, b := range blocks {
		stop := len(layer)
		if bi+1 < len(blocks) {
			stop = blocks[bi+1].start
		}
		for i := b.start; i < stop; i++ {
			layer[i].x = b.sum/b.w + offset[i]
		}
	}
}
