package graph

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// style is scoped to .lethe-graph: an inline <svg>'s <style> applies to the
// whole page it is embedded in. Text is dark on light tints everywhere, so
// it stays readable whatever the status.
const style = `.lethe-graph{font-family:Helvetica,Arial,"Liberation Sans",sans-serif}` +
	`.lethe-graph .bg{fill:#fff}` +
	`.lethe-graph text{fill:#16191f;font-size:13px}` +
	`.lethe-graph .state{cursor:pointer;outline:none}` +
	`.lethe-graph .shape{stroke-width:1.5}` +
	`.lethe-graph .shape.dashed{stroke-dasharray:5 3}` +
	`.lethe-graph .shape-inner{fill:none;stroke-width:1.2}` +
	`.lethe-graph .st-not_reached>.shape{fill:#f2f3f3;stroke:#879196}` +
	`.lethe-graph .st-not_reached>.shape-inner{stroke:#879196}` +
	`.lethe-graph .st-not_reached>.shape.container{fill:#fafafa}` +
	`.lethe-graph .st-in_progress>.shape{fill:#e6f1fc;stroke:#0972d3}` +
	`.lethe-graph .st-in_progress>.shape-inner{stroke:#0972d3}` +
	`.lethe-graph .st-in_progress>.shape.container{fill:#f4f9fe}` +
	`.lethe-graph .st-succeeded>.shape{fill:#e9f5e3;stroke:#1d8102}` +
	`.lethe-graph .st-succeeded>.shape-inner{stroke:#1d8102}` +
	`.lethe-graph .st-succeeded>.shape.container{fill:#f5fbf2}` +
	`.lethe-graph .st-failed>.shape{fill:#fdecea;stroke:#d13212}` +
	`.lethe-graph .st-failed>.shape-inner{stroke:#d13212}` +
	`.lethe-graph .st-failed>.shape.container{fill:#fef6f5}` +
	`.lethe-graph .st-caught>.shape{fill:#fff1e2;stroke:#dd6b10}` +
	`.lethe-graph .st-caught>.shape-inner{stroke:#dd6b10}` +
	`.lethe-graph .st-caught>.shape.container{fill:#fff9f2}` +
	`.lethe-graph .st-in_progress>.shape,.lethe-graph .st-failed>.shape,.lethe-graph .st-caught>.shape{stroke-width:2}` +
	`.lethe-graph .container-label{font-weight:bold}` +
	`.lethe-graph .type-tag{font-size:11px;fill:#5f6b7a}` +
	`.lethe-graph .branch{fill:none;stroke:#aab7b8;stroke-dasharray:4 3}` +
	`.lethe-graph .focus-ring{fill:none;stroke:none}` +
	`.lethe-graph .state:focus>.focus-ring{stroke:#0972d3;stroke-width:2.5}` +
	`.lethe-graph .state:hover>.shape{stroke-width:2.5}` +
	`.lethe-graph .edge{fill:none;stroke:#5f6b7a;stroke-width:1.4}` +
	`.lethe-graph .edge.default{stroke-dasharray:6 4}` +
	`.lethe-graph .edge.catch{stroke:#c7381d;stroke-dasharray:4 3}` +
	`.lethe-graph .edge.start,.lethe-graph .edge.end{stroke:#879196}` +
	// context-stroke gives catch arrows their edge's red where the browser
	// knows it; elsewhere the grey before it stays.
	`.lethe-graph #arrow path{fill:#5f6b7a;fill:context-stroke}` +
	`.lethe-graph .edge-label rect{fill:#fff;stroke:#d5dbdb}` +
	`.lethe-graph .edge-label text{font-size:11px;fill:#414d5c}` +
	`.lethe-graph .edge-label.catch text{fill:#a82a12}` +
	`.lethe-graph .marker circle{fill:#5f6b7a}` +
	`.lethe-graph .marker .ring{fill:#fff;stroke:#5f6b7a;stroke-width:1.5}` +
	`.lethe-graph .marker text{font-size:12px;fill:#414d5c}`

// drawnState is a state to draw, with where its layout sits on the page.
type drawnState struct {
	n      *node
	ox, oy float64
	parent string
}

// renderer collects the parts of the SVG in drawing order: containers
// first (they are backgrounds), then edges, their labels and markers, then
// the other states on top.
type renderer struct {
	g          *Graph
	containers []drawnState
	states     []drawnState
	edges      []byte
	labels     []byte
	markers    []byte
	branches   []byte
	cur        []byte // the piece being written
}

// render turns the top layout into the Graph's pieces.
func (g *Graph) render(top *layout) {
	r := &renderer{g: g}
	r.walk(top, 0, 0, "")
	// Whole pixels: the page's layout is happier with them.
	w, h := num(nil, math.Ceil(top.w)), num(nil, math.Ceil(top.h))
	b := append(r.cur, `<svg xmlns="http://www.w3.org/2000/svg" class="lethe-graph" viewBox="0 0 `...)
	b = append(append(append(b, w...), ' '), h...)
	b = append(append(append(b, `" width="`...), w...), `" height="`...)
	b = append(append(b, h...), `" style="max-width:100%;height:auto" role="group" aria-label="State machine graph">`...)
	b = append(b, `<style>`...)
	b = append(b, style...)
	b = append(b, `</style><defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="9" markerHeight="9" markerUnits="userSpaceOnUse" orient="auto"><path d="M0,1L9,5L0,9z"/></marker></defs>`...)
	b = append(b, `<rect class="bg" width="`...)
	b = append(append(append(append(b, w...), `" height="`...), h...), `"/>`...)
	r.cur = b
	for _, d := range r.containers {
		r.state(d)
	}
	r.cur = append(r.cur, r.branches...)
	r.cur = append(r.cur, `<g class="edges">`...)
	r.cur = append(r.cur, r.edges...)
	r.cur = append(r.cur, `</g><g class="edge-labels">`...)
	r.cur = append(r.cur, r.labels...)
	r.cur = append(r.cur, `</g>`...)
	r.cur = append(r.cur, r.markers...)
	for _, d := range r.states {
		r.state(d)
	}
	r.cur = append(r.cur, `</svg>`...)
	g.pieces = append(g.pieces, r.cur)
	for _, p := range g.pieces {
		g.size += len(p)
	}
}

// cut ends the current piece at a hole.
func (r *renderer) cut(state int, text bool) {
	r.g.pieces = append(r.g.pieces, r.cur)
	r.g.holes = append(r.g.holes, hole{state: state, text: text})
	r.cur = nil
}

// walk draws layout l, whose origin is at (ox, oy), and the layouts nested
// in its containers.
func (r *renderer) walk(l *layout, ox, oy float64, parent string) {
	for _, n := range l.nodes {
		switch n.kind {
		case kindState:
			d := drawnState{n: n, ox: ox, oy: oy, parent: parent}
			if n.sub == nil {
				r.states = append(r.states, d)
				continue
			}
			r.containers = append(r.containers, d)
			box := n.box()
			for i, sub := range n.sub {
				sx, sy := ox+box.x+n.subAt[i].x, oy+box.y+n.subAt[i].y
				if len(n.sub) > 1 {
					r.branches = append(r.branches, `<rect class="branch" aria-hidden="true"`...)
					r.branches = rectAttrs(r.branches, rect{sx, sy, sub.w, n.h - containerHead - containerPad})
					r.branches = append(r.branches, ` rx="6"/>`...)
				}
				r.walk(sub, sx, sy, n.st.name)
			}
		case kindStart, kindEnd:
			r.marker(l, n, ox, oy)
		}
	}
	for _, e := range l.edges {
		r.edge(e, ox, oy)
	}
}

// marker draws a start or end marker: a dot, or a ring around one, with
// its word beside it at the top level.
func (r *renderer) marker(l *layout, n *node, ox, oy float64) {
	word := markerWord(n.kind)
	b := append(r.markers, `<g class="marker `...)
	b = append(b, strings.ToLower(word)...)
	b = append(b, `"><title>`...)
	b = append(b, word...)
	b = append(b, `</title>`...)
	cx, cy, rad := ox+n.x, oy+n.y, n.w/2
	if n.kind == kindEnd {
		b = circle(b, "ring", cx, cy, rad)
		b = circle(b, "", cx, cy, rad*0.55)
	} else {
		b = circle(b, "", cx, cy, rad)
	}
	if !l.nested {
		b = append(b, `<text x="`...)
		b = num(b, cx+rad+6)
		b = append(b, `" y="`...)
		b = num(b, cy+4)
		b = append(b, `">`...)
		b = append(b, word...)
		b = append(b, `</text>`...)
	}
	r.markers = append(b, `</g>`...)
}

func circle(b []byte, class string, cx, cy, rad float64) []byte {
	b = append(b, `<circle`...)
	if class != "" {
		b = append(append(append(b, ` class="`...), class...), '"')
	}
	b = append(b, ` cx="`...)
	b = num(b, cx)
	b = append(b, `" cy="`...)
	b = num(b, cy)
	b = append(b, `" r="`...)
	b = num(b, rad)
	return append(b, `"/>`...)
}

// edge draws one transition and its label.
func (r *renderer) edge(e *edge, ox, oy float64) {
	b := append(r.edges, `<path class="edge `...)
	b = append(b, e.kind...)
	b = append(b, '"')
	if e.from.kind == kindState {
		b = append(b, ` data-from="`...)
		b = escape(b, e.from.st.name)
		b = append(b, '"')
	}
	if e.to.kind == kindState {
		b = append(b, ` data-to="`...)
		b = escape(b, e.to.st.name)
		b = append(b, '"')
	}
	b = append(b, ` d="`...)
	for i, c := range e.path {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, c.op)
		for j, p := range c.p[:c.points()] {
			if j > 0 {
				b = append(b, ' ')
			}
			b = num(b, ox+p.x)
			b = append(b, ',')
			b = num(b, oy+p.y)
		}
	}
	r.edges = append(b, `" marker-end="url(#arrow)"/>`...)
	if !e.labelShown {
		return
	}
	b = append(r.labels, `<g class="edge-label `...)
	b = append(b, e.kind...)
	b = append(b, `" aria-hidden="true">`...)
	x, y := ox+e.labelAt.x, oy+e.labelAt.y
	b = append(b, `<rect`...)
	b = rectAttrs(b, rect{x - e.labelW/2, y - labelH/2, e.labelW, labelH})
	b = append(b, ` rx="3"/><text x="`...)
	b = num(b, x)
	b = append(b, `" y="`...)
	b = num(b, y+3.8)
	b = append(b, `" text-anchor="middle">`...)
	b = escape(b, e.label)
	r.labels = append(b, `</text></g>`...)
}

// state draws one state: its group (with the holes for its status), its
// focus ring, its shape and its name.
func (r *renderer) state(d drawnState) {
	n, s := d.n, d.n.st
	i := r.g.index[s.name]
	box := n.box()
	box.x += d.ox
	box.y += d.oy
	cx, cy := box.x+box.w/2, box.y+box.h/2
	b := append(r.cur, `<g class="state `...)
	b = append(b, strings.ToLower(s.typ)...)
	b = append(b, ` st-`...)
	r.cur = b
	r.cut(i, false)
	b = append(r.cur, `" data-state="`...)
	b = escape(b, s.name)
	b = append(b, `" data-type="`...)
	b = append(b, s.typ...)
	b = append(b, `" data-box="`...)
	b = num(b, box.x)
	b = append(b, ' ')
	b = num(b, box.y)
	b = append(b, ' ')
	b = num(b, box.w)
	b = append(b, ' ')
	b = num(b, box.h)
	b = append(b, '"')
	if d.parent != "" {
		b = append(b, ` data-parent="`...)
		b = escape(b, d.parent)
		b = append(b, '"')
	}
	b = append(b, ` tabindex="0" role="button" aria-label="`...)
	b = escape(b, s.name)
	b = append(b, ` (`...)
	b = append(b, s.typ...)
	b = append(b, `): `...)
	r.cur = b
	r.cut(i, true)
	b = append(r.cur, `"><title>`...)
	b = escape(b, s.name)
	b = append(b, `</title><rect class="focus-ring"`...)
	b = rectAttrs(b, rect{box.x - 4, box.y - 4, box.w + 8, box.h + 8})
	b = append(b, ` rx="10"/>`...)

	textW := box.w - 20 // room for the name
	switch s.typ {
	case "Choice":
		b = append(b, `<polygon class="shape diamond" points="`...)
		b = points(b, pt{cx, box.y}, pt{box.x + box.w, cy}, pt{cx, box.y + box.h}, pt{box.x, cy})
		b = append(b, `"/>`...)
		// Where the text's top and bottom meet the diamond's sides.
		textW = box.w*(1-2*7/box.h) - 10
	case "Wait":
		b = append(b, `<polygon class="shape hexagon" points="`...)
		b = points(b, pt{box.x + hexInset, box.y}, pt{box.x + box.w - hexInset, box.y}, pt{box.x + box.w, cy},
			pt{box.x + box.w - hexInset, box.y + box.h}, pt{box.x + hexInset, box.y + box.h}, pt{box.x, cy})
		b = append(b, `"/>`...)
		textW = box.w - 2*hexInset - 12
	case "Pass":
		b = shapeRect(b, "shape dashed", box, 3)
	case "Succeed":
		b = shapeRect(b, "shape pill", box, box.h/2)
		textW = box.w - box.h
	case "Fail":
		// The double border tells a Fail from a Succeed without colour.
		b = shapeRect(b, "shape pill double", box, box.h/2)
		inner := rect{box.x + 3.5, box.y + 3.5, box.w - 7, box.h - 7}
		b = shapeRect(b, "shape-inner", inner, inner.h/2)
		textW = box.w - box.h
	case "Map", "Parallel":
		b = shapeRect(b, "shape container", box, 10)
		tagW := textWidth(s.typ, 11)
		b = append(b, `<text class="type-tag" x="`...)
		b = num(b, box.x+box.w-12)
		b = append(b, `" y="`...)
		b = num(b, box.y+21)
		b = append(b, `" text-anchor="end">`...)
		b = append(b, s.typ...)
		b = append(b, `</text><text class="label container-label" x="`...)
		b = num(b, box.x+12)
		b = append(b, `" y="`...)
		b = num(b, box.y+21)
		b = append(b, `">`...)
		// Bold text runs about a tenth wider.
		b = escape(b, fitText(s.name, (box.w-36-tagW)/1.1, fontSize))
		r.cur = append(b, `</text></g>`...)
		return
	default: // Task
		b = shapeRect(b, "shape rounded", box, 8)
	}
	b = append(b, `<text class="label" x="`...)
	b = num(b, cx)
	b = append(b, `" y="`...)
	b = num(b, cy+4.5)
	b = append(b, `" text-anchor="middle">`...)
	b = escape(b, fitText(s.name, textW, fontSize))
	r.cur = append(b, `</text></g>`...)
}

func shapeRect(b []byte, class string, box rect, rx float64) []byte {
	b = append(b, `<rect class="`...)
	b = append(b, class...)
	b = append(b, '"')
	b = rectAttrs(b, box)
	b = append(b, ` rx="`...)
	b = num(b, rx)
	return append(b, `"/>`...)
}

func rectAttrs(b []byte, r rect) []byte {
	b = append(b, ` x="`...)
	b = num(b, r.x)
	b = append(b, `" y="`...)
	b = num(b, r.y)
	b = append(b, `" width="`...)
	b = num(b, r.w)
	b = append(b, `" height="`...)
	b = num(b, r.h)
	return append(b, '"')
}

func points(b []byte, ps ...pt) []byte {
	for i, p := range ps {
		if i > 0 {
			b = append(b, ' ')
		}
		b = num(b, p.x)
		b = append(b, ',')
		b = num(b, p.y)
	}
	return b
}

// num appends v rounded to a tenth: enough on screen, and the same bytes
// for the same input.
func num(b []byte, v float64) []byte {
	v = math.Round(v*10) / 10
	if v == 0 {
		v = 0 // no "-0"
	}
	return strconv.AppendFloat(b, v, 'f', -1, 64)
}

// escape appends s as XML character data fit for an attribute too. Runes
// XML cannot carry at all (most control characters, invalid UTF-8) become
// U+FFFD.
func escape(b []byte, s string) []byte {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch r {
		case '&':
			b = append(b, "&amp;"...)
		case '<':
			b = append(b, "&lt;"...)
		case '>':
			b = append(b, "&gt;"...)
		case '"':
			b = append(b, "&quot;"...)
		case '\'':
			b = append(b, "&#39;"...)
		case '\t':
			b = append(b, "&#x9;"...)
		case '\n':
			b = append(b, "&#xA;"...)
		case '\r':
			b = append(b, "&#xD;"...)
		default:
			if r == utf8.RuneError && size == 1 || !xmlChar(r) {
				r = '\uFFFD'
			}
			b = utf8.AppendRune(b, r)
		}
	}
	return b
}

// xmlChar reports whether XML 1.0 allows r.
func xmlChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}
