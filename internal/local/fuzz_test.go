package local

import (
	"context"
	"encoding/json"
	"github.com/lethe-erasure/lethe/internal/subjectkey/subjectkeytest"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lethe-erasure/lethe/internal/api"
	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/registry"
)

type okExecutions struct{}

func (okExecutions) Start(context.Context, string, string) error { return nil }

type okNotices struct{}

func (okNotices) PublishNotice(context.Context, string) error { return nil }

// FuzzAPIThroughTheGateway sends any method, path, headers and body to the
// eu API through lethe local's gateway, as a client on the network would:
// the answer is never a 5xx (the store and the executions do not fail
// here, so any 5xx is Lethe's fault), an error is Lethe's JSON error
// shape, and a 4xx changes nothing.
func FuzzAPIThroughTheGateway(f *testing.F) {
	open := "er_eu_01935f3c-7b2a-7c3d-8e4f-0123456789ab"
	for _, seed := range [][6]string{
		{"POST", "/erasures", "application/json", "k-1", "dpo", `{"subjectId":"alice"}`},
		{"POST", "/erasures", "application/json", "", "", `{"subjectId":"lone\ud800surrogate"}`},
		{"DELETE", "/api/user/bob", "", "", "", ""},
		{"DELETE", "/api/user/%zz", "", "", "", ""},
		{"GET", "/erasures/" + open, "", "", "", ""},
		{"GET", "/erasures?limit=5", "", "", "", ""},
		{"POST", "/erasures/" + open + "/retry", "application/json", "", "dpo", `{"subsystems":["orders"]}`},
		{"POST", "/erasures/" + open + "/extension", "application/json", "", "dpo", `{"months":1,"reason":"x"}`},
		{"POST", "/erasures/" + open + "/subsystems/orders/attestation", "application/json", "", "dpo", `{"outcome":"deleted","note":"n"}`},
		{"GET", "/erasures/" + open + "/subject", "", "", "dpo", ""},
		{"GET", "/audit?requestId=" + open, "", "", "dpo", ""},
		{"PUT", "/tenants/eu-shop.myshopify.com", "", "", "", ""},
	} {
		f.Add(seed[0], seed[1], seed[2], seed[3], seed[4], seed[5])
	}
	cfg := loadConfig(f)
	region, _ := cfg.Region("eu")
	store := newMemStore()
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	if _, _, err := store.Create(context.Background(), erasure.Request{ID: open, SubjectID: "carol", Source: "api", Status: erasure.StatusFailed,
		ReceivedAt: now, Deadline: now.AddDate(0, 1, 0)}, ""); err != nil {
		f.Fatal(err)
	}
	h := api.New(store, subjectkeytest.Key(), cfg, region, api.WithLogger(discard()), api.WithClock(func() time.Time { return now }),
		api.WithExecutions(okExecutions{}), api.WithNotices(okNotices{}))
	gw := NewGateway(RegionalRoutes, map[string]ProxyHandler{registry.FnAPI: h.Handle}, nil)
	f.Fuzz(func(t *testing.T, method, path, contentType, key, operator, body string) {
		req, err := http.NewRequest(method, "http://127.0.0.1:8081"+path, strings.NewReader(body))
		if err != nil || !strings.HasPrefix(path, "/") {
			return // not a request a client can send
		}
		for name, v := range map[string]string{"Content-Type": contentType, "Idempotency-Key": key, OperatorHeader: operator} {
			if v != "" {
				req.Header.Set(name, v)
			}
		}
		before := snapshot(store)
		w := httptest.NewRecorder()
		gw.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%s %q answered %d: %s", method, path, w.Code, w.Body)
		}
		if w.Code >= 400 {
			var e struct {
				Error *struct{ Code string } `json:"error"`
			}
			if method != http.MethodHead && (json.Unmarshal(w.Body.Bytes(), &e) != nil || e.Error == nil || e.Error.Code == "") {
				t.Fatalf("%s %q answered %d without Lethe's error shape: %q", method, path, w.Code, w.Body)
			}
			if after := snapshot(store); after != before {
				t.Fatalf("%s %q answered %d but changed the store", method, path, w.Code)
			}
		}
	})
}

// snapshot is the store's content, to compare before and after a call.
func snapshot(m *memStore) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, _ := json.Marshal(m.byID)
	return string(b)
}
