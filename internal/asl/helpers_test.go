package asl

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// newTestEngine is an engine on a fake clock with deterministic jitter.
func newTestEngine(t testing.TB, opts ...func(*Options)) (*Engine, *FakeClock) {
	t.Helper()
	clock := NewFakeClock(epoch)
	o := Options{Clock: clock, Random: func() float64 { return 0.5 }}
	for _, f := range opts {
		f(&o)
	}
	return NewEngine(o), clock
}

func mustParse(t testing.TB, def string) *Machine {
	t.Helper()
	m, err := Parse([]byte(def))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return m
}

func mustJSON(t testing.TB, s string) any {
	t.Helper()
	if s == "" {
		return map[string]any{}
	}
	v, err := decodeValue([]byte(s))
	if err != nil {
		t.Fatalf("bad JSON %q: %v", s, err)
	}
	return v
}

// runDef runs a definition to its end on a test engine.
func runDef(t testing.TB, e *Engine, def, input string) *Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := e.Run(ctx, mustParse(t, def), mustJSON(t, input))
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return res
}

// caseRow is the shape of the table tests: a definition, an input, and
// either the output or the error name.
type caseRow struct {
	name       string
	definition string
	input      string
	want       string // output JSON
	wantErr    string // error name
	wantCause  string // optional: the cause must contain this
}

func runTable(t *testing.T, rows []caseRow, setup func(*Engine)) {
	t.Helper()
	for _, tc := range rows {
		t.Run(tc.name, func(t *testing.T) {
			e, _ := newTestEngine(t)
			if setup != nil {
				setup(e)
			}
			res := runDef(t, e, tc.definition, tc.input)
			checkResult(t, res, tc)
		})
	}
}

func checkResult(t *testing.T, res *Result, tc caseRow) {
	t.Helper()
	if tc.wantErr != "" {
		if res.Status == StatusSucceeded {
			t.Fatalf("succeeded with %s, want error %s", jsonString(res.Output), tc.wantErr)
		}
		if res.Error != tc.wantErr {
			t.Fatalf("error = %s (%s), want %s", res.Error, res.Cause, tc.wantErr)
		}
		if tc.wantCause != "" && !contains(res.Cause, tc.wantCause) {
			t.Fatalf("cause = %q, want it to contain %q", res.Cause, tc.wantCause)
		}
		return
	}
	if res.Status != StatusSucceeded {
		t.Fatalf("status %s: %s: %s", res.Status, res.Error, res.Cause)
	}
	if diff := cmp.Diff(mustJSON(t, tc.want), res.Output); diff != "" {
		t.Fatalf("output mismatch (-want +got):\n%s\ngot %s", diff, jsonString(res.Output))
	}
}

func contains(s, sub string) bool {
	return len(sub) == 0 || (len(s) >= len(sub) && indexOf(s, sub) >= 0)
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

// eventTypes lists the history's event types.
func eventTypes(h []Event) []string {
	out := make([]string, len(h))
	for i, e := range h {
		out[i] = e.Type
	}
	return out
}

func rawJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}
