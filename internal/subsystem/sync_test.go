package subsystem

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/eventstest"
	"github.com/lethe-erasure/lethe/internal/progress"
)

// TestSyncDeleteStatusClasses: a deletion or a 404 is done, a permanent
// answer is an error the file catches, and an unavailable subsystem is no
// error: it is answered as status unavailable with the back-off the
// progress tracker decided, and recorded as a step.
func TestSyncDeleteStatusClasses(t *testing.T) {
	big := `{"pad":"` + strings.Repeat("x", 2*MaxBodyBytes) + `"}`
	tests := []struct {
		name       string
		handler    http.HandlerFunc
		refused    bool
		wantStatus erasure.SubsystemStatus
		wantDetail string
		wantAnswer progress.Answer
		wantErr    string // type name
		wantMsg    string // part of the error message
	}{
		{name: "200 deleted", handler: answerWith(200, `{"ok":true}`), wantStatus: erasure.SubsystemDeleted, wantDetail: "deleted (200)", wantAnswer: progress.Done},
		{name: "204 deleted", handler: answerWith(204, ""), wantStatus: erasure.SubsystemDeleted, wantDetail: "deleted (204)", wantAnswer: progress.Done},
		{name: "404 nothing held", handler: answerWith(404, `{"error":"no such user"}`), wantStatus: erasure.SubsystemNotFound, wantDetail: "nothing held (404)", wantAnswer: progress.Done},
		{name: "200 oversized body is still deleted", handler: answerWith(200, big), wantStatus: erasure.SubsystemDeleted, wantDetail: "deleted (200)", wantAnswer: progress.Done},
		{name: "400", handler: answerWith(400, `{"error":"bad"}`), wantErr: "SubsystemRejected", wantMsg: "test answered 400 (delete)", wantAnswer: progress.Refused},
		{name: "401", handler: answerWith(401, ""), wantErr: "SubsystemRejected", wantMsg: "test answered 401", wantAnswer: progress.Refused},
		{name: "403", handler: answerWith(403, ""), wantErr: "SubsystemRejected", wantMsg: "test answered 403", wantAnswer: progress.Refused},
		{name: "409", handler: answerWith(409, ""), wantErr: "SubsystemRejected", wantMsg: "test answered 409", wantAnswer: progress.Refused},
		{name: "408 is a timeout", handler: answerWith(408, ""), wantStatus: erasure.CallUnavailable, wantDetail: "test answered 408 (delete)", wantAnswer: progress.Unavailable},
		{name: "429", handler: answerWith(429, ""), wantStatus: erasure.CallUnavailable, wantDetail: "test answered 429 (delete)", wantAnswer: progress.Unavailable},
		{name: "500", handler: answerWith(500, ""), wantStatus: erasure.CallUnavailable, wantDetail: "test answered 500 (delete)", wantAnswer: progress.Unavailable},
		{name: "503", handler: answerWith(503, ""), wantStatus: erasure.CallUnavailable, wantDetail: "test answered 503 (delete)", wantAnswer: progress.Unavailable},
		{name: "202 is not a sync answer", handler: answerWith(202, ""), wantErr: "SubsystemProtocolError", wantMsg: "202", wantAnswer: progress.Refused},
		{name: "redirect not followed", handler: redirect, wantErr: "SubsystemProtocolError", wantMsg: "redirects are not followed", wantAnswer: progress.Refused},
		{name: "timeout", handler: hang, wantStatus: erasure.CallUnavailable, wantDetail: "test did not answer: timed out after 1s (delete)", wantAnswer: progress.Unavailable},
		{name: "connection refused", refused: true, wantStatus: erasure.CallUnavailable, wantDetail: "test did not answer: connection refused (delete)", wantAnswer: progress.Unavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var srv *subsystemServer
			base := ""
			if tt.refused {
				base = refusedURL(t)
			} else {
				srv = newServer(t, tt.handler)
				base = srv.URL
			}
			e := newEnv()
			out, err := e.c.SyncDelete(t.Context(), erasure.DeleteInput{RequestID: testRequestID, Subsystem: target(base, config.ModeSync), Now: checkNow})
			if got := eventstest.ErrorName(err); got != tt.wantErr {
				t.Fatalf("error %s (%v), want %q; output %+v", got, err, tt.wantErr, out)
			}
			if err != nil {
				if !strings.Contains(err.Error(), tt.wantMsg) {
					t.Errorf("message %q does not say %q", err.Error(), tt.wantMsg)
				}
				assertNoSubject(t, "error", err.Error())
			} else {
				want := erasure.SyncDeleteOutput{Status: tt.wantStatus, Attempts: 1, Detail: tt.wantDetail}
				if tt.wantStatus == erasure.CallUnavailable {
					want.Persist = erasure.Persist{WaitSeconds: 60}
				}
				if out != want {
					t.Errorf("output %+v, want %+v", out, want)
				}
			}
			if got := e.progress.last(); got.Answer != tt.wantAnswer || !got.Called {
				t.Errorf("recorded step %+v, want a call answered %s", got, tt.wantAnswer)
			}
			assertNoSubject(t, "log", e.log.String())
			if srv == nil {
				return
			}
			reqs := srv.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1 (no redirect followed, no retry inside the call): %+v", len(reqs), reqs)
			}
			r := reqs[0]
			wantURI := "/subjects/" + url.PathEscape(testSubject)
			if r.Method != http.MethodDelete || r.RequestURI != wantURI || r.Authorization != "Bearer tok-1" {
				t.Errorf("request %s %s auth %q; want DELETE %s with Bearer tok-1", r.Method, r.RequestURI, r.Authorization, wantURI)
			}
		})
	}
}

// TestSyncDeletePersistence: the attempts answered are the tracker's count
// of calls made, a give-up decision is passed on, and an operator's
// attestation meanwhile ends the loop.
func TestSyncDeletePersistence(t *testing.T) {
	srv := newServer(t, answerWith(503, ""))
	e := newEnv()
	in := erasure.DeleteInput{RequestID: testRequestID, Subsystem: target(srv.URL, config.ModeSync), Now: checkNow}
	for i := 1; i <= 3; i++ {
		out, err := e.c.SyncDelete(t.Context(), in)
		if err != nil || out.Attempts != i || out.Status != erasure.CallUnavailable || out.GiveUp {
			t.Fatalf("call %d: %+v, %v", i, out, err)
		}
	}
	e.progress.giveUp = true
	if out, err := e.c.SyncDelete(t.Context(), in); err != nil || !out.GiveUp || out.Attempts != 4 {
		t.Fatalf("at the give-up point: %+v, %v; want giveUp after 4 attempts", out, err)
	}
	e.progress.attested = erasure.SubsystemDeleted
	if out, err := e.c.SyncDelete(t.Context(), in); err != nil || out.Status != erasure.CallAttested || out.GiveUp || out.WaitSeconds != 0 {
		t.Fatalf("after an attestation: %+v, %v; want attested", out, err)
	}
}

// TestSyncDeleteProgressDown: a failed write of progress is the
// StoreUnavailable the file retries, never a silent success.
func TestSyncDeleteProgressDown(t *testing.T) {
	srv := newServer(t, answerWith(204, ""))
	e := newEnv()
	e.progress.err = &erasure.StoreUnavailable{Op: "record progress", Err: errors.New("ProvisionedThroughputExceededException")}
	_, err := e.c.SyncDelete(t.Context(), erasure.DeleteInput{RequestID: testRequestID, Subsystem: target(srv.URL, config.ModeSync), Now: checkNow})
	if eventstest.ErrorName(err) != "StoreUnavailable" {
		t.Fatalf("error %v, want StoreUnavailable", err)
	}
}

func TestSyncDeleteBaseURLWithPath(t *testing.T) {
	srv := newServer(t, answerWith(204, ""))
	e := newEnv()
	if _, err := e.c.SyncDelete(t.Context(), erasure.DeleteInput{RequestID: testRequestID, Subsystem: target(srv.URL+"/api/v1/", config.ModeSync)}); err != nil {
		t.Fatal(err)
	}
	if got, want := srv.requests()[0].RequestURI, "/api/v1/subjects/"+url.PathEscape(testSubject); got != want {
		t.Errorf("request URI %q, want %q", got, want)
	}
}

// TestDotSegmentSubjects keeps "." and ".." subjects from becoming path
// dot-segments that a proxy would resolve to another resource.
func TestDotSegmentSubjects(t *testing.T) {
	for subject, want := range map[string]string{".": "/subjects/%2E", "..": "/subjects/%2E%2E", "a/../b": "/subjects/a%2F..%2Fb"} {
		srv := newServer(t, answerWith(204, ""))
		e := newEnv()
		e.subjects.subjects[testRequestID] = subject
		if _, err := e.c.SyncDelete(t.Context(), erasure.DeleteInput{RequestID: testRequestID, Subsystem: target(srv.URL, config.ModeSync)}); err != nil {
			t.Fatal(err)
		}
		if got := srv.requests()[0].RequestURI; got != want {
			t.Errorf("subject %q: request URI %q, want %q", subject, got, want)
		}
	}
}

func TestTokenHeader(t *testing.T) {
	tests := []struct {
		name     string
		token    config.TokenSource
		tokenErr error
		wantAuth string
		wantHas  bool
		// unavailable: no token could be read; Lethe persists.
		unavailable bool
	}{
		{name: "secretsmanager token", token: testToken, wantAuth: "Bearer tok-1", wantHas: true},
		{name: "kind none sends no header", token: config.TokenSource{Kind: config.TokenNone}, wantHas: false},
		{name: "token store down", token: testToken, tokenErr: errors.New("ThrottlingException: rate exceeded"), unavailable: true},
		{name: "secret missing", token: config.TokenSource{Kind: config.TokenSSM, Name: "/nope"}, unavailable: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, answerWith(204, ""))
			e := newEnv()
			e.tokens.err = tt.tokenErr
			tg := target(srv.URL, config.ModeSync)
			tg.Token = tt.token
			out, err := e.c.SyncDelete(t.Context(), erasure.DeleteInput{RequestID: testRequestID, Subsystem: tg})
			if err != nil {
				t.Fatal(err)
			}
			reqs := srv.requests()
			if tt.unavailable {
				if len(reqs) != 0 {
					t.Errorf("subsystem called without a token: %+v", reqs)
				}
				if out.Status != erasure.CallUnavailable || out.Attempts != 0 || !strings.Contains(out.Detail, "token of test unavailable from "+tt.token.Kind+" ") {
					t.Errorf("output %+v: want unavailable, no attempt, naming the subsystem and source", out)
				}
				if step := e.progress.last(); step.Called || step.Answer != progress.Unavailable {
					t.Errorf("recorded %+v, want unavailable without a call", step)
				}
				return
			}
			if len(reqs) != 1 || reqs[0].HasAuth != tt.wantHas || reqs[0].Authorization != tt.wantAuth {
				t.Errorf("requests %+v, want Authorization present=%v %q", reqs, tt.wantHas, tt.wantAuth)
			}
		})
	}
}

// TestRotatedToken: a 401 answered to a cached token is retried once with a
// freshly read one; a 401 to the fresh token is final.
func TestRotatedToken(t *testing.T) {
	t.Run("rotated", func(t *testing.T) {
		srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer tok-2" {
				w.WriteHeader(401)
				return
			}
			w.WriteHeader(204)
		})
		e := newEnv()
		e.tokens.rotated[testToken] = "tok-2"
		out, err := e.c.SyncDelete(t.Context(), erasure.DeleteInput{RequestID: testRequestID, Subsystem: target(srv.URL, config.ModeSync)})
		if err != nil || out.Status != erasure.SubsystemDeleted {
			t.Fatalf("SyncDelete = %+v, %v", out, err)
		}
		if reqs := srv.requests(); len(reqs) != 2 || reqs[0].Authorization != "Bearer tok-1" || reqs[1].Authorization != "Bearer tok-2" {
			t.Errorf("requests %+v", reqs)
		}
	})
	t.Run("same token refused", func(t *testing.T) {
		srv := newServer(t, answerWith(401, ""))
		e := newEnv()
		_, err := e.c.SyncDelete(t.Context(), erasure.DeleteInput{RequestID: testRequestID, Subsystem: target(srv.URL, config.ModeSync)})
		if eventstest.ErrorName(err) != "SubsystemRejected" {
			t.Fatalf("error %v, want SubsystemRejected", err)
		}
		if len(srv.requests()) != 1 || len(e.tokens.invalidated) != 1 {
			t.Errorf("%d requests, %d invalidations; want 1, 1", len(srv.requests()), len(e.tokens.invalidated))
		}
	})
	t.Run("no token, no retry", func(t *testing.T) {
		srv := newServer(t, answerWith(401, ""))
		e := newEnv()
		tg := target(srv.URL, config.ModeSync)
		tg.Token = config.TokenSource{Kind: config.TokenNone}
		_, err := e.c.SyncDelete(t.Context(), erasure.DeleteInput{RequestID: testRequestID, Subsystem: tg})
		if eventstest.ErrorName(err) != "SubsystemRejected" || len(srv.requests()) != 1 || len(e.tokens.invalidated) != 0 {
			t.Errorf("error %v, %d requests, %d invalidations", err, len(srv.requests()), len(e.tokens.invalidated))
		}
	})
}

func TestSubjectLookup(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		id      string
		wantErr string
	}{
		{name: "unknown request", id: "er_eu_01935f3c-7b2a-7c3d-8e4f-000000000000", wantErr: "RequestNotFound"},
		{name: "table down", id: testRequestID, err: errors.New("ProvisionedThroughputExceededException"), wantErr: "StoreUnavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, answerWith(204, ""))
			e := newEnv()
			e.subjects.err = tt.err
			_, err := e.c.SyncDelete(t.Context(), erasure.DeleteInput{RequestID: tt.id, Subsystem: target(srv.URL, config.ModeSync)})
			if eventstest.ErrorName(err) != tt.wantErr {
				t.Fatalf("error %s (%v), want %s", eventstest.ErrorName(err), err, tt.wantErr)
			}
			if tt.err != nil && !errors.Is(err, tt.err) {
				t.Errorf("%v does not wrap the store's error", err)
			}
			if len(srv.requests()) != 0 {
				t.Error("subsystem called without a subject")
			}
		})
	}
}

func TestInvalidInput(t *testing.T) {
	region := config.Region{Name: "eu", Subsystems: []config.Subsystem{
		{Name: "test", Mode: config.ModeSync, BaseURL: "https://projects.eu.example.com", TimeoutSeconds: 10, Token: config.TokenSource{Kind: config.TokenSecretsManager}},
	}}
	good := target("https://projects.eu.example.com", config.ModeSync)
	good.Token = config.TokenSource{Kind: config.TokenSecretsManager}
	tests := []struct {
		name      string
		id        string
		mutate    func(*erasure.Target)
		region    bool
		wantField string
	}{
		{name: "bad request id", id: "req-1", wantField: "requestId"},
		{name: "no name", mutate: func(t *erasure.Target) { t.Name = "" }, wantField: "subsystem.name"},
		{name: "async target to sync connector", mutate: func(t *erasure.Target) { t.Mode = config.ModeAsync }, wantField: "subsystem.mode"},
		{name: "ftp base URL", mutate: func(t *erasure.Target) { t.BaseURL = "ftp://x" }, wantField: "subsystem.baseUrl"},
		{name: "credentials in base URL", mutate: func(t *erasure.Target) { t.BaseURL = "https://u:p@x" }, wantField: "subsystem.baseUrl"},
		{name: "timeout too long", mutate: func(t *erasure.Target) { t.TimeoutSeconds = 600 }, wantField: "subsystem.timeoutSeconds"},
		{name: "unknown token kind", mutate: func(t *erasure.Target) { t.Token = config.TokenSource{Kind: "vault", Name: "x"} }, wantField: "subsystem.token.kind"},
		{name: "secret without name, no region", mutate: func(t *erasure.Target) {}, wantField: "subsystem.token.name"},
		{name: "not a subsystem of the region", region: true, mutate: func(t *erasure.Target) { t.Name = "other" }, wantField: "subsystem.name"},
		{name: "base URL not the configured one", region: true, mutate: func(t *erasure.Target) { t.BaseURL = "https://evil.example.net" }, wantField: "subsystem.baseUrl"},
		{name: "token not the configured one", region: true, mutate: func(t *erasure.Target) { t.Token = config.TokenSource{Kind: config.TokenNone} }, wantField: "subsystem.token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []Option
			if tt.region {
				opts = append(opts, WithRegion(region))
			}
			e := newEnv(opts...)
			tg := good
			if tt.mutate != nil {
				tt.mutate(&tg)
			}
			id := testRequestID
			if tt.id != "" {
				id = tt.id
			}
			_, err := e.c.SyncDelete(t.Context(), erasure.DeleteInput{RequestID: id, Subsystem: tg})
			var ii *InvalidInput
			if !errors.As(err, &ii) || ii.Field != tt.wantField {
				t.Fatalf("error %v, want InvalidInput on %s", err, tt.wantField)
			}
			if e.subjects.calls != 0 {
				t.Error("subject read for an invalid task")
			}
		})
	}
}

// TestRegionDefaultSecret: with the region's configuration, a subsystem
// whose token names no secret uses lethe/<region>/<subsystem>/token.
func TestRegionDefaultSecret(t *testing.T) {
	srv := newServer(t, answerWith(204, ""))
	region := config.Region{Name: "eu", Subsystems: []config.Subsystem{
		{Name: "test", Mode: config.ModeSync, BaseURL: srv.URL, TimeoutSeconds: 10, Token: config.TokenSource{Kind: config.TokenSecretsManager}},
	}}
	e := newEnv(WithRegion(region))
	e.tokens.tokens[config.TokenSource{Kind: config.TokenSecretsManager, Name: "lethe/eu/test/token"}] = "default-tok"
	for _, tok := range []config.TokenSource{{Kind: config.TokenSecretsManager}, {Kind: config.TokenSecretsManager, Name: "lethe/eu/test/token"}, {}} {
		tg := target(srv.URL, config.ModeSync)
		tg.Token = tok
		if _, err := e.c.SyncDelete(t.Context(), erasure.DeleteInput{RequestID: testRequestID, Subsystem: tg}); err != nil {
			t.Fatalf("token %+v: %v", tok, err)
		}
	}
	for _, r := range srv.requests() {
		if r.Authorization != "Bearer default-tok" {
			t.Errorf("Authorization %q", r.Authorization)
		}
	}
}
