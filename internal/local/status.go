package local

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/lethe-erasure/lethe/internal/asl"
	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/metrics"
	"github.com/lethe-erasure/lethe/internal/registry"
)

//go:embed templates/*.html
var templateFiles embed.FS

var templates = template.Must(template.New("").Funcs(template.FuncMap{
	"time":    func(t time.Time) string { return fmtTime(t) },
	"timeptr": func(t *time.Time) string { return fmtTimePtr(t) },
	"execURL": func(arn string) string { return "/executions/" + url.PathEscape(arn) },
	"lower":   strings.ToLower,
}).ParseFS(templateFiles, "templates/*.html"))

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05.000Z")
}

func fmtTimePtr(t *time.Time) string {
	if t == nil {
		return ""
	}
	return fmtTime(*t)
}

// Status is the status page on the edge port: the regions and their URLs,
// each region's recent requests with their executions, an execution's
// history as the Step Functions console lists it, and the outbox's last
// messages. It shows request ids and statuses, never a subject id: the
// views it renders have no field that could hold one.
type Status struct {
	rt *Runtime
}

// NewStatus serves the status page of rt.
func NewStatus(rt *Runtime) *Status { return &Status{rt: rt} }

// StatusRequests is how many requests per region the page lists.
const StatusRequests = 20

// StatusMessages is how many outbox messages the page lists.
const StatusMessages = 20

type indexView struct {
	Now     string
	Speed   string
	Regions []regionView
	Outbox  []OutboxMessage
	DataDir string
}

type regionView struct {
	Name, AWSRegion, URL string
	Subsystems           []subsystemView
	Requests             []requestView
	Error                string
	Health               healthView
}

// healthView is a region's counters (as on /metrics) and the alarms the
// deployed stack would have firing on them.
type healthView struct {
	Counters []counterView
	Alarms   []alarmView
}

type counterView struct {
	Name  string
	Value float64
}

type alarmView struct {
	Name, Why string
	Firing    bool
}

// health reads a region's counters and alarms from the runtime's metrics:
// requests at risk or overdue at the deadline watch's last run, and
// executions that failed since lethe local started.
func (s *Status) health(region string) healthView {
	m := s.rt.metrics
	r := map[string]string{"region": region}
	v := healthView{}
	for _, name := range []string{metrics.ErasuresReceived, metrics.ErasuresCompleted, metrics.ErasuresFailed,
		metrics.OpenRequests, metrics.AtRiskRequests, metrics.OverdueRequests} {
		v.Counters = append(v.Counters, counterView{name, m.Sum(name, r)})
	}
	for _, st := range []string{"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"} {
		v.Counters = append(v.Counters, counterView{"Executions " + st, m.Sum("Executions", map[string]string{"region": region, "status": st})})
	}
	at, over := m.Sum(metrics.AtRiskRequests, r), m.Sum(metrics.OverdueRequests, r)
	failed := m.Sum("Executions", map[string]string{"region": region, "status": "FAILED"})
	v.Alarms = []alarmView{
		{"requests/at-risk", fmt.Sprintf("%g request(s) at risk at the deadline watch's last run", at), at > 0},
		{"requests/overdue", fmt.Sprintf("%g request(s) overdue at the deadline watch's last run", over), over > 0},
		{"erasure/failed", fmt.Sprintf("%g Erasure execution(s) failed since lethe local started", failed), failed > 0},
	}
	return v
}

type subsystemView struct {
	Name, Mode, BaseURL string
}

// requestView is a request as the page shows it: erasure.Request without
// SubjectID (and without the tenant, which may name a person's shop).
type requestView struct {
	ID, Status, Source           string
	ReceivedAt, Deadline, Closed string
	Subsystems                   []erasure.SubsystemResult
	Execution                    executionSummary
}

type executionSummary struct {
	Arn, Status       string
	Start, Stop       string
	Transitions       int
	Found             bool
	Error, Cause      string
	MachineName, Name string
}

type eventView struct {
	ID, Previous    int64
	Type, Step      string
	Resource        string
	Elapsed, Time   string
	Detail, CSSType string
}

type executionView struct {
	executionSummary
	Region   string
	Events   []eventView
	Children []executionSummary
	Parent   string
}

func (s *Status) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	if rest, ok := strings.CutPrefix(r.URL.EscapedPath(), "/executions/"); ok {
		s.execution(w, r, rest)
		return
	}
	s.index(w, r)
}

func (s *Status) index(w http.ResponseWriter, r *http.Request) {
	v := indexView{Now: fmtTime(s.rt.clock.Now()), Outbox: s.rt.outbox.Recent(StatusMessages)}
	if s.rt.own != nil {
		v.Speed = fmt.Sprintf("%gx", s.rt.own.Speed())
	}
	for _, reg := range s.rt.regions {
		rv := regionView{Name: reg.Config.Name, AWSRegion: reg.Config.AWSRegion, URL: reg.URL, Health: s.health(reg.Config.Name)}
		for _, sub := range reg.Config.Subsystems {
			rv.Subsystems = append(rv.Subsystems, subsystemView{Name: sub.Name, Mode: string(sub.Mode), BaseURL: sub.BaseURL})
		}
		reqs, err := reg.Requests.List(r.Context(), StatusRequests)
		if err != nil {
			rv.Error = "the requests could not be read: " + err.Error()
		}
		for _, q := range reqs {
			x := s.summary(r.Context(), reg, ExecutionArn(reg.Engine, reg.Wired.Main, q.ID))
			rv.Requests = append(rv.Requests, requestView{
				ID: q.ID, Status: string(q.Status), Source: q.Source,
				ReceivedAt: fmtTime(q.ReceivedAt), Deadline: fmtTime(q.Deadline), Closed: fmtTimePtr(q.CompletedAt),
				Subsystems: q.Subsystems, Execution: x,
			})
		}
		v.Regions = append(v.Regions, rv)
	}
	if err := templates.ExecuteTemplate(w, "index.html", v); err != nil {
		s.rt.log.Error("status page", "error", err.Error())
	}
}

// regionOf finds the region whose engine mints arn.
func (s *Status) regionOf(arn string) (*Region, bool) {
	for _, reg := range s.rt.regions {
		prefix := strings.Replace(reg.Engine.MachineArn("Lethe-"+reg.Config.Name+"-"), ":stateMachine:", ":execution:", 1)
		if strings.HasPrefix(arn, prefix) {
			return reg, true
		}
	}
	return nil, false
}

func (s *Status) execution(w http.ResponseWriter, r *http.Request, escaped string) {
	arn, err := url.PathUnescape(escaped)
	reg, ok := s.regionOf(arn)
	if err != nil || !ok {
		http.Error(w, "no such execution", http.StatusNotFound)
		return
	}
	sum, events := s.describe(r.Context(), reg, arn)
	if !sum.Found {
		http.Error(w, "no such execution", http.StatusNotFound)
		return
	}
	v := executionView{executionSummary: sum, Region: reg.Config.Name}
	var start time.Time
	for i, e := range events {
		if i == 0 {
			start = e.Timestamp
		}
		v.Events = append(v.Events, eventRow(e, start))
	}
	if sum.MachineName == reg.Wired.Main {
		for _, sub := range reg.Config.Subsystems {
			m := reg.Wired.Machines[registry.MachineSyncDeletion]
			if sub.Mode == "async" {
				m = reg.Wired.Machines[registry.MachineAsyncDeletion]
			}
			child := s.summary(r.Context(), reg, ExecutionArn(reg.Engine, m, sum.Name+"-"+sub.Name))
			if child.Found {
				v.Children = append(v.Children, child)
			}
		}
	} else if id := requestIDPrefix(sum.Name); id != "" {
		v.Parent = ExecutionArn(reg.Engine, reg.Wired.Main, id)
	}
	if err := templates.ExecuteTemplate(w, "execution.html", v); err != nil {
		s.rt.log.Error("status page", "error", err.Error())
	}
}

// requestIDPrefix returns the request id a child execution's name
// (<requestId>-<subsystem>) starts with.
func requestIDPrefix(name string) string {
	for i := len(name) - 1; i > 0; i-- {
		if name[i] == '-' {
			if _, err := erasure.ParseID(name[:i]); err == nil {
				return name[:i]
			}
		}
	}
	return ""
}

func (s *Status) summary(ctx context.Context, reg *Region, arn string) executionSummary {
	sum, _ := s.describe(ctx, reg, arn)
	return sum
}

// describe reads an execution from the engine when it holds it, else
// from the store's checkpoint.
func (s *Status) describe(ctx context.Context, reg *Region, arn string) (executionSummary, []asl.Event) {
	sum := executionSummary{Arn: arn}
	if i := strings.LastIndex(arn, ":"); i > 0 {
		sum.Name = arn[i+1:]
		if j := strings.LastIndex(arn[:i], ":"); j > 0 {
			sum.MachineName = arn[j+1 : i]
		}
	}
	if x, ok := reg.Engine.Execution(arn); ok {
		res := x.Describe()
		sum.Found, sum.Status, sum.Transitions = true, res.Status, res.BilledTransitions
		sum.Start, sum.Stop, sum.Error, sum.Cause = fmtTime(res.StartDate), fmtTime(res.StopDate), res.Error, res.Cause
		return sum, res.History.Events()
	}
	cp, err := reg.Checkpoints.Load(ctx, arn)
	if err != nil {
		if !errors.Is(err, asl.ErrNoCheckpoint) {
			sum.Status, sum.Found = "UNREADABLE", true
			sum.Cause = err.Error()
		}
		return sum, nil
	}
	events := make([]asl.Event, 0, len(cp.Events))
	for _, raw := range cp.Events {
		var e asl.Event
		if json.Unmarshal(raw, &e) == nil {
			events = append(events, e)
		}
	}
	sum.Found, sum.Status = true, "RUNNING"
	for _, e := range events {
		if strings.HasSuffix(e.Type, "StateEntered") {
			sum.Transitions++
		}
	}
	if len(events) > 0 {
		sum.Start = fmtTime(events[0].Timestamp)
		last := events[len(events)-1]
		switch last.Type {
		case "ExecutionSucceeded":
			sum.Status = "SUCCEEDED"
		case "ExecutionFailed":
			sum.Status = "FAILED"
		case "ExecutionAborted":
			sum.Status = "ABORTED"
		case "ExecutionTimedOut":
			sum.Status = "TIMED_OUT"
		}
		if sum.Status != "RUNNING" {
			sum.Stop = fmtTime(last.Timestamp)
			sum.Error, _ = last.Details["error"].(string)
			sum.Cause, _ = last.Details["cause"].(string)
		}
	}
	return sum, events
}

// eventRow is one line of the history table: the columns of the Step
// Functions console (ID, Type, Step, Resource, Started After, Date and
// time) and a short detail: the error and cause of a failure, a retry's
// or wait's timing. Inputs and outputs are left to the API.
func eventRow(e asl.Event, start time.Time) eventView {
	v := eventView{ID: e.ID, Previous: e.PreviousEventID, Type: e.Type, Time: fmtTime(e.Timestamp),
		Elapsed: e.Timestamp.Sub(start).Round(time.Millisecond).String()}
	str := func(k string) string { s, _ := e.Details[k].(string); return s }
	v.Step = str("name")
	if rt, res := str("resourceType"), str("resource"); rt != "" || res != "" {
		v.Resource = strings.TrimSuffix(rt+":"+res, ":")
	}
	var parts []string
	if er := str("error"); er != "" {
		parts = append(parts, er)
	}
	if c := str("cause"); c != "" {
		parts = append(parts, shorten(c, 240))
	}
	v.Detail = strings.Join(parts, ": ")
	switch {
	case strings.HasSuffix(e.Type, "Failed"), strings.HasSuffix(e.Type, "TimedOut"), strings.HasSuffix(e.Type, "Aborted"):
		v.CSSType = "bad"
	case strings.HasSuffix(e.Type, "Succeeded"):
		v.CSSType = "good"
	}
	return v
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
