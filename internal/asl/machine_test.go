package asl

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInvalidDefinitions parses every testdata/invalid/*.asl.json and
// expects each line of the matching .want file in the error message.
func TestInvalidDefinitions(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.asl.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no invalid definitions: %v", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".asl.json")
		t.Run(name, func(t *testing.T) {
			def, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(strings.TrimSuffix(f, ".asl.json") + ".want")
			if err != nil {
				t.Fatal(err)
			}
			_, perr := Parse(def)
			if perr == nil {
				t.Fatalf("Parse accepted an invalid definition")
			}
			for _, line := range strings.Split(strings.TrimSpace(string(want)), "\n") {
				if !strings.Contains(perr.Error(), line) {
					t.Errorf("error does not mention %q:\n%v", line, perr)
				}
			}
		})
	}
}

func TestValidDefinitionsParse(t *testing.T) {
	for _, def := range []string{
		`{"Comment":"c","Version":"1.0","TimeoutSeconds":60,"QueryLanguage":"JSONPath","StartAt":"A","States":{"A":{"Type":"Succeed","Comment":"x"}}}`,
		`{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"${DeleteUserDataFunctionArn}","Credentials":{"RoleArn":"r"},"TimeoutSecondsPath":"$.t","HeartbeatSecondsPath":"$.h","End":true}}}`,
		`{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Comment":"c","Variable":"$$.Execution.Input.a","IsPresent":true,"Next":"E"}]},"E":{"Type":"Succeed"}}}`,
	} {
		if _, err := Parse([]byte(def)); err != nil {
			t.Errorf("Parse(%s): %v", def, err)
		}
	}
}

func TestValidationReportsEveryProblem(t *testing.T) {
	_, err := Parse([]byte(`{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"X","Foo":1},"B":{"Type":"Wait","End":true}}}`))
	ve, ok := err.(*ValidationError)
	if !ok || len(ve.Problems) < 4 {
		t.Fatalf("want every problem listed, got %v", err)
	}
}

// FuzzParse: no definition makes the parser panic.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/invalid/*.asl.json")
	for _, p := range files {
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	f.Add([]byte(durableDef))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err == nil && m == nil {
			t.Fatal("nil machine without error")
		}
	})
}
