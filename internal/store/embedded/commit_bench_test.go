package embedded

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// BenchmarkGroupCommit compares the committer with bbolt's db.Batch for one
// small write per operation, from one writer and from many: Batch makes a
// lone writer wait MaxBatchDelay for company; the committer does not.
func BenchmarkGroupCommit(b *testing.B) {
	for _, noSync := range []bool{false, true} {
		for _, parallel := range []bool{false, true} {
			for _, way := range []string{"committer", "bolt.Batch"} {
				name := fmt.Sprintf("nosync=%v/parallel=%v/%s", noSync, parallel, way)
				b.Run(name, func(b *testing.B) {
					db, err := bolt.Open(filepath.Join(b.TempDir(), "b.db"), 0o600, &bolt.Options{NoSync: noSync, NoFreelistSync: true, FreelistType: bolt.FreelistMapType})
					if err != nil {
						b.Fatal(err)
					}
					defer db.Close()
					c := &committer{db: db}
					var n atomic.Int64
					write := func() {
						k := fmt.Appendf(nil, "k%d", n.Add(1))
						fn := func(tx *bolt.Tx) error {
							bk, err := tx.CreateBucketIfNotExists([]byte("b"))
							if err != nil {
								return err
							}
							return bk.Put(k, k)
						}
						var err error
						if way == "committer" {
							err = c.do(fn)
						} else {
							err = db.Batch(fn)
						}
						if err != nil {
							b.Fatal(err)
						}
					}
					if parallel {
						b.SetParallelism(16)
						b.RunParallel(func(pb *testing.PB) {
							for pb.Next() {
								write()
							}
						})
					} else {
						for b.Loop() {
							write()
						}
					}
					b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
				})
			}
		}
	}
}
