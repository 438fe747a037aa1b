package subsystem

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/erasure"
)

// TestSubjectNeverLeaks drives every handler through answers that echo the
// subject id back (in bodies, headers, redirects, details) and through
// transport failures whose Go errors carry the URL, and fails if any error
// message, output, recorded progress or log line holds the subject id in any spelling.
func TestSubjectNeverLeaks(t *testing.T) {
	echo := func(status int, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Subject", testSubject)
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
		}
	}
	scenarios := map[string]http.HandlerFunc{
		"200 echo":              echo(200, `{"subjectId":"`+testSubject+`"}`),
		"202 ticket echo":       echo(202, `{"ticket":"`+testSubject+`"}`),
		"200 detail echo":       echo(200, `{"status":"failed","detail":"`+testSubject+` is held"}`),
		"200 bad status echo":   echo(200, `{"status":"`+testSubject+`"}`),
		"400 echo":              echo(400, `no such subject `+testSubject),
		"404 echo":              echo(404, `{"error":"`+testSubject+` unknown"}`),
		"503 echo":              echo(503, testSubject),
		"redirect with subject": redirect,
		"timeout":               hang,
		"connection refused":    nil,
		"connection dropped": func(w http.ResponseWriter, r *http.Request) {
			// The client's error is a *url.Error whose text holds the URL.
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		},
	}
	for name, h := range scenarios {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			base := refusedURL(t)
			if h != nil {
				base = newServer(t, h).URL
			}
			e := newEnv()
			var texts []string
			record := func(out any, err error) {
				b, _ := json.Marshal(out)
				texts = append(texts, string(b))
				if err != nil {
					texts = append(texts, err.Error())
				}
			}
			record(e.c.SyncDelete(t.Context(), erasure.DeleteInput{RequestID: testRequestID, Subsystem: target(base, config.ModeSync), Now: checkNow}))
			record(e.c.Submit(t.Context(), erasure.DeleteInput{RequestID: testRequestID, Subsystem: target(base, config.ModeAsync)}))
			record(e.c.Check(t.Context(), erasure.CheckInput{RequestID: testRequestID, Subsystem: target(base, config.ModeAsync),
				Ticket: "t-1", Now: checkNow}))
			texts = append(texts, e.log.String())
			for _, step := range e.progress.steps {
				texts = append(texts, step.Detail, step.Error)
			}
			if e.log.Len() == 0 {
				t.Error("nothing logged: the test would prove nothing about logs")
			}
			assertNoSubject(t, name, texts...)
		})
	}
}
