package subsystem

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/progress"
)

const (
	testRequestID = "er_eu_01935f3c-7b2a-7c3d-8e4f-0123456789ab"
	// testSubject is distinctive, so that any leak of it is found, and has
	// characters that must be path-escaped.
	testSubject = "Zq/Leaky Subject+7f3a@example.org"
)

// fakeSubjects is the requests table as far as the connectors see it.
type fakeSubjects struct {
	mu       sync.Mutex
	subjects map[string]string
	err      error
	calls    int
}

func (f *fakeSubjects) SubjectOf(_ context.Context, id string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return "", f.err
	}
	s, ok := f.subjects[id]
	if !ok {
		return "", erasure.ErrNotFound
	}
	return s, nil
}

// fakeTokens hands out tokens from a map; after Invalidate of a source it
// answers that source's rotated value, if one is set.
type fakeTokens struct {
	mu          sync.Mutex
	tokens      map[config.TokenSource]string
	rotated     map[config.TokenSource]string
	err         error
	calls       int
	invalidated []config.TokenSource
}

func (f *fakeTokens) Token(_ context.Context, src config.TokenSource) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if src.Kind == config.TokenNone {
		return "", nil
	}
	if f.err != nil {
		return "", f.err
	}
	tok, ok := f.tokens[src]
	if !ok {
		return "", errors.New("ResourceNotFoundException")
	}
	return tok, nil
}

func (f *fakeTokens) Invalidate(src config.TokenSource) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.invalidated = append(f.invalidated, src)
	if r, ok := f.rotated[src]; ok {
		f.tokens[src] = r
	}
}

var testToken = config.TokenSource{Kind: config.TokenSecretsManager, Name: "lethe/eu/test/token"}

// recorded is one request a fake subsystem received.
type recorded struct {
	Method, RequestURI, Authorization, ContentType string
	HasAuth                                        bool
	Body                                           string
}

// subsystemServer is a fake subsystem answering with handler and recording
// every request.
type subsystemServer struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []recorded
}

func newServer(t *testing.T, handler http.HandlerFunc) *subsystemServer {
	t.Helper()
	s := &subsystemServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body bytes.Buffer
		_, _ = body.ReadFrom(r.Body)
		_, hasAuth := r.Header["Authorization"]
		s.mu.Lock()
		s.reqs = append(s.reqs, recorded{r.Method, r.RequestURI, r.Header.Get("Authorization"), r.Header.Get("Content-Type"), hasAuth, body.String()})
		s.mu.Unlock()
		handler(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *subsystemServer) requests() []recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]recorded(nil), s.reqs...)
}

// answer replies with a status and body.
func answerWith(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if body != "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

// hang answers only once the client gave up.
func hang(w http.ResponseWriter, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-time.After(10 * time.Second):
	}
}

// redirect points the client elsewhere, at a URL that echoes the subject.
func redirect(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, "/elsewhere/"+testSubject, http.StatusMovedPermanently)
}

// refusedURL is a loopback address nothing listens on.
func refusedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

// env is one connector under test with its fakes and its captured log.
type env struct {
	c        *Connector
	subjects *fakeSubjects
	tokens   *fakeTokens
	progress *fakeProgress
	log      *bytes.Buffer
}

// fakeProgress records the steps the connector reports and decides as
// progress.Tracker does for a request far from its deadline: wait
// waitSeconds, never give up, unless giveUp is set.
type fakeProgress struct {
	mu       sync.Mutex
	steps    []progress.Step
	attempts int
	giveUp   bool
	// attested is what an operator attested meanwhile, if anything.
	attested erasure.SubsystemStatus
	err      error
}

func (f *fakeProgress) Record(_ context.Context, _ string, _ erasure.Target, s progress.Step, _ time.Time) (progress.Decision, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return progress.Decision{}, f.err
	}
	f.steps = append(f.steps, s)
	if s.Called {
		f.attempts++
	}
	d := progress.Decision{Attempts: f.attempts, Attested: f.attested}
	if f.attested != "" {
		return d, nil
	}
	if s.Answer == progress.Unavailable || s.Answer == progress.Pending {
		d.WaitSeconds, d.GiveUp = 60, f.giveUp && s.Answer == progress.Unavailable
	}
	return d, nil
}

// last is the last step recorded.
func (f *fakeProgress) last() progress.Step {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.steps) == 0 {
		return progress.Step{}
	}
	return f.steps[len(f.steps)-1]
}

type lockedBuffer struct {
	mu sync.Mutex
	b  *bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// newEnv returns a connector whose progress is recorded by the fake.
func newEnv(opts ...Option) *env {
	return newEnvWith(nil, opts...)
}

// newEnvWith returns a connector recording progress with p (the fake when
// p is nil).
func newEnvWith(p tracker, opts ...Option) *env {
	e := &env{
		subjects: &fakeSubjects{subjects: map[string]string{testRequestID: testSubject}},
		tokens:   &fakeTokens{tokens: map[config.TokenSource]string{testToken: "tok-1"}, rotated: map[config.TokenSource]string{}},
		progress: &fakeProgress{},
		log:      &bytes.Buffer{},
	}
	logger := slog.New(slog.NewJSONHandler(&lockedBuffer{b: e.log}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if p == nil {
		p = e.progress
	}
	e.c = New(NewHTTPClient(), e.tokens, e.subjects, p, append([]Option{WithLogger(logger)}, opts...)...)
	return e
}

func target(baseURL string, mode config.Mode) erasure.Target {
	t := erasure.Target{Name: "test", Mode: mode, BaseURL: baseURL, TimeoutSeconds: 1, Token: testToken,
		TopicArn: "arn:aws:sns:eu-west-1:123456789012:lethe-eu-test"}
	if mode == config.ModeAsync {
		t.Poll = &config.PollPolicy{InitialSeconds: 60, MaxSeconds: 21600, Multiplier: 2}
	}
	return t
}

// assertNoSubject fails if any text holds the subject id in any spelling a
// leak could take.
func assertNoSubject(t *testing.T, where string, texts ...string) {
	t.Helper()
	forms := []string{testSubject, "Leaky Subject", "Leaky%20Subject", "Leaky+Subject", "7f3a@example", "7f3a%40example", "7f3a\\u0040example"}
	for _, text := range texts {
		low := strings.ToLower(text)
		for _, f := range forms {
			if strings.Contains(low, strings.ToLower(f)) {
				t.Errorf("%s contains the subject id (%q): %s", where, f, text)
			}
		}
	}
}
