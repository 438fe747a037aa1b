package local

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/lethe-erasure/lethe/internal/asl"
	"github.com/lethe-erasure/lethe/internal/demo"
)

// BenchmarkConsolePages renders each page of the console under lethe
// local, through the regions' and the edge's real APIs on loopback, and
// reports its weight (the HTML; the stylesheet and script are the last
// two, fetched once per visit): a request failed in one subsystem, its
// executions, the edge with the demo tenants, the health page with the
// failure mail.
func BenchmarkConsolePages(b *testing.B) {
	cfg := loadConfig(b)
	if err := demo.ApplyFaults(cfg, []string{"eu/projects=reject"}); err != nil {
		b.Fatal(err)
	}
	rt, err := Start(context.Background(), Options{Config: cfg, DataDir: b.TempDir(), Demo: true, Clock: asl.NewFakeClock(t0), NoSync: true, Log: discard()})
	if err != nil {
		b.Fatal(err)
	}
	defer rt.Close()
	id := file(b, rt, "eu", "bob")
	wait(b, rt, id)
	reg, _ := rt.Region("eu")
	main := ExecutionArn(reg.Engine, reg.Wired.Main, id)
	child := ExecutionArn(reg.Engine, reg.Wired.Machines["async-deletion"], id+"-orders")
	pages := []struct{ name, path string }{
		{"requests", "/"}, {"request", "/requests/" + id}, {"execution", "/executions/" + main},
		{"execution-child", "/executions/" + child + "?state=CheckUserDeleted"}, {"edge", "/edge"}, {"health", "/health"},
		{"css", "/static/console.css"}, {"js", "/static/console.js"},
	}
	for _, p := range pages {
		b.Run(p.name, func(b *testing.B) {
			var size int
			for b.Loop() {
				resp, err := http.Get(rt.EdgeURL() + p.path)
				if err != nil {
					b.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatalf("%s: %d", p.path, resp.StatusCode)
				}
				size = len(body)
			}
			b.ReportMetric(float64(size), "bytes/page")
		})
	}
}
