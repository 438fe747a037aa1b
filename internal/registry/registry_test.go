package registry

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestFind(t *testing.T) {
	got := Find(`{"A": "${B}", "C": "${A_1}${B}", "D": "$B", "E": "${}"}`)
	if want := []string{"A_1", "B"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Find = %v, want %v", got, want)
	}
}

func TestSubstitute(t *testing.T) {
	out, err := Substitute(`{"F": "${X}", "G": "${X}-${Y}"}`, map[string]string{"X": "arn:1", "Y": "arn:2"})
	if err != nil || out != `{"F": "arn:1", "G": "arn:1-arn:2"}` {
		t.Errorf("Substitute = %q, %v", out, err)
	}
	if _, err := Substitute(`"${X}" "${Z}"`, map[string]string{"X": "1"}); err == nil || !strings.Contains(err.Error(), "Z") {
		t.Errorf("missing value: err = %v, want one naming Z", err)
	}
}

// TestEntriesPointAtSomething checks every placeholder's target exists: a
// function folder, a machine, or the ops topic.
func TestEntriesPointAtSomething(t *testing.T) {
	machines := map[string]bool{}
	for _, m := range Machines {
		machines[m.Name] = true
	}
	seen := map[string]bool{}
	for _, p := range Placeholders {
		if seen[p.Name] {
			t.Errorf("placeholder %s listed twice", p.Name)
		}
		seen[p.Name] = true
		if _, ok := Lookup(p.Name); !ok {
			t.Errorf("Lookup(%s) failed", p.Name)
		}
		switch p.Kind {
		case Function:
			if _, err := os.Stat(filepath.Join("..", "..", "functions", p.Target, "main.go")); err != nil {
				t.Errorf("%s: no function folder: %v", p.Name, err)
			}
		case StateMachine:
			if !machines[p.Target] {
				t.Errorf("%s: no machine %s", p.Name, p.Target)
			}
		case Topic:
			if p.Target != TopicOps {
				t.Errorf("%s: unknown topic %s", p.Name, p.Target)
			}
		default:
			t.Errorf("%s: unknown kind %q", p.Name, p.Kind)
		}
	}
	for _, fn := range Functions {
		if _, err := os.Stat(filepath.Join("..", "..", "functions", fn, "main.go")); err != nil {
			t.Errorf("function %s has no folder: %v", fn, err)
		}
	}
	if _, ok := Lookup("Nope"); ok {
		t.Error("Lookup(Nope) succeeded")
	}
}
