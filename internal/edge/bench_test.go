package edge

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lethe-erasure/lethe/internal/webhook"
)

// BenchmarkFanout measures webhooks per second through the fan-out handler
// to a region on loopback, and what the edge adds to a delivery's latency:
// each iteration posts one delivery straight to the region and one through
// the edge (verify, directory, claim, forward, settle; the tables in
// memory), and the per-delivery difference is reported at p50 and p99.
// `make bench` prints these as the figures.
func BenchmarkFanout(b *testing.B) {
	h := newHarness(b)
	h.fan.log = slog.New(slog.DiscardHandler)
	client := NewHTTPClient()
	direct := h.eu.srv.URL + "/webhooks/shopify"
	evs := make([]events.APIGatewayV2HTTPRequest, 0, 1024)
	for i := range cap(evs) {
		evs = append(evs, h.shopify(euShop, fmt.Sprintf("bench-%d", i), "customers/redact", []byte(redactBody)))
	}
	shopify, err := webhook.Lookup(webhook.Shopify)
	if err != nil {
		b.Fatal(err)
	}
	post := func(ev events.APIGatewayV2HTTPRequest) {
		req, _ := http.NewRequest(http.MethodPost, direct, bytes.NewReader([]byte(redactBody)))
		req.Header = forwardHeader(shopify, headerOf(ev))
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			b.Fatalf("direct: %d", resp.StatusCode)
		}
	}
	var viaEdge, straight, added []time.Duration
	ctx := context.Background()
	n := 0
	for b.Loop() {
		ev := evs[n%len(evs)]
		if n >= len(evs) { // a fresh delivery id, so every iteration is forwarded
			ev.Headers = maps(ev.Headers, "x-shopify-webhook-id", fmt.Sprintf("bench-%d", n))
		}
		n++
		s := time.Now()
		post(ev)
		d := time.Since(s)
		s = time.Now()
		resp, _ := h.fan.Handle(ctx, ev)
		e := time.Since(s)
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("fan-out: %d %s", resp.StatusCode, resp.Body)
		}
		straight, viaEdge, added = append(straight, d), append(viaEdge, e), append(added, e-d)
	}
	b.StopTimer()
	var total time.Duration
	for _, e := range viaEdge {
		total += e
	}
	b.ReportMetric(float64(len(viaEdge))/total.Seconds(), "webhooks/s")
	b.ReportMetric(percentile(straight, 50), "direct-p50-µs")
	b.ReportMetric(percentile(viaEdge, 50), "edge-p50-µs")
	b.ReportMetric(percentile(added, 50), "added-p50-µs")
	b.ReportMetric(percentile(added, 99), "added-p99-µs")
}

// BenchmarkFanoutParallel is the fan-out's throughput with concurrent
// deliveries (one Lambda container serves one at a time; this is the
// local runtime's case, and the handler's own contention).
func BenchmarkFanoutParallel(b *testing.B) {
	h := newHarness(b)
	h.fan.log = slog.New(slog.DiscardHandler)
	base := h.shopify(euShop, "p", "customers/redact", []byte(redactBody))
	ctx := context.Background()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			ev := base
			ev.Headers = maps(base.Headers, "x-shopify-webhook-id", fmt.Sprintf("par-%d", h.seq.Add(1)))
			if resp, _ := h.fan.Handle(ctx, ev); resp.StatusCode != http.StatusOK {
				b.Errorf("fan-out: %d %s", resp.StatusCode, resp.Body)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "webhooks/s")
}

// maps returns a copy of m with k set to v.
func maps(m map[string]string, k, v string) map[string]string {
	c := make(map[string]string, len(m)+1)
	for a, b := range m {
		c[a] = b
	}
	c[k] = v
	return c
}

// percentile returns the p-th percentile of ds in microseconds.
func percentile(ds []time.Duration, p int) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	if i > 0 {
		i--
	}
	return float64(s[i].Nanoseconds()) / 1e3
}
