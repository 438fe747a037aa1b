package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lethe-erasure/lethe/internal/api"
	"github.com/lethe-erasure/lethe/internal/asl"
	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/console/graph"
	"github.com/lethe-erasure/lethe/internal/erasure"
)

var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

// fakeAPI answers GET /erasures from requests held in memory, newest
// first, a page of ?limit at a time after ?next, as the regional API does
// (unit tests of the console; internal/local tests it against lethe
// local's real API).
type fakeAPI struct {
	mu       sync.Mutex
	requests map[string][]api.RequestView // by region name
	calls    []string
}

func (f *fakeAPI) Call(_ context.Context, to config.RegionEndpoint, method, escapedPath string, _ http.Header, _ []byte) (int, []byte, error) {
	f.mu.Lock()
	f.calls = append(f.calls, to.Name+" "+method+" "+escapedPath)
	f.mu.Unlock()
	u, err := url.Parse(escapedPath)
	if err != nil || u.Path != "/erasures" || method != http.MethodGet {
		return 404, []byte(`{"error":{"code":"route_not_found","message":"no such route"}}`), nil
	}
	q := u.Query()
	if s := q.Get("status"); s != "" && !erasure.Status(s).Open() && s != "completed" && s != "failed" {
		return 400, []byte(`{"error":{"code":"invalid_filter","field":"status","message":"status must be pending, running, completed or failed"}}`), nil
	}
	limit, _ := strconv.Atoi(q.Get("limit"))
	start, _ := strconv.Atoi(q.Get("cursor"))
	all := f.requests[to.Name]
	var page api.ListView
	for i := start; i < len(all) && len(page.Erasures) < limit; i++ {
		if s := q.Get("status"); s == "" || string(all[i].Status) == s {
			page.Erasures = append(page.Erasures, all[i])
		}
		if len(page.Erasures) == limit && i+1 < len(all) {
			page.Next = strconv.Itoa(i + 1)
		}
	}
	b, _ := json.Marshal(page)
	return 200, b, nil
}

// requestsOf makes n request views of region, the newest first.
func requestsOf(region string, n int) []api.RequestView {
	out := make([]api.RequestView, n)
	for i := range out {
		at := t0.Add(-time.Duration(i) * time.Minute)
		status := erasure.StatusCompleted
		if i%7 == 0 {
			status = erasure.StatusRunning
		}
		out[i] = api.RequestView{RequestID: fmt.Sprintf("er_%s_0190b0a0-0000-7000-8000-%012d", region, i), Status: status, Source: "api",
			ReceivedAt: at.Format(time.RFC3339), Deadline: at.AddDate(0, 1, 0).Format(time.RFC3339), AtRisk: i%11 == 0,
			Subsystems: []api.SubsystemView{{Name: "projects", Mode: "sync", Status: erasure.SubsystemDeleted}, {Name: "orders", Mode: "async", Status: erasure.SubsystemPending}}}
	}
	return out
}

func newTestConsole(t testing.TB, f *fakeAPI, x Executions) (*Console, *httptest.Server) {
	t.Helper()
	c, err := New(Options{Title: "test", Caller: f, Executions: x, Now: func() time.Time { return t0 },
		Regions: []config.RegionEndpoint{{Name: "eu", APIURL: "http://eu"}, {Name: "us", APIURL: "http://us"}}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	c.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return c, srv
}

func get(t testing.TB, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestListAcrossRegionsPagesEachOnce: the list merges the regions' pages
// newest first, and its cursor carries each region's own, so that a
// region with fewer requests stops being asked once it has shown them.
func TestListAcrossRegionsPagesEachOnce(t *testing.T) {
	f := &fakeAPI{requests: map[string][]api.RequestView{"eu": requestsOf("eu", 7), "us": requestsOf("us", 3)}}
	_, srv := newTestConsole(t, f, nil)
	seen := map[string]int{}
	path := "/?limit=2"
	for pages := 0; path != ""; pages++ {
		if pages > 10 {
			t.Fatal("the list does not end")
		}
		code, body := get(t, srv.URL+path)
		if code != 200 {
			t.Fatalf("GET %s = %d\n%s", path, code, body)
		}
		for _, m := range strings.Split(body, `data-request="`)[1:] {
			seen[m[:strings.IndexByte(m, '"')]]++
		}
		path = ""
		if i := strings.Index(body, `rel="next" href="`); i >= 0 {
			rest := body[i+len(`rel="next" href="`):]
			path = strings.ReplaceAll(rest[:strings.IndexByte(rest, '"')], "&amp;", "&")
		}
	}
	if len(seen) != 10 {
		t.Errorf("saw %d requests, want 10", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s shown %d times", id, n)
		}
	}
	usCalls := 0
	for _, c := range f.calls {
		if strings.HasPrefix(c, "us ") {
			usCalls++
		}
	}
	if usCalls != 2 {
		t.Errorf("us was asked %d times for its 3 requests at 2 a page, want 2", usCalls)
	}
	// A refused filter is the API's 400, naming its field.
	if code, body := get(t, srv.URL+"/?status=gone"); code != 400 || !strings.Contains(body, "invalid_filter (status)") {
		t.Errorf("status=gone: %d\n%s", code, body)
	}
	if code, _ := get(t, srv.URL+"/?next=not-a-cursor!"); code != 400 {
		t.Errorf("a damaged cursor: %d, want 400", code)
	}
	// Days left and the at-risk badge, on the console's clock.
	_, body := get(t, srv.URL+"/?region=eu&limit=1")
	if !strings.Contains(body, "30 d") || !strings.Contains(body, `badge risk`) {
		t.Errorf("the newest request (due in a month, at risk) shows:\n%s", body)
	}
}

// runLoop runs, on the engine, a machine whose Task fails once (caught),
// then loops through a Choice n times.
func runLoop(t testing.TB, n int) (*asl.Result, []byte) {
	t.Helper()
	def := []byte(`{"StartAt":"Try","States":{
		"Try":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:Fail","Catch":[{"ErrorEquals":["States.ALL"],"Next":"Start"}],"Next":"Start"},
		"Start":{"Type":"Pass","Result":{"i":0},"Next":"Loop"},
		"Loop":{"Type":"Pass","Parameters":{"i.$":"States.MathAdd($.i, 1)"},"Next":"Done?"},
		"Done?":{"Type":"Choice","Choices":[{"Variable":"$.i","NumericLessThan":0,"Next":"Never"},{"Variable":"$.i","NumericGreaterThanEquals":` + strconv.Itoa(n) + `,"Next":"Done"}],"Default":"Loop"},
		"Never":{"Type":"Fail","Error":"Never"},
		"Done":{"Type":"Succeed"}}}`)
	e := asl.NewEngine(asl.Options{Clock: asl.NewFakeClock(t0)})
	e.RegisterLambda("Fail", func(context.Context, json.RawMessage) (json.RawMessage, error) { return nil, errors.New("no") })
	m, err := asl.Parse(def)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Run(context.Background(), m, map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	return res, def
}

// TestStatusesFromAHistory: a caught Task is caught, states run are
// succeeded, a state never entered is not reached, and a running
// execution's open state is in progress.
func TestStatusesFromAHistory(t *testing.T) {
	res, _ := runLoop(t, 3)
	events := res.History.Events()
	got := Statuses(events, res.Status)
	want := map[string]graph.Status{"Try": graph.Caught, "Start": graph.Succeeded, "Loop": graph.Succeeded, "Done?": graph.Succeeded, "Done": graph.Succeeded}
	for name, st := range want {
		if got[name] != st {
			t.Errorf("%s: %q, want %q", name, got[name], st)
		}
	}
	if _, ok := got["Never"]; ok {
		t.Errorf("Never: %q, want not reached", got["Never"])
	}
	// Cut the history after Loop's last entry: it is in progress while the
	// execution runs, failed once it ended so.
	last := 0
	for i, e := range events {
		if e.Type == "PassStateEntered" && e.Details["name"] == "Loop" {
			last = i
		}
	}
	if s := Statuses(events[:last+1], "RUNNING")["Loop"]; s != graph.InProgress {
		t.Errorf("Loop in a running cut history: %q", s)
	}
	if s := Statuses(events[:last+1], "ABORTED")["Loop"]; s != graph.Failed {
		t.Errorf("Loop in an aborted cut history: %q", s)
	}
}

// fakeExecutions serves one execution.
type fakeExecutions struct{ x Execution }

func (f fakeExecutions) OfRequest(context.Context, string, string, int) ([]Summary, error) {
	return []Summary{f.x.Summary}, nil
}

func (f fakeExecutions) Execution(_ context.Context, arn string) (Execution, error) {
	if arn != f.x.Arn {
		return Execution{}, ErrNoExecution
	}
	return f.x, nil
}

func loopExecution(t testing.TB, n int) Execution {
	res, def := runLoop(t, n)
	return Execution{Summary: Summary{Arn: res.ExecutionArn, Name: res.Name, Machine: "Loop", Status: res.Status, Start: res.StartDate, Stop: res.StopDate,
		Transitions: res.BilledTransitions}, Definition: def, Events: res.History.Events()}
}

// TestExecutionPageAndStatePanel: the page draws every state, colours
// them, and ?state= (the graph's click-through, and its fallback without
// JavaScript) shows the state's last input and output.
func TestExecutionPageAndStatePanel(t *testing.T) {
	x := loopExecution(t, 3)
	_, srv := newTestConsole(t, &fakeAPI{}, fakeExecutions{x})
	code, body := get(t, srv.URL+"/executions/"+url.PathEscape(x.Arn))
	if code != 200 {
		t.Fatalf("execution page: %d\n%s", code, body)
	}
	for _, want := range []string{`data-state="Try"`, "st-caught", `data-state="Never"`, "st-not_reached", "ExecutionSucceeded", `href="?state=Loop#state"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the execution page lacks %q", want)
		}
	}
	code, part := get(t, srv.URL+"/executions/"+url.PathEscape(x.Arn)+"?state=Loop&fragment=state")
	if code != 200 || !strings.Contains(part, `data-state-detail="Loop"`) || !strings.Contains(part, "Entered 3 time(s)") || !strings.Contains(part, `&#34;i&#34;: 3`) {
		t.Errorf("Loop's panel: %d\n%s", code, part)
	}
	if code, _ := get(t, srv.URL+"/executions/"+url.PathEscape(x.Arn+"x")); code != 404 {
		t.Errorf("an unknown execution: %d", code)
	}
}

// TestActionsNeedConfirmationAndTheToken: a post without the page's token
// or from another origin is refused, and does not reach the API.
func TestActionsNeedConfirmationAndTheToken(t *testing.T) {
	f := &fakeAPI{}
	_, srv := newTestConsole(t, f, nil)
	id := "er_eu_0190b0a0-0000-7000-8000-000000000001"
	for _, h := range []http.Header{{}, {"Origin": {"http://evil.example"}}, {"Sec-Fetch-Site": {"cross-site"}}} {
		req, _ := http.NewRequest("POST", srv.URL+"/requests/"+id+"/retry", strings.NewReader("confirm=yes&csrf=nope"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range h {
			req.Header[k] = v
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 403 {
			t.Errorf("%v: %d, want 403", h, resp.StatusCode)
		}
	}
	if len(f.calls) != 0 {
		t.Errorf("refused posts reached the API: %v", f.calls)
	}
}

// BenchmarkRequestList renders the list's first page (100 requests, the
// API's largest page) of a region holding 10,000 requests, the API's JSON
// answer decoded included; BenchmarkRequestsCSV exports all 10,000.
func BenchmarkRequestList(b *testing.B) {
	f := &fakeAPI{requests: map[string][]api.RequestView{"eu": requestsOf("eu", 10000)}}
	_, srv := newTestConsole(b, f, nil)
	var size int
	for b.Loop() {
		code, body := get(b, srv.URL+"/?region=eu&limit=100")
		if code != 200 {
			b.Fatal(code)
		}
		size = len(body)
	}
	b.ReportMetric(float64(size)/1024, "KiB/page")
}

func BenchmarkRequestsCSV(b *testing.B) {
	f := &fakeAPI{requests: map[string][]api.RequestView{"eu": requestsOf("eu", 10000)}}
	_, srv := newTestConsole(b, f, nil)
	var size int
	for b.Loop() {
		code, body := get(b, srv.URL+"/requests.csv?region=eu")
		if code != 200 || strings.Count(body, "\n") != 10001 {
			b.Fatal(code, strings.Count(body, "\n"))
		}
		size = len(body)
	}
	b.ReportMetric(float64(size)/1024, "KiB/file")
}

// BenchmarkExecutionPage renders an execution of 1,000 events with its
// graph.
func BenchmarkExecutionPage(b *testing.B) {
	x := loopExecution(b, 248)
	if n := len(x.Events); n < 1000 || n > 1010 {
		b.Fatalf("%d events", n)
	}
	_, srv := newTestConsole(b, &fakeAPI{}, fakeExecutions{x})
	u := srv.URL + "/executions/" + url.PathEscape(x.Arn) + "?state=Loop"
	var size int
	for b.Loop() {
		code, body := get(b, u)
		if code != 200 {
			b.Fatal(code)
		}
		size = len(body)
	}
	b.ReportMetric(float64(size)/1024, "KiB/page")
}
