// Package loadgen measures intake: it files erasure requests with a
// regional API (POST /erasures) from many connections at once and reports
// throughput, latency and answers (figure P3 of `make bench`). It runs in a
// process of its own (cmd/lethe-load), so that the API under test does not
// share a scheduler with its load.
//
// Every request is for a new subject (load-<run>-<n>: distinct within a run,
// random across runs, and no one's personal data) and carries no
// Idempotency-Key, so every answer should be a 202 that filed one request;
// the ids of the 202s are kept so that the store can be checked afterwards
// (Options.Verify, or the ids written out by the command).
package loadgen

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options describe one run.
type Options struct {
	// URL is the regional API's base URL (http://127.0.0.1:8081 for the
	// first region of lethe local); requests go to URL + "/erasures".
	URL string
	// Requests is how many requests to send; 0 means until Duration.
	Requests int
	// Concurrency is how many requests are in flight at once, each
	// worker on its own kept-alive connection.
	Concurrency int
	// Duration stops sending new requests after this long (answers of
	// those in flight are still awaited); 0 means until Requests.
	Duration time.Duration
	// Timeout bounds one request (default 30 s).
	Timeout time.Duration
	// Verify reads every accepted request back (GET /erasures/{id}) after
	// the run, to count those the store really holds.
	Verify bool
	// Client sends the requests; nil means NewClient(Concurrency).
	Client *http.Client
}

// Check refuses options that cannot make a run; messages name the
// command's flags.
func (o Options) Check() error {
	u, err := url.Parse(o.URL)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("-url must be an http(s) base URL without query, e.g. http://127.0.0.1:8081")
	case o.Concurrency < 1:
		return fmt.Errorf("-c must be at least 1, got %d", o.Concurrency)
	case o.Requests < 0:
		return fmt.Errorf("-n must not be negative, got %d", o.Requests)
	case o.Duration < 0:
		return fmt.Errorf("-duration must not be negative, got %s", o.Duration)
	case o.Requests == 0 && o.Duration == 0:
		return fmt.Errorf("give -n or -duration (or both): the run must end")
	case o.Timeout < 0:
		return fmt.Errorf("-timeout must not be negative, got %s", o.Timeout)
	}
	return nil
}

// NewClient is an HTTP client that keeps one idle connection per worker,
// so that a run measures the API, not TCP handshakes. It follows no
// redirects: an intake answer is never one.
func NewClient(concurrency int) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = max(concurrency, 100)
	t.MaxIdleConnsPerHost = concurrency
	t.DisableCompression = true
	return &http.Client{
		Transport:     t,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Sample is one request's outcome: its status code (0 when no answer came)
// and its latency, from sending to having read the whole answer.
type Sample struct {
	Status  int
	Latency time.Duration
}

// Result is one run's outcome.
type Result struct {
	URL         string
	Concurrency int
	// Elapsed is from the first request sent to the last answer read.
	Elapsed time.Duration
	// Samples holds every answered or failed request, in no order.
	Samples []Sample
	// Errors counts requests without an answer (Sample.Status 0); FirstError
	// is the first of them.
	Errors     int
	FirstError string
	// Abandoned counts requests cut off by the caller's context (Ctrl-C):
	// not in Samples, and whether they filed anything is unknown.
	Abandoned int
	// IDs are the request ids of the 202 answers, in no order.
	IDs []string
	// Verified is how many of IDs a GET found after the run (-1 without
	// Options.Verify); VerifyErrors counts GETs that got no 200.
	Verified     int
	VerifyErrors int
}

// Run sends the load and waits for every answer. It returns an error only
// for bad options; failed requests are part of the Result.
func Run(ctx context.Context, o Options) (Result, error) {
	if err := o.Check(); err != nil {
		return Result{}, err
	}
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
	client := o.Client
	if client == nil {
		client = NewClient(o.Concurrency)
	}
	var runID [6]byte
	if _, err := rand.Read(runID[:]); err != nil {
		return Result{}, fmt.Errorf("run id: %w", err)
	}
	prefix := "load-" + hex.EncodeToString(runID[:]) + "-"
	endpoint := strings.TrimSuffix(o.URL, "/") + "/erasures"

	res := Result{URL: o.URL, Concurrency: o.Concurrency, Verified: -1}
	var next atomic.Int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	var stopAt time.Time
	if o.Duration > 0 {
		stopAt = start.Add(o.Duration)
	}
	var lastDone atomic.Int64 // nanoseconds after start
	for w := 0; w < o.Concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var samples []Sample
			var ids []string
			errs, abandoned, firstErr := 0, 0, ""
			for ctx.Err() == nil {
				n := next.Add(1)
				if o.Requests > 0 && n > int64(o.Requests) {
					break
				}
				if !stopAt.IsZero() && !time.Now().Before(stopAt) {
					break
				}
				s, id, err := post(ctx, client, o.Timeout, endpoint, prefix+strconv.FormatInt(n, 10))
				if ctx.Err() != nil {
					abandoned++
					break
				}
				for d := int64(time.Since(start)); ; {
					if last := lastDone.Load(); d <= last || lastDone.CompareAndSwap(last, d) {
						break
					}
				}
				samples = append(samples, s)
				if err != nil {
					errs++
					if firstErr == "" {
						firstErr = err.Error()
					}
				}
				if id != "" {
					ids = append(ids, id)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			res.Samples = append(res.Samples, samples...)
			res.IDs = append(res.IDs, ids...)
			res.Errors += errs
			res.Abandoned += abandoned
			if res.FirstError == "" {
				res.FirstError = firstErr
			}
		}()
	}
	wg.Wait()
	res.Elapsed = time.Duration(lastDone.Load())
	if o.Verify && ctx.Err() == nil {
		res.Verified, res.VerifyErrors = verify(ctx, client, o, distinct(res.IDs))
	}
	return res, nil
}

// post files one erasure request. A 202's request id is returned (""
// when its body has none); err is a transport failure.
func post(ctx context.Context, client *http.Client, timeout time.Duration, endpoint, subject string) (Sample, string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	body := `{"subjectId":"` + subject + `"}` // [a-z0-9-] only: no escaping needed
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(body))
	if err != nil {
		return Sample{}, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	t0 := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return Sample{Latency: time.Since(t0)}, "", redact(err)
	}
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	s := Sample{Status: resp.StatusCode, Latency: time.Since(t0)}
	if err != nil {
		return Sample{Latency: s.Latency}, "", fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode != http.StatusAccepted {
		return s, "", nil
	}
	var v struct {
		RequestID string `json:"requestId"`
	}
	_ = json.Unmarshal(answer, &v) // no id: Accepted > AcceptedIDs tells
	return s, v.RequestID, nil
}

// redact drops the URL from a transport error (it is the same for every
// request, and the summary names it once).
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// verify GETs every id with o.Concurrency workers and counts the 200s.
func verify(ctx context.Context, client *http.Client, o Options, ids []string) (found, failed int) {
	base := strings.TrimSuffix(o.URL, "/") + "/erasures/"
	var next atomic.Int64
	var nFound, nFailed atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < o.Concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(len(ids)) || ctx.Err() != nil {
					return
				}
				if get(ctx, client, o.Timeout, base+url.PathEscape(ids[i])) {
					nFound.Add(1)
				} else {
					nFailed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return int(nFound.Load()), int(nFailed.Load())
}

func get(ctx context.Context, client *http.Client, timeout time.Duration, u string) bool {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Summary is a Result in numbers, as -json prints it. Requests counts
// every request sent; Answered those that got an HTTP answer, which alone
// make the throughput and the latencies.
type Summary struct {
	URL               string         `json:"url"`
	Concurrency       int            `json:"concurrency"`
	Requests          int            `json:"requests"`
	Answered          int            `json:"answered"`
	Seconds           float64        `json:"seconds"`
	RequestsPerSecond float64        `json:"requestsPerSecond"`
	LatencyMs         Latency        `json:"latencyMs"`
	StatusCodes       map[string]int `json:"statusCodes"`
	TransportErrors   int            `json:"transportErrors"`
	FirstError        string         `json:"firstError,omitempty"`
	Abandoned         int            `json:"abandoned"`
	Accepted          int            `json:"accepted"`
	AcceptedIDs       int            `json:"acceptedIds"`
	Verified          *int           `json:"verified,omitempty"`
}

// Latency is a latency distribution in milliseconds.
type Latency struct {
	P50  float64 `json:"p50"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// Summary computes the figures of the run. Accepted counts 202 answers;
// AcceptedIDs the distinct request ids they carried (equal unless the API
// answered 202 twice with one id).
func (r Result) Summary() Summary {
	s := Summary{URL: r.URL, Concurrency: r.Concurrency, Requests: len(r.Samples), Seconds: r.Elapsed.Seconds(),
		StatusCodes: map[string]int{}, TransportErrors: r.Errors, FirstError: r.FirstError, Abandoned: r.Abandoned}
	lat := make([]time.Duration, 0, len(r.Samples))
	var sum time.Duration
	for _, x := range r.Samples {
		if x.Status == 0 {
			continue // no answer: no latency to speak of
		}
		lat = append(lat, x.Latency)
		sum += x.Latency
		s.StatusCodes[strconv.Itoa(x.Status)]++
		if x.Status == http.StatusAccepted {
			s.Accepted++
		}
	}
	s.Answered = len(lat)
	if r.Elapsed > 0 {
		s.RequestsPerSecond = float64(s.Answered) / r.Elapsed.Seconds()
	}
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	if len(lat) > 0 {
		s.LatencyMs = Latency{P50: ms(percentile(lat, 50)), P99: ms(percentile(lat, 99)), Max: ms(lat[len(lat)-1]),
			Mean: ms(sum / time.Duration(len(lat)))}
	}
	s.AcceptedIDs = len(distinct(r.IDs))
	if r.Verified >= 0 {
		v := r.Verified
		s.Verified = &v
	}
	return s
}

// distinct is ids without repeats, in first-seen order.
func distinct(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// percentile is the nearest-rank percentile of sorted latencies.
func percentile(sorted []time.Duration, p int) time.Duration {
	rank := (p*len(sorted) + 99) / 100
	return sorted[max(rank, 1)-1]
}

// WriteText prints the summary for a person.
func (s Summary) WriteText(w io.Writer) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "POST %s/erasures: %d requests in %.2fs from %d connections\n", strings.TrimSuffix(s.URL, "/"), s.Requests, s.Seconds, s.Concurrency)
	fmt.Fprintf(&b, "throughput   %.1f requests/s\n", s.RequestsPerSecond)
	fmt.Fprintf(&b, "latency      p50 %.2f ms   p99 %.2f ms   max %.2f ms   mean %.2f ms\n", s.LatencyMs.P50, s.LatencyMs.P99, s.LatencyMs.Max, s.LatencyMs.Mean)
	codes := make([]string, 0, len(s.StatusCodes))
	for c := range s.StatusCodes {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	for _, c := range codes {
		fmt.Fprintf(&b, "HTTP %s     %d\n", c, s.StatusCodes[c])
	}
	if s.TransportErrors > 0 {
		fmt.Fprintf(&b, "no answer    %d (first: %s)\n", s.TransportErrors, s.FirstError)
	}
	if s.Abandoned > 0 {
		fmt.Fprintf(&b, "abandoned    %d in flight when interrupted (whether they filed a request is unknown)\n", s.Abandoned)
	}
	fmt.Fprintf(&b, "accepted     %d answers 202 carrying %d distinct request ids\n", s.Accepted, s.AcceptedIDs)
	if s.Verified != nil {
		fmt.Fprintf(&b, "verified     %d of %d accepted requests read back (GET /erasures/{id})\n", *s.Verified, s.AcceptedIDs)
	}
	_, _ = w.Write(b.Bytes())
}
