package asl

import (
	"encoding/json"
	"strings"
	"time"
)

// History is an execution's event history, in event id order. It is a
// read-only view that the execution shares with every Result describing it:
// the inputs and outputs of its events are kept as JSON values when they are
// recorded and rendered as JSON text only when the history is read (Events,
// or marshalling it), so an execution whose history nobody reads never pays
// for the text.
type History struct {
	events []Event // details may hold jsonText and notTruncated placeholders
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
	for i, ev := range h.events {
		ev.Details = renderDetails(ev.Details)
		out[i] = ev
	}
	return out
}

// MarshalJSON writes the events as a JSON array, as Events shows them.
func (h History) MarshalJSON() ([]byte, error) {
	if h.events == nil {
		return []byte("null"), nil
	}
	return json.Marshal(h.events)
}

// historyOf makes a History of events rendered already (read back from a
// checkpoint).
func historyOf(events []Event) History { return History{events: events} }

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

// jsonText stands in a recorded event's details for a JSON value that the
// history shows as JSON text; it is rendered when the history is read. The
// value is immutable once recorded: the engine never modifies a JSON value
// after it was produced (ResultPath copies, templates build new values).
type jsonText struct{ v any }

// MarshalJSON writes the JSON text as a JSON string.
func (t jsonText) MarshalJSON() ([]byte, error) { return json.Marshal(jsonString(t.v)) }

// notTruncated stands for {"truncated": false}, the inputDetails and
// outputDetails of every event (the engine never truncates).
type notTruncated struct{}

// MarshalJSON writes {"truncated":false}.
func (notTruncated) MarshalJSON() ([]byte, error) { return []byte(`{"truncated":false}`), nil }

// renderDetails returns a copy of details with its placeholders rendered.
func renderDetails(d map[string]any) map[string]any {
	if d == nil {
		return nil
	}
	out := make(map[string]any, len(d))
	for k, v := range d {
		switch t := v.(type) {
		case jsonText:
			out[k] = jsonString(t.v)
		case notTruncated:
			out[k] = map[string]any{"truncated": false}
		default:
			out[k] = v
		}
	}
	return out
}

// details helpers, one per AWS details shape.

func inputDetails(input any) map[string]any {
	return map[string]any{"input": jsonText{input}, "inputDetails": notTruncated{}}
}

func outputDetails(output any) map[string]any {
	return map[string]any{"output": jsonText{output}, "outputDetails": notTruncated{}}
}

func with(m map[string]any, kv ...any) map[string]any {
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}
