package erasure

import (
	"strings"
	"testing"
)

func TestNewIDCarriesRegionAndSorts(t *testing.T) {
	prev := ""
	for i := 0; i < 200; i++ {
		id, err := NewID("eu")
		if err != nil {
			t.Fatal(err)
		}
		region, err := ParseID(id)
		if err != nil || region != "eu" {
			t.Fatalf("ParseID(%q) = %q, %v", id, region, err)
		}
		if id <= prev {
			t.Fatalf("ids do not sort by creation: %q after %q", id, prev)
		}
		prev = id
	}
}

func TestParseIDRejects(t *testing.T) {
	for _, id := range []string{
		"", "er_eu_", "er_EU_0190b6c4-8f00-7000-8000-000000000000",
		"er_eu_0190b6c4-8f00-4000-8000-000000000000", // v4, not v7
		"xx_eu_0190b6c4-8f00-7000-8000-000000000000",
		"er_eu_0190b6c4-8f00-7000-8000-000000000000/../x",
		"er_eu_0190B6C4-8F00-7000-8000-000000000000",
	} {
		if _, err := ParseID(id); err == nil {
			t.Errorf("ParseID(%q) succeeded", id)
		}
	}
}

func TestValidateSubjectID(t *testing.T) {
	tests := []struct {
		in   string
		want string // substring of the error; "" means valid
	}{
		{"alice", ""},
		{"alice@example.com", ""},
		{"Zoë Ünïcode", ""},
		{strings.Repeat("a", MaxSubjectIDBytes), ""},
		{"", "empty"},
		{strings.Repeat("a", MaxSubjectIDBytes+1), "256 bytes"},
		{"al\x00ice", "control"},
		{"al\nice", "control"},
		{"al\u0085ice", "control"},
		{" alice", "white space"},
		{"\xff\xfe", "UTF-8"},
	}
	for _, tt := range tests {
		err := ValidateSubjectID(tt.in)
		if tt.want == "" && err != nil {
			t.Errorf("ValidateSubjectID(%q) = %v, want valid", tt.in, err)
		}
		if tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("ValidateSubjectID(%q) = %v, want error with %q", tt.in, err, tt.want)
		}
	}
}

func TestOutcome(t *testing.T) {
	r := func(s ...SubsystemStatus) []SubsystemResult {
		var out []SubsystemResult
		for _, x := range s {
			out = append(out, SubsystemResult{Status: x})
		}
		return out
	}
	if got := Outcome(r(SubsystemDeleted, SubsystemNotFound)); got != StatusCompleted {
		t.Errorf("deleted+not_found = %s", got)
	}
	if got := Outcome(r(SubsystemDeleted, SubsystemFailed)); got != StatusFailed {
		t.Errorf("deleted+failed = %s", got)
	}
	if got := Outcome(r(SubsystemDeleted, SubsystemPending)); got != StatusFailed {
		t.Errorf("a subsystem still pending at the end = %s, want failed", got)
	}
	if !StatusPending.Open() || !StatusRunning.Open() || StatusCompleted.Open() || StatusFailed.Open() {
		t.Error("Open() is wrong")
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ text, subject, want string }{
		{"delete alice@example.com failed", "alice@example.com", "delete [subject] failed"},
		{"ALICE@Example.com not found", "alice@example.com", "[subject] not found"},
		{"GET /subjects/J%C3%BCrgen%20M: 500", "Jürgen M", "GET /subjects/[subject]: 500"},
		{`{"id":"a\"b"}`, `a"b`, `{"id":"[subject]"}`},
		{`put "a b/ü" (a%20b%2F%C3%BC) a b/ü`, "a b/ü", `put "[subject]" ([subject]) [subject]`},
		{"nothing to hide", "bob", "nothing to hide"},
		{"any text", "", "any text"},
		{"a.b matches literally, not axb", "a.b", "[subject] matches literally, not axb"},
	}
	for _, tt := range tests {
		if got := Redact(tt.text, tt.subject); got != tt.want {
			t.Errorf("Redact(%q, %q) = %q, want %q", tt.text, tt.subject, got, tt.want)
		}
	}
}
