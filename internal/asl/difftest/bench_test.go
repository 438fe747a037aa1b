package difftest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The throughput figures of issue 3: executions per second of
// statemachines/erasure.asl.json (with its child machines and instant stub
// tasks) on Lethe's engine and on aws-local-stepfunctions, and the ratio.
// Both run the same substituted definitions with the same stub functions;
// both engines run the .sync:2 children (the npm engine through runner.mjs's
// startExecution stub, which runs the child definition in that engine).

const benchCaseFile = "bench/erasure.json"

// letheBench runs executions of the bench case on one engine that keeps
// the last benchKeep finished executions in memory (Options.KeepFinished),
// as a long-running process with a checkpoint store does, so that memory
// does not grow with every execution (the npm engine keeps none). Request
// ids differ per execution because the child executions are named after
// them, as on AWS.
type letheBench struct {
	c    *testCase
	once sync.Once
	l    *lethe
	err  error
	seq  atomic.Int64
}

// benchKeep is the engine's KeepFinished in the benchmarks. What the
// engine keeps is live heap that every garbage collection marks: measured
// on the 2-core box, keeping 8,000 finished executions halves the rate,
// keeping 1,000 costs about a third and 100 next to nothing.
const benchKeep = 100

func (b *letheBench) engine() (*lethe, error) {
	b.once.Do(func() { b.l, b.err = newLethe(b.c, benchKeep) })
	return b.l, b.err
}

func (b *letheBench) runOne(ctx context.Context) error {
	l, err := b.engine()
	if err != nil {
		return err
	}
	n := b.seq.Add(1)
	var in map[string]any
	if err := json.Unmarshal(b.c.Input, &in); err != nil {
		return err
	}
	in["requestId"] = fmt.Sprintf("er_eu_bench-%d", n)
	input, err := json.Marshal(in)
	if err != nil {
		return err
	}
	o, err := l.run(ctx, fmt.Sprintf("bench-%d", n), input)
	if err != nil {
		return err
	}
	if o.Status != "SUCCEEDED" {
		return fmt.Errorf("execution ended %s", o)
	}
	return nil
}

// BenchmarkErasureMachine is Lethe's executions per second of the main
// erasure machine with instant tasks, one execution at a time (the
// figure TestThroughputVersusNpmEngine compares).
func BenchmarkErasureMachine(b *testing.B) {
	lb := &letheBench{c: loadCase(b, filepath.Join("testdata", benchCaseFile))}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := lb.runOne(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "execs/s")
}

// BenchmarkErasureMachineParallel runs executions concurrently, as the
// local runtime does with many requests in flight.
func BenchmarkErasureMachineParallel(b *testing.B) {
	lb := &letheBench{c: loadCase(b, filepath.Join("testdata", benchCaseFile))}
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := lb.runOne(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "execs/s")
}

// measureLethe runs sequential executions for at least d and returns
// executions per second.
func measureLethe(t *testing.T, lb *letheBench, d time.Duration, workers int) (int, float64) {
	t.Helper()
	ctx := context.Background()
	for range 20 { // warm-up
		if err := lb.runOne(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var count atomic.Int64
	var failed atomic.Value
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if err := lb.runOne(ctx); err != nil {
					failed.Store(err)
					return
				}
				count.Add(1)
			}
		}()
	}
	wg.Wait()
	if err, ok := failed.Load().(error); ok {
		t.Fatal(err)
	}
	el := time.Since(start).Seconds()
	return int(count.Load()), float64(count.Load()) / el
}

// TestThroughputVersusNpmEngine prints the figures `make bench` reports.
// It runs only with LETHE_BENCH=1 (it takes several seconds and measures
// the machine it runs on) and asserts nothing about speed.
func TestThroughputVersusNpmEngine(t *testing.T) {
	if os.Getenv("LETHE_BENCH") != "1" {
		t.Skip("set LETHE_BENCH=1 to measure executions per second (make bench does)")
	}
	c := loadCase(t, filepath.Join("testdata", benchCaseFile))
	npm := startNpm(t)

	// The npm engine first, in its own process, so the two never compete
	// for the CPU.
	req := newNpmRequest("bench", c)
	req.N = 1000
	id, err := npm.send(req)
	if err != nil {
		t.Fatal(err)
	}
	var theirs struct {
		Executions int     `json:"executions"`
		Seconds    float64 `json:"seconds"`
		PerSecond  float64 `json:"perSecond"`
		Last       outcome `json:"last"`
	}
	if err := npm.receive(id, &theirs); err != nil {
		t.Fatal(err)
	}
	if theirs.Last.Status != "SUCCEEDED" {
		t.Fatalf("the npm engine's executions did not succeed: %s", theirs.Last)
	}

	lb := &letheBench{c: c}
	n, seq := measureLethe(t, lb, 3*time.Second, 1)
	pn, par := measureLethe(t, lb, 3*time.Second, runtime.GOMAXPROCS(0))
	// One core, as node runs the npm engine: an execution's goroutines hand
	// work to each other (executions, Map iterations, .sync children), and
	// with one P a handoff is a goroutine switch instead of waking another
	// thread.
	procs := runtime.GOMAXPROCS(1)
	n1, one := measureLethe(t, lb, 3*time.Second, 1)
	runtime.GOMAXPROCS(procs)

	fmt.Printf("== statemachines/erasure.asl.json (+ sync-deletion, async-deletion children), 3 subsystems, instant stub tasks\n")
	fmt.Printf("lethe (internal/asl), sequential:   %9.0f execs/s  (%d executions)\n", seq, n)
	fmt.Printf("lethe (internal/asl), %2d parallel:  %9.0f execs/s  (%d executions)\n", runtime.GOMAXPROCS(0), par, pn)
	fmt.Printf("lethe (internal/asl), sequential on one core (GOMAXPROCS=1): %9.0f execs/s  (%d executions)\n", one, n1)
	fmt.Printf("aws-local-stepfunctions 3.0.0, sequential: %9.1f execs/s  (%d executions in %.2f s, node %s)\n",
		theirs.PerSecond, theirs.Executions, theirs.Seconds, nodeVersion())
	fmt.Printf("ratio lethe/npm (sequential): %.1fx; on one core each: %.1fx  (goal >= 20x)\n", seq/theirs.PerSecond, one/theirs.PerSecond)
}

func nodeVersion() string {
	out, err := execOutput("node", "--version")
	if err != nil {
		return "?"
	}
	return out
}
