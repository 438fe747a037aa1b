package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/lethe-erasure/lethe/internal/api"
	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/local"
	"github.com/lethe-erasure/lethe/internal/pause"
)

// lethe status (and lethe erase --watch) reads one erasure request from its
// region's API and, with --watch, follows it until it is no longer open.

func init() {
	commands["status"] = command{summary: "show an erasure request's progress per subsystem, or --watch it to the end", run: defaultOperator.status}
}

const statusUsage = `usage:
  lethe status [--watch] [--interval 1s] [--region NAME] [--url URL] [flags] REQUEST_ID

status shows REQUEST_ID (er_<region>_<uuidv7>, as lethe erase printed it):
its status, deadline, and each subsystem's status, attempts and detail as
the region's API records them (GET /erasures/{requestId}). The region is
the one the id names, unless --region.

--watch polls every --interval until the request is completed or failed,
with a progress line ([#!-] 1/3 subsystems done: # done, ! failed,
- pending) and one line per subsystem; on a terminal the display is
redrawn in place, otherwise a line is printed only when something changed.

The API is --url, else regions[].apiUrl of the configuration, else the
region's address under lethe local (http://127.0.0.1:8081 for the first).

flags:
  --region NAME     ask this region's API instead of the id's
  --url URL         regional API base URL
  --watch           follow the request until it ends
  --interval D      time between polls with --watch (default 1s, at least 100ms)
  --config FILE     configuration: context.lethe of a cdk.json (default cdk.json)
  --no-sign         unsigned requests (always so for an API on 127.0.0.1)
  --json            print the API's raw answer; with --watch, one compact
                    JSON object per line each time the request changes
Requests to a non-loopback URL are SigV4-signed (execute-api) with the
default AWS credentials.
Exit status: 0 shown (with --watch: completed), 1 failed or refused (with
--watch: the request failed), 2 usage error, 130 interrupted.`

// minInterval bounds --interval: a watcher must not hammer an API.
const minInterval = 100 * time.Millisecond

// exitInterrupted is the exit status of a watch stopped by Ctrl-C, as a
// shell reports a command killed by SIGINT.
const exitInterrupted = 130

// regionFlags are the flags of erase and status: which region's API, how
// it is reached, how answers are printed.
type regionFlags struct {
	configPath string
	configSet  bool // --config was given: it is read (and checked) even when not needed
	url        string
	noSign     bool
	json       bool
	region     string
	watch      bool
	interval   time.Duration
}

func (f *regionFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.configPath, "config", "cdk.json", "`file` holding the configuration in its context.lethe")
	fs.StringVar(&f.url, "url", "", "regional API base `URL` (default: regions[].apiUrl, else lethe local's address)")
	fs.BoolVar(&f.noSign, "no-sign", false, "send unsigned requests")
	fs.BoolVar(&f.json, "json", false, "print the API's raw answers as JSON")
	fs.BoolVar(&f.watch, "watch", false, "follow the request until it is completed or failed")
	fs.DurationVar(&f.interval, "interval", time.Second, "time between polls with --watch")
}

func (f *regionFlags) check(fs *flag.FlagSet) error {
	fs.Visit(func(fl *flag.Flag) { f.configSet = f.configSet || fl.Name == "config" })
	if f.interval < minInterval {
		return usagef("--interval must be at least %s, got %s", minInterval, f.interval)
	}
	if err := checkURL(f.url); err != nil {
		return usagef("--url: %v", err)
	}
	return nil
}

// isLoopback tells an API on this machine (lethe local), which is never
// signed: it has no IAM in front of it.
func isLoopback(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	h := u.Hostname()
	return h == "127.0.0.1" || h == "localhost" || h == "::1"
}

// regionTarget is one region's API as erase and status call it.
type regionTarget struct {
	s  *session
	to config.RegionEndpoint
	// local is set when the URL is lethe local's default address, for a
	// hint when nothing answers there.
	local bool
	// now is the clock of the API's times (clockOf).
	now func() time.Time
}

// localURL is region's API under the lethe local running on
// $LETHE_DATA_DIR (else .lethe), as its urls.json says; else the address
// lethe local serves it on by default.
func localURL(cfg *config.Config, region string) (string, error) {
	if u, err := local.ReadURLs(local.DataDir()); err == nil && u.Regions[region] != "" {
		return u.Regions[region], nil
	}
	return cfg.LocalURL(region)
}

// clockOf is the clock an API's times are on: the wall clock, or Lethe's
// clock of the lethe local that serves apiURL, as its urls.json says
// (under --speed 300 a day passes in under five minutes).
func clockOf(apiURL string) func() time.Time {
	if !isLoopback(apiURL) {
		return time.Now
	}
	u, err := local.ReadURLs(local.DataDir())
	if err != nil || u.Clock == nil {
		return time.Now
	}
	for _, r := range u.Regions {
		if strings.TrimRight(r, "/") == strings.TrimRight(apiURL, "/") {
			return u.Now
		}
	}
	return time.Now
}

// openRegion resolves region's API (--url, else regions[].apiUrl, else
// lethe local's address) and opens an unconnected session on it. Unless
// --config is given, the configuration is not read for an unsigned call to
// an explicit --url, so that a loopback API can be used from any directory.
func (o *operator) openRegion(f *regionFlags, region string) (*regionTarget, error) {
	t := &regionTarget{to: config.RegionEndpoint{Name: region, APIURL: f.url}}
	unsigned := f.noSign || (f.url != "" && isLoopback(f.url))
	var cfg *config.Config
	if f.url == "" || !unsigned || f.configSet {
		var err error
		if cfg, err = config.Load(f.configPath); err != nil {
			return nil, fmt.Errorf("%w (pass --config FILE to read another cdk.json)", err)
		}
		r, ok := cfg.Region(region)
		if !ok {
			names := make([]string, len(cfg.Regions))
			for i, r := range cfg.Regions {
				names[i] = r.Name
			}
			return nil, usagef("no region %q in %s; regions: %s", region, f.configPath, strings.Join(names, ", "))
		}
		t.to.AWSRegion = r.AWSRegion
		if t.to.APIURL == "" {
			t.to.APIURL = r.APIURL
		}
		if t.to.APIURL == "" {
			if t.to.APIURL, err = localURL(cfg, region); err != nil {
				return nil, err
			}
			t.local = true
		}
	}
	f2 := &opsFlags{configPath: f.configPath, noSign: f.noSign || isLoopback(t.to.APIURL), json: f.json}
	policy := o.policy
	if isLoopback(t.to.APIURL) {
		// A local runtime that is down refuses at once; that a retry 3 s
		// later would find it up is not worth the wait.
		policy.Backoff = slices.Clone(policy.Backoff)
		for i, b := range policy.Backoff {
			policy.Backoff[i] = min(b, 250*time.Millisecond)
		}
	}
	t.s = &session{op: o, cfg: cfg, flags: f2, policy: policy, calls: map[string]rawAnswer{}}
	t.now = clockOf(t.to.APIURL)
	return t, nil
}

// hint adds what to do when nothing answers at lethe local's address.
func (t *regionTarget) hint(err error) error {
	var refused *apiError
	if err == nil || !t.local || errors.As(err, &refused) {
		return err
	}
	return fmt.Errorf("%w\nno API answers at %s (regions[].apiUrl of region %s is not set, and no lethe local wrote %s): start it with `lethe local` (make run), or pass --url",
		err, t.to.APIURL, t.to.Name, filepath.Join(local.DataDir(), local.URLsFile))
}

func (o *operator) status(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("lethe status", flag.ContinueOnError)
	var f regionFlags
	f.register(fs)
	fs.StringVar(&f.region, "region", "", "ask this region's `NAME` API instead of the one the id names")
	pos, err := parseArgs(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(stdout, statusUsage)
		return 0
	}
	if err == nil {
		err = f.check(fs)
	}
	if err == nil && len(pos) != 1 {
		err = usagef("want exactly one REQUEST_ID, got %d arguments", len(pos))
	}
	if err != nil {
		return exitCode(stderr, "lethe status", statusUsage, err)
	}
	id := pos[0]
	region, perr := erasure.ParseID(id)
	if perr != nil {
		// Not quoted back: a mistyped argument may be a subject id.
		return exitCode(stderr, "lethe status", statusUsage, usagef("REQUEST_ID must look like er_<region>_<uuidv7> (lethe erase prints it)"))
	}
	if f.region != "" {
		region = f.region
	}
	t, err := o.openRegion(&f, region)
	if err != nil {
		return exitCode(stderr, "lethe status", statusUsage, err)
	}
	if !f.watch {
		v, err := t.get(ctx, id)
		if err != nil {
			if f.json {
				t.s.printJSON(stdout, nil)
			}
			return exitCode(stderr, "lethe status", statusUsage, t.hint(err))
		}
		if f.json {
			t.s.printJSON(stdout, nil)
		} else {
			for _, l := range frame(v, t.now()) {
				fmt.Fprintln(stdout, l)
			}
		}
		return 0
	}
	return t.watchExit(ctx, id, &f, stdout, stderr, "lethe status")
}

// get reads the request once; its answer is recorded under "status" for
// --json.
func (t *regionTarget) get(ctx context.Context, id string) (api.RequestView, error) {
	var v api.RequestView
	_, err := t.s.expect(ctx, "status", t.to, http.MethodGet, "/erasures/"+url.PathEscape(id), nil, &v, http.StatusOK)
	return v, err
}

// watchExit watches the request and turns the outcome into the exit
// status: 0 completed, 1 failed or refused, 130 interrupted.
func (t *regionTarget) watchExit(ctx context.Context, id string, f *regionFlags, stdout, stderr io.Writer, prefix string) int {
	w := &watcher{t: t, interval: f.interval, out: stdout, errOut: stderr, json: f.json, tty: !f.json && isTerminal(stdout), now: t.now}
	v, err := w.run(ctx, id)
	switch {
	case ctx.Err() != nil:
		fmt.Fprintf(stderr, "%s: stopped watching; the erasure goes on (lethe status --watch %s)\n", prefix, id)
		return exitInterrupted
	case err != nil:
		return exitCode(stderr, prefix, statusUsage, t.hint(err))
	case v.Status == erasure.StatusCompleted:
		return 0
	}
	return 1
}

// isTerminal tells whether the display can be redrawn in place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("TERM") == "dumb" {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// watcher polls one request until it is no longer open.
type watcher struct {
	t        *regionTarget
	interval time.Duration
	out      io.Writer
	errOut   io.Writer
	json     bool
	tty      bool
	now      func() time.Time

	drawn    int              // lines of the last frame on a terminal
	last     *api.RequestView // the last answer seen
	lastBody string           // its raw body, for --json
	failures int              // polls in a row that got no answer
	sleep    func(context.Context, time.Duration) error
}

// run polls until the request is completed or failed, ctx is done, or the
// API refuses. A poll that gets no answer (network, 5xx after retries) is
// reported and the watch goes on, once the API has answered at least once.
func (w *watcher) run(ctx context.Context, id string) (api.RequestView, error) {
	if w.sleep == nil {
		w.sleep = pause.For
	}
	for {
		v, err := w.t.get(ctx, id)
		if ctx.Err() != nil {
			return v, ctx.Err()
		}
		var refused *apiError
		switch {
		case err == nil:
			w.failures = 0
			w.show(v)
			if !v.Status.Open() {
				w.closing(v)
				return v, nil
			}
		case w.last == nil || errors.As(err, &refused):
			return v, err
		default:
			w.failures++
			if w.failures == 1 || w.failures%10 == 0 {
				w.clear()
				fmt.Fprintf(w.errOut, "lethe status: %v (still watching)\n", err)
			}
		}
		if err := w.sleep(ctx, w.interval); err != nil {
			return v, err
		}
	}
}

// show prints the answer: the raw answer with --json (when it changed), the
// whole frame redrawn on a terminal, else the lines that changed.
func (w *watcher) show(v api.RequestView) {
	prev := w.last
	w.last = &v
	if w.json {
		a := w.t.s.calls["status"]
		if string(a.Body) == w.lastBody {
			return
		}
		w.lastBody = string(a.Body)
		b, _ := json.Marshal(map[string]rawAnswer{"status": a})
		fmt.Fprintln(w.out, string(b))
		return
	}
	if w.tty {
		lines := frame(v, w.now())
		w.clear()
		for _, l := range lines {
			fmt.Fprintln(w.out, l)
		}
		w.drawn = len(lines)
		return
	}
	if prev == nil {
		for _, l := range frame(v, w.now()) {
			fmt.Fprintln(w.out, l)
		}
		return
	}
	if prev.Status != v.Status || progress(*prev) != progress(v) {
		fmt.Fprintf(w.out, "%s %s\n", w.now().UTC().Format("15:04:05"), progressLine(v))
	}
	for i, s := range v.Subsystems {
		if i >= len(prev.Subsystems) || subsystemLine(prev.Subsystems[i]) != subsystemLine(s) {
			fmt.Fprintln(w.out, subsystemLine(s))
		}
	}
}

// clear erases the frame drawn on a terminal (cursor up to its first line,
// then clear to the end of the screen).
func (w *watcher) clear() {
	if w.tty && w.drawn > 0 {
		fmt.Fprintf(w.out, "\x1b[%dF\x1b[J", w.drawn)
		w.drawn = 0
	}
}

// closing prints the verdict once the request has ended.
func (w *watcher) closing(v api.RequestView) {
	if w.json {
		return
	}
	fmt.Fprintln(w.out, verdict(v))
}

// verdict says how a closed request ended, and whether inside its deadline.
func verdict(v api.RequestView) string {
	when := ""
	if v.CompletedAt != nil {
		when = " at " + *v.CompletedAt
		if c, err := time.Parse(time.RFC3339, *v.CompletedAt); err == nil {
			if d, err := time.Parse(time.RFC3339, v.Deadline); err == nil {
				if c.After(d) {
					when += " (after the deadline, " + v.Deadline + ")"
				} else {
					when += " (within the deadline)"
				}
			}
		}
	}
	if v.Status == erasure.StatusCompleted {
		return "completed" + when + ": every subsystem erased the subject or held nothing"
	}
	var failed []string
	for _, s := range v.Subsystems {
		if !s.Status.Done() {
			failed = append(failed, s.Name)
		}
	}
	return fmt.Sprintf("%s%s: %d of %d subsystems did not erase: %s", v.Status, when, len(failed), len(v.Subsystems), strings.Join(failed, ", "))
}

// progress is the bar of a request: one mark per subsystem (# done, !
// failed, - pending), at most 20 marks, and how many are done.
func progress(v api.RequestView) string {
	n := len(v.Subsystems)
	done, failed := 0, 0
	for _, s := range v.Subsystems {
		switch {
		case s.Status.Done():
			done++
		case s.Status == erasure.SubsystemFailed:
			failed++
		}
	}
	width := min(n, 20)
	scale := func(k int) int {
		if n == 0 {
			return 0
		}
		return (k*width + n - 1) / n // a single one still shows
	}
	d := scale(done)
	fl := min(scale(failed), width-d)
	bar := strings.Repeat("#", d) + strings.Repeat("!", fl) + strings.Repeat("-", width-d-fl)
	return fmt.Sprintf("[%s] %d/%d subsystems done", bar, done, n)
}

func progressLine(v api.RequestView) string {
	return fmt.Sprintf("%-9s %s", v.Status, progress(v))
}

// frame is the whole display of a request.
func frame(v api.RequestView, now time.Time) []string {
	lines := []string{
		"request   " + v.RequestID,
		"status    " + progressLine(v),
		"received  " + v.ReceivedAt,
		"deadline  " + v.Deadline + untilDeadline(v, now),
	}
	if v.TenantID != "" {
		lines = append(lines, "tenant    "+v.TenantID)
	}
	if v.CompletedAt != nil {
		lines = append(lines, "ended     "+*v.CompletedAt)
	}
	for _, s := range v.Subsystems {
		lines = append(lines, subsystemLine(s))
	}
	return lines
}

func subsystemLine(s api.SubsystemView) string {
	l := fmt.Sprintf("  %-12s %-5s %-9s %s", s.Name, s.Mode, s.Status, plural(s.Attempts, "attempt"))
	if s.FinishedAt != nil {
		l += "  finished " + *s.FinishedAt
	}
	if s.Detail != "" {
		l += "  " + printable(s.Detail)
	}
	if s.LastError != "" && s.LastError != s.Detail && !s.Status.Done() {
		l += "  last error: " + printable(s.LastError)
	}
	if s.UnavailableSince != nil {
		l += "  unavailable since " + *s.UnavailableSince
	}
	if s.NextAttemptAt != nil {
		l += "  next attempt " + *s.NextAttemptAt
	}
	return l
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

// untilDeadline is " (in 29d 23h)" for an open request, " (overdue by
// ...)" past it, "" for a closed one (verdict says).
func untilDeadline(v api.RequestView, now time.Time) string {
	d, err := time.Parse(time.RFC3339, v.Deadline)
	if err != nil || !v.Status.Open() {
		return ""
	}
	if left := d.Sub(now); left >= 0 {
		return " (in " + roughly(left) + ")"
	}
	return " (OVERDUE by " + roughly(now.Sub(d)) + ")"
}

// roughly is a duration in its two largest units: 29d 23h, 5h 02m, 3m 10s.
func roughly(d time.Duration) string {
	switch {
	case d >= 24*time.Hour:
		return fmt.Sprintf("%dd %dh", d/(24*time.Hour), d%(24*time.Hour)/time.Hour)
	case d >= time.Hour:
		return fmt.Sprintf("%dh %02dm", d/time.Hour, d%time.Hour/time.Minute)
	}
	return fmt.Sprintf("%dm %02ds", d/time.Minute, d%time.Minute/time.Second)
}

// printable keeps a subsystem's detail (text that came from a third
// party's answer) from moving the cursor or recolouring the terminal.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if !unicode.IsGraphic(r) { // controls, bidi overrides
			return '?'
		}
		return r
	}, s)
}
