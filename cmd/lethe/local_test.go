package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer the command writes to while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var regionLine = regexp.MustCompile(`region (\w+)\s+(http://127\.0\.0\.1:\d+)`)

// TestLocalRunsAndStopsCleanly runs `lethe local` in-process on free
// ports, files an erasure with the curl it prints, watches it complete,
// then stops it as SIGINT would.
func TestLocalRunsAndStopsCleanly(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"local", "--config", filepath.Join("..", "..", "cdk.json"), "--data-dir", dir,
			"--port", "0", "--region-port", "0", "--speed", "3000", "--fault", "us/orders=latency:1ms"}, nil, &stdout, &stderr)
	}()
	urls := map[string]string{}
	deadline := time.Now().Add(20 * time.Second)
	for len(urls) < 2 {
		for _, m := range regionLine.FindAllStringSubmatch(stdout.String(), -1) {
			urls[m[1]] = m[2]
		}
		select {
		case c := <-code:
			t.Fatalf("lethe local exited %d: %s %s", c, stdout.String(), stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no region URLs printed: %s", stdout.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	out := stdout.String()
	for _, want := range []string{"console      http://127.0.0.1:", "demo subjects: alice, bob, carol", "try: curl -X DELETE " + urls["eu"] + "/api/user/alice"} {
		if !strings.Contains(out, want) {
			t.Errorf("the banner lacks %q:\n%s", want, out)
		}
	}

	req, _ := http.NewRequest(http.MethodDelete, urls["eu"]+"/api/user/alice", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var filed struct{ RequestID string }
	json.NewDecoder(resp.Body).Decode(&filed)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("DELETE = %d", resp.StatusCode)
	}
	for {
		resp, err := http.Get(urls["eu"] + "/erasures/" + filed.RequestID)
		if err != nil {
			t.Fatal(err)
		}
		var st struct{ Status string }
		json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if st.Status == "completed" {
			break
		}
		if st.Status == "failed" || time.Now().After(deadline) {
			t.Fatalf("request %s: %s", filed.RequestID, st.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if strings.Contains(stderr.String(), "alice") {
		t.Errorf("the log names the subject:\n%s", stderr.String())
	}

	cancel()
	select {
	case c := <-code:
		if c != 0 {
			t.Errorf("exit %d after SIGINT: %s", c, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("lethe local did not stop within 20 s")
	}
	for _, f := range []string{"lethe.db", "subsystems.db", "clock.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("data directory: %v", err)
		}
	}
}

func TestLocalRefusesBadFlags(t *testing.T) {
	cfg := filepath.Join("..", "..", "cdk.json")
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"help", []string{"-h"}, 0, "usage:"},
		{"argument", []string{"--config", cfg, "extra"}, 2, "unexpected argument"},
		{"bad speed", []string{"--config", cfg, "--speed", "0"}, 2, "--speed"},
		{"bad port", []string{"--config", cfg, "--port", "70000"}, 2, "ports"},
		{"port among the regions'", []string{"--config", cfg, "--port", "9001", "--region-port", "9000"}, 2, "regions' ports"},
		{"fault without demo", []string{"--config", cfg, "--demo=false", "--fault", "eu/orders=outage"}, 2, "needs --demo"},
		{"fault of an unknown subsystem", []string{"--config", cfg, "--fault", "eu/billing=outage"}, 2, "billing"},
		{"malformed fault", []string{"--config", cfg, "--fault", "outage"}, 2, "--fault"},
		{"missing config", []string{"--config", filepath.Join(t.TempDir(), "none.json")}, 1, "none.json"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			got := run(context.Background(), append([]string{"local"}, c.args...), nil, &stdout, &stderr)
			if got != c.code || !strings.Contains(stdout.String()+stderr.String(), c.want) {
				t.Errorf("exit %d, want %d; output %s%s", got, c.code, stdout.String(), stderr.String())
			}
		})
	}
}

var (
	edgeLine = regexp.MustCompile(`(?m)^  edge\s+(http://127\.0\.0\.1:\d+)\s`)
	curlLine = regexp.MustCompile(`(?s)curl -i -X POST (\S+)((?: \\\n    -H '[^']*')+) \\\n    --data-binary '([^']*)'`)
	header   = regexp.MustCompile(`-H '([^:]+): ([^']*)'`)
)

// TestLocalBannerPrintsTheEdge runs `lethe local` in-process and reads its
// banner: the edge URL, the demo tenants, the webhook secrets (a
// development default printed as such, one from the environment not at
// all) and a curl of a signed Shopify customers/redact, which the test
// then sends as printed: the edge forwards it to eu.
func TestLocalBannerPrintsTheEdge(t *testing.T) {
	t.Setenv("LETHE_LOCAL_SHOPIFY_SECRET", "shpss_from_the_environment")
	t.Setenv("LETHE_LOCAL_ZENDESK_SECRET", "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"local", "--config", filepath.Join("..", "..", "cdk.json"), "--data-dir", t.TempDir(),
			"--port", "0", "--region-port", "0"}, nil, &stdout, &stderr)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(stdout.String(), "then: curl") {
		select {
		case c := <-code:
			t.Fatalf("lethe local exited %d: %s %s", c, stdout.String(), stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no edge example printed: %s", stdout.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	out := stdout.String()
	m := edgeLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("the banner names no edge URL:\n%s", out)
	}
	edgeURL := m[1]
	for _, want := range []string{
		"demo tenants: shopify eu-shop.myshopify.com (eu), shopify us-shop.myshopify.com (us), zendesk eu-help (eu), zendesk us-help (us)",
		"shopify  from LETHE_LOCAL_SHOPIFY_SECRET",
		`zendesk  "lethe-local-dev-zendesk-secret"  DEVELOPMENT DEFAULT, for development only; set LETHE_LOCAL_ZENDESK_SECRET`,
		"curl -i -X POST " + edgeURL + "/webhooks/shopify",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the banner lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "shpss_from_the_environment") {
		t.Error("the banner prints a secret from the environment")
	}

	c := curlLine.FindStringSubmatch(out)
	if c == nil {
		t.Fatalf("no curl command in the banner:\n%s", out)
	}
	req, _ := http.NewRequest(http.MethodPost, c[1], strings.NewReader(c[3]))
	for _, h := range header.FindAllStringSubmatch(c[2], -1) {
		req.Header.Set(h[1], h[2])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var answer struct{ Status string }
	json.NewDecoder(resp.Body).Decode(&answer)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || answer.Status != "forwarded" {
		t.Errorf("the printed curl = %d %q, want 200 forwarded", resp.StatusCode, answer.Status)
	}

	cancel()
	select {
	case c := <-code:
		if c != 0 {
			t.Errorf("exit %d: %s", c, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("lethe local did not stop within 20 s")
	}
}
