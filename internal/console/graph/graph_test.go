package graph

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/lethe-erasure/lethe/statemachines"
)

var machineNames = []string{"erasure", "sync-deletion", "async-deletion"}

func definition(tb testing.TB, name string) []byte {
	tb.Helper()
	def, err := statemachines.Definition(name)
	if err != nil {
		tb.Fatal(err)
	}
	return []byte(def)
}

func build(tb testing.TB, def []byte) *Graph {
	tb.Helper()
	g, err := Build(def)
	if err != nil {
		tb.Fatalf("Build: %v", err)
	}
	return g
}

func render(tb testing.TB, g *Graph, status map[string]Status) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := g.WriteSVG(&buf, status); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// --- What the test reads from the ASL file itself, independently of the
// package's parser.

type transition struct{ kind, from, to string }

type aslFacts struct {
	names       []string          // depth first, in the order of the file
	types       map[string]string // name → Type
	parent      map[string]string // nested state → its Map or Parallel
	branch      map[string]int    // nested state → index of its branch
	transitions []transition      // every Next, Default, Choices[].Next, Catch[].Next
	topEnd      bool              // a top-level state has End: true
}

// readFacts walks the JSON of a definition. It decodes States objects with
// a json.Decoder to keep the order of the file.
func readFacts(tb testing.TB, def []byte) aslFacts {
	tb.Helper()
	f := aslFacts{types: map[string]string{}, parent: map[string]string{}, branch: map[string]int{}}
	var walk func(raw json.RawMessage, parent string, branch int)
	walk = func(raw json.RawMessage, parent string, branch int) {
		var m struct {
			States json.RawMessage
		}
		if err := json.Unmarshal(raw, &m); err != nil {
			tb.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(m.States))
		if _, err := dec.Token(); err != nil {
			tb.Fatal(err)
		}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				tb.Fatal(err)
			}
			name := tok.(string)
			var st struct {
				Type          string
				Next          string
				Default       string
				End           bool
				Choices       []struct{ Next string }
				Catch         []struct{ Next string }
				ItemProcessor json.RawMessage
				Iterator      json.RawMessage
				Branches      []json.RawMessage
			}
			if err := dec.Decode(&st); err != nil {
				tb.Fatal(err)
			}
			f.names = append(f.names, name)
			f.types[name] = st.Type
			if parent != "" {
				f.parent[name], f.branch[name] = parent, branch
			} else if st.End {
				f.topEnd = true
			}
			if st.Next != "" {
				f.transitions = append(f.transitions, transition{"next", name, st.Next})
			}
			if st.Default != "" {
				f.transitions = append(f.transitions, transition{"default", name, st.Default})
			}
			for _, c := range st.Choices {
				f.transitions = append(f.transitions, transition{"choice", name, c.Next})
			}
			for _, c := range st.Catch {
				f.transitions = append(f.transitions, transition{"catch", name, c.Next})
			}
			if st.ItemProcessor != nil {
				walk(st.ItemProcessor, name, 0)
			}
			if st.Iterator != nil {
				walk(st.Iterator, name, 0)
			}
			for i, b := range st.Branches {
				walk(b, name, i)
			}
		}
	}
	walk(def, "", 0)
	return f
}

func (f aslFacts) count(kind string) int {
	n := 0
	for _, t := range f.transitions {
		if t.kind == kind {
			n++
		}
	}
	return n
}

// ancestors of a state: its Map or Parallel, that one's, and so on.
func (f aslFacts) ancestors(name string) []string {
	var out []string
	for p, ok := f.parent[name]; ok; p, ok = f.parent[p] {
		out = append(out, p)
	}
	return out
}

// --- The SVG, read back with encoding/xml.

type xnode struct {
	XMLName  xml.Name
	Attrs    []xml.Attr `xml:",any,attr"`
	Children []*xnode   `xml:",any"`
	Text     string     `xml:",chardata"`
}

func (n *xnode) attr(name string) (string, bool) {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value, true
		}
	}
	return "", false
}

func (n *xnode) get(name string) string {
	v, _ := n.attr(name)
	return v
}

func (n *xnode) hasClass(c string) bool {
	return slices.Contains(strings.Fields(n.get("class")), c)
}

func (n *xnode) num(tb testing.TB, name string) float64 {
	tb.Helper()
	v, err := strconv.ParseFloat(n.get(name), 64)
	if err != nil {
		tb.Fatalf("<%s %s=%q>: %v", n.XMLName.Local, name, n.get(name), err)
	}
	return v
}

// all returns the elements below n (n included) that match.
func (n *xnode) all(match func(*xnode) bool) []*xnode {
	var out []*xnode
	var walk func(*xnode)
	walk = func(x *xnode) {
		if match(x) {
			out = append(out, x)
		}
		for _, c := range x.Children {
			walk(c)
		}
	}
	walk(n)
	return out
}

func parseSVG(tb testing.TB, svg []byte) *xnode {
	tb.Helper()
	var root xnode
	dec := xml.NewDecoder(bytes.NewReader(svg))
	dec.Strict = true
	if err := dec.Decode(&root); err != nil {
		tb.Fatalf("the SVG is not well-formed XML: %v", err)
	}
	// Exactly one element: nothing may follow the <svg>.
	if _, err := dec.Token(); err != io.EOF {
		tb.Fatalf("content after </svg>: %v", err)
	}
	if root.XMLName.Local != "svg" {
		tb.Fatalf("root element <%s>, want <svg>", root.XMLName.Local)
	}
	return &root
}

type box struct{ x, y, w, h float64 }

func (b box) overlaps(o box) bool {
	return b.x < o.x+o.w && o.x < b.x+b.w && b.y < o.y+o.h && o.y < b.y+b.h
}

func (b box) contains(o box) bool {
	return o.x >= b.x && o.y >= b.y && o.x+o.w <= b.x+b.w && o.y+o.h <= b.y+b.h
}

// strictlyInside reports whether p lies inside b, more than inset from
// its edges.
func (b box) strictlyInside(x, y, inset float64) bool {
	return x > b.x+inset && x < b.x+b.w-inset && y > b.y+inset && y < b.y+b.h-inset
}

func parseBox(tb testing.TB, s string) box {
	tb.Helper()
	f := strings.Fields(s)
	if len(f) != 4 {
		tb.Fatalf("data-box %q", s)
	}
	var v [4]float64
	for i := range f {
		var err error
		if v[i], err = strconv.ParseFloat(f[i], 64); err != nil {
			tb.Fatalf("data-box %q: %v", s, err)
		}
	}
	return box{v[0], v[1], v[2], v[3]}
}

type drawn struct {
	root   *xnode
	states map[string]*xnode // data-state → its <g>
	boxes  map[string]box
	edges  []*xnode
}

func readSVG(tb testing.TB, svg []byte) drawn {
	tb.Helper()
	root := parseSVG(tb, svg)
	d := drawn{root: root, states: map[string]*xnode{}, boxes: map[string]box{}}
	for _, g := range root.all(func(x *xnode) bool { return x.XMLName.Local == "g" && x.hasClass("state") }) {
		name, ok := g.attr("data-state")
		if !ok {
			tb.Fatalf("state group without data-state: %v", g.Attrs)
		}
		if _, dup := d.states[name]; dup {
			tb.Errorf("state %q drawn twice", name)
		}
		d.states[name] = g
		d.boxes[name] = parseBox(tb, g.get("data-box"))
	}
	d.edges = root.all(func(x *xnode) bool { return x.XMLName.Local == "path" && x.hasClass("edge") })
	return d
}

// shape is the state's outline: its first child with class shape.
func shape(g *xnode) *xnode {
	for _, c := range g.Children {
		if c.hasClass("shape") {
			return c
		}
	}
	return nil
}

func polygonPoints(tb testing.TB, p *xnode) [][2]float64 {
	tb.Helper()
	var out [][2]float64
	for _, f := range strings.Fields(p.get("points")) {
		xs, ys, ok := strings.Cut(f, ",")
		x, err1 := strconv.ParseFloat(xs, 64)
		y, err2 := strconv.ParseFloat(ys, 64)
		if !ok || err1 != nil || err2 != nil {
			tb.Fatalf("points %q", p.get("points"))
		}
		out = append(out, [2]float64{x, y})
	}
	return out
}

// samplePath returns points along an SVG path made of M, L, Q and C
// commands with absolute "x,y" pairs, as WriteSVG draws them.
func samplePath(tb testing.TB, d string) [][2]float64 {
	tb.Helper()
	var out, args [][2]float64
	var op byte
	var cur [2]float64
	flush := func() {
		switch op {
		case 0:
		case 'M':
			cur = args[0]
			out = append(out, cur)
		case 'L':
			for i := 1; i <= 10; i++ {
				t := float64(i) / 10
				out = append(out, [2]float64{cur[0] + (args[0][0]-cur[0])*t, cur[1] + (args[0][1]-cur[1])*t})
			}
			cur = args[0]
		case 'Q':
			for i := 1; i <= 10; i++ {
				t := float64(i) / 10
				u := 1 - t
				out = append(out, [2]float64{
					u*u*cur[0] + 2*u*t*args[0][0] + t*t*args[1][0],
					u*u*cur[1] + 2*u*t*args[0][1] + t*t*args[1][1],
				})
			}
			cur = args[1]
		case 'C':
			for i := 1; i <= 20; i++ {
				t := float64(i) / 20
				u := 1 - t
				a, b, c, e := u*u*u, 3*u*u*t, 3*u*t*t, t*t*t
				out = append(out, [2]float64{
					a*cur[0] + b*args[0][0] + c*args[1][0] + e*args[2][0],
					a*cur[1] + b*args[0][1] + c*args[1][1] + e*args[2][1],
				})
			}
			cur = args[2]
		default:
			tb.Fatalf("path command %c in %q", op, d)
		}
		args = args[:0]
	}
	for _, f := range strings.Fields(d) {
		if c := f[0]; c >= 'A' && c <= 'Z' {
			flush()
			op, f = c, f[1:]
		}
		xs, ys, ok := strings.Cut(f, ",")
		x, err1 := strconv.ParseFloat(xs, 64)
		y, err2 := strconv.ParseFloat(ys, 64)
		if !ok || err1 != nil || err2 != nil {
			tb.Fatalf("path %q: bad pair %q", d, f)
		}
		args = append(args, [2]float64{x, y})
	}
	flush()
	return out
}

// TestMachines checks the graphs of Lethe's three state machines against
// their ASL files.
func TestMachines(t *testing.T) {
	for _, name := range machineNames {
		t.Run(name, func(t *testing.T) {
			def := definition(t, name)
			facts := readFacts(t, def)
			g := build(t, def)
			svg := render(t, g, nil)
			d := readSVG(t, svg)

			if !slices.Equal(g.States(), facts.names) {
				t.Errorf("States() = %q, want %q", g.States(), facts.names)
			}
			for _, n := range facts.names {
				if g.TypeOf(n) != facts.types[n] {
					t.Errorf("TypeOf(%q) = %q, want %q", n, g.TypeOf(n), facts.types[n])
				}
			}
			checkStates(t, facts, d)
			checkShapes(t, facts, d)
			checkEdges(t, facts, d)
			checkGeometry(t, facts, d)
			checkLabels(t, facts, d)
			checkMarkers(t, facts, d)
		})
	}
}

// checkStates: every state of the file drawn once, with its type, its
// parent, its accessible name and its full name in a <title>.
func checkStates(t *testing.T, facts aslFacts, d drawn) {
	t.Helper()
	if len(d.states) != len(facts.names) {
		t.Errorf("%d states drawn, the file has %d", len(d.states), len(facts.names))
	}
	for _, n := range facts.names {
		g, ok := d.states[n]
		if !ok {
			t.Errorf("state %q not drawn", n)
			continue
		}
		typ := facts.types[n]
		if got := g.get("data-type"); got != typ {
			t.Errorf("%q: data-type %q, want %q", n, got, typ)
		}
		if !g.hasClass(strings.ToLower(typ)) || !g.hasClass("st-not_reached") {
			t.Errorf("%q: class %q", n, g.get("class"))
		}
		if g.get("tabindex") != "0" || g.get("role") != "button" {
			t.Errorf("%q: not focusable as a button: %v", n, g.Attrs)
		}
		if want := n + " (" + typ + "): not reached"; g.get("aria-label") != want {
			t.Errorf("%q: aria-label %q, want %q", n, g.get("aria-label"), want)
		}
		if g.get("data-parent") != facts.parent[n] {
			t.Errorf("%q: data-parent %q, want %q", n, g.get("data-parent"), facts.parent[n])
		}
		if len(g.Children) == 0 || g.Children[0].XMLName.Local != "title" || g.Children[0].Text != n {
			t.Errorf("%q: first child is not <title>%s</title>", n, n)
		}
		labels := g.all(func(x *xnode) bool { return x.XMLName.Local == "text" && x.hasClass("label") })
		if len(labels) != 1 {
			t.Errorf("%q: %d labels", n, len(labels))
		} else if l := labels[0].Text; l != n && !(strings.HasSuffix(l, "…") && strings.HasPrefix(n, strings.TrimSuffix(l, "…"))) {
			t.Errorf("%q: label %q", n, l)
		}
	}
}

// checkShapes: the outline by type, and where data-box says.
func checkShapes(t *testing.T, facts aslFacts, d drawn) {
	t.Helper()
	want := map[string]struct{ elem, class string }{
		"Task":     {"rect", "rounded"},
		"Choice":   {"polygon", "diamond"},
		"Wait":     {"polygon", "hexagon"},
		"Pass":     {"rect", "dashed"},
		"Succeed":  {"rect", "pill"},
		"Fail":     {"rect", "double"},
		"Map":      {"rect", "container"},
		"Parallel": {"rect", "container"},
	}
	for _, n := range facts.names {
		g, ok := d.states[n]
		if !ok {
			continue
		}
		typ := facts.types[n]
		s := shape(g)
		if s == nil {
			t.Errorf("%q: no shape", n)
			continue
		}
		w := want[typ]
		if s.XMLName.Local != w.elem || !s.hasClass(w.class) {
			t.Errorf("%q (%s): shape <%s class=%q>, want <%s> of class %s", n, typ, s.XMLName.Local, s.get("class"), w.elem, w.class)
			continue
		}
		b := d.boxes[n]
		switch w.elem {
		case "rect":
			got := box{s.num(t, "x"), s.num(t, "y"), s.num(t, "width"), s.num(t, "height")}
			if got != b {
				t.Errorf("%q: rect %v, data-box %v", n, got, b)
			}
			rx := s.num(t, "rx")
			switch typ {
			case "Succeed", "Fail":
				if rx != b.h/2 {
					t.Errorf("%q: rx %v, want a pill (%v)", n, rx, b.h/2)
				}
			case "Task":
				if rx <= 0 || rx >= b.h/2 {
					t.Errorf("%q: rx %v, want rounded corners", n, rx)
				}
			}
		case "polygon":
			ps := polygonPoints(t, s)
			wantN := map[string]int{"Choice": 4, "Wait": 6}[typ]
			if len(ps) != wantN {
				t.Errorf("%q: %d points, want %d", n, len(ps), wantN)
			}
			minX, minY, maxX, maxY := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
			for _, p := range ps {
				minX, minY = min(minX, p[0]), min(minY, p[1])
				maxX, maxY = max(maxX, p[0]), max(maxY, p[1])
			}
			if got := (box{minX, minY, maxX - minX, maxY - minY}); math.Abs(got.x-b.x)+math.Abs(got.y-b.y)+math.Abs(got.w-b.w)+math.Abs(got.h-b.h) > 0.5 {
				t.Errorf("%q: polygon spans %v, data-box %v", n, got, b)
			}
		}
		inner := g.all(func(x *xnode) bool { return x.hasClass("shape-inner") })
		if (typ == "Fail") != (len(inner) == 1) {
			t.Errorf("%q (%s): %d inner borders", n, typ, len(inner))
		}
	}
	// Succeed and Fail must differ by more than colour.
	for _, n := range facts.names {
		if facts.types[n] == "Succeed" && shape(d.states[n]).hasClass("double") {
			t.Errorf("%q: a Succeed drawn with a Fail's double border", n)
		}
	}
}

// checkEdges: one path per transition of the file, of the right kind,
// between the right states.
func checkEdges(t *testing.T, facts aslFacts, d drawn) {
	t.Helper()
	for _, kind := range []string{"next", "default", "choice", "catch"} {
		n := 0
		for _, e := range d.edges {
			if e.hasClass(kind) {
				n++
			}
		}
		if n != facts.count(kind) {
			t.Errorf("%d %s edges, the file has %d", n, kind, facts.count(kind))
		}
	}
	var got, want []string
	for _, e := range d.edges {
		kind := strings.TrimSpace(strings.TrimPrefix(e.get("class"), "edge"))
		if e.get("marker-end") != "url(#arrow)" {
			t.Errorf("edge %v without arrow", e.Attrs)
		}
		switch kind {
		case "start", "end":
			continue
		}
		got = append(got, fmt.Sprintf("%s %s→%s", kind, e.get("data-from"), e.get("data-to")))
	}
	for _, tr := range facts.transitions {
		want = append(want, fmt.Sprintf("%s %s→%s", tr.kind, tr.from, tr.to))
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("edges\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// checkGeometry: no two boxes overlap unless one contains the other (a
// container and its nested states), nested states lie inside their
// container and a Parallel's branches side by side, everything is within
// the viewBox, and no edge runs through a box it does not start or end at.
func checkGeometry(t *testing.T, facts aslFacts, d drawn) {
	t.Helper()
	vb := strings.Fields(d.root.get("viewBox"))
	if len(vb) != 4 || vb[0] != "0" || vb[1] != "0" || vb[2] != d.root.get("width") || vb[3] != d.root.get("height") {
		t.Errorf("viewBox %q, width %q, height %q", d.root.get("viewBox"), d.root.get("width"), d.root.get("height"))
	}
	view := box{0, 0, d.root.num(t, "width"), d.root.num(t, "height")}
	related := func(a, b string) bool {
		return slices.Contains(facts.ancestors(a), b) || slices.Contains(facts.ancestors(b), a)
	}
	for i, a := range facts.names {
		if !view.contains(d.boxes[a]) {
			t.Errorf("%q at %v, outside the view %v", a, d.boxes[a], view)
		}
		for _, b := range facts.names[i+1:] {
			if !related(a, b) && d.boxes[a].overlaps(d.boxes[b]) {
				t.Errorf("%q %v and %q %v overlap", a, d.boxes[a], b, d.boxes[b])
			}
		}
		if p, ok := facts.parent[a]; ok {
			if !d.boxes[p].contains(d.boxes[a]) {
				t.Errorf("nested %q %v outside its %s %q %v", a, d.boxes[a], facts.types[p], p, d.boxes[p])
			}
		}
	}
	for _, e := range d.edges {
		from, to := e.get("data-from"), e.get("data-to")
		for _, p := range samplePath(t, e.get("d")) {
			if !view.strictlyInside(p[0], p[1], -0.5) {
				t.Errorf("edge %s→%s leaves the view at %v", from, to, p)
				break
			}
			for _, n := range facts.names {
				if n == from || n == to || related(n, from) || related(n, to) {
					continue
				}
				if d.boxes[n].strictlyInside(p[0], p[1], 1) {
					t.Errorf("edge %s %s→%s runs through %q %v at %v", e.get("class"), from, to, n, d.boxes[n], p)
					break
				}
			}
		}
	}
}

// checkLabels: every Choice rule's edge is numbered, and no label hides a
// state or straddles a container's border.
func checkLabels(t *testing.T, facts aslFacts, d drawn) {
	t.Helper()
	labels := d.root.all(func(x *xnode) bool { return x.XMLName.Local == "g" && x.hasClass("edge-label") })
	var numbers []string
	for _, l := range labels {
		rs := l.all(func(x *xnode) bool { return x.XMLName.Local == "rect" })
		ts := l.all(func(x *xnode) bool { return x.XMLName.Local == "text" })
		if len(rs) != 1 || len(ts) != 1 {
			t.Errorf("edge label %v: %d rects, %d texts", l.Attrs, len(rs), len(ts))
			continue
		}
		if l.hasClass("choice") {
			numbers = append(numbers, ts[0].Text)
		}
		lb := box{rs[0].num(t, "x"), rs[0].num(t, "y"), rs[0].num(t, "width"), rs[0].num(t, "height")}
		for _, n := range facts.names {
			b := d.boxes[n]
			if !b.overlaps(lb) {
				continue
			}
			if typ := facts.types[n]; (typ != "Map" && typ != "Parallel") || !b.contains(lb) {
				t.Errorf("label %q %v covers %q %v", ts[0].Text, lb, n, b)
			}
		}
	}
	var want []string
	perState := map[string]int{}
	for _, tr := range facts.transitions {
		if tr.kind == "choice" {
			perState[tr.from]++
			want = append(want, strconv.Itoa(perState[tr.from]))
		}
	}
	slices.Sort(numbers)
	slices.Sort(want)
	if !slices.Equal(numbers, want) {
		t.Errorf("choice labels %q, want %q", numbers, want)
	}
}

// checkMarkers: a start marker per scope, and an end marker at the top
// level exactly when a top-level state ends the machine.
func checkMarkers(t *testing.T, facts aslFacts, d drawn) {
	t.Helper()
	starts := d.root.all(func(x *xnode) bool { return x.XMLName.Local == "g" && x.hasClass("marker") && x.hasClass("start") })
	// Each scope has a state, so the nested scopes are the distinct
	// (container, branch) pairs of the nested states.
	nested := map[string]bool{}
	for c, p := range facts.parent {
		nested[p+"\x00"+strconv.Itoa(facts.branch[c])] = true
	}
	scopes := 1 + len(nested)
	if len(starts) != scopes {
		t.Errorf("%d start markers, want one for each of %d scopes", len(starts), scopes)
	}
	topEnds := d.root.all(func(x *xnode) bool {
		if !(x.XMLName.Local == "g" && x.hasClass("marker") && x.hasClass("end")) {
			return false
		}
		texts := x.all(func(y *xnode) bool { return y.XMLName.Local == "text" })
		return len(texts) == 1 && texts[0].Text == "End"
	})
	if (len(topEnds) == 1) != facts.topEnd || len(topEnds) > 1 {
		t.Errorf("%d top-level end markers, top-level End: %v", len(topEnds), facts.topEnd)
	}
}

// TestBackEdgesRunBeside checks that the loops of the deletion machines are
// drawn up the side: each back edge goes up, along a lane beside every box
// of the layers it spans.
func TestBackEdgesRunBeside(t *testing.T) {
	loops := map[string][][2]string{
		"sync-deletion":  {{"WaitBeforeRetry", "Route"}, {"CheckUserDeleted", "EraseInStore"}},
		"async-deletion": {{"WaitBeforeResubmitting", "DeleteUserData"}, {"WaitForUserDeletion", "CheckUserDeleted"}, {"IsUserDeleted", "AwaitCallback"}},
	}
	for _, name := range machineNames {
		d := readSVG(t, render(t, build(t, definition(t, name)), nil))
		for _, p := range loops[name] {
			var path *xnode
			for _, e := range d.edges {
				if e.get("data-from") == p[0] && e.get("data-to") == p[1] {
					path = e
				}
			}
			if path == nil {
				t.Errorf("%s: no edge %s→%s", name, p[0], p[1])
				continue
			}
			pts := samplePath(t, path.get("d"))
			start, end := pts[0], pts[len(pts)-1]
			if end[1] >= start[1] {
				t.Errorf("%s: back edge %s→%s does not go up: %v → %v", name, p[0], p[1], start, end)
			}
			minX, maxX := math.Inf(1), math.Inf(-1)
			for _, q := range pts {
				minX, maxX = min(minX, q[0]), max(maxX, q[0])
			}
			// Every box between the target's top and the source's bottom.
			top, bottom := d.boxes[p[1]].y, d.boxes[p[0]].y+d.boxes[p[0]].h
			left, right := math.Inf(1), math.Inf(-1)
			for _, b := range d.boxes {
				if b.y+b.h > top && b.y < bottom {
					left, right = min(left, b.x), max(right, b.x+b.w)
				}
			}
			if minX >= left && maxX <= right {
				t.Errorf("%s: back edge %s→%s (x %v to %v) does not run beside the boxes it spans (x %v to %v)",
					name, p[0], p[1], minX, maxX, left, right)
			}
		}
	}
}

// TestStatusColouring checks that each state's class and accessible name
// follow the status map, and that a status never leaks into another state.
func TestStatusColouring(t *testing.T) {
	g := build(t, definition(t, "erasure"))
	status := map[string]Status{
		"LoadSubsystems":        Succeeded,
		"EraseInEverySubsystem": InProgress,
		"ChooseMode":            Succeeded,
		"SyncDeletion":          Caught,
		"SubsystemFailed":       Succeeded,
		"AsyncDeletion":         Failed,
		"RecordOutcome":         "bogus", // unknown: drawn as not reached
		"NoSuchState":           Failed,  // ignored
	}
	d := readSVG(t, render(t, g, status))
	texts := map[Status]string{
		NotReached: "not reached", InProgress: "in progress", Succeeded: "succeeded",
		Failed: "failed", Caught: "failed, caught",
	}
	for _, n := range g.States() {
		st := status[n]
		if _, known := texts[st]; !known {
			st = NotReached
		}
		want := "st-" + string(st)
		if st == NotReached {
			want = "st-not_reached"
		}
		grp := d.states[n]
		var stClasses []string
		for _, c := range strings.Fields(grp.get("class")) {
			if strings.HasPrefix(c, "st-") {
				stClasses = append(stClasses, c)
			}
		}
		if len(stClasses) != 1 || stClasses[0] != want {
			t.Errorf("%q: status classes %q, want %q", n, stClasses, want)
		}
		if !strings.HasSuffix(grp.get("aria-label"), "): "+texts[st]) {
			t.Errorf("%q: aria-label %q, want it to end in %q", n, grp.get("aria-label"), texts[st])
		}
	}
	// The style gives each status its colour.
	styles := d.root.all(func(x *xnode) bool { return x.XMLName.Local == "style" })
	if len(styles) != 1 {
		t.Fatalf("%d <style> elements", len(styles))
	}
	css := styles[0].Text
	for _, c := range []string{".st-succeeded>.shape{fill:#e9f5e3;stroke:#1d8102}", ".st-failed>", ".st-caught>", ".st-in_progress>", ".st-not_reached>", ".state:focus>.focus-ring{"} {
		if !strings.Contains(css, c) {
			t.Errorf("style lacks %q", c)
		}
	}
	// Nothing but the status changes the output.
	plain := render(t, g, nil)
	again := render(t, g, map[string]Status{})
	if !bytes.Equal(plain, again) {
		t.Error("a nil and an empty status map draw differently")
	}
}

// TestBuildErrors checks that broken definitions are refused with an error
// naming the state and the field at fault.
func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name, def string
		want      []string // all in the error
	}{
		{"bad JSON", `{"StartAt": "A", "States": {`, []string{"definition"}},
		{"not an object", `[1, 2]`, []string{"definition"}},
		{"no StartAt", `{"States": {"A": {"Type": "Succeed"}}}`, []string{"StartAt"}},
		{"no States", `{"StartAt": "A"}`, []string{"States"}},
		{"StartAt unknown", `{"StartAt": "B", "States": {"A": {"Type": "Succeed"}}}`, []string{"StartAt", `"B"`}},
		{"Next unknown", `{"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}}`,
			[]string{`"A"`, "Next", `"Nowhere"`}},
		{"Default unknown", `{"StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsPresent": true, "Next": "D"}], "Default": "Gone"}, "D": {"Type": "Succeed"}}}`,
			[]string{`"C"`, "Default", `"Gone"`}},
		{"Choices Next unknown", `{"StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsPresent": true, "Next": "D"}, {"Variable": "$.y", "IsPresent": true, "Next": "E"}]}, "D": {"Type": "Succeed"}}}`,
			[]string{`"C"`, "Choices[1].Next", `"E"`}},
		{"Choices without Next", `{"StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsPresent": true}]}}}`,
			[]string{`"C"`, "Choices[0].Next"}},
		{"Catch Next unknown", `{"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "x", "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Handler"}], "End": true}}}`,
			[]string{`"T"`, "Catch[0].Next", `"Handler"`}},
		{"Next leaves a Map", `{"StartAt": "M", "States": {"M": {"Type": "Map", "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "Next": "Done"}}}, "Next": "Done"}, "Done": {"Type": "Succeed"}}}`,
			[]string{`"I"`, "Next", `"Done"`, "scope"}},
		{"branch without StartAt", `{"StartAt": "P", "States": {"P": {"Type": "Parallel", "Branches": [{"States": {"X": {"Type": "Succeed"}}}], "End": true}}}`,
			[]string{`"P"`, "Branches[0]", "StartAt"}},
		{"Map without ItemProcessor", `{"StartAt": "M", "States": {"M": {"Type": "Map", "End": true}}}`,
			[]string{`"M"`, "ItemProcessor"}},
		{"unknown Type", `{"StartAt": "A", "States": {"A": {"Type": "Sleep", "End": true}}}`,
			[]string{`"A"`, "Type", `"Sleep"`}},
		{"name used twice", `{"StartAt": "M", "States": {"M": {"Type": "Map", "Iterator": {"StartAt": "M", "States": {"M": {"Type": "Succeed"}}}, "End": true}}}`,
			[]string{`"M"`, "twice"}},
		{"key used twice", `{"StartAt": "A", "States": {"A": {"Type": "Succeed"}, "A": {"Type": "Fail"}}}`,
			[]string{`"A"`, "twice"}},
		{"wrong field type", `{"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": 3}}}`,
			[]string{`"A"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := Build([]byte(tt.def))
			if err == nil {
				t.Fatalf("Build succeeded (%d states), want an error", len(g.States()))
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %s", err, w)
				}
			}
		})
	}
}

// TestEscaping checks that user-authored names cannot break the markup.
func TestEscaping(t *testing.T) {
	evil := `<b>&"x"`
	long := "A state name far too long to fit in its box, <i>really</i> & truly"
	ctrl := "bell\x07'quote'"
	def, err := json.Marshal(map[string]any{
		"StartAt": evil,
		"States": map[string]any{
			evil: map[string]any{"Type": "Task", "Resource": "x", "Next": long,
				"Catch": []any{map[string]any{"ErrorEquals": []string{"States.ALL"}, "Next": ctrl}}},
			long: map[string]any{"Type": "Choice", "Choices": []any{map[string]any{"Variable": "$.x", "IsPresent": true, "Next": ctrl}}, "Default": evil},
			ctrl: map[string]any{"Type": "Fail"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	g := build(t, def)
	svg := render(t, g, map[string]Status{evil: Succeeded})
	if bytes.Contains(svg, []byte("<b>")) || bytes.Contains(svg, []byte("<i>")) || bytes.Contains(svg, []byte{7}) {
		t.Error("raw markup or a control character in the output")
	}
	if !bytes.Contains(svg, []byte(`data-state="&lt;b&gt;&amp;&quot;x&quot;"`)) {
		t.Error("the name is not escaped in data-state")
	}
	if !bytes.Contains(svg, []byte(`<title>&lt;b&gt;&amp;&quot;x&quot;</title>`)) {
		t.Error("the name is not escaped in <title>")
	}
	d := readSVG(t, svg) // well-formed, or it fails here
	grp, ok := d.states[evil]
	if !ok {
		t.Fatalf("no state %q among %q", evil, slices.Collect(mapsKeys(d.states)))
	}
	if !grp.hasClass("st-succeeded") || grp.get("aria-label") != evil+" (Task): succeeded" {
		t.Errorf("%q: class %q, aria-label %q", evil, grp.get("class"), grp.get("aria-label"))
	}
	// The long name is shortened in its box, whole in its title.
	lg, ok := d.states[long]
	if !ok {
		t.Fatalf("no state %q", long)
	}
	label := lg.all(func(x *xnode) bool { return x.hasClass("label") })[0].Text
	if !strings.HasSuffix(label, "…") || !strings.HasPrefix(long, strings.TrimSuffix(label, "…")) {
		t.Errorf("long name drawn as %q", label)
	}
	if lg.Children[0].Text != long {
		t.Errorf("long name's title %q", lg.Children[0].Text)
	}
	// XML cannot carry U+0007: it is replaced, consistently.
	bell := strings.ReplaceAll(ctrl, "\x07", "\uFFFD")
	if _, ok := d.states[bell]; !ok {
		t.Errorf("no state %q", bell)
	}
	n := 0
	for _, e := range d.edges {
		if e.get("data-to") == bell {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d edges to %q, want 2", n, bell)
	}
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

const parallelDef = `{
  "StartAt": "Prepare",
  "States": {
    "Prepare": {"Type": "Pass", "Next": "BothAtOnce"},
    "BothAtOnce": {
      "Type": "Parallel",
      "Branches": [
        {"StartAt": "Left1", "States": {
          "Left1": {"Type": "Task", "Resource": "x", "Next": "Left2"},
          "Left2": {"Type": "Wait", "Seconds": 5, "End": true}}},
        {"StartAt": "Right1", "States": {
          "Right1": {"Type": "Task", "Resource": "x", "End": true}}}
      ],
      "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Broken"}],
      "Next": "Done"
    },
    "Broken": {"Type": "Fail"},
    "Done": {"Type": "Succeed"}
  }
}`

// TestParallelSideBySide checks that a Parallel's branches are drawn side
// by side inside it, and its transitions leave from its bottom.
func TestParallelSideBySide(t *testing.T) {
	def := []byte(parallelDef)
	facts := readFacts(t, def)
	g := build(t, def)
	d := readSVG(t, render(t, g, nil))
	checkStates(t, facts, d)
	checkShapes(t, facts, d)
	checkEdges(t, facts, d)
	checkGeometry(t, facts, d)
	checkMarkers(t, facts, d)

	if got, want := g.States(), []string{"Prepare", "BothAtOnce", "Left1", "Left2", "Right1", "Broken", "Done"}; !slices.Equal(got, want) {
		t.Errorf("States() = %q, want %q", got, want)
	}
	par := d.boxes["BothAtOnce"]
	span := func(names ...string) box {
		minX, minY, maxX, maxY := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
		for _, n := range names {
			b := d.boxes[n]
			if !par.contains(b) {
				t.Errorf("%q %v outside the Parallel %v", n, b, par)
			}
			minX, minY = min(minX, b.x), min(minY, b.y)
			maxX, maxY = max(maxX, b.x+b.w), max(maxY, b.y+b.h)
		}
		return box{minX, minY, maxX - minX, maxY - minY}
	}
	left, right := span("Left1", "Left2"), span("Right1")
	if left.x+left.w >= right.x {
		t.Errorf("branches not side by side: first %v, second %v", left, right)
	}
	if left.y >= right.y+right.h || right.y >= left.y+left.h {
		t.Errorf("branches not at the same height: first %v, second %v", left, right)
	}
	if d.boxes["Left1"].y >= d.boxes["Left2"].y {
		t.Errorf("Left2 %v not below Left1 %v", d.boxes["Left2"], d.boxes["Left1"])
	}
	branches := d.root.all(func(x *xnode) bool { return x.hasClass("branch") })
	if len(branches) != 2 {
		t.Errorf("%d branch frames, want 2", len(branches))
	}
	for _, e := range d.edges {
		if e.get("data-from") != "BothAtOnce" {
			continue
		}
		start := samplePath(t, e.get("d"))[0]
		if math.Abs(start[1]-(par.y+par.h)) > 0.5 || start[0] <= par.x || start[0] >= par.x+par.w {
			t.Errorf("edge %s from the Parallel starts at %v, not on its bottom %v", e.get("class"), start, par)
		}
	}
}

// TestDeterministic checks that the same definition gives the same bytes,
// from separate Builds and from concurrent writers.
func TestDeterministic(t *testing.T) {
	for _, name := range machineNames {
		def := definition(t, name)
		g1, g2 := build(t, def), build(t, def)
		want := render(t, g1, nil)
		if !bytes.Equal(want, render(t, g2, nil)) {
			t.Errorf("%s: two Builds draw differently", name)
		}
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				status := map[string]Status{}
				if i%2 == 1 {
					for _, s := range g1.States() {
						status[s] = Failed
					}
				}
				var buf bytes.Buffer
				if err := g1.WriteSVG(&buf, status); err != nil {
					t.Error(err)
				}
				if i%2 == 0 && !bytes.Equal(buf.Bytes(), want) {
					t.Errorf("%s: concurrent WriteSVG drew differently", name)
				}
			})
		}
		wg.Wait()
	}
}

// TestTypeOfUnknown: a name that is no state has no type.
func TestTypeOfUnknown(t *testing.T) {
	g := build(t, definition(t, "erasure"))
	if typ := g.TypeOf("NoSuchState"); typ != "" {
		t.Errorf("TypeOf(unknown) = %q", typ)
	}
	names := g.States()
	names[0] = "changed"
	if g.States()[0] == "changed" {
		t.Error("States() shares its slice with the Graph")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

func TestWriteSVGError(t *testing.T) {
	if err := build(t, definition(t, "erasure")).WriteSVG(failWriter{}, nil); err != io.ErrClosedPipe {
		t.Errorf("WriteSVG to a failing writer: %v", err)
	}
}

// TestRenderFiles writes the graphs of Lethe's machines to
// os.TempDir()/graph-<machine>.svg when LETHE_GRAPH_OUT is set, for a
// human to look at; graph-<machine>.html shows it inside a page, with a
// sample of every status.
func TestRenderFiles(t *testing.T) {
	if os.Getenv("LETHE_GRAPH_OUT") == "" {
		t.Skip("set LETHE_GRAPH_OUT=1 to write the graphs to " + os.TempDir())
	}
	statuses := []Status{Succeeded, Succeeded, InProgress, Caught, Failed, NotReached}
	for _, name := range machineNames {
		g := build(t, definition(t, name))
		sample := map[string]Status{}
		for i, s := range g.States() {
			sample[s] = statuses[i%len(statuses)]
		}
		svg := render(t, g, nil)
		page := "<!doctype html><meta charset=utf-8><title>" + name + "</title><body style=\"margin:0\">" +
			string(svg) + string(render(t, g, sample)) + "</body>"
		base := filepath.Join(os.TempDir(), "graph-"+name)
		if err := os.WriteFile(base+".svg", svg, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(base+".html", []byte(page), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s.svg and %s.html", base, base)
	}
}

// BenchmarkBuildAndWrite measures what the console pays to draw the
// erasure machine from its file.
func BenchmarkBuildAndWrite(b *testing.B) {
	def := definition(b, "erasure")
	status := map[string]Status{"LoadSubsystems": Succeeded, "EraseInEverySubsystem": InProgress}
	b.ReportAllocs()
	for b.Loop() {
		g, err := Build(def)
		if err != nil {
			b.Fatal(err)
		}
		if err := g.WriteSVG(io.Discard, status); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWrite measures drawing an already built graph, once per page
// view.
func BenchmarkWrite(b *testing.B) {
	g := build(b, definition(b, "erasure"))
	status := map[string]Status{"LoadSubsystems": Succeeded, "EraseInEverySubsystem": InProgress}
	b.ReportAllocs()
	for b.Loop() {
		if err := g.WriteSVG(io.Discard, status); err != nil {
			b.Fatal(err)
		}
	}
}

// TestUnusualMachines checks definitions the Lethe files do not have but a
// valid ASL file may: loops on one state, states no transition reaches,
// several rules to one state, nesting several levels deep.
func TestUnusualMachines(t *testing.T) {
	tests := map[string]string{
		"single state": `{"StartAt": "Only", "States": {"Only": {"Type": "Succeed"}}}`,
		"self loop": `{"StartAt": "Poll", "States": {
			"Poll": {"Type": "Task", "Resource": "x", "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Poll"}], "Next": "Check"},
			"Check": {"Type": "Choice", "Choices": [{"Variable": "$.done", "BooleanEquals": false, "Next": "Check"}], "Default": "Done"},
			"Done": {"Type": "Succeed"}}}`,
		"unreachable state": `{"StartAt": "A", "States": {
			"A": {"Type": "Pass", "End": true},
			"Orphan": {"Type": "Pass", "Next": "A"}}}`,
		"rules to one state": `{"StartAt": "C", "States": {
			"C": {"Type": "Choice", "Choices": [
				{"Variable": "$.a", "IsPresent": true, "Next": "T"},
				{"Variable": "$.b", "IsPresent": true, "Next": "T"},
				{"Variable": "$.c", "IsPresent": true, "Next": "T"}], "Default": "T"},
			"T": {"Type": "Task", "Resource": "x", "Catch": [{"ErrorEquals": ["A"], "Next": "F"}, {"ErrorEquals": ["B"], "Next": "F"}], "End": true},
			"F": {"Type": "Fail"}}}`,
		"nested three deep": `{"StartAt": "Outer", "States": {
			"Outer": {"Type": "Map", "Iterator": {"StartAt": "Fork", "States": {
				"Fork": {"Type": "Parallel", "Branches": [
					{"StartAt": "Inner", "States": {"Inner": {"Type": "Map", "ItemProcessor": {"StartAt": "Leaf", "States": {
						"Leaf": {"Type": "Wait", "Seconds": 1, "Next": "Leaf2"},
						"Leaf2": {"Type": "Pass", "End": true}}}, "End": true}}},
					{"StartAt": "Side", "States": {"Side": {"Type": "Pass", "Next": "SideLoop"},
						"SideLoop": {"Type": "Choice", "Choices": [{"Variable": "$.again", "BooleanEquals": true, "Next": "Side"}], "Default": "SideDone"},
						"SideDone": {"Type": "Succeed"}}},
					{"StartAt": "Third", "States": {"Third": {"Type": "Fail"}}}
				], "End": true}}}, "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Oops"}], "Next": "Fine"},
			"Oops": {"Type": "Fail"},
			"Fine": {"Type": "Succeed"}}}`,
		"wide choice": `{"StartAt": "C", "States": {
			"C": {"Type": "Choice", "Choices": [
				{"Variable": "$.v", "NumericEquals": 1, "Next": "S1"},
				{"Variable": "$.v", "NumericEquals": 2, "Next": "S2"},
				{"Variable": "$.v", "NumericEquals": 3, "Next": "S3"},
				{"Variable": "$.v", "NumericEquals": 4, "Next": "S4"},
				{"Variable": "$.v", "NumericEquals": 5, "Next": "S5"},
				{"Variable": "$.v", "NumericEquals": 6, "Next": "S6"},
				{"Variable": "$.v", "NumericEquals": 7, "Next": "C"}], "Default": "S7"},
			"S1": {"Type": "Pass", "Next": "S2"}, "S2": {"Type": "Pass", "Next": "S3"},
			"S3": {"Type": "Pass", "Next": "S4"}, "S4": {"Type": "Pass", "Next": "C"},
			"S5": {"Type": "Pass", "Next": "S1"}, "S6": {"Type": "Pass", "End": true},
			"S7": {"Type": "Wait", "Seconds": 1, "Next": "C"}}}`,
	}
	for name, def := range tests {
		t.Run(name, func(t *testing.T) {
			facts := readFacts(t, []byte(def))
			g := build(t, []byte(def))
			if !slices.Equal(g.States(), facts.names) {
				t.Errorf("States() = %q, want %q", g.States(), facts.names)
			}
			d := readSVG(t, render(t, g, nil))
			checkStates(t, facts, d)
			checkShapes(t, facts, d)
			checkEdges(t, facts, d)
			checkGeometry(t, facts, d)
			checkLabels(t, facts, d)
			checkMarkers(t, facts, d)
		})
	}
}
