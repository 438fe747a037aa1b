package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lethe-erasure/lethe/internal/api"
	"github.com/lethe-erasure/lethe/internal/audit"
)

// TestSuppressionsCheckOnLetheLocal: bob's failed request is settled by an
// attestation, which forgets him; a restore's list of ids then finds bob
// (and only bob) erased, and his subject can no longer be read back.
func TestSuppressionsCheckOnLetheLocal(t *testing.T) {
	_, id, _ := failedOnLocal(t)
	op := cliOperator()
	flags := []string{"--config", filepath.Join("..", "..", "cdk.json"), "--operator", "dpo"}
	run := func(stdin string, args ...string) (string, string, int) {
		n := 1
		if args[0] == "suppressions" || len(args) > 1 && args[1] == "verify" {
			n = 2 // after the subcommand
		}
		return cliRun(t.Context(), op, stdin, append(append(append([]string(nil), args[:n]...), flags...), args[n:]...)...)
	}
	if out, errOut, code := run("", "attest", "--outcome", "deleted", "--note", "erased by hand", id, "orders"); code != 0 {
		t.Fatalf("attest: exit %d\n%s%s", code, out, errOut)
	}
	list := filepath.Join(t.TempDir(), "restored.txt")
	if err := os.WriteFile(list, []byte("bob\r\n\nnever-asked@example.com\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := run("", "suppressions", "check", "--region", "eu", list)
	if code != 0 || !strings.Contains(out, "bob\t"+id+"\tcompleted\tclosed ") || strings.Contains(out, "never-asked") ||
		!strings.Contains(out, "1 of 2 ids were erased in region eu") {
		t.Fatalf("suppressions check: exit %d\n%s%s", code, out, errOut)
	}
	if out, errOut, code := run("bob\n", "suppressions", "check", "--region", "eu", "-"); code != 0 || !strings.Contains(out, "1 of 1 ids") {
		t.Fatalf("suppressions check from stdin: exit %d\n%s%s", code, out, errOut)
	}
	if out, errOut, code := run("", "subject", id); code != 1 || !strings.Contains(out+errOut, "forgotten") {
		t.Fatalf("subject of a forgotten request: exit %d\n%s%s", code, out, errOut)
	}
	// The region's audit chain (attestation, certificate, checks) verifies.
	if out, errOut, code := run("", "audit", "verify", "--region", "eu"); code != 0 || !strings.Contains(out, "the audit chain of region eu verifies") {
		t.Fatalf("audit verify: exit %d\n%s%s", code, out, errOut)
	}
	// Usage errors exit 2 and say what is wrong.
	for _, args := range [][]string{
		{"suppressions", "check", list},
		{"suppressions", "check", "--region", "eu"},
		{"suppressions", "verify", "--region", "eu", list},
		{"suppressions", "check", "--region", "eu", "/nonexistent/ids.txt"},
	} {
		if out, errOut, code := run("", args...); code != 2 || errOut == "" {
			t.Errorf("%v: exit %d\n%s%s", args, code, out, errOut)
		}
	}
}

// TestAuditVerifyNamesTheBrokenEntry: a chain whose second entry was
// altered is reported broken at entry 2, exit 1.
func TestAuditVerifyNamesTheBrokenEntry(t *testing.T) {
	var recs []audit.Record
	for i := range 3 {
		r, _ := audit.New("", time.Date(2026, 1, 1, 0, i, 0, 0, time.UTC), "local:ops", audit.ActionSuppressionCheck, map[string]string{"checked": "1"})
		recs = append(recs, r)
	}
	recs, _ = audit.Chain(audit.Head{}, recs)
	recs[1].Detail = map[string]string{"checked": "1000"}
	var view api.AuditView
	for _, r := range recs {
		view.Records = append(view.Records, api.AuditRecordView{Seq: r.Seq, ID: r.ID, At: r.At.Format(time.RFC3339Nano), Actor: r.Actor,
			Action: r.Action, Detail: r.Detail, Prev: r.Prev, Hash: r.Hash})
	}
	body, _ := json.Marshal(view)
	srv, _ := cannedAPI(t, 200, string(body))
	out, errOut, code := cliRun(t.Context(), cliOperator(), "", "audit", "verify", "--url", srv.URL, "--region", "eu")
	if code != 1 || !strings.Contains(errOut, "BROKEN: audit entry 2: altered") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
}
