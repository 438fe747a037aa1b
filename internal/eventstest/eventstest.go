// Package eventstest loads the sample events under events/<function>/ for
// the tests of the packages that build each function's handler. Every such
// test used to carry its own copy of the same file walking; this is the one
// copy, so that all of them agree on where the samples live, that a case
// without its <case>.want.json is a failure rather than a skipped file, and
// that an empty or misnamed folder cannot pass by running nothing. It also
// holds ErrorName, the meaning of a want file's "error", which the task
// packages' tests compare handler errors with.
package eventstest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// Logs is a log sink that handlers running concurrently in a test may
// share; the handler tests assert their log lines on its String.
type Logs struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends a log line.
func (l *Logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String is everything written so far.
func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Case is one sample event: events/<function>/<Name>.json, the payload as
// Lambda delivers it, and its sibling <Name>.want.json, what the test must
// see the handler do. The want file's shape belongs to each test.
type Case struct {
	Name    string
	Payload []byte
	Want    []byte
}

// DecodeWant decodes the case's want file into v and fails the test if it
// does not fit, unknown fields included: a misspelt expectation would
// otherwise be dropped silently and assert nothing.
func (c Case) DecodeWant(t testing.TB, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(c.Want))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s.want.json: %v", c.Name, err)
	}
}

// Root returns the module's root folder, the nearest folder at or above the
// working directory that holds go.mod, so that tests find events/ from any
// package without counting "../".
func Root(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod at or above the working directory")
		}
		dir = parent
	}
}

// Load returns the cases of events/<function>/ sorted by name, and fails
// the test if the folder holds none or a case lacks its .want.json.
func Load(t testing.TB, function string) []Case {
	t.Helper()
	cases, err := load(filepath.Join(Root(t), "events", function))
	if err != nil {
		t.Fatal(err)
	}
	return cases
}

// Run runs test as a subtest named after each case of events/<function>/,
// and fails t if the folder holds fewer than atLeast cases: each caller
// knows how many good and bad samples its function must keep.
func Run(t *testing.T, function string, atLeast int, test func(t *testing.T, c Case)) {
	t.Helper()
	cases := Load(t, function)
	if len(cases) < atLeast {
		t.Errorf("events/%s holds %d sample events, want at least %d", function, len(cases), atLeast)
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) { test(t, c) })
	}
}

// ErrorName is the name a want file's "error" means: the one Step Functions
// matches in ErrorEquals, which aws-lambda-go takes from the returned
// error's Go type, pointer or not. It is "" for no error.
func ErrorName(err error) string {
	if err == nil {
		return ""
	}
	t := reflect.TypeOf(err)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}

// load reads the cases of one folder; it is Load without the test, so that
// its failures can be tested.
func load(dir string) ([]Case, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	var cases []Case
	var errs []error
	for _, file := range files {
		if strings.HasSuffix(file, ".want.json") {
			if _, err := os.Stat(strings.TrimSuffix(file, ".want.json") + ".json"); err != nil {
				errs = append(errs, fmt.Errorf("%s has no sample event beside it", file))
			}
			continue
		}
		c := Case{Name: strings.TrimSuffix(filepath.Base(file), ".json")}
		if c.Payload, err = os.ReadFile(file); err != nil {
			errs = append(errs, err)
			continue
		}
		if c.Want, err = os.ReadFile(strings.TrimSuffix(file, ".json") + ".want.json"); err != nil {
			errs = append(errs, fmt.Errorf("every sample event needs a .want.json: %w", err))
			continue
		}
		cases = append(cases, c)
	}
	if len(cases) == 0 {
		errs = append(errs, fmt.Errorf("%s holds no sample events", dir))
	}
	return cases, errors.Join(errs...)
}
