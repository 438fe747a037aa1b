package graph

import (
	"cmp"
	"math"
	"slices"
)

// planBackEdges chooses how each back edge runs: up a lane beside the
// layers it spans, on the side where its ends have no neighbour (so it can
// leave and enter through the boxes' sides), else through the gaps below
// its source and above its target. Shorter loops get the inner lanes so
// that nested loops do not cross.
func (l *layout) planBackEdges() {
	l.gapExits = make([][]*edge, len(l.layers))
	l.gapEnters = make([][]*edge, len(l.layers))
	var backs []*edge
	for _, e := range l.edges {
		if !e.back {
			continue
		}
		backs = append(backs, e)
		u, v := e.from, e.to
		// A Map's or Parallel's transitions leave from its bottom.
		sideOK := u.sub == nil
		rightFree := b2i(sideOK && u.pos == len(l.layers[u.rank])-1) + b2i(v.pos == len(l.layers[v.rank])-1)
		leftFree := b2i(sideOK && u.pos == 0) + b2i(v.pos == 0)
		// Each side costs the horizontal run to its lane and a detour
		// through a gap for each end that cannot use its side.
		cost := func(side float64, free int) float64 {
			lane := math.Inf(-1)
			for r := v.rank; r <= u.rank; r++ {
				for _, n := range l.layers[r] {
					lane = max(lane, side*n.x+n.w/2)
				}
			}
			lane = side * (lane + laneGap)
			return math.Abs(lane-u.x) + math.Abs(lane-v.x) + 200*float64(2-free)
		}
		if cost(-1, leftFree) < cost(1, rightFree) {
			e.side = -1
			e.exitSide, e.enterSide = sideOK && u.pos == 0, v.pos == 0
		} else {
			e.side = 1
			e.exitSide = sideOK && u.pos == len(l.layers[u.rank])-1
			e.enterSide = v.pos == len(l.layers[v.rank])-1
		}
		e.lo, e.hi = 2*v.rank, 2*u.rank
		if !e.enterSide {
			e.lo--
		}
		if !e.exitSide {
			e.hi++
		}
	}
	byspan := slices.Clone(backs)
	slices.SortStableFunc(byspan, func(a, b *edge) int { return cmp.Compare(a.hi-a.lo, b.hi-b.lo) })
	var done []*edge
	for _, e := range byspan {
		ext := math.Inf(-1)
		for r := e.to.rank; r <= e.from.rank; r++ {
			for _, n := range l.layers[r] {
				ext = max(ext, e.side*n.x+n.w/2)
			}
		}
		lane := ext + laneGap
		for moved := true; moved; {
			moved = false
			for _, o := range done {
				if o.side != e.side || o.hi < e.lo || e.hi < o.lo {
					continue
				}
				if ol := e.side * o.lane; math.Abs(lane-ol) < laneStep {
					lane, moved = ol+laneStep, true
				}
			}
		}
		e.lane = e.side * lane
		done = append(done, e)
	}
	for _, e := range backs {
		if !e.exitSide {
			l.gapExits[e.from.rank] = append(l.gapExits[e.from.rank], e)
		}
		if !e.enterSide {
			l.gapEnters[e.to.rank-1] = append(l.gapEnters[e.to.rank-1], e)
		}
	}
	// In a gap, edges leaving for inner lanes run nearer their sources,
	// and edges from outer lanes run farther from their targets: then the
	// horizontal runs do not cross the lanes.
	for r := range l.layers {
		slices.SortStableFunc(l.gapExits[r], func(a, b *edge) int { return cmp.Compare(a.side*a.lane, b.side*b.lane) })
		slices.SortStableFunc(l.gapEnters[r], func(a, b *edge) int { return cmp.Compare(b.side*b.lane, a.side*a.lane) })
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// positionY stacks the layers, each as tall as its tallest node, with gaps
// tall enough for the back edges crossing them.
func (l *layout) positionY() {
	n := len(l.layers)
	l.bandTop = make([]float64, n)
	l.bandH = make([]float64, n)
	l.gapH = make([]float64, n)
	y := 0.0
	for r, layer := range l.layers {
		for _, nd := range layer {
			l.bandH[r] = max(l.bandH[r], nd.h)
		}
		chans := float64(len(l.gapExits[r]) + len(l.gapEnters[r]))
		l.gapH[r] = rankGap + chanStep*chans
		if r == n-1 {
			l.gapH[r] = 0
			if chans > 0 {
				l.gapH[r] = chanClear + chanStep*chans
			}
		}
		l.bandTop[r] = y
		for _, nd := range layer {
			nd.y = y + l.bandH[r]/2
		}
		y += l.bandH[r] + l.gapH[r]
	}
	for r := range l.layers {
		for j, e := range l.gapExits[r] {
			e.exitChanY = l.bandBottom(r) + chanClear + float64(j)*chanStep
		}
		for k, e := range l.gapEnters[r] {
			e.enterChanY = l.bandTop[r+1] - chanClear - float64(len(l.gapEnters[r])-1-k)*chanStep
		}
	}
}

func (l *layout) bandBottom(r int) float64 { return l.bandTop[r] + l.bandH[r] }

type port struct {
	e          *edge
	key1, key2 float64
}

func sortPorts(ps []port) {
	slices.SortStableFunc(ps, func(a, b port) int {
		return cmp.Or(cmp.Compare(a.key1, b.key1), cmp.Compare(a.key2, b.key2), cmp.Compare(a.e.idx, b.e.idx))
	})
}

// spread is the offset of port i of m along a side of length span.
func spread(i, m int, span, step float64) float64 {
	if m < 2 {
		return 0
	}
	s := min(step, span/float64(m-1))
	return (float64(i) - float64(m-1)/2) * s
}

// route assigns ports (transitions spread along a box's bottom, top or
// side in the order of where they go, so that they do not cross at the
// box) and draws every edge.
func (l *layout) route() {
	bottoms := make([][]port, len(l.nodes))
	tops := make([][]port, len(l.nodes))
	sides := make([][]port, len(l.nodes)) // the lane side of back edges
	for _, e := range l.edges {
		if !e.back {
			bottoms[e.from.idx] = append(bottoms[e.from.idx], port{e, e.chain[1].x, 0})
			tops[e.to.idx] = append(tops[e.to.idx], port{e, e.chain[len(e.chain)-2].x, 0})
			continue
		}
		far := e.side * 1e9
		if e.exitSide {
			sides[e.from.idx] = append(sides[e.from.idx], port{e, 0, e.side * e.lane})
		} else {
			bottoms[e.from.idx] = append(bottoms[e.from.idx], port{e, far, -e.lane})
		}
		if e.enterSide {
			sides[e.to.idx] = append(sides[e.to.idx], port{e, 1, -e.side * e.lane})
		} else {
			tops[e.to.idx] = append(tops[e.to.idx], port{e, far, -e.lane})
		}
	}
	for _, n := range l.nodes {
		sortPorts(bottoms[n.idx])
		sortPorts(tops[n.idx])
		sortPorts(sides[n.idx])
		// along is where port i of m sits along the bottom or top: the
		// offset from the centre and how far it is set back from the
		// node's bottom or top (a diamond's slanted sides).
		along := func(i, m int) (dx, back float64) {
			switch {
			case n.kind != kindState:
				return 0, 0
			case n.st.typ == "Choice":
				// Rules leave near the vertex but apart, so that edges
				// fanning out to far targets do not run on top of each other.
				dx = spread(i, m, n.w*0.4, 16)
				return dx, math.Abs(dx) * n.h / n.w
			}
			return spread(i, m, n.w*0.7, 18), 0
		}
		for i, p := range bottoms[n.idx] {
			dx, back := along(i, len(bottoms[n.idx]))
			p.e.outX, p.e.outPY = n.x+dx, n.y+n.h/2-back
		}
		for i, p := range tops[n.idx] {
			dx, back := along(i, len(tops[n.idx]))
			p.e.inX, p.e.inPY = n.x+dx, n.y-n.h/2+back
		}
		// Both sides of one node share the list; each side is spread on
		// its own.
		for _, side := range []float64{-1, 1} {
			var ps []port
			for _, p := range sides[n.idx] {
				if p.e.side == side {
					ps = append(ps, p)
				}
			}
			for i, p := range ps {
				// A diamond's ports too are spread (along its slanted
				// sides), or a loop from a Choice to itself would
				// leave and enter at one point and vanish.
				y := n.y + spread(i, len(ps), n.h*0.6, 16)
				if p.key1 == 0 && p.e.from == n {
					p.e.outY = y
				} else {
					p.e.inY = y
				}
			}
		}
	}
	for _, e := range l.edges {
		if e.back {
			l.backPath(e)
		} else {
			l.forwardPath(e)
		}
	}
}

// forwardPath draws a downward edge: straight down through layers, an S
// curve across each gap.
func (l *layout) forwardPath(e *edge) {
	c := e.chain
	x, y := e.outX, e.outPY
	e.path = append(e.path[:0], cmd{op: 'M', p: [3]pt{{x, y}}})
	for i := 1; i < len(c); i++ {
		a, b := c[i-1], c[i]
		if ya := l.bandBottom(a.rank); y < ya {
			e.path = append(e.path, cmd{op: 'L', p: [3]pt{{x, ya}}})
			y = ya
		}
		xb := b.x
		if i == len(c)-1 {
			xb = e.inX
		}
		yb := l.bandTop[b.rank]
		half := (yb - y) / 2
		cur := cmd{op: 'C', p: [3]pt{{x, y + half}, {xb, yb - half}, {xb, yb}}}
		ts := []float64{0.5}
		if i == 1 {
			ts = []float64{0.7, 0.55, 0.85, 0.4, 0.25}
		}
		for _, t := range ts {
			e.labelCands = append(e.labelCands, cubicAt(pt{x, y}, cur.p, t))
		}
		e.path = append(e.path, cur)
		x, y = xb, yb
		if b.kind == kindDummy {
			e.path = append(e.path, cmd{op: 'L', p: [3]pt{{x, l.bandBottom(b.rank)}}})
			y = l.bandBottom(b.rank)
		}
	}
	if y < e.inPY {
		e.path = append(e.path, cmd{op: 'L', p: [3]pt{{x, e.inPY}}})
	}
}

// cubicAt is the point at t of the cubic from p0 with control points c[0],
// c[1] and end c[2].
func cubicAt(p0 pt, c [3]pt, t float64) pt {
	u := 1 - t
	a, b, d, e := u*u*u, 3*u*u*t, 3*u*t*t, t*t*t
	return pt{
		a*p0.x + b*c[0].x + d*c[1].x + e*c[2].x,
		a*p0.y + b*c[0].y + d*c[1].y + e*c[2].y,
	}
}

// sideX is where the outline of n is at height dy from its centre, on
// side (+1 right, -1 left): rounded and cut corners are set back.
func sideX(n *node, side, dy float64) float64 {
	half := n.w / 2
	if n.kind == kindState {
		switch n.st.typ {
		case "Choice":
			half *= 1 - math.Abs(dy)/(n.h/2)
		case "Wait":
			half -= hexInset * math.Abs(dy) / (n.h / 2)
		case "Succeed", "Fail":
			r := n.h / 2
			half -= r - math.Sqrt(max(r*r-dy*dy, 0))
		}
	}
	return n.x + side*half
}

// backPath draws a loop: out of the source's side (or down into the gap
// below it), along the lane, and into the target's side (or down from the
// gap above it), with rounded corners.
func (l *layout) backPath(e *edge) {
	u, v := e.from, e.to
	var pts []pt
	if e.exitSide {
		pts = append(pts, pt{sideX(u, e.side, e.outY-u.y), e.outY}, pt{e.lane, e.outY})
	} else {
		pts = append(pts, pt{e.outX, e.outPY}, pt{e.outX, e.exitChanY}, pt{e.lane, e.exitChanY})
	}
	laneFrom := pts[len(pts)-1].y
	if e.enterSide {
		pts = append(pts, pt{e.lane, e.inY}, pt{sideX(v, e.side, e.inY-v.y), e.inY})
	} else {
		pts = append(pts, pt{e.lane, e.enterChanY}, pt{e.inX, e.enterChanY}, pt{e.inX, e.inPY})
	}
	laneTo := pts[len(pts)-2].y
	if !e.enterSide {
		laneTo = pts[len(pts)-3].y
	}
	for _, f := range []float64{0.5, 0.3, 0.7, 0.15, 0.85} {
		e.labelCands = append(e.labelCands, pt{e.lane, laneFrom + (laneTo-laneFrom)*f})
	}
	e.path = roundedPath(pts)
}

// roundedPath draws an orthogonal polyline with rounded corners.
func roundedPath(in []pt) []cmd {
	pts := make([]pt, 0, len(in))
	for _, p := range in {
		if len(pts) > 0 && pts[len(pts)-1] == p {
			continue
		}
		// Drop a middle point of three in line.
		if k := len(pts); k >= 2 {
			a, b := pts[k-2], pts[k-1]
			if (a.x == b.x && b.x == p.x) || (a.y == b.y && b.y == p.y) {
				pts[k-1] = p
				continue
			}
		}
		pts = append(pts, p)
	}
	out := []cmd{{op: 'M', p: [3]pt{pts[0]}}}
	for i := 1; i < len(pts)-1; i++ {
		a, b, c := pts[i-1], pts[i], pts[i+1]
		r := min(cornerR, dist(a, b)/2, dist(b, c)/2)
		p1 := toward(b, a, r)
		p2 := toward(b, c, r)
		out = append(out, cmd{op: 'L', p: [3]pt{p1}}, cmd{op: 'Q', p: [3]pt{b, p2}})
	}
	return append(out, cmd{op: 'L', p: [3]pt{pts[len(pts)-1]}})
}

func dist(a, b pt) float64 { return math.Hypot(a.x-b.x, a.y-b.y) }

// toward is the point r from a on the way to b.
func toward(a, b pt, r float64) pt {
	d := dist(a, b)
	if d == 0 {
		return a
	}
	return pt{a.x + (b.x-a.x)*r/d, a.y + (b.y-a.y)*r/d}
}

// markerBox is the room a start or end marker takes, its word included.
func (l *layout) markerBox(n *node) rect {
	b := n.box()
	if !l.nested {
		b.w += 6 + textWidth(markerWord(n.kind), labelFont+1)
	}
	return b
}

func markerWord(k nodeKind) string {
	if k == kindStart {
		return "Start"
	}
	return "End"
}

// placeLabels puts each edge's label on the first of its candidate points
// where it hides no box and no other label. A choice rule's number is
// always shown; "Default" and "Catch" only where they fit, the dash and
// colour of their edges telling them apart anyway.
func (l *layout) placeLabels() {
	var taken []rect
	for _, n := range l.nodes {
		switch n.kind {
		case kindState:
			taken = append(taken, n.box())
		case kindStart, kindEnd:
			taken = append(taken, l.markerBox(n))
		}
	}
	order := make([]*edge, 0, len(l.edges))
	for _, e := range l.edges {
		if e.label != "" {
			order = append(order, e)
		}
	}
	slices.SortStableFunc(order, func(a, b *edge) int {
		return cmp.Compare(b2i(a.kind != "choice"), b2i(b.kind != "choice"))
	})
	for _, e := range order {
		e.labelW = textWidth(e.label, labelFont) + 8
		if e.from == e.to {
			// A loop on one state is too short to carry its label on
			// its lane: the label goes beside it.
			for i := range e.labelCands {
				e.labelCands[i].x += e.side * (e.labelW/2 + 3)
			}
		}
		for i, c := range e.labelCands {
			box := rect{c.x - e.labelW/2, c.y - labelH/2, e.labelW, labelH}
			free := true
			for _, t := range taken {
				if box.overlaps(rect{t.x - 2, t.y - 2, t.w + 4, t.h + 4}) {
					free = false
					break
				}
			}
			if free || (e.kind == "choice" && i == len(e.labelCands)-1) {
				if !free {
					c = e.labelCands[0]
					box = rect{c.x - e.labelW/2, c.y - labelH/2, e.labelW, labelH}
				}
				e.labelAt, e.labelShown = c, true
				taken = append(taken, box)
				break
			}
		}
	}
}

// normalise moves the layout so that everything drawn lies within
// (margin, margin) and (w-margin, h-margin).
func (l *layout) normalise() {
	m := margin
	if l.nested {
		m = nestedMargin
	}
	minX, minY := math.Inf(1), math.Inf(1)
	maxX, maxY := math.Inf(-1), math.Inf(-1)
	grow := func(r rect) {
		minX, minY = min(minX, r.x), min(minY, r.y)
		maxX, maxY = max(maxX, r.x+r.w), max(maxY, r.y+r.h)
	}
	for _, n := range l.nodes {
		switch n.kind {
		case kindState:
			grow(n.box())
		case kindStart, kindEnd:
			grow(l.markerBox(n))
		}
	}
	for _, e := range l.edges {
		for _, c := range e.path {
			for _, p := range c.p[:c.points()] {
				grow(rect{p.x - 1, p.y, 2, 0})
			}
		}
		if e.labelShown {
			grow(rect{e.labelAt.x - e.labelW/2, e.labelAt.y - labelH/2, e.labelW, labelH})
		}
	}
	dx, dy := m-minX, m-minY
	for _, n := range l.nodes {
		n.x += dx
		n.y += dy
	}
	for _, e := range l.edges {
		for i := range e.path {
			for j := range e.path[i].p[:e.path[i].points()] {
				e.path[i].p[j].x += dx
				e.path[i].p[j].y += dy
			}
		}
		e.labelAt.x += dx
		e.labelAt.y += dy
		e.lane += dx
	}
	l.w = maxX - minX + 2*m
	l.h = maxY - minY + 2*m
}
