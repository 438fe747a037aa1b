package main

import (
	"context"
	"log/slog"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lethe-erasure/lethe/internal/asl"
	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/demo"
	"github.com/lethe-erasure/lethe/internal/local"
)

// localRuntime runs lethe local's runtime in-process with the faults, on
// free ports and a fake clock; the CLI finds it by the urls.json in
// $LETHE_DATA_DIR, which points at its data directory.
func localRuntime(t *testing.T, faults ...string) *local.Runtime {
	t.Helper()
	cfg, err := config.Load(filepath.Join("..", "..", "cdk.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := demo.ApplyFaults(cfg, faults); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	t.Setenv(local.EnvDataDir, dir)
	rt, err := local.Start(context.Background(), local.Options{Config: cfg, DataDir: dir, Demo: true,
		Clock: asl.NewFakeClock(time.Now()), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	return rt
}

// failedOnLocal runs lethe local's runtime with eu/orders refusing every
// call, files an erasure for bob with `lethe erase --watch` (which finds
// the runtime by its urls.json) and waits until it failed. It returns the
// eu API's URL and the request id.
func failedOnLocal(t *testing.T) (string, string, *local.Runtime) {
	t.Helper()
	rt := localRuntime(t, "eu/orders=reject")
	eu, _ := rt.Region("eu")
	out, errOut, code := cliRun(t.Context(), cliOperator(), "bob\n", "erase", "--config", filepath.Join("..", "..", "cdk.json"), "--region", "eu", "--watch", "-")
	id := regexp.MustCompile(`er_eu_[0-9a-f-]{36}`).FindString(out)
	if code == 0 || id == "" {
		t.Fatalf("lethe erase --wait of a refused erasure exited %d:\n%s%s", code, out, errOut)
	}
	return eu.URL, id, rt
}

// TestOperatorCommandsOnLetheLocal settles a failed request the way its
// failure mail says: read the subject, attest the subsystem, read the
// audit; the CLI run without flags beyond those the mail names.
func TestOperatorCommandsOnLetheLocal(t *testing.T) {
	_, id, _ := failedOnLocal(t)
	op := cliOperator()
	flags := []string{"--config", filepath.Join("..", "..", "cdk.json"), "--operator", "dpo"}
	run := func(args ...string) (string, string, int) {
		return cliRun(t.Context(), op, "", append(append([]string{args[0]}, flags...), args[1:]...)...)
	}

	out, errOut, code := run("subject", id)
	if code != 0 || strings.TrimSpace(out) != "bob" {
		t.Fatalf("subject: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = run("attest", "--outcome", "deleted", "--note", "erased by hand, ticket OPS-1234", id, "orders")
	if code != 0 || !strings.Contains(out, "orders of "+id+" attested deleted") || !strings.Contains(out, "completed") {
		t.Fatalf("attest: exit %d\n%s%s", code, out, errOut)
	}
	if strings.Contains(out, "bob") {
		t.Errorf("attest prints the subject:\n%s", out)
	}
	out, errOut, code = run("audit", id)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	// The attestation completed the request: its certificate is issued in
	// the background, and its record may already be there.
	if len(lines) == 3 && strings.Contains(lines[2], "certificate_issued") {
		lines = lines[:2]
	}
	if code != 0 || len(lines) != 2 || !strings.Contains(lines[0], "subject_read") || !strings.Contains(lines[1], "attestation") ||
		!strings.Contains(out, "local:dpo") || !strings.Contains(lines[1], "note=erased by hand, ticket OPS-1234") {
		t.Errorf("audit: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = run("extend", "--months", "1", "--reason", "late", id)
	if code != 1 || !strings.Contains(errOut, "completed") {
		t.Errorf("extend of a completed request: exit %d\n%s%s", code, out, errOut)
	}
}

// TestOperatorUsageErrors: a command given wrong arguments exits 2 with
// its usage and sends nothing.
func TestOperatorUsageErrors(t *testing.T) {
	srv, calls := cannedAPI(t, 500, `{}`)
	id := "er_eu_0195e9b2-3c4d-7a10-8b2c-1f2e3d4c5b01"
	for _, args := range [][]string{
		{"retry"},
		{"retry", "alice@example.com"},
		{"attest", id, "orders"},
		{"attest", "--outcome", "gone", "--note", "x", id, "orders"},
		{"attest", "--outcome", "deleted", id, "orders"},
		{"attest", "--outcome", "deleted", "--note", "x", id},
		{"extend", "--months", "3", "--reason", "x", id},
		{"extend", "--months", "1", id},
		{"subject"},
		{"audit"},
		{"audit", "--limit", "0", id},
	} {
		all := append([]string{args[0], "--url", srv.URL, "--config", cliConfig(t, "", "")}, args[1:]...)
		out, errOut, code := cliRun(t.Context(), cliOperator(), "", all...)
		if code != 2 || !strings.Contains(errOut, "usage:") {
			t.Errorf("lethe %s: exit %d, want 2 with the usage\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
		if strings.Contains(out+errOut, "alice@example.com") {
			t.Errorf("lethe %s quotes a subject id back", strings.Join(args, " "))
		}
	}
	if *calls != 0 {
		t.Errorf("%d calls made by commands with bad arguments", *calls)
	}
}
