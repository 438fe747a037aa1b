package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/loadgen"
	"github.com/lethe-erasure/lethe/internal/store/embedded"
)

// Figures P2 and P3 of the embedded-default issue, measured on `lethe
// local` as a child process (what a newcomer runs), loaded from this
// process over loopback. Run them with
//   go test -run '^$' -bench 'Intake|ErasureThroughput' -benchtime 1x ./cmd/lethe/
// (make bench does). LETHE_BENCH_ERASURES and LETHE_BENCH_INTAKE change the
// request counts.

func benchCount(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// startBenchLocal starts lethe local with the default configuration's demo
// subsystems on free ports and returns it with the first region's URL.
func startBenchLocal(b *testing.B, dir string, extra ...string) (*child, string, string) {
	ports := freePorts(b, 3)
	data := filepath.Join(dir, "data")
	eu := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	args := append([]string{"local", "--config", filepath.Join("..", "..", "cdk.json"), "--data-dir", data,
		"--port", fmt.Sprint(ports[0]), "--region-port", fmt.Sprint(ports[1])}, extra...)
	return startChild(b, filepath.Join(dir, "lethe.log"), eu+"/erasures", args...), eu, data
}

// peakRSS is the child's peak resident memory in MiB, once it has exited.
func peakRSS(c *child) float64 {
	if ru, ok := c.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		return float64(ru.Maxrss) / 1024 // Linux reports KiB
	}
	return 0
}

// BenchmarkIntake is figure P3: POST /erasures on loopback under load from
// this process, requests per second and latency, and the number of accepted
// requests found in the store afterwards, which must equal the 202s.
func BenchmarkIntake(b *testing.B) {
	n := benchCount("LETHE_BENCH_INTAKE", 20000)
	for range b.N {
		dir := b.TempDir()
		proc, eu, data := startBenchLocal(b, dir)
		res, err := loadgen.Run(context.Background(), loadgen.Options{URL: eu, Requests: n, Concurrency: 32})
		if err != nil {
			b.Fatal(err)
		}
		proc.stop(b)
		s := res.Summary()
		stored := countStored(b, data, "eu")
		b.ReportMetric(s.RequestsPerSecond, "requests/s")
		b.ReportMetric(s.LatencyMs.P50, "p50-ms")
		b.ReportMetric(s.LatencyMs.P99, "p99-ms")
		b.ReportMetric(float64(s.Accepted), "accepted")
		b.ReportMetric(float64(stored), "stored")
		if stored != s.Accepted || s.Accepted != s.AcceptedIDs {
			b.Errorf("%d answered 202 (%d distinct ids), %d requests in the store", s.Accepted, s.AcceptedIDs, stored)
		}
		b.Logf("%d requests, 32 connections: %+v", n, s.StatusCodes)
	}
}

// BenchmarkErasureThroughput is figure P2: erasures completed per second of
// wall time on the accelerated clock (every subsystem of eu, two of them
// async; every erasure must complete), and the process's peak memory (RSS,
// which counts the pages of the memory-mapped data file it touched).
func BenchmarkErasureThroughput(b *testing.B) {
	for _, fsync := range []bool{true, false} {
		b.Run(fmt.Sprintf("fsync=%v", fsync), func(b *testing.B) { erasureThroughput(b, fsync) })
	}
}

func erasureThroughput(b *testing.B, fsync bool) {
	n := benchCount("LETHE_BENCH_ERASURES", 100000)
	for range b.N {
		dir := b.TempDir()
		// The speed keeps the run inside the requests' one-month deadline
		// on Lethe's clock (2.6 million seconds: at 1000x, 43 minutes of
		// wall time for the last request filed) while an erasure's own
		// ~900 s of polling takes about a second.
		proc, eu, _ := startBenchLocal(b, dir, "--speed", "1000", fmt.Sprintf("--fsync=%v", fsync))
		start := time.Now()
		res, err := loadgen.Run(context.Background(), loadgen.Options{URL: eu, Requests: n, Concurrency: 32})
		if err != nil {
			b.Fatal(err)
		}
		filed := time.Since(start)
		if s := res.Summary(); s.Accepted != n {
			b.Fatalf("%d of %d erasures accepted: %+v", s.Accepted, n, s.StatusCodes)
		}
		client := loadgen.NewClient(8)
		deadline := time.Now().Add(60 * time.Minute)
		for _, id := range res.IDs {
			for {
				st, err := getErasureWith(client, eu, id)
				if err != nil {
					b.Fatal(err)
				}
				if !st.Status.Open() {
					if st.Status != erasure.StatusCompleted {
						b.Fatalf("request %s ended %s: %+v (the figure counts completed erasures only)", id, st.Status, st.Subsystems)
					}
					break
				}
				if time.Now().After(deadline) {
					b.Fatalf("request %s still %s after 60 minutes", id, st.Status)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		elapsed := time.Since(start)
		proc.stop(b)
		b.ReportMetric(float64(n)/elapsed.Seconds(), "erasures/s")
		b.ReportMetric(float64(n)/filed.Seconds(), "filed/s")
		b.ReportMetric(peakRSS(proc), "peak-RSS-MiB")
		b.Logf("%d erasures filed in %s, all completed after %s", n, filed.Round(time.Millisecond), elapsed.Round(time.Millisecond))
	}
}

// countStored opens the stopped child's store and counts the region's
// requests.
func countStored(b *testing.B, dataDir, region string) int {
	db, err := embedded.Open(filepath.Join(dataDir, "lethe.db"), embedded.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	n, err := db.Requests(region).Count(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	return n
}
