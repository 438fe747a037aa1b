package local

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// failureCase is a handler that fails in one way, and what the API in
// front of it answers: the status and the error it names (a REST API's
// code, an HTTP API's message).
type failureCase[H any] struct {
	name    string
	handler H
	status  int
	want    string
}

// testFailures serves each case's handler behind serve (with a 50 ms
// integration timeout), sends method path body, and checks the status and
// the error read from the answer's body.
func testFailures[H any](t *testing.T, cases []failureCase[H], serve func(H, time.Duration) http.Handler, method, path, body string, read func([]byte) string) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(serve(c.handler, 50*time.Millisecond))
			defer srv.Close()
			resp, got := do(t, method, srv.URL+path, nil, body)
			if resp.StatusCode != c.status || read(got) != c.want {
				t.Errorf("= %d %s, want %d %s", resp.StatusCode, got, c.status, c.want)
			}
		})
	}
}
