package asl

import (
	"encoding/json"
	"strings"
	"time"
)

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

// details helpers, one per AWS details shape.

func inputDetails(input any) map[string]any {
	return map[string]any{"input": jsonString(input), "inputDetails": map[string]any{"truncated": false}}
}

func outputDetails(output any) map[string]any {
	return map[string]any{"output": jsonString(output), "outputDetails": map[string]any{"truncated": false}}
}

func with(m map[string]any, kv ...any) map[string]any {
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}
