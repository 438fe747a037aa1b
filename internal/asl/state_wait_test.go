package asl

import (
	"testing"
	"time"
)

func TestWait(t *testing.T) {
	for _, tc := range []struct {
		name, field, input string
		want               time.Duration
	}{
		{"Seconds", `"Seconds":10`, `{}`, 10 * time.Second},
		{"30 days", `"Seconds":2592000`, `{}`, 30 * 24 * time.Hour},
		{"SecondsPath", `"SecondsPath":"$.s"`, `{"s":42}`, 42 * time.Second},
		{"Timestamp", `"Timestamp":"2026-01-03T00:00:00Z"`, `{}`, 48 * time.Hour},
		{"TimestampPath", `"TimestampPath":"$.ts"`, `{"ts":"2026-01-01T01:00:00Z"}`, time.Hour},
		{"Timestamp in the past", `"Timestamp":"2020-01-01T00:00:00Z"`, `{}`, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, clock := newTestEngine(t)
			def := `{"StartAt":"W","States":{"W":{"Type":"Wait",` + tc.field + `,"Next":"E"},"E":{"Type":"Succeed"}}}`
			start := time.Now()
			res := runDef(t, e, def, tc.input)
			if res.Status != StatusSucceeded {
				t.Fatalf("%s: %s %s", res.Status, res.Error, res.Cause)
			}
			if got := clock.Now().Sub(epoch); got != tc.want {
				t.Fatalf("virtual time waited %v, want %v", got, tc.want)
			}
			if real := time.Since(start); real > time.Second {
				t.Fatalf("a fake-clock wait took %v of real time", real)
			}
			want := []string{"ExecutionStarted", "WaitStateEntered", "WaitStateExited", "SucceedStateEntered", "SucceedStateExited", "ExecutionSucceeded"}
			if got := eventTypes(res.History.Events()); !equalStrings(got, want) {
				t.Fatalf("history %v, want %v", got, want)
			}
		})
	}
	runTable(t, []caseRow{
		{
			name:       "SecondsPath not a number",
			definition: `{"StartAt":"W","States":{"W":{"Type":"Wait","SecondsPath":"$.s","End":true}}}`,
			input:      `{"s":"x"}`,
			wantErr:    ErrRuntime,
		},
		{
			name:       "TimestampPath not a timestamp",
			definition: `{"StartAt":"W","States":{"W":{"Type":"Wait","TimestampPath":"$.s","End":true}}}`,
			input:      `{"s":"yesterday"}`,
			wantErr:    ErrRuntime,
		},
		{
			name:       "output is the input",
			definition: `{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":1,"OutputPath":"$.a","End":true}}}`,
			input:      `{"a":[1]}`,
			want:       `[1]`,
		},
	}, nil)
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
