package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestCertificateOnLetheLocal: a newcomer erases carol, gets her
// certificate, and verifies it offline against the region's keys, with and
// without the subject; a changed byte, another person and a text that is no
// certificate are told apart by exit status.
func TestCertificateOnLetheLocal(t *testing.T) {
	rt := localRuntime(t)
	eu, _ := rt.Region("eu")
	op := cliOperator()
	cfg := filepath.Join("..", "..", "cdk.json")
	out, errOut, code := cliRun(t.Context(), op, "carol\n", "erase", "--config", cfg, "--region", "eu", "--watch", "-")
	id := regexp.MustCompile(`er_eu_[0-9a-f-]{36}`).FindString(out)
	if code != 0 || id == "" {
		t.Fatalf("erase: exit %d\n%s%s", code, out, errOut)
	}
	dir := t.TempDir()
	var jws string
	for range 100 { // the certificate is signed just after the request closes
		out, errOut, code = cliRun(t.Context(), op, "", "certificate", "get", "--config", cfg, id)
		if code == 0 {
			jws = out
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if jws == "" || strings.Contains(jws, "carol") {
		t.Fatalf("certificate get: exit %d\n%s%s", code, out, errOut)
	}
	cert := filepath.Join(dir, "cert.jws")
	if err := os.WriteFile(cert, []byte(jws), 0o600); err != nil {
		t.Fatal(err)
	}
	verify := func(args ...string) (string, string, int) {
		return cliRun(t.Context(), op, "", append([]string{"certificate", "verify", "--config", cfg}, args...)...)
	}
	out, errOut, code = verify("--subject", "carol", cert)
	if code != 0 || !strings.Contains(out, "verified: certificate of erasure "+id) || !strings.Contains(out, "is about the subject given") {
		t.Fatalf("verify: exit %d\n%s%s", code, out, errOut)
	}
	if out, errOut, code = verify("--subject", "carol@example.com", cert); code != 1 || !strings.Contains(errOut, "NOT about") {
		t.Fatalf("verify for another subject: exit %d\n%s%s", code, out, errOut)
	}
	// Offline, with the keys saved from GET /keys, or read from a URL.
	if out, errOut, code = verify("--jwks", eu.URL+"/keys", cert); code != 0 {
		t.Fatalf("verify --jwks URL: exit %d\n%s%s", code, out, errOut)
	}
	keys := filepath.Join(dir, "keys.json")
	raw := fetchBody(t, eu.URL+"/keys")
	if err := os.WriteFile(keys, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code = verify("--jwks", keys, cert); code != 0 {
		t.Fatalf("verify --jwks FILE: exit %d\n%s%s", code, out, errOut)
	}
	parts := strings.Split(strings.TrimSpace(jws), ".")
	sig := []byte(parts[2])
	if sig[5] == 'A' {
		sig[5] = 'B'
	} else {
		sig[5] = 'A'
	}
	changed := filepath.Join(dir, "changed.jws")
	if err := os.WriteFile(changed, []byte(parts[0]+"."+parts[1]+"."+string(sig)), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code = verify("--jwks", keys, changed); code != 1 || !strings.Contains(errOut, "NOT VERIFIED") {
		t.Fatalf("verify a changed certificate: exit %d\n%s%s", code, out, errOut)
	}
	garbage := filepath.Join(dir, "garbage.jws")
	if err := os.WriteFile(garbage, []byte("this is not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code = verify("--jwks", keys, garbage); code != 2 || !strings.Contains(errOut, "not a certificate of erasure") {
		t.Fatalf("verify garbage: exit %d\n%s%s", code, out, errOut)
	}
	// A request that is not completed has no certificate: refused, exit 1.
	if out, errOut, code = cliRun(t.Context(), op, "", "certificate", "get", "--config", cfg, "er_eu_01928c6e-7b3a-7c00-8a00-00000000ffff"); code != 1 {
		t.Fatalf("certificate of an unknown request: exit %d\n%s%s", code, out, errOut)
	}
}

func fetchBody(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return b
}
