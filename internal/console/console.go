// Package console is Lethe's web console: what a privacy officer and an
// operator open. It lists every region's requests with the API's filters,
// shows a request's progress, certificate, audit records and executions
// with the actions the API offers (retry, attest, extend), draws an
// execution's state machine from its ASL file coloured by what happened,
// and shows the edge (tenants, quarantine, global erasures, residency
// receipts) and the regions' health.
//
// It reads Lethe's own API, the routes a deployed region and edge answer,
// through a Caller, never the stores: pointed at deployed APIs it would
// show the same. Executions come from an Executions source (the local
// engine under lethe local; Step Functions' own API on AWS). Pages are
// rendered on the server with html/template and work without JavaScript;
// a little script refreshes pages while something runs and makes the
// graph's states clickable. No page ever shows a subject id: the API's
// answers hold none, and the reveal route is left to the API and CLI.
package console

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/lethe-erasure/lethe/internal/asl"
	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/console/graph"
)

// Executions reads the state machine executions of the regions: the local
// engine under lethe local; DescribeExecution, GetExecutionHistory and
// DescribeStateMachineForExecution on AWS.
type Executions interface {
	// OfRequest lists a request's executions, oldest first: the main
	// execution of each run (runs is how often operators retried it) and
	// each one's children.
	OfRequest(ctx context.Context, region, requestID string, runs int) ([]Summary, error)
	// Execution returns one execution with its history and the definition
	// it ran, or ErrNoExecution.
	Execution(ctx context.Context, arn string) (Execution, error)
}

// ErrNoExecution means no region holds the execution.
var ErrNoExecution = errors.New("no such execution")

// Summary is an execution as lists show it.
type Summary struct {
	Arn, Name   string
	Machine     string // the state machine's name
	Status      string // RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED
	Start, Stop time.Time
	Transitions int
	Error       string
	Cause       string
}

// Execution is one execution in full.
type Execution struct {
	Summary
	Region string
	// Definition is the ASL text the execution ran.
	Definition []byte
	Events     []asl.Event
	// Parent is the execution that started this one ("" for none);
	// Children the executions this one started.
	Parent   string
	Children []Summary
}

// Health reads a region's counters and the alarms that would fire on
// them (the deployed stack's alarms, judged on the same figures).
type Health interface {
	Region(name string) HealthView
}

// HealthView is one region's health panel.
type HealthView struct {
	Counters []Counter
	Alarms   []Alarm
}

// Counter is one business or engine counter.
type Counter struct {
	Name  string
	Value float64
}

// Alarm is one alarm and whether it would fire.
type Alarm struct {
	Name, Why string
	Firing    bool
}

// Mail lists the messages the regions' topics sent (lethe local's outbox).
type Mail interface {
	Recent(n int) []Message
}

// Message is one notification as its readers got it.
type Message struct {
	Time           time.Time
	Topic, Subject string
	Body           string
}

// Options wire a console.
type Options struct {
	// Title names the installation ("Lethe local").
	Title string
	// Regions are the regional APIs; Edge the edge API (APIURL "" for
	// none).
	Regions []config.RegionEndpoint
	Edge    config.RegionEndpoint
	// Caller calls them; Header goes with every call (under lethe local,
	// the operator's name).
	Caller Caller
	Header http.Header
	// Executions, Health and Mail may be nil: their pages say so.
	Executions Executions
	Health     Health
	Mail       Mail
	// Now is Lethe's clock (days left are counted on it).
	Now func() time.Time
	Log *slog.Logger
}

// Console serves the console's pages.
type Console struct {
	o      Options
	api    client
	csrf   string
	pages  map[string]*template.Template
	graphs sync.Map // definition text -> *graph.Graph
	// confirmations are the one-time tokens of the confirmation pages shown.
	confirmations confirmations
}

// ConfirmationTTL is how long a confirmation page can be sent.
const ConfirmationTTL = time.Hour

// confirmations are one-time tokens: issued with a confirmation page,
// spent by its post.
type confirmations struct {
	mu     sync.Mutex
	issued map[string]time.Time
}

func (s *confirmations) issue() string {
	b := make([]byte, 16)
	rand.Read(b)
	token := hex.EncodeToString(b)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.issued == nil {
		s.issued = map[string]time.Time{}
	}
	now := time.Now()
	for t, at := range s.issued {
		if now.Sub(at) > ConfirmationTTL {
			delete(s.issued, t)
		}
	}
	s.issued[token] = now
	return token
}

// spend reports whether token was issued within ConfirmationTTL and not
// spent yet, and spends it.
func (s *confirmations) spend(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	at, ok := s.issued[token]
	delete(s.issued, token)
	return ok && time.Since(at) <= ConfirmationTTL
}

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// pageFiles are the pages, each rendered inside layout.html.
var pageFiles = []string{"requests", "request", "confirm", "answer", "execution", "edge", "health", "error"}

// New builds a console.
func New(o Options) (*Console, error) {
	if o.Caller == nil {
		return nil, errors.New("console: no Caller")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Title == "" {
		o.Title = "Lethe"
	}
	token := make([]byte, 32)
	if _, err := rand.Read(token); err != nil {
		return nil, err
	}
	c := &Console{o: o, api: client{caller: o.Caller, header: o.Header}, csrf: hex.EncodeToString(token), pages: map[string]*template.Template{}}
	for _, p := range pageFiles {
		t, err := template.New(p).Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", "templates/parts.html", "templates/"+p+".html")
		if err != nil {
			return nil, err
		}
		c.pages[p] = t
	}
	return c, nil
}

// Register serves the console on mux: / (requests), /requests/...,
// /executions/..., /edge, /health and /static/. They share the status port
// with the edge's routes, whose patterns they must not shadow (ServeMux
// panics on a conflict).
func (c *Console) Register(mux *http.ServeMux) {
	h := func(fn func(http.ResponseWriter, *http.Request)) http.Handler { return c.guard(http.HandlerFunc(fn)) }
	mux.Handle("GET /{$}", h(c.requests))
	mux.Handle("GET /requests.csv", h(c.requestsCSV))
	mux.Handle("GET /requests/{id}", h(c.request))
	mux.Handle("GET /requests/{id}/certificate", h(c.certificate))
	mux.Handle("POST /requests/{id}/{action}", h(c.requestAction))
	mux.Handle("GET /executions/{arn}", h(c.execution))
	mux.Handle("GET /edge", h(c.edge))
	mux.Handle("POST /edge/quarantine/{id}/release", h(c.release))
	mux.Handle("GET /health", h(c.health))
	mux.Handle("GET /static/", c.guard(http.FileServerFS(staticFiles)))
}

// csp allows the console's own script and styles only; the graph's SVG
// carries its style inline.
const csp = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// guard sets the headers every answer carries and refuses a POST that did
// not come from a console page: a form on another site could otherwise
// make an operator's browser retry, attest or extend.
func (c *Console) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", csp)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("Cache-Control", "no-store")
		if r.Method == http.MethodPost && !c.sameOrigin(r) {
			c.fail(w, http.StatusForbidden, "This form did not come from this console (or the console was restarted since the page was loaded): reload the page and try again.")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// sameOrigin checks the browser's own origin headers and the form's token.
func (c *Console) sameOrigin(r *http.Request) bool {
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" && s != "same-origin" {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return false
		}
	}
	return subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(c.csrf)) == 1
}

// page is what every page's template gets.
type page struct {
	Title   string // the page's own title
	Site    string // Options.Title
	Nav     string // which tab is current
	Now     time.Time
	CSRF    string
	Live    bool // refresh while something runs
	HasEdge bool
	Body    any
}

func (c *Console) render(w http.ResponseWriter, status int, name, title, nav string, live bool, body any) {
	var buf bytes.Buffer
	p := page{Title: title, Site: c.o.Title, Nav: nav, Now: c.o.Now(), CSRF: c.csrf, Live: live, HasEdge: c.o.Edge.APIURL != "", Body: body}
	if err := c.pages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		c.o.Log.Error("console page", "page", name, "error", err.Error())
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// fail renders an error page.
func (c *Console) fail(w http.ResponseWriter, status int, msg string) {
	c.render(w, status, "error", http.StatusText(status), "", false, msg)
}

// region finds a regional API by name.
func (c *Console) region(name string) (config.RegionEndpoint, bool) {
	for _, reg := range c.o.Regions {
		if reg.Name == name {
			return reg, true
		}
	}
	return config.RegionEndpoint{}, false
}

// graphOf lays out a definition once per text.
func (c *Console) graphOf(def []byte) (*graph.Graph, error) {
	if g, ok := c.graphs.Load(string(def)); ok {
		return g.(*graph.Graph), nil
	}
	g, err := graph.Build(def)
	if err != nil {
		return nil, err
	}
	c.graphs.Store(string(def), g)
	return g, nil
}

var funcs = template.FuncMap{
	"when":     when,
	"whenText": func(s string) string { return whenPtr(&s) },
	"whenPtr":  whenPtr,
	"list":     func(s ...string) []string { return s },
	"execURL":  func(arn string) string { return "/executions/" + url.PathEscape(arn) },
	"reqURL":   func(id string) string { return "/requests/" + url.PathEscape(id) },
	"lower":    strings.ToLower,
	"duration": func(d time.Duration) string { return d.Round(time.Millisecond).String() },
}

// when is a time as the console shows it: UTC to the second.
func when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// whenPtr is an API's time (RFC 3339) as the console shows it.
func whenPtr(s *string) string {
	if s == nil || *s == "" {
		return ""
	}
	t, err := time.Parse(time.RFC3339, *s)
	if err != nil {
		return *s
	}
	return when(t)
}
