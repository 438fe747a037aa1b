package embedded_test

import (
	"bytes"
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/lethe-erasure/lethe/internal/asl"
	"github.com/lethe-erasure/lethe/internal/store/embedded"
	"github.com/lethe-erasure/lethe/internal/store/storetest"
)

var durability = []struct {
	name   string
	noSync bool
}{{"sync", false}, {"nosync", true}}

// BenchmarkCreate measures intake: one Create (request, subject lock,
// idempotency record and feed record in one transaction) per operation,
// from one caller and from many (their writes share commits).
func BenchmarkCreate(b *testing.B) {
	for _, d := range durability {
		for _, parallel := range []bool{false, true} {
			name := d.name + "/serial"
			if parallel {
				name = d.name + "/parallel"
			}
			b.Run(name, func(b *testing.B) {
				db, _ := openDB(b, embedded.Options{NoSync: d.noSync})
				reqs := db.Requests("eu")
				var n atomic.Int64
				create := func() {
					i := n.Add(1)
					req := storetest.NewRequest(b, fmt.Sprintf("subject-%d@example.com", i))
					if _, created, err := reqs.Create(context.Background(), req, fmt.Sprintf("key-%d", i)); err != nil || !created {
						b.Fatalf("Create: %v, created=%v", err, created)
					}
				}
				if parallel {
					b.SetParallelism(16)
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							create()
						}
					})
				} else {
					for b.Loop() {
						create()
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "creates/s")
			})
		}
	}
}

// BenchmarkCheckpointSave measures what an execution pays per transition:
// one Save of a ~2 KB state and two ~400-byte events, by one execution
// and by many at once (16 per CPU), each finishing after 30 saves as the
// erasure machines' executions do.
func BenchmarkCheckpointSave(b *testing.B) {
	state := bytes.Repeat([]byte("s"), 2048)
	event := bytes.Repeat([]byte("e"), 400)
	for _, d := range durability {
		for _, parallel := range []bool{false, true} {
			name := d.name + "/serial"
			if parallel {
				name = d.name + "/parallel"
			}
			b.Run(name, func(b *testing.B) {
				db, _ := openDB(b, embedded.Options{NoSync: d.noSync})
				cps := db.Checkpoints("eu")
				var execs atomic.Int64
				worker := func(next func() bool) {
					for {
						arn := fmt.Sprintf("arn:aws:states:eu-west-1:123456789012:execution:Erasure:x%d", execs.Add(1))
						for s := int64(0); s < 30; s++ {
							if !next() {
								return
							}
							cp := asl.Checkpoint{State: state, FirstEvent: 2*s + 1, Events: [][]byte{event, event}, Finished: s == 29}
							if err := cps.Save(context.Background(), arn, cp); err != nil {
								b.Fatal(err)
							}
						}
					}
				}
				if parallel {
					b.SetParallelism(16)
					b.RunParallel(func(pb *testing.PB) { worker(pb.Next) })
				} else {
					worker(b.Loop)
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "saves/s")
			})
		}
	}
}
