package embedded_test

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/store/embedded"
	"github.com/lethe-erasure/lethe/internal/store/storetest"
)

// BenchmarkForget100k files and completes 100,000 requests, then measures
// what the data file and its key directory weigh, and how much of them is
// erased data: every byte of any of the 100,000 subject ids found in them
// (the goal is 0). One operation is the whole run.
func BenchmarkForget100k(b *testing.B) {
	const n = 100_000
	const prefix = "forget-bench-subject-"
	for range b.N {
		db, path := openDB(b, embedded.Options{NoSync: true})
		reqs := db.Requests("eu")
		ctx := context.Background()
		start := time.Now()
		for i := range n {
			req := storetest.NewRequest(b, fmt.Sprintf("%s%06d@example.com", prefix, i))
			if _, _, err := reqs.Create(ctx, req, ""); err != nil {
				b.Fatal(err)
			}
			if _, err := reqs.RecordOutcome(ctx, req.ID, erasure.StatusCompleted, storetest.T0.Add(time.Hour), nil); err != nil {
				b.Fatal(err)
			}
		}
		took := time.Since(start)
		if err := db.Close(); err != nil {
			b.Fatal(err)
		}
		var size, erased int64
		files := []string{path}
		_ = filepath.WalkDir(embedded.KeysDir(path), func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				files = append(files, p)
			}
			return nil
		})
		for _, f := range files {
			raw, err := os.ReadFile(f)
			if err != nil {
				b.Fatal(err)
			}
			size += int64(len(raw))
			erased += int64(bytes.Count(raw, []byte(prefix))) * int64(len(prefix)+len("000000@example.com"))
		}
		b.ReportMetric(float64(size)/(1<<20), "MiB-on-disk")
		b.ReportMetric(float64(erased)/float64(size)*100, "%-erased-data")
		b.ReportMetric(float64(len(files)-1), "keys-left")
		b.ReportMetric(float64(n)/took.Seconds(), "closed/s")
	}
}
