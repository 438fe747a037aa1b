package demo

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/lethe-erasure/lethe/internal/config"
)

// BenchmarkSubmit measures one async submit (a committed, fsynced write),
// alone and from parallel callers that share commits.
func BenchmarkSubmit(b *testing.B) {
	for _, parallel := range []bool{false, true} {
		b.Run(fmt.Sprintf("parallel=%v", parallel), func(b *testing.B) {
			f := newFarm(b)

			h := f.Subsystem("eu", orders, config.DemoSubsystem{})
			var n atomic.Int64
			one := func() {
				body := fmt.Sprintf(`{"requestId":"er_eu_%d","subjectId":"alice"}`, n.Add(1))
				if r := serve(h, "POST", "/erasures", body); r.status != 202 {
					b.Fatal(r.status)
				}
			}
			b.ResetTimer()
			if !parallel {
				for b.Loop() {
					one()
				}
				return
			}
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					one()
				}
			})
		})
	}
}

// BenchmarkCheckPending measures a status check of a pending erasure: a
// read only.
func BenchmarkCheckPending(b *testing.B) {
	f := newFarm(b)

	h := f.Subsystem("eu", orders, config.DemoSubsystem{})
	r := serve(h, "POST", "/erasures", `{"requestId":"er_eu_1","subjectId":"alice"}`)
	ticket := r.body[len(`{"ticket":"`) : len(r.body)-2]
	for b.Loop() {
		if r := serve(h, "GET", "/erasures/"+ticket, ""); r.status != 200 {
			b.Fatal(r.status, r.body)
		}
	}
}
