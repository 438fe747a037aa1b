package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func lethe(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), code
}

func TestASLRun(t *testing.T) {
	dir := t.TempDir()
	ok := write(t, dir, "ok.asl.json", `{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":2,"Next":"P"},
		"P":{"Type":"Pass","Parameters":{"greeting.$":"States.Format('hello {}', $.name)"},"End":true}}}`)
	bad := write(t, dir, "bad.asl.json", `{"StartAt":"F","States":{"F":{"Type":"Fail","Error":"Boom","Cause":"it broke"}}}`)
	in := write(t, dir, "in.json", `{"name":"ada"}`)

	start := time.Now()
	out, errOut, code := lethe(t, "", "asl", "run", "--definition", ok, "--input", in, "--speed", "1000")
	if code != 0 || strings.TrimSpace(out) != `{"greeting":"hello ada"}` {
		t.Fatalf("run ok: code %d out %q err %q", code, out, errOut)
	}
	if time.Since(start) > time.Second {
		t.Fatalf("--speed 1000 did not accelerate a 2 s wait")
	}

	out, _, code = lethe(t, `{"name":"bo"}`, "asl", "run", "--definition", ok, "--input", "-", "--speed", "1000", "--history")
	if code != 0 || strings.TrimSpace(out) != `{"greeting":"hello bo"}` {
		t.Fatalf("run stdin: %d %q", code, out)
	}

	out, errOut, code = lethe(t, "", "asl", "run", "--definition", bad, "--history")
	if code != 1 || strings.TrimSpace(out) != `{"cause":"it broke","error":"Boom"}` {
		t.Fatalf("run failing: code %d out %q", code, out)
	}
	var hist struct {
		Events      []map[string]any `json:"events"`
		Transitions int              `json:"billedStateTransitions"`
	}
	if err := json.Unmarshal([]byte(errOut), &hist); err != nil || len(hist.Events) != 3 || hist.Transitions != 1 {
		t.Fatalf("history on stderr: %v %q", err, errOut)
	}
	if hist.Events[2]["type"] != "ExecutionFailed" {
		t.Fatalf("last event %v", hist.Events[2])
	}

	if _, _, code = lethe(t, "", "asl", "run"); code != 2 {
		t.Fatalf("missing --definition: code %d", code)
	}
	if _, _, code = lethe(t, "not json", "asl", "run", "--definition", ok, "--input", "-"); code != 2 {
		t.Fatalf("bad input: code %d", code)
	}
}

func TestASLValidate(t *testing.T) {
	dir := t.TempDir()
	ok := write(t, dir, "ok.asl.json", `{"StartAt":"A","States":{"A":{"Type":"Succeed"}}}`)
	bad := write(t, dir, "bad.asl.json", `{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"B"}}}`)
	out, _, code := lethe(t, "", "asl", "validate", ok)
	if code != 0 || !strings.Contains(out, "valid") {
		t.Fatalf("validate ok: %d %q", code, out)
	}
	_, errOut, code := lethe(t, "", "asl", "validate", ok, bad)
	if code != 1 || !strings.Contains(errOut, `state "A": transition to state "B", which does not exist`) {
		t.Fatalf("validate bad: %d %q", code, errOut)
	}
	// The repository's own state machines validate.
	files, _ := filepath.Glob("../../statemachines/*.asl.json")
	for _, f := range files {
		if _, errOut, code := lethe(t, "", "asl", "validate", f); code != 0 {
			t.Errorf("%s: %s", f, errOut)
		}
	}
}

func TestUnknownCommand(t *testing.T) {
	if _, errOut, code := lethe(t, "", "nope"); code != 2 || !strings.Contains(errOut, "asl") {
		t.Fatalf("%d %q", code, errOut)
	}
}
