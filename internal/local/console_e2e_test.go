package local

import (
	"encoding/csv"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/lethe-erasure/lethe/internal/asl"
	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/demo"
	"github.com/lethe-erasure/lethe/internal/erasure"
)

// The console tests below read lethe local's console over HTTP as a
// browser without JavaScript would; console_browser_test.go drives a real
// browser.

// subjects are the ids the console tests file erasures for.
var subjects = []string{"alice", "bob", "carol"}

// noSubject fails when a console page names a subject.
func noSubject(t *testing.T, page string, body []byte) {
	t.Helper()
	for _, s := range subjects {
		if strings.Contains(string(body), s) {
			t.Errorf("%s names the subject %q", page, s)
		}
	}
}

var (
	requestLinkRE = regexp.MustCompile(`href="/requests/(er_[a-z0-9]+_[0-9a-f-]{36})"`)
	nextLinkRE    = regexp.MustCompile(`rel="next" href="([^"]+)"`)
	csrfRE        = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)
	onceRE        = regexp.MustCompile(`name="confirm" value="([0-9a-f]+)"`)
)

// TestConsoleListPagesAndFilters: the list shows every region's requests
// once across its pages, its filters are the API's (a refused one names
// its field), search opens a request by id and never echoes anything
// else, and the CSV holds every request of the selection.
func TestConsoleListPagesAndFilters(t *testing.T) {
	cfg := loadConfig(t)
	if err := demo.ApplyFaults(cfg, []string{"us/projects=reject"}); err != nil {
		t.Fatal(err)
	}
	rt := start(t, cfg, t.TempDir(), asl.NewFakeClock(t0), 0)
	var ids, failed []string
	for _, region := range []string{"eu", "us"} {
		for _, s := range subjects {
			id := file(t, rt, region, s)
			if r := wait(t, rt, id); r.Status == erasure.StatusFailed {
				failed = append(failed, id)
			}
			ids = append(ids, id)
		}
	}
	if len(failed) != 3 {
		t.Fatalf("%d failed requests, want the 3 of us", len(failed))
	}
	get := func(path string) (int, string) {
		t.Helper()
		resp, body := do(t, "GET", rt.EdgeURL()+path, nil, "")
		noSubject(t, path, body)
		return resp.StatusCode, string(body)
	}
	// Paging: two per region per page, every request once.
	var seen []string
	path := "/?limit=2"
	for pages := 0; path != ""; pages++ {
		if pages > 5 {
			t.Fatal("the list does not end")
		}
		code, body := get(path)
		if code != 200 {
			t.Fatalf("GET %s = %d", path, code)
		}
		for _, m := range requestLinkRE.FindAllStringSubmatch(body, -1) {
			seen = append(seen, m[1])
		}
		path = ""
		if m := nextLinkRE.FindStringSubmatch(body); m != nil {
			path = strings.ReplaceAll(m[1], "&amp;", "&")
		}
	}
	slices.Sort(seen)
	want := slices.Clone(ids)
	slices.Sort(want)
	if !slices.Equal(seen, want) {
		t.Errorf("pages listed %v, want each of %v once", seen, want)
	}
	// Filters are the API's.
	code, body := get("/?status=failed")
	got := requestLinkRE.FindAllStringSubmatch(body, -1)
	if code != 200 || len(got) != 3 || !strings.Contains(body, "projects: failed") {
		t.Errorf("status=failed: %d, %d requests", code, len(got))
	}
	for _, m := range got {
		if !slices.Contains(failed, m[1]) {
			t.Errorf("status=failed lists %s", m[1])
		}
	}
	if code, body := get("/?region=eu&status=completed"); code != 200 || len(requestLinkRE.FindAllString(body, -1)) != 3 || strings.Contains(body, "er_us_") {
		t.Errorf("region=eu&status=completed: %d\n%s", code, body)
	}
	if code, body := get("/?status=gone"); code != 400 || !strings.Contains(body, "(status)") {
		t.Errorf("status=gone: %d, want 400 naming status\n%s", code, body)
	}
	if code, _ := get("/?region=mars"); code != 400 {
		t.Errorf("region=mars: %d, want 400", code)
	}
	// Search by request id; anything else is refused without being shown.
	resp, _ := do(t, "GET", rt.EdgeURL()+"/?q="+failed[0], nil, "")
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/requests/"+failed[0] {
		t.Errorf("search for %s ended at %d %s", failed[0], resp.StatusCode, resp.Request.URL)
	}
	if code, body := get("/?q=carol"); code != 400 || !strings.Contains(body, "not a request id") {
		t.Errorf("search for a subject: %d\n%s", code, body)
	}
	// The CSV: every request of the selection, across pages.
	resp, raw := do(t, "GET", rt.EdgeURL()+"/requests.csv?status=completed", nil, "")
	rows, err := csv.NewReader(strings.NewReader(string(raw))).ReadAll()
	if err != nil || resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("CSV: %d %v %v", resp.StatusCode, err, resp.Header)
	}
	if len(rows) != 4 || strings.Join(rows[0][:3], ",") != "region,requestId,status" || !slices.Contains(rows[0], "projects") {
		t.Errorf("CSV rows %v", rows)
	}
	noSubject(t, "the CSV", raw)
}

// TestConsoleRetryFromTheRequestPage: a failed request's page shows the
// failed subsystem; its retry asks for confirmation, is refused without
// the page's token, and once confirmed completes the request, whose page
// then shows the verified certificate and the operator's audit record.
func TestConsoleRetryFromTheRequestPage(t *testing.T) {
	cfg := loadConfig(t)
	if err := demo.ApplyFaults(cfg, []string{"eu/projects=reject"}); err != nil {
		t.Fatal(err)
	}
	rt, err := Start(t.Context(), Options{Config: cfg, DataDir: t.TempDir(), Demo: true, Clock: asl.NewFakeClock(t0), Log: discard(), Operator: "dpo"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	id := file(t, rt, "eu", "alice")
	if r := wait(t, rt, id); r.Status != erasure.StatusFailed {
		t.Fatalf("request %s, want failed", r.Status)
	}
	page := rt.EdgeURL() + "/requests/" + id
	resp, body := do(t, "GET", page, nil, "")
	noSubject(t, page, body)
	if resp.StatusCode != 200 || !regexp.MustCompile(`data-subsystem="projects">.*s-failed`).Match(body) || !strings.Contains(string(body), "403") {
		t.Fatalf("the request page does not show projects failed: %d\n%s", resp.StatusCode, body)
	}
	token := csrfRE.FindSubmatch(body)
	if token == nil {
		t.Fatal("no form token on the request page")
	}
	form := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	post := func(v url.Values, h http.Header) (int, string) {
		resp, body := do(t, "POST", page+"/retry", h, v.Encode())
		noSubject(t, "POST retry", body)
		return resp.StatusCode, string(body)
	}
	if code, _ := post(url.Values{"confirm": {"yes"}}, form); code != 403 {
		t.Errorf("a retry without the page's token = %d, want 403", code)
	}
	crossSite := form.Clone()
	crossSite.Set("Origin", "http://evil.example")
	if code, _ := post(url.Values{"confirm": {"yes"}, "csrf": {string(token[1])}}, crossSite); code != 403 {
		t.Errorf("a retry from another origin = %d, want 403", code)
	}
	// confirmation asks to confirm a retry and returns the page's one-time
	// token.
	confirmation := func() string {
		t.Helper()
		code, confirm := post(url.Values{"csrf": {string(token[1])}}, form)
		once := onceRE.FindStringSubmatch(confirm)
		if code != 200 || !strings.Contains(confirm, "Confirm: Retry") || once == nil {
			t.Fatalf("the first post does not ask to confirm: %d\n%s", code, confirm)
		}
		return once[1]
	}
	once := confirmation()
	if r, _ := rt.Region("eu"); r != nil {
		if got := auditActions(t, r, id); len(got) != 0 {
			t.Fatalf("asking to confirm did something: %v", got)
		}
	}
	rt.Farm().SetFaults("eu", "projects", config.DemoSubsystem{})
	if code, _ := post(url.Values{"csrf": {string(token[1])}, "confirm": {"made-up"}}, form); code != 409 {
		t.Errorf("a confirmation the console did not issue = %d, want 409", code)
	}
	code, answer := post(url.Values{"csrf": {string(token[1])}, "confirm": {once}}, form)
	if code != 200 || !strings.Contains(answer, "HTTP 202") {
		t.Fatalf("the confirmed retry: %d\n%s", code, answer)
	}
	// The same confirmation sent again (a double click) is not sent on.
	if code, answer := post(url.Values{"csrf": {string(token[1])}, "confirm": {once}}, form); code != 409 || !strings.Contains(answer, "sent already") {
		t.Errorf("the confirmation sent twice: %d\n%s", code, answer)
	}
	if r := wait(t, rt, id); r.Status != erasure.StatusCompleted {
		t.Fatalf("after the retry: %s", r.Status)
	}
	reg, _ := rt.Region("eu")
	waitFor(t, func() bool { return len(auditActions(t, reg, id)) >= 2 }, "the certificate's audit record")
	_, body = do(t, "GET", page, nil, "")
	noSubject(t, page, body)
	for _, want := range []string{"<strong>Verified</strong>", "retry</td>", "local:dpo", id + "-r1", "s-completed"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("the completed request's page lacks %q", want)
		}
	}
	// Retrying a completed request is refused by the API, and the page
	// says why.
	code, answer = post(url.Values{"csrf": {string(token[1])}, "confirm": {confirmation()}}, form)
	if code != 409 || !strings.Contains(answer, "HTTP 409") || !strings.Contains(answer, "request_completed") {
		t.Errorf("a retry of a completed request: %d\n%s", code, answer)
	}
	resp, cert := do(t, "GET", page+"/certificate", nil, "")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/jose" || strings.Count(string(cert), ".") != 2 {
		t.Errorf("certificate download: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, p := range []string{"/requests/er_eu_0190b0a0-0000-7000-8000-000000000000", "/requests/alice", "/requests/er_mars_0190b0a0-0000-7000-8000-000000000000"} {
		resp, body := do(t, "GET", rt.EdgeURL()+p, nil, "")
		noSubject(t, p, body)
		if resp.StatusCode != 404 {
			t.Errorf("GET %s = %d, want 404", p, resp.StatusCode)
		}
	}
}
