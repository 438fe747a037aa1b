package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/lethe-erasure/lethe/internal/asl"
	"github.com/lethe-erasure/lethe/internal/console/graph"
	"github.com/lethe-erasure/lethe/internal/erasure"
)

// executionBody is an execution's page: its summary, the graph of its
// state machine coloured by what happened, the chosen state's input,
// output and events, and the whole history.
type executionBody struct {
	X        Execution
	Graph    template.HTML
	GraphErr string
	States   []stateLink
	State    *stateDetail
	Events   []eventRow
	// Request is the request the execution erases for, when its name
	// says so.
	Request string
}

// stateLink is one state in the list under the graph (the graph's
// click-through without JavaScript).
type stateLink struct {
	Name, Type string
	Status     graph.Status
}

// stateDetail is one state's input, output and events.
type stateDetail struct {
	Name, Type    string
	Status        graph.Status
	Entered       int // how many times the execution entered it
	Input, Output string
	Events        []eventRow
}

// eventRow is one history event as the Step Functions console lists it.
type eventRow struct {
	ID, Previous int64
	Type, State  string
	Elapsed      time.Duration
	Time         time.Time
	Detail       string
	Class        string // good, bad or ""
}

func (c *Console) execution(w http.ResponseWriter, r *http.Request) {
	if c.o.Executions == nil {
		c.fail(w, http.StatusNotFound, "This console reads no executions.")
		return
	}
	x, err := c.o.Executions.Execution(r.Context(), r.PathValue("arn"))
	if errors.Is(err, ErrNoExecution) {
		c.fail(w, http.StatusNotFound, "There is no such execution (closed executions are kept 90 days).")
		return
	}
	if err != nil {
		c.fail(w, http.StatusBadGateway, err.Error())
		return
	}
	_, req := RunOf(x.Name)
	b := executionBody{X: x, Request: req}
	states := stateOf(x.Events)
	status := Statuses(x.Events, x.Status)
	for _, e := range x.Events {
		b.Events = append(b.Events, newEventRow(e, states[e.ID], x.Start))
	}
	g, err := c.graphOf(x.Definition)
	if err != nil {
		b.GraphErr = err.Error()
	} else {
		var svg bytes.Buffer
		if err := g.WriteSVG(&svg, status); err != nil {
			b.GraphErr = err.Error()
		}
		b.Graph = template.HTML(svg.String()) // graph escapes every text it writes
		for _, name := range g.States() {
			b.States = append(b.States, stateLink{Name: name, Type: g.TypeOf(name), Status: status[name]})
		}
		if name := r.URL.Query().Get("state"); name != "" && g.TypeOf(name) != "" {
			b.State = detail(name, g.TypeOf(name), status[name], x.Events, states)
			b.State.Events = nil
			for _, row := range b.Events {
				if row.State == name {
					b.State.Events = append(b.State.Events, row)
				}
			}
		}
	}
	if r.URL.Query().Get("fragment") == "state" {
		// The graph's click-through asks for the state's panel alone.
		c.renderPart(w, "state", b.State)
		return
	}
	c.render(w, http.StatusOK, "execution", x.Machine+": "+x.Name, "requests", x.Status == "RUNNING", b)
}

// renderPart renders one named template of the execution page alone.
func (c *Console) renderPart(w http.ResponseWriter, name string, data any) {
	var buf bytes.Buffer
	if err := c.pages["execution"].ExecuteTemplate(&buf, name, data); err != nil {
		http.Error(w, "the part could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(buf.Bytes())
}

// RunOf reads an execution's name: a run's (<requestId> or
// <requestId>-r<n>), or a child's (<run>-<subsystem>). It returns the
// run's name and its request id, or "" for a name of neither form.
func RunOf(name string) (run, requestID string) {
	if id, _, err := erasure.ParseRunName(name); err == nil {
		return name, id
	}
	for i := len(name) - 1; i > 0; i-- {
		if name[i] != '-' {
			continue
		}
		if id, _, err := erasure.ParseRunName(name[:i]); err == nil {
			return name[:i], id
		}
	}
	return "", ""
}

// entries attributes each event to the entry of a state it belongs to:
// the StateEntered event its chain of previous events reaches first (an
// exit, the entry of its own state). Entries are told apart by event, not
// by name: a Map's iterations enter the same states at once. It returns
// each event's entry and each entry's state name.
func entries(events []asl.Event) (entryOf map[int64]int64, names map[int64]string) {
	byID := make(map[int64]*asl.Event, len(events))
	names = map[int64]string{}
	for i := range events {
		e := &events[i]
		byID[e.ID] = e
		if strings.HasSuffix(e.Type, "StateEntered") {
			names[e.ID], _ = e.Details["name"].(string)
		}
	}
	entryOf = make(map[int64]int64, len(events))
	// walk follows the chain from id to the first entry named want (any
	// entry when want is ""), remembering the answers of the unnamed walks.
	walk := func(id int64, want string) int64 {
		var path []int64
		for steps := 0; steps <= len(events); steps++ {
			if got, ok := entryOf[id]; ok && want == "" {
				for _, p := range path {
					entryOf[p] = got
				}
				return got
			}
			e := byID[id]
			if e == nil {
				return 0
			}
			if name, ok := names[id]; ok && (want == "" || name == want) {
				if want == "" {
					for _, p := range path {
						entryOf[p] = id
					}
				}
				return id
			}
			path = append(path, id)
			id = e.PreviousEventID
		}
		return 0
	}
	for _, e := range events {
		switch {
		case strings.HasPrefix(e.Type, "Execution"):
		case strings.HasSuffix(e.Type, "StateExited"):
			name, _ := e.Details["name"].(string)
			entryOf[e.ID] = walk(e.PreviousEventID, name)
		default:
			entryOf[e.ID] = walk(e.ID, "")
		}
	}
	return entryOf, names
}

// stateOf names each event's state ("" for the execution's own events).
func stateOf(events []asl.Event) map[int64]string {
	entryOf, names := entries(events)
	out := make(map[int64]string, len(entryOf))
	for id, entry := range entryOf {
		out[id] = names[entry]
	}
	return out
}

// failure says an event is a failure of its state's work.
func failure(typ string) bool {
	for _, s := range []string{"Failed", "TimedOut", "Aborted"} {
		if strings.HasSuffix(typ, s) && !strings.HasPrefix(typ, "Execution") {
			return true
		}
	}
	return false
}

// Statuses colours each state by what happened to it in this execution:
// a state entered and left without a failure succeeded; one whose work
// failed and that was left (a Catch took the execution on) was caught;
// one that failed and was not left failed, as did a Fail state entered;
// one entered and not left is in progress while the execution runs
// (failed once it ended). A state entered many times (a loop, a Map's
// iterations) shows the worst of its entries, in-progress aside.
func Statuses(events []asl.Event, executionStatus string) map[string]graph.Status {
	type entry struct {
		name, typ      string
		exited, failed bool // failed: the work's last outcome was a failure
	}
	entryOf, names := entries(events)
	byEntry := map[int64]*entry{}
	var order []*entry
	for _, e := range events {
		id := entryOf[e.ID]
		if id == 0 {
			continue
		}
		en := byEntry[id]
		if en == nil {
			en = &entry{name: names[id]}
			byEntry[id] = en
			order = append(order, en)
		}
		switch {
		case e.ID == id:
			en.typ = strings.TrimSuffix(e.Type, "StateEntered")
		case strings.HasSuffix(e.Type, "StateExited"):
			en.exited = true
		case failure(e.Type):
			en.failed = true
		case strings.HasSuffix(e.Type, "Succeeded") || strings.HasSuffix(e.Type, "Scheduled"):
			// A retry scheduled again, or the work's success, clears a
			// failure of the same entry.
			en.failed = false
		}
	}
	rank := map[graph.Status]int{graph.NotReached: 0, graph.Succeeded: 1, graph.InProgress: 2, graph.Caught: 3, graph.Failed: 4}
	out := map[string]graph.Status{}
	for _, en := range order {
		var s graph.Status
		switch {
		case en.typ == "Fail":
			s = graph.Failed
		case en.exited && en.failed:
			s = graph.Caught
		case en.exited:
			s = graph.Succeeded
		case executionStatus == "RUNNING":
			s = graph.InProgress
		default:
			s = graph.Failed
		}
		if rank[s] >= rank[out[en.name]] {
			out[en.name] = s
		}
	}
	return out
}

// detail is a state's panel: the input of its last entry and the output
// of its last exit.
func detail(name, typ string, status graph.Status, events []asl.Event, states map[int64]string) *stateDetail {
	d := &stateDetail{Name: name, Type: typ, Status: status}
	for _, e := range events {
		if states[e.ID] != name {
			continue
		}
		switch {
		case strings.HasSuffix(e.Type, "StateEntered"):
			d.Entered++
			d.Input = prettyJSON(e.Details["input"])
			d.Output = ""
		case strings.HasSuffix(e.Type, "StateExited"):
			d.Output = prettyJSON(e.Details["output"])
		}
	}
	return d
}

// prettyJSON indents a history's JSON text.
func prettyJSON(v any) string {
	s, ok := v.(string)
	if !ok {
		return ""
	}
	var buf bytes.Buffer
	if json.Indent(&buf, []byte(s), "", "  ") != nil {
		return s
	}
	return buf.String()
}

// newEventRow is one line of the history: the error and cause of a
// failure, else nothing beyond the columns.
func newEventRow(e asl.Event, state string, start time.Time) eventRow {
	row := eventRow{ID: e.ID, Previous: e.PreviousEventID, Type: e.Type, State: state, Time: e.Timestamp, Elapsed: e.Timestamp.Sub(start)}
	var parts []string
	for _, k := range []string{"error", "cause"} {
		if s, _ := e.Details[k].(string); s != "" {
			parts = append(parts, shorten(s, 300))
		}
	}
	row.Detail = strings.Join(parts, ": ")
	switch {
	case failure(e.Type) || e.Type == "ExecutionFailed" || e.Type == "ExecutionTimedOut" || e.Type == "ExecutionAborted":
		row.Class = "bad"
	case strings.HasSuffix(e.Type, "Succeeded"):
		row.Class = "good"
	}
	return row
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
