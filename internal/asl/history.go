package asl

import (
	"encoding/json"
	"maps"
	"strings"
	"time"
)

// History is an execution's event history, in event id order. It is a
// read-only view that the execution shares with every Result describing it:
// events are recorded in a compact form, their inputs and outputs kept as
// JSON values, and shaped as GetExecutionHistory shows them (details maps,
// input and output as JSON text) only when the history is read (Events, or
// marshalling it), so an execution whose history nobody reads never pays
// for that.
type History struct {
	events []event
}

// Len is the number of events.
func (h History) Len() int { return len(h.events) }

// Events returns the events as GetExecutionHistory shows them, details'
// input, output and parameters as JSON text. The slice and the details are
// the caller's own.
func (h History) Events() []Event {
	if h.events == nil {
		return nil
	}
	out := make([]Event, len(h.events))
	for i := range h.events {
		out[i] = h.events[i].public()
	}
	return out
}

// MarshalJSON writes the events as a JSON array, as Events shows them.
func (h History) MarshalJSON() ([]byte, error) {
	return json.Marshal(h.Events())
}

// historyOf makes a History of events read back from a checkpoint.
func historyOf(events []Event) History { return History{events: recorded(events)} }

// recorded turns events read back from a checkpoint into the recorded form.
func recorded(events []Event) []event {
	if events == nil {
		return nil
	}
	out := make([]event, len(events))
	for i, e := range events {
		out[i] = event{id: e.ID, prev: e.PreviousEventID, ts: e.Timestamp, typ: e.Type, key: e.DetailsKey, loaded: e.Details}
	}
	return out
}

// event is a recorded history event. Its details are a short list of
// fields, rendered into the details map when the history is read; an event
// read back from a checkpoint keeps the map it was read with. Nothing in an
// event changes once it is recorded.
type event struct {
	id, prev int64
	ts       time.Time
	typ      string
	key      string // the details object's name; "" for none
	fields   []field
	loaded   map[string]any
}

// field is one entry of an event's details.
type field struct {
	key  string
	kind fieldKind
	str  string
	num  int
	val  any
}

type fieldKind uint8

const (
	fieldString       fieldKind = iota // str
	fieldInt                           // num
	fieldJSONText                      // val, shown as its JSON text
	fieldNotTruncated                  // {"truncated": false}
	fieldValue                         // val as is
)

func str(k, v string) field       { return field{key: k, kind: fieldString, str: v} }
func num(k string, v int) field   { return field{key: k, kind: fieldInt, num: v} }
func text(k string, v any) field  { return field{key: k, kind: fieldJSONText, val: v} }
func value(k string, v any) field { return field{key: k, kind: fieldValue, val: v} }
func notTruncated(k string) field { return field{key: k, kind: fieldNotTruncated} }

// public shapes the event as GetExecutionHistory shows it.
func (e *event) public() Event {
	ev := Event{ID: e.id, PreviousEventID: e.prev, Timestamp: e.ts, Type: e.typ, DetailsKey: e.key}
	switch {
	case e.loaded != nil:
		ev.Details = maps.Clone(e.loaded)
	case e.key != "":
		ev.Details = make(map[string]any, len(e.fields))
		for _, f := range e.fields {
			switch f.kind {
			case fieldString:
				ev.Details[f.key] = f.str
			case fieldInt:
				ev.Details[f.key] = f.num
			case fieldJSONText:
				ev.Details[f.key] = jsonString(f.val)
			case fieldNotTruncated:
				ev.Details[f.key] = map[string]any{"truncated": false}
			case fieldValue:
				ev.Details[f.key] = f.val
			}
		}
	}
	return ev
}

// Event is one entry of an execution's history, shaped as the Step Functions
// GetExecutionHistory API returns it: id, previousEventId, timestamp, type
// and one "<type>EventDetails" object whose input and output are JSON text.
type Event struct {
	ID              int64
	PreviousEventID int64
	Timestamp       time.Time
	Type            string
	// DetailsKey is the name of the details object, e.g.
	// "stateEnteredEventDetails"; empty when the event has none.
	DetailsKey string
	Details    map[string]any
}

// MarshalJSON writes the event as AWS does.
func (e Event) MarshalJSON() ([]byte, error) {
	m := map[string]any{
		"id":              e.ID,
		"previousEventId": e.PreviousEventID,
		"timestamp":       e.Timestamp.UTC().Format(time.RFC3339Nano),
		"type":            e.Type,
	}
	if e.DetailsKey != "" {
		m[e.DetailsKey] = e.Details
	}
	return json.Marshal(m)
}

// UnmarshalJSON reads what MarshalJSON wrote (checkpoints store histories).
func (e *Event) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*e = Event{}
	for k, v := range m {
		var err error
		switch {
		case k == "id":
			err = json.Unmarshal(v, &e.ID)
		case k == "previousEventId":
			err = json.Unmarshal(v, &e.PreviousEventID)
		case k == "timestamp":
			err = json.Unmarshal(v, &e.Timestamp)
		case k == "type":
			err = json.Unmarshal(v, &e.Type)
		case strings.HasSuffix(k, "EventDetails"):
			e.DetailsKey = k
			err = unmarshalNumber(v, &e.Details)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// details helpers, one per AWS details shape. The JSON values they keep are
// never modified once recorded: the engine never changes a JSON value after
// it was produced (ResultPath copies, templates build new values).

func inputDetails(input any, more ...field) []field {
	return append(append(make([]field, 0, 2+len(more)), text("input", input), notTruncated("inputDetails")), more...)
}

func outputDetails(output any, more ...field) []field {
	return append(append(make([]field, 0, 2+len(more)), text("output", output), notTruncated("outputDetails")), more...)
}

func errorDetails(f *Failure, more ...field) []field {
	return append(append(make([]field, 0, 2+len(more)), str("error", f.Name), str("cause", f.Cause)), more...)
}
