package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/lethe-erasure/lethe/internal/edge"
)

var (
	heldKnown   = "q_" + strings.Repeat("a", 32) // its tenant is registered now
	heldUnknown = "q_" + strings.Repeat("b", 32) // its tenant is still unknown
)

// holdTwo puts two deliveries in the fake edge's quarantine.
func holdTwo(f *fakeAPIs) {
	f.directory[shop] = "eu"
	f.held = []edge.HeldView{
		{ID: heldKnown, Provider: "shopify", DeliveryID: "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043", Topic: "customers/redact",
			TenantHash: edge.Hash(shop), Verified: true, ReceivedAt: "2026-11-20T09:00:00.000Z", ExpiresAt: "2026-11-23T09:00:00.000Z"},
		{ID: heldUnknown, Provider: "zendesk", DeliveryID: "01HZX0000000000000000000", Topic: "",
			TenantHash: edge.Hash("new-help"), ReceivedAt: "2026-11-20T08:00:00.000Z", ExpiresAt: "2026-11-23T08:00:00.000Z"},
	}
	f.heldTenant[heldKnown] = shop
	f.heldTenant[heldUnknown] = "new-help"
}

func TestQuarantine(t *testing.T) {
	release := func(id string) string { return "edge POST /quarantine/" + id + "/release" }
	for _, tc := range []opsCase{
		{
			name: "list", setup: holdTwo, args: []string{"list"},
			requests: []string{"edge GET /quarantine"},
			stdout: []string{"ID", "PROVIDER", "TOPIC", "SIGNED", heldKnown, "shopify", "customers/redact", "yes", "2026-11-23T09:00:00.000Z",
				edge.Hash(shop), heldUnknown, "zendesk", "no"},
		},
		{
			name: "list one tenant's, with a limit", setup: holdTwo, args: []string{"list", "--tenant", "new-help", "--limit", "5"},
			requests: []string{"edge GET /quarantine?limit=5&tenant=new-help"},
			stdout:   []string{heldUnknown}, absent: []string{heldKnown},
		},
		{
			name: "list when nothing is held", args: []string{"list"},
			requests: []string{"edge GET /quarantine"}, stdout: []string{"no held deliveries"},
		},
		{
			name: "list --json prints the edge's answer", setup: holdTwo, args: []string{"list", "--json"},
			requests: []string{"edge GET /quarantine"},
			check: func(t *testing.T, _ *fakeAPIs, out string, _ int) {
				var got struct {
					Edge struct {
						Status int
						Body   struct{ Held []edge.HeldView }
					}
				}
				if err := json.Unmarshal([]byte(out), &got); err != nil || got.Edge.Status != 200 || len(got.Edge.Body.Held) != 2 ||
					got.Edge.Body.Held[0].ID != heldKnown {
					t.Errorf("stdout (%v):\n%s", err, out)
				}
			},
		},
		{
			name: "list while the edge is down: retried", setup: func(f *fakeAPIs) { f.down["edge"] = true }, args: []string{"list"},
			code: 1, requests: []string{"edge GET /quarantine", "edge GET /quarantine", "edge GET /quarantine"},
			stderr: []string{"edge API GET /quarantine: HTTP 503 after 3 attempts"},
		},
		{
			name: "release a delivery whose tenant is registered now", setup: holdTwo, args: []string{"release", heldKnown},
			requests: []string{release(heldKnown)}, stdout: []string{heldKnown + ": released to eu"},
			check: func(t *testing.T, f *fakeAPIs, _ string, _ int) {
				if _, still := f.heldTenant[heldKnown]; still {
					t.Error("the delivery is still held")
				}
			},
		},
		{
			name: "release --json", setup: holdTwo, args: []string{"release", "--json", heldKnown},
			requests: []string{release(heldKnown)}, stdout: []string{`"status": 200`, `"released"`, `"regions": [`},
		},
		{
			name: "release before the tenant is registered", setup: holdTwo, args: []string{"release", heldUnknown},
			code: 1, requests: []string{release(heldUnknown)},
			stderr: []string{"edge API POST /quarantine/" + heldUnknown + "/release: HTTP 409 tenant_still_unknown: the delivery's tenant is still not registered", "(field id)"},
		},
		{
			name: "release an expired or released delivery", setup: holdTwo, args: []string{"release", "q_" + strings.Repeat("c", 32)},
			code: 1, requests: []string{release("q_" + strings.Repeat("c", 32))},
			stderr: []string{"HTTP 404 not_found: no held delivery has this id"},
		},
		{
			name:  "release while the edge is down: one attempt, the edge retries the region itself",
			setup: func(f *fakeAPIs) { holdTwo(f); f.down["edge"] = true }, args: []string{"release", heldKnown},
			code: 1, requests: []string{release(heldKnown)}, stderr: []string{"HTTP 503 after 1 attempts"},
		},
		{
			name: "an id with a slash stays one path segment", setup: holdTwo, args: []string{"release", "q_x/../../tenants/x"},
			code: 1, requests: []string{release("q_x%2F..%2F..%2Ftenants%2Fx")}, stderr: []string{"HTTP 404"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, "quarantine") })
	}
}
