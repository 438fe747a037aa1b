// Package graph draws a Lethe state machine as an SVG graph, from the very
// Amazon States Language file that is deployed, as the Step Functions
// console's graph view does: one box per state, shaped by its type and
// coloured by what happened to it in one execution, and one arrow per
// transition (Next, Choice rules, Default, Catch).
//
// The layout is a layered one, top to bottom: each state sits in the layer
// of its longest path from StartAt, loops (found by a depth-first search) run
// back up along the side, the order within layers is improved by barycenter
// sweeps, and Map and Parallel states are containers holding their own
// nested graphs. Build does all of it once; WriteSVG only fills in the
// colours, so one Graph serves every execution view of a machine.
package graph

import (
	"io"
	"slices"
)

// Status is what happened to a state in one execution.
type Status string

// The statuses a state can be drawn with. Any other value is drawn as
// NotReached.
const (
	NotReached Status = ""            // grey
	InProgress Status = "in_progress" // blue
	Succeeded  Status = "succeeded"   // green
	Failed     Status = "failed"      // red
	Caught     Status = "caught"      // orange: failed, and a Catch took it elsewhere
)

// class is the status's suffix in the st-… class of a state.
func (s Status) class() string {
	switch s {
	case InProgress, Succeeded, Failed, Caught:
		return string(s)
	}
	return "not_reached"
}

// text is how the status is read out by a screen reader.
func (s Status) text() string {
	switch s {
	case InProgress:
		return "in progress"
	case Succeeded:
		return "succeeded"
	case Failed:
		return "failed"
	case Caught:
		return "failed, caught"
	}
	return "not reached"
}

// Graph is a laid-out state machine: parse once, draw many times
// (immutable after Build, safe for concurrent use).
type Graph struct {
	names []string // every state, depth first in the order of the file
	types []string
	index map[string]int

	// The SVG is rendered once by Build into static pieces; between piece
	// i and piece i+1 goes what holes[i] asks for: a state's status class
	// or its status text.
	pieces [][]byte
	holes  []hole
	size   int // of all pieces, to size the output buffer
}

type hole struct {
	state int  // index into names
	text  bool // the status text of aria-label, else the status class
}

// Build parses an ASL definition (JSON text, ${Placeholders} may still be
// in it as strings) and lays it out. Invalid JSON, no StartAt, or a Next,
// Default, Choices[].Next or Catch[].Next naming no state in its scope is an
// error naming the state and field; so are an unknown Type and a state name
// used twice.
func Build(definition []byte) (*Graph, error) {
	top, p, err := parseDefinition(definition)
	if err != nil {
		return nil, err
	}
	g := &Graph{index: make(map[string]int, len(p.order))}
	for i, s := range p.order {
		g.names = append(g.names, s.name)
		g.types = append(g.types, s.typ)
		g.index[s.name] = i
	}
	g.render(newLayout(top, false))
	return g, nil
}

// States returns every state name of the definition, nested ones (Map
// ItemProcessor or Iterator, Parallel Branches) included, in a stable order:
// the order of the file, a Map's or Parallel's states right after it.
func (g *Graph) States() []string {
	return slices.Clone(g.names)
}

// TypeOf returns a state's ASL Type ("Task", "Choice", ...), or "" for a
// name that is no state of the definition.
func (g *Graph) TypeOf(name string) string {
	i, ok := g.index[name]
	if !ok {
		return ""
	}
	return g.types[i]
}

// WriteSVG writes the graph as one standalone inline <svg> element (to
// embed in an HTML page), each state coloured by status[name] (missing =
// NotReached). Names in status that are no state are ignored.
//
// Each state is a focusable <g class="state …"> with data-state and
// data-type attributes, each transition a <path class="edge …"> with
// data-from and data-to, for the page's script and style to work with.
func (g *Graph) WriteSVG(w io.Writer, status map[string]Status) error {
	buf := make([]byte, 0, g.size+len(g.holes)*16)
	for i, p := range g.pieces {
		buf = append(buf, p...)
		if i < len(g.holes) {
			h := g.holes[i]
			st := status[g.names[h.state]]
			if h.text {
				buf = append(buf, st.text()...)
			} else {
				buf = append(buf, st.class()...)
			}
		}
	}
	_, err := w.Write(buf)
	return err
}
