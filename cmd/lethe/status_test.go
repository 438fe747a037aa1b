package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lethe-erasure/lethe/internal/api"
	"github.com/lethe-erasure/lethe/internal/erasure"
)

// step is one move of a request between two polls.
type step = func(r *erasure.Request)

// setSub sets subsystem name's status, attempts and detail.
func setSub(name string, s erasure.SubsystemStatus, attempts int, detail string) step {
	return func(r *erasure.Request) {
		r.Status = erasure.StatusRunning
		for i := range r.Subsystems {
			if r.Subsystems[i].Name == name {
				r.Subsystems[i].Status, r.Subsystems[i].Attempts, r.Subsystems[i].Detail = s, attempts, detail
				if s != erasure.SubsystemPending {
					at := r.ReceivedAt.Add(time.Minute)
					r.Subsystems[i].FinishedAt = &at
				}
			}
		}
	}
}

// unchanged is a poll that finds nothing new.
func unchanged(*erasure.Request) {}

// then applies several steps as one.
func then(steps ...step) step {
	return func(r *erasure.Request) {
		for _, s := range steps {
			s(r)
		}
	}
}

func closeAs(s erasure.Status) step {
	return func(r *erasure.Request) {
		r.Status = s
		at := r.ReceivedAt.Add(2 * time.Minute)
		r.CompletedAt = &at
	}
}

// progressScript takes a request through its three subsystems, with polls
// in between that see nothing new, and ends it as end: completed, or failed
// with customers failed.
func progressScript(end erasure.Status) []step {
	last := setSub("customers", erasure.SubsystemNotFound, 2, "")
	if end == erasure.StatusFailed {
		last = setSub("customers", erasure.SubsystemFailed, 5, "HTTP 503 after 5 attempts\x1b[31m")
	}
	return []step{
		setSub("projects", erasure.SubsystemPending, 1, ""),
		setSub("projects", erasure.SubsystemDeleted, 1, ""),
		unchanged,
		setSub("orders", erasure.SubsystemPending, 2, "ticket t-1 pending"),
		setSub("orders", erasure.SubsystemDeleted, 3, ""),
		unchanged,
		then(last, closeAs(end)),
	}
}

// filed files one request for subject in a's store and returns its id.
func filed(t *testing.T, a *regionAPI) string {
	t.Helper()
	out, errOut, code := cliRun(context.Background(), cliOperator(), "", "erase", "--region", "eu", "--url", a.srv.URL, "--json", subject)
	if code != 0 {
		t.Fatalf("erase: exit %d\n%s%s", code, out, errOut)
	}
	return a.store.only(t).ID
}

func TestStatusUsageErrors(t *testing.T) {
	a := newRegionAPI(t, "eu")
	id := filed(t, a)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no id", nil, "want exactly one REQUEST_ID, got 0"},
		{"two ids", []string{id, id}, "want exactly one REQUEST_ID, got 2"},
		{"not an id", []string{subject}, "REQUEST_ID must look like er_<region>_<uuidv7>"},
		{"short interval", []string{"--watch", "--interval", "0s", id}, "--interval must be at least 100ms"},
		{"unknown flag", []string{"--follow", id}, "-follow"},
		{"bad url", []string{"--url", "ftp://127.0.0.1", id}, "--url"},
		{"region not configured", []string{"--region", "mars", "--config", cliConfig(t, a.srv.URL, ""), id}, `no region "mars"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := cliRun(context.Background(), cliOperator(), "", append([]string{"status", "--url", a.srv.URL}, tc.args...)...)
			if code != 2 || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, want 2 and %q\nstdout %s\nstderr %s", code, tc.want, out, errOut)
			}
			if strings.Contains(out+errOut, subject) {
				t.Errorf("the subject id is printed:\n%s%s", out, errOut)
			}
			if _, gets := a.store.counts(); gets != 0 {
				t.Errorf("a usage error sent %d GETs", gets)
			}
		})
	}
}

func TestStatusShows(t *testing.T) {
	a := newRegionAPI(t, "eu")
	id := filed(t, a)
	a.store.script = []step{then(setSub("projects", erasure.SubsystemDeleted, 1, ""), setSub("orders", erasure.SubsystemPending, 3, "ticket t-9 pending"))}
	// The region is the id's: the configuration names eu's API.
	out, errOut, code := cliRun(context.Background(), cliOperator(), "", "status", "--config", cliConfig(t, a.srv.URL, ""), id)
	if code != 0 {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	for _, want := range []string{
		"request   " + id,
		"status    running   [#--] 1/3 subsystems done",
		"deadline  ",
		"Z (in ",
		"  projects     sync  deleted   1 attempt  finished ",
		"  orders       async pending   3 attempts  ticket t-9 pending",
		"  customers    async pending   0 attempts",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout does not say %q:\n%s", want, out)
		}
	}

	out, _, code = cliRun(context.Background(), cliOperator(), "", "status", "--url", a.srv.URL, "--json", id)
	var got map[string]struct {
		Status int             `json:"status"`
		Body   api.RequestView `json:"body"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || code != 0 || got["status"].Status != 200 || got["status"].Body.Subsystems[1].Attempts != 3 {
		t.Errorf("--json: exit %d, %v\n%s", code, err, out)
	}
}

func TestStatusRefusals(t *testing.T) {
	a := newRegionAPI(t, "eu")
	us := newRegionAPI(t, "us")
	id := filed(t, a)
	missing := strings.Replace(id, id[len(id)-4:], "0000", 1)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown id", []string{"--url", a.srv.URL, missing}, "region eu API GET /erasures/" + missing + ": HTTP 404 not_found: no erasure request has this id (field requestId)"},
		{"another region's API", []string{"--region", "us", "--url", us.srv.URL, id}, "HTTP 404 wrong_region: this request belongs to region eu"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := cliRun(context.Background(), cliOperator(), "", append([]string{"status"}, tc.args...)...)
			if code != 1 || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, want 1 and %q\nstdout %s\nstderr %s", code, tc.want, out, errOut)
			}
		})
	}
	// --watch stops at a refusal too.
	_, errOut, code := cliRun(context.Background(), cliOperator(), "", "status", "--url", a.srv.URL, "--watch", missing)
	if code != 1 || !strings.Contains(errOut, "HTTP 404 not_found") {
		t.Errorf("--watch of an unknown id: exit %d\n%s", code, errOut)
	}
}

func TestStatusWatch(t *testing.T) {
	for _, tc := range []struct {
		end  erasure.Status
		code int
		want []string
	}{
		{erasure.StatusCompleted, 0, []string{"completed at", "(within the deadline)", "completed [###] 3/3 subsystems done"}},
		{erasure.StatusFailed, 1, []string{"failed at", "1 of 3 subsystems did not erase: customers", "failed    5 attempts", "HTTP 503 after 5 attempts?[31m"}},
	} {
		t.Run(string(tc.end), func(t *testing.T) {
			a := newRegionAPI(t, "eu")
			id := filed(t, a)
			a.store.script = progressScript(tc.end)
			out, errOut, code := cliRun(context.Background(), cliOperator(), "", "status", "--url", a.srv.URL, "--watch", "--interval", "100ms", id)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout %s\nstderr %s", code, tc.code, out, errOut)
			}
			for _, want := range tc.want {
				if !strings.Contains(out, want) {
					t.Errorf("stdout does not say %q:\n%s", want, out)
				}
			}
			if strings.Contains(out, "\x1b") {
				t.Errorf("escape sequences on a non-terminal (or a detail's own):\n%q", out)
			}
			if _, gets := a.store.counts(); gets != len(progressScript(tc.end)) {
				t.Errorf("%d polls, want %d (one per step, none after the end)", gets, len(progressScript(tc.end)))
			}
			// Not a terminal: a line only when something changed. Each
			// progress line is different from the one before.
			var progress []string
			for _, l := range strings.Split(out, "\n") {
				if strings.Contains(l, "subsystems done") {
					progress = append(progress, l[strings.Index(l, " ")+1:])
				}
			}
			for i := 1; i < len(progress); i++ {
				if progress[i] == progress[i-1] {
					t.Errorf("progress line %q printed twice in a row:\n%s", progress[i], out)
				}
			}
			if n := strings.Count(out, "  orders "); n != 3 { // the first frame, then pending(2), deleted, and nothing after
				t.Errorf("orders' line printed %d times, want 3:\n%s", n, out)
			}
		})
	}
}

func TestStatusWatchJSON(t *testing.T) {
	a := newRegionAPI(t, "eu")
	id := filed(t, a)
	a.store.script = progressScript(erasure.StatusCompleted)
	out, errOut, code := cliRun(context.Background(), cliOperator(), "", "status", "--url", a.srv.URL, "--watch", "--interval", "100ms", "--json", id)
	if code != 0 {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	var last api.RequestView
	lines := 0
	for sc.Scan() {
		var l map[string]struct {
			Status int             `json:"status"`
			Body   api.RequestView `json:"body"`
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil || l["status"].Status != http.StatusOK {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		last = l["status"].Body
		lines++
	}
	if want := len(progressScript(erasure.StatusCompleted)) - 2; lines != want { // two polls changed nothing
		t.Errorf("%d lines, want %d:\n%s", lines, want, out)
	}
	if last.Status != erasure.StatusCompleted {
		t.Errorf("last line's status %s", last.Status)
	}
}

func TestStatusWatchInterrupted(t *testing.T) {
	a := newRegionAPI(t, "eu")
	id := filed(t, a)
	ctx, cancel := context.WithTimeout(context.Background(), 350*time.Millisecond)
	defer cancel()
	start := time.Now()
	out, errOut, code := cliRun(ctx, cliOperator(), "", "status", "--url", a.srv.URL, "--watch", "--interval", "100ms", id)
	if code != exitInterrupted || !strings.Contains(errOut, "stopped watching; the erasure goes on (lethe status --watch "+id+")") {
		t.Errorf("exit %d, want %d\nstdout %s\nstderr %s", code, exitInterrupted, out, errOut)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %s to stop", d)
	}
}

// TestWatchTerminal redraws the frame in place: cursor up over the last
// frame and clear, then the new frame.
func TestWatchTerminal(t *testing.T) {
	a := newRegionAPI(t, "eu")
	id := filed(t, a)
	a.store.script = []step{unchanged, then(setSub("projects", erasure.SubsystemDeleted, 1, ""), setSub("orders", erasure.SubsystemDeleted, 1, ""),
		setSub("customers", erasure.SubsystemDeleted, 1, ""), closeAs(erasure.StatusCompleted))}
	tgt, err := cliOperator().openRegion(&regionFlags{url: a.srv.URL}, "eu")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	w := &watcher{t: tgt, interval: time.Millisecond, out: &out, errOut: &out, tty: true, now: time.Now}
	v, err := w.run(context.Background(), id)
	if err != nil || v.Status != erasure.StatusCompleted {
		t.Fatalf("%v %s", err, v.Status)
	}
	frames := strings.Split(out.String(), "\x1b[")
	if len(frames) != 3 { // first frame, then "7F" + "J" + the second
		t.Fatalf("%d parts, want 3:\n%q", len(frames), out.String())
	}
	if !strings.HasPrefix(frames[1], "7F") || !strings.HasPrefix(frames[2], "J") {
		t.Errorf("not a redraw of the 7 lines:\n%q", out.String())
	}
	if !strings.Contains(frames[2], "[###] 3/3") || !strings.HasSuffix(out.String(), "held nothing\n") {
		t.Errorf("last frame:\n%s", frames[2])
	}
}

func TestProgress(t *testing.T) {
	v := func(ss ...erasure.SubsystemStatus) api.RequestView {
		var r api.RequestView
		for _, s := range ss {
			r.Subsystems = append(r.Subsystems, api.SubsystemView{Status: s})
		}
		return r
	}
	d, n, f, p := erasure.SubsystemDeleted, erasure.SubsystemNotFound, erasure.SubsystemFailed, erasure.SubsystemPending
	many := make([]erasure.SubsystemStatus, 40)
	for i := range many {
		many[i] = p
	}
	many[0] = d
	for _, tc := range []struct {
		in   api.RequestView
		want string
	}{
		{v(p, p, p), "[---] 0/3 subsystems done"},
		{v(d, n, p), "[##-] 2/3 subsystems done"},
		{v(d, f, p), "[#!-] 1/3 subsystems done"},
		{v(), "[] 0/0 subsystems done"},
		{v(many...), "[#-------------------] 1/40 subsystems done"},
	} {
		if got := progress(tc.in); got != tc.want {
			t.Errorf("progress = %q, want %q", got, tc.want)
		}
	}
}

// TestSubsystemLineWhilePersisting: a subsystem Lethe persists through an
// outage shows its last error, since when and the next attempt; a done one
// does not carry an old error.
func TestSubsystemLineWhilePersisting(t *testing.T) {
	since, next := "2026-11-02T10:00:00.000Z", "2026-11-02T18:35:00.000Z"
	got := subsystemLine(api.SubsystemView{Name: "orders", Mode: "async", Status: erasure.SubsystemPending, Attempts: 9,
		LastError: "orders answered 503 (check 4)", UnavailableSince: &since, NextAttemptAt: &next})
	for _, want := range []string{"9 attempts", "last error: orders answered 503 (check 4)", "unavailable since " + since, "next attempt " + next} {
		if !strings.Contains(got, want) {
			t.Errorf("line %q lacks %q", got, want)
		}
	}
	done := subsystemLine(api.SubsystemView{Name: "orders", Mode: "async", Status: erasure.SubsystemDeleted, Attempts: 10, LastError: "old"})
	if strings.Contains(done, "old") {
		t.Errorf("a deleted subsystem shows an old error: %q", done)
	}
}
