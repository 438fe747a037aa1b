package eventstest

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lethe-erasure/lethe/internal/registry"
)

// TestEveryFunctionHasSamples ties events/ to registry.Functions and
// registry.EdgeFunctions: every
// function folder has sample events whose cases all load, and every folder
// under events/ is a function (a renamed function cannot leave its samples
// behind untested).
func TestEveryFunctionHasSamples(t *testing.T) {
	entries, err := os.ReadDir(filepath.Join(Root(t), "events"))
	if err != nil {
		t.Fatal(err)
	}
	var folders []string
	for _, e := range entries {
		if e.IsDir() {
			folders = append(folders, e.Name())
		}
	}
	all := slices.Concat(registry.Functions, registry.EdgeFunctions)
	functions := slices.Sorted(slices.Values(all))
	if !slices.Equal(folders, functions) {
		t.Errorf("events/ folders %v, registry functions %v", folders, functions)
	}
	for _, fn := range all {
		t.Run(fn, func(t *testing.T) {
			for _, c := range Load(t, fn) {
				if len(c.Payload) == 0 || len(c.Want) == 0 {
					t.Errorf("%s: empty payload or want file", c.Name)
				}
			}
		})
	}
}

func TestLoad(t *testing.T) {
	write := func(t *testing.T, files ...string) string {
		t.Helper()
		dir := t.TempDir()
		for _, f := range files {
			if err := os.WriteFile(filepath.Join(dir, f), []byte(`{"f":"`+f+`"}`), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	for _, tc := range []struct {
		name    string
		files   []string
		want    []string // case names, in order
		wantErr string
	}{
		{"cases with their wants", []string{"b.json", "b.want.json", "a.json", "a.want.json", "notes.txt"}, []string{"a", "b"}, ""},
		{"empty folder", nil, nil, "holds no sample events"},
		{"only other files", []string{"README.md"}, nil, "holds no sample events"},
		{"case without want", []string{"a.json", "a.want.json", "b.json"}, []string{"a"}, "needs a .want.json"},
		{"want without case", []string{"a.json", "a.want.json", "b.want.json"}, []string{"a"}, "has no sample event beside it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cases, err := load(write(t, tc.files...))
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("error = %v, want %q", err, tc.wantErr)
			}
			var names []string
			for _, c := range cases {
				names = append(names, c.Name)
				if string(c.Payload) != `{"f":"`+c.Name+`.json"}` || string(c.Want) != `{"f":"`+c.Name+`.want.json"}` {
					t.Errorf("%s: payload %s, want %s", c.Name, c.Payload, c.Want)
				}
			}
			if !slices.Equal(names, tc.want) {
				t.Errorf("cases %v, want %v", names, tc.want)
			}
		})
	}
	if _, err := load(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("a missing folder loaded")
	}
}

func TestRootHoldsGoMod(t *testing.T) {
	if _, err := os.Stat(filepath.Join(Root(t), "go.mod")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(Root(t), "events")); err != nil {
		t.Fatal(err)
	}
}

type valueError struct{}

func (valueError) Error() string { return "value" }

type pointerError struct{}

func (*pointerError) Error() string { return "pointer" }

func TestErrorName(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{valueError{}, "valueError"},
		{&pointerError{}, "pointerError"},
		{errors.New("plain"), "errorString"},
	} {
		if got := ErrorName(tc.err); got != tc.want {
			t.Errorf("ErrorName(%T) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
