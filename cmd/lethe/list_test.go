package main

import (
	"encoding/csv"
	"path/filepath"
	"strings"
	"testing"
)

// TestListOnLetheLocal: the officer lists a region's requests, follows
// every page, filters, and exports CSV a CSV reader parses.
func TestListOnLetheLocal(t *testing.T) {
	localRuntime(t)
	op := cliOperator()
	cfg := filepath.Join("..", "..", "cdk.json")
	for _, subject := range []string{"alice", "bob", "carol"} {
		if out, errOut, code := cliRun(t.Context(), op, subject+"\n", "erase", "--config", cfg, "--region", "eu", "--watch", "-"); code != 0 {
			t.Fatalf("erase: exit %d\n%s%s", code, out, errOut)
		}
	}
	list := func(args ...string) (string, string, int) {
		return cliRun(t.Context(), op, "", append([]string{"list", "--config", cfg, "--region", "eu"}, args...)...)
	}
	out, errOut, code := list("--limit", "2")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3 || !strings.HasPrefix(lines[2], "more: ") {
		t.Fatalf("list --limit 2: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = list("--limit", "1", "--all", "--status", "completed")
	lines = strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3 || strings.Contains(out, "alice") {
		t.Fatalf("list --all --status completed: exit %d\n%s%s", code, out, errOut)
	}
	for _, l := range lines {
		if !strings.Contains(l, " completed ") || !strings.Contains(l, "projects=") {
			t.Errorf("line %q", l)
		}
	}
	out, errOut, code = list("--all", "--csv", "--limit", "2")
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if code != 0 || err != nil || len(rows) != 4 || rows[0][0] != "requestId" || len(rows[0]) != len(rows[1]) {
		t.Fatalf("list --csv: exit %d %v\n%s%s", code, err, out, errOut)
	}
	if out, errOut, code = list("--status", "done"); code != 1 || !strings.Contains(errOut, "status") {
		t.Fatalf("list --status done: exit %d\n%s%s", code, out, errOut)
	}
	if out, errOut, code = list("--limit", "500"); code != 2 {
		t.Fatalf("list --limit 500: exit %d\n%s%s", code, out, errOut)
	}
}
