package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lethe-erasure/lethe/internal/asl"
	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/demo"
	"github.com/lethe-erasure/lethe/internal/erasure"
)

// The durability promise of `lethe local` (issue 4): kill the process with
// SIGKILL at any moment, start it again on the same data directory, and
// every accepted request is still there, every execution resumes and
// completes, no subsystem is asked twice within one life of the process (a
// task in flight at the kill is run again after it, as Step Functions runs
// integrations at least once), and no request gets a second execution.
//
// The subsystems run in the test process, outside the one that is killed,
// as real subsystems would, and record every call they get.

const crashSubjects = 200

// crashWorld is the test's side: the subsystems and what they saw.
type crashWorld struct {
	farm  *demo.Farm
	epoch atomic.Int32 // how many times lethe local was killed so far

	mu    sync.Mutex
	calls map[string][]int32 // "<region>/<subsystem> <method> <subject or request id>" -> epochs
}

// recording wraps one subsystem: every delete (per subject) and submission
// (per request) is recorded with the epoch in which it ARRIVED, so that a
// call in flight at a kill counts for the life that made it. Status checks
// may repeat and are not recorded.
func (w *crashWorld) recording(name string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		epoch := w.epoch.Load()
		var key string
		switch r.Method {
		case http.MethodDelete:
			key = name + " DELETE " + r.URL.Path
		case http.MethodPost:
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
			var in struct{ RequestID string }
			_ = json.Unmarshal(body, &in)
			key = name + " POST " + in.RequestID
		}
		h.ServeHTTP(rw, r)
		if key != "" {
			w.mu.Lock()
			w.calls[key] = append(w.calls[key], epoch)
			w.mu.Unlock()
		}
	})
}

// kill crashes lethe local; calls arriving from now on belong to the next
// life.
func (w *crashWorld) kill(c *child) {
	c.kill()
	w.epoch.Add(1)
}

// crashConfig writes a configuration whose two regions' subsystems are the
// test's demo subsystems, and returns its path.
func crashConfig(t *testing.T, w *crashWorld, dir string, subjects []string) string {
	t.Helper()
	full, err := config.Load(filepath.Join("..", "..", "cdk.json"))
	if err != nil {
		t.Fatal(err)
	}
	for ri := range full.Regions {
		r := &full.Regions[ri]
		for si := range r.Subsystems {
			s := &r.Subsystems[si]
			h := w.farm.Subsystem(r.Name, *s, config.DemoSubsystem{FinishAfterSeconds: 1, Subjects: subjects})
			srv := httptest.NewServer(w.recording(r.Name+"/"+s.Name, h))
			t.Cleanup(srv.Close)
			s.BaseURL = srv.URL
			s.Token = config.TokenSource{Kind: config.TokenNone}
		}
	}
	lethe, err := json.Marshal(full)
	if err != nil {
		t.Fatal(err)
	}
	return write(t, dir, "cdk.json", `{"context":{"lethe":`+string(lethe)+`}}`)
}

// fileErasure posts one erasure with an idempotency key, so that filing it
// again after a crash (its answer lost) returns the same request.
func fileErasure(base, subject string) (string, error) {
	body, _ := json.Marshal(map[string]string{"subjectId": subject})
	req, _ := http.NewRequest(http.MethodPost, base+"/erasures", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", "crash-test-"+subject)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("POST /erasures: %d %s", resp.StatusCode, raw)
	}
	var out struct{ RequestID string }
	if err := json.Unmarshal(raw, &out); err != nil || out.RequestID == "" {
		return "", fmt.Errorf("POST /erasures: %s", raw)
	}
	return out.RequestID, nil
}

type requestState struct {
	RequestID  string
	Status     erasure.Status
	Subsystems []struct {
		Name   string
		Status erasure.SubsystemStatus
	}
}

func getErasure(base, id string) (requestState, error) {
	return getErasureWith(http.DefaultClient, base, id)
}

func getErasureWith(client *http.Client, base, id string) (requestState, error) {
	var st requestState
	resp, err := client.Get(base + "/erasures/" + id)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("GET /erasures/%s: %d", id, resp.StatusCode)
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

func TestCrashResume(t *testing.T) {
	if testing.Short() {
		t.Skip("starts lethe local as a child process three times")
	}
	dir := t.TempDir()
	farm, err := demo.Open(filepath.Join(dir, "subsystems.db"), asl.NewRealClock(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { farm.Close() })
	w := &crashWorld{farm: farm, calls: map[string][]int32{}}

	subjects := make([]string, crashSubjects)
	for i := range subjects {
		subjects[i] = fmt.Sprintf("crash-subject-%03d", i)
	}
	cfgPath := crashConfig(t, w, dir, subjects)
	ports := freePorts(t, 3)
	data := filepath.Join(dir, "data")
	logPath := filepath.Join(dir, "lethe.log")
	urls := map[string]string{"eu": fmt.Sprintf("http://127.0.0.1:%d", ports[1]), "us": fmt.Sprintf("http://127.0.0.1:%d", ports[2])}
	args := []string{"local", "--config", cfgPath, "--data-dir", data, "--speed", "600",
		"--port", fmt.Sprint(ports[0]), "--region-port", fmt.Sprint(ports[1]), "--demo=false"}
	start := func() *child { return startChild(t, logPath, urls["eu"]+"/erasures", args...) }
	regionOf := func(i int) string { return [...]string{"eu", "us"}[i%2] }

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 42))
	proc := start()

	// Kill 1: while the erasures are being filed.
	ids := make([]string, crashSubjects)
	killAt := 40 + rng.IntN(100)
	var filed atomic.Int32
	var wg sync.WaitGroup
	jobs := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range jobs {
				if id, err := fileErasure(urls[regionOf(i)], subjects[i]); err == nil {
					ids[i] = id
					if filed.Add(1) == int32(killAt) {
						w.kill(proc)
					}
				}
			}
		})
	}
	for i := range subjects {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if w.epoch.Load() == 0 {
		t.Fatalf("lethe local was not killed during intake (%d filed)", filed.Load())
	}
	proc = start()
	// What the killed process never answered is filed again, with the same
	// idempotency key: a request it accepted comes back with its first id.
	for i := range subjects {
		id, err := fileErasure(urls[regionOf(i)], subjects[i])
		if err != nil {
			t.Fatalf("filing %d after restart: %v", i, err)
		}
		if ids[i] != "" && ids[i] != id {
			t.Fatalf("subject %d: accepted as %s before the crash, %s after", i, ids[i], id)
		}
		ids[i] = id
	}

	// Kill 2: while the executions run.
	time.Sleep(time.Duration(200+rng.IntN(1300)) * time.Millisecond)
	w.kill(proc)
	proc = start()

	deadline := time.Now().Add(3 * time.Minute)
	open := map[int]bool{}
	for i := range subjects {
		open[i] = true
	}
	final := make([]requestState, crashSubjects)
	for len(open) > 0 && time.Now().Before(deadline) {
		for i := range open {
			st, err := getErasure(urls[regionOf(i)], ids[i])
			if err != nil {
				t.Fatal(err)
			}
			if !st.Status.Open() {
				final[i] = st
				delete(open, i)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(open) > 0 {
		t.Fatalf("%d requests still open after 3 minutes\n%s", len(open), tail(logPath))
	}
	proc.stop(t)

	kills := w.epoch.Load()
	w.mu.Lock()
	defer w.mu.Unlock()
	repeated := 0
	for i, st := range final {
		if st.Status != erasure.StatusCompleted {
			t.Errorf("request %d (%s) ended %s: %+v", i, ids[i], st.Status, st.Subsystems)
			continue
		}
		for _, s := range st.Subsystems {
			if s.Status != erasure.SubsystemDeleted && s.Status != erasure.SubsystemNotFound {
				t.Errorf("request %s: %s is %s", ids[i], s.Name, s.Status)
			}
		}
		region, other := regionOf(i), regionOf(i+1)
		for _, name := range []string{"projects", "orders", "customers"} {
			if farm.Holds(region, name, subjects[i]) {
				t.Errorf("%s/%s still holds subject %d", region, name, i)
			}
			if !farm.Holds(other, name, subjects[i]) {
				t.Errorf("%s/%s lost subject %d, which was erased in %s only", other, name, i, region)
			}
		}
	}
	for key, epochs := range w.calls {
		seen := map[int32]bool{}
		for _, e := range epochs {
			if seen[e] {
				t.Errorf("%s was called twice within one life of the process (epochs %v): a second execution or an unasked retry", key, epochs)
			}
			seen[e] = true
		}
		if len(epochs) > 1 {
			repeated++
		}
		if len(epochs) > 1+int(kills) {
			t.Errorf("%s was called %d times with %d kills", key, len(epochs), kills)
		}
	}
	t.Logf("%d requests completed after %d kills; %d subsystem calls repeated after a restart (in flight at a kill)", crashSubjects, kills, repeated)
	if n := len(w.calls); n < crashSubjects*3 {
		t.Errorf("only %d distinct deleting calls recorded; want at least %d", n, crashSubjects*3)
	}
	_ = os.Remove(logPath)
}
