package asl

import (
	"fmt"
	"testing"
)

// choiceDef wraps one rule in a machine that outputs "yes" or "no".
func choiceDef(rule string) string {
	return fmt.Sprintf(`{"StartAt":"C","States":{
		"C":{"Type":"Choice","Choices":[%s],"Default":"No"},
		"Yes":{"Type":"Pass","Result":"yes","End":true},
		"No":{"Type":"Pass","Result":"no","End":true}}}`, rule)
}

func TestChoiceComparators(t *testing.T) {
	in := `{"s":"abc","n":10,"f":1.5,"b":true,"t":"2026-01-01T00:00:00Z","nul":null,"other":{"s":"abc","n":10,"b":true,"t":"2026-01-01T00:00:00Z"},"star":"a*b","bs":"a\\b"}`
	rows := []struct {
		rule string
		want string
	}{
		{`{"Variable":"$.s","StringEquals":"abc","Next":"Yes"}`, "yes"},
		{`{"Variable":"$.s","StringEquals":"abd","Next":"Yes"}`, "no"},
		{`{"Variable":"$.s","StringLessThan":"abd","Next":"Yes"}`, "yes"},
		{`{"Variable":"$.s","StringGreaterThan":"abd","Next":"Yes"}`, "no"},
		{`{"Variable":"$.s","StringLessThanEquals":"abc","Next":"Yes"}`, "yes"},
		{`{"Variable":"$.s","StringGreaterThanEquals":"abc","Next":"Yes"}`, "yes"},
		{`{"Variable":"$.s","StringEqualsPath":"$.other.s","Next":"Yes"}`, "yes"},
		{`{"Variable":"$.n","StringEquals":"10","Next":"Yes"}`, "no"},
		{`{"Variable":"$.n","NumericEquals":10,"Next":"Yes"}`, "yes"},
		{`{"Variable":"$.n","NumericEquals":10.0,"Next":"Yes"}`, "yes"},
		{`{"Variable":"$.f","NumericLessThan":2,"Next":"Yes"}`, "yes"},
		{`{"Variable":"$.f","NumericGreaterThan":2,"Next":"Yes"}`, "no"},
		{`{"Variable":"$.n","NumericLessThanEquals":10,"Next":"Yes"}`, "yes"},
		{`{"Variable":"$.n","NumericGreaterThanEquals":11,"Next":"Yes"}`, "no"},
		{`{"Variable":"$.n","NumericEqualsPath":"$.other.n","Next":"Yes"}`, "yes"},
		{`{"Variable":"$.n","NumericLessThanPath":"$.other.n","Next":"Yes"}`, "no"},
		{`{"Variable":"$.s","NumericEquals":10,"Next":"Yes"}`, "no"},
		{`{"Variable":"$.b","BooleanEquals":true,"Next":"Yes"}`, "yes"},
		{`{"Variable":"$.b","BooleanEqualsPath":"$.other.b","Next":"Yes"}`, "yes"},
		{`{"Variable":"$.t","TimestampEquals":"2026-01-01T00:00:00Z","Next":"Yes"}`, "yes"},
		{`{"Variable":"$.t","TimestampEquals":"2026-01-01T01:00:00+01:00","Next":"Yes"}`, "yes"},
		{`{"Variable":"$.t","TimestampLessThan":"2026-01-02T00:00:00Z","Next":"Yes"}`, "yes"},
		{`{"Variable":"$.t","TimestampGreaterThan":"2026-01-02T00:00:00Z","Next":"Yes"}`, "no"},
		{`{"Variable":"$.t","TimestampLessThanEquals":"2026-01-01T00:00:00Z","Next":"Yes"}`, "yes"},
		{`{"Variable":"$.t","TimestampGreaterThanEquals":"2026-01-01T00:00:01Z","Next":"Yes"}`, "no"},
		{`{"Variable":"$.t","TimestampEqualsPath":"$.other.t","Next":"Yes"}`, "yes"},
		{`{"Variable":"$.s","TimestampEquals":"2026-01-01T00:00:00Z","Next":"Yes"}`, "no"},
		{`{"Variable":"$.nul","IsNull":true,"Next":"Yes"}`, "yes"},
		{`{"Variable":"$.s","IsNull":true,"Next":"Yes"}`, "no"},
		{`{"Variable":"$.s","IsPresent":true,"Next":"Yes"}`, "yes"},
		{`{"Variable":"$.missing","IsPresent":true,"Next":"Yes"}`, "no"},
		{`{"Variable":"$.missing","IsPresent":false,"Next":"Yes"}`, "yes"},
		{`{"Variable":"$.n","IsNumeric":true,"Next":"Yes"}`, "yes"},
		{`{"Variable":"$.s","IsNumeric":true,"Next":"Yes"}`, "no"},
		{`{"Variable":"$.s","IsString":true,"Next":"Yes"}`, "yes"},
		{`{"Variable":"$.b","IsBoolean":true,"Next":"Yes"}`, "yes"},
		{`{"Variable":"$.t","IsTimestamp":true,"Next":"Yes"}`, "yes"},
		{`{"Variable":"$.s","IsTimestamp":false,"Next":"Yes"}`, "yes"},
		{`{"Variable":"$.s","StringMatches":"a*","Next":"Yes"}`, "yes"},
		{`{"Variable":"$.s","StringMatches":"*c","Next":"Yes"}`, "yes"},
		{`{"Variable":"$.s","StringMatches":"a*d","Next":"Yes"}`, "no"},
		{`{"Variable":"$.star","StringMatches":"a\\*b","Next":"Yes"}`, "yes"},
		{`{"Variable":"$.s","StringMatches":"a\\*c","Next":"Yes"}`, "no"},
		{`{"Variable":"$.bs","StringMatches":"a\\\\b","Next":"Yes"}`, "yes"},
		{`{"And":[{"Variable":"$.n","NumericGreaterThan":1},{"Variable":"$.b","BooleanEquals":true}],"Next":"Yes"}`, "yes"},
		{`{"And":[{"Variable":"$.n","NumericGreaterThan":1},{"Variable":"$.b","BooleanEquals":false}],"Next":"Yes"}`, "no"},
		{`{"Or":[{"Variable":"$.n","NumericGreaterThan":100},{"Variable":"$.b","BooleanEquals":true}],"Next":"Yes"}`, "yes"},
		{`{"Not":{"Variable":"$.s","StringEquals":"abc"},"Next":"Yes"}`, "no"},
		{`{"Not":{"Variable":"$.s","StringEquals":"xyz"},"Next":"Yes"}`, "yes"},
		{`{"Variable":"$$.State.Name","StringEquals":"C","Next":"Yes"}`, "yes"},
	}
	var table []caseRow
	for _, r := range rows {
		table = append(table, caseRow{name: r.rule, definition: choiceDef(r.rule), input: in, want: `"` + r.want + `"`})
	}
	runTable(t, table, nil)
}

func TestChoice(t *testing.T) {
	runTable(t, []caseRow{
		{
			// Spec "Choice State" example.
			name: "spec example",
			definition: `{"StartAt":"ChoiceStateX","States":{
				"ChoiceStateX":{"Type":"Choice","Choices":[
					{"Not":{"Variable":"$.type","StringEquals":"Private"},"Next":"Public"},
					{"And":[{"Variable":"$.value","NumericGreaterThanEquals":20},{"Variable":"$.value","NumericLessThan":30}],"Next":"ValueInTwenties"}],
					"Default":"DefaultState"},
				"Public":{"Type":"Pass","Result":"public","End":true},
				"ValueInTwenties":{"Type":"Pass","Result":"twenties","End":true},
				"DefaultState":{"Type":"Fail","Error":"DefaultStateError","Cause":"No Matches!"}}}`,
			input: `{"type":"Private","value":22}`,
			want:  `"twenties"`,
		},
		{
			name: "spec example default is a Fail",
			definition: `{"StartAt":"ChoiceStateX","States":{
				"ChoiceStateX":{"Type":"Choice","Choices":[
					{"Not":{"Variable":"$.type","StringEquals":"Private"},"Next":"Public"}],"Default":"DefaultState"},
				"Public":{"Type":"Pass","End":true},
				"DefaultState":{"Type":"Fail","Error":"DefaultStateError","Cause":"No Matches!"}}}`,
			input:   `{"type":"Private","value":50}`,
			wantErr: "DefaultStateError",
		},
		{
			name: "no match without Default is States.NoChoiceMatched",
			definition: `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$.a","NumericEquals":1,"Next":"E"}]},
				"E":{"Type":"Succeed"}}}`,
			input:   `{"a":2}`,
			wantErr: ErrNoChoiceMatched,
		},
		{
			name:       "missing Variable is States.Runtime",
			definition: choiceDef(`{"Variable":"$.missing","StringEquals":"x","Next":"Yes"}`),
			input:      `{}`,
			wantErr:    ErrRuntime,
		},
		{
			name: "InputPath and OutputPath apply to the choice's input",
			definition: `{"StartAt":"C","States":{"C":{"Type":"Choice","InputPath":"$.x","OutputPath":"$.y",
				"Choices":[{"Variable":"$.k","IsPresent":true,"Next":"E"}]},"E":{"Type":"Succeed"}}}`,
			input: `{"x":{"k":1,"y":{"z":true}}}`,
			want:  `{"z":true}`,
		},
	}, nil)
}

func TestStringMatches(t *testing.T) {
	for _, tc := range []struct {
		s, p string
		want bool
	}{
		{"log-2026.txt", "log-*.txt", true},
		{"log-2026.txt", "*.txt", true},
		{"log-2026.csv", "*.txt", false},
		{"", "*", true},
		{"abc", "abc", true},
		{"a*c", `a\*c`, true},
		{"abc", `a\*c`, false},
		{`a\c`, `a\\c`, true},
		{"aXbXc", "a*b*c", true},
		{"ab", "a*b*c", false},
	} {
		if got := stringMatches(tc.s, tc.p); got != tc.want {
			t.Errorf("stringMatches(%q, %q) = %v, want %v", tc.s, tc.p, got, tc.want)
		}
	}
}
