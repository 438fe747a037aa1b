package api

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/store/embedded/embeddedtest"
	"github.com/lethe-erasure/lethe/internal/subjectkey/subjectkeytest"
)

func listEvent(query map[string]string, accept string) events.APIGatewayProxyRequest {
	ev := events.APIGatewayProxyRequest{HTTPMethod: "GET", Path: "/erasures", QueryStringParameters: query}
	if accept != "" {
		ev.Headers = map[string]string{"Accept": accept}
	}
	return ev
}

// TestOfficersList: on a real store, the list pages through every request
// once with its cursor, filters by status, source, atRisk and received
// from/to, and exports CSV that a CSV reader parses; bad values are 400s
// naming the parameter.
func TestOfficersList(t *testing.T) {
	cfg, region := testConfig(t)
	store := embeddedtest.Requests(t, "eu")
	now := testNow
	h := New(store, subjectkeytest.Key(), cfg, region, WithClock(func() time.Time { return now }), WithLogger(slog.New(slog.DiscardHandler)))
	var ids []string
	for i := range 12 {
		src := erasure.SourceAPI
		if i%3 == 0 {
			src = erasure.WebhookSource("shopify")
		}
		id, _ := erasure.NewID("eu")
		received := now.AddDate(0, 0, -40+i*3) // 40 days ago to 7 days ago
		r := embeddedtest.WithSubject(t, erasure.Request{ID: id, SubjectID: fmt.Sprintf("s-%d", i), Source: src, Status: erasure.StatusRunning,
			ReceivedAt: received, Deadline: received.AddDate(0, 1, 0),
			Subsystems: []erasure.SubsystemResult{{Name: "projects", Mode: "sync", Status: erasure.SubsystemDeleted}, {Name: "orders", Mode: "async", Status: erasure.SubsystemPending}}})
		if _, _, err := store.Create(context.Background(), r, ""); err != nil {
			t.Fatal(err)
		}
		if i%4 == 1 {
			if _, err := store.RecordOutcome(context.Background(), id, erasure.StatusCompleted, received.Add(time.Hour), r.Subsystems); err != nil {
				t.Fatal(err)
			}
		}
		ids = append(ids, id)
		time.Sleep(2 * time.Millisecond)
	}
	page := func(q map[string]string) ListView {
		t.Helper()
		resp := call(t, h, listEvent(q, ""))
		var v ListView
		if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(resp.Body), &v) != nil {
			t.Fatalf("GET /erasures %v: %d %s", q, resp.StatusCode, resp.Body)
		}
		return v
	}
	walk := func(q map[string]string) []RequestView {
		var all []RequestView
		for {
			v := page(q)
			all = append(all, v.Erasures...)
			if v.Next == "" {
				return all
			}
			q = map[string]string{"cursor": v.Next}
			for k, val := range map[string]string{"limit": "5"} {
				q[k] = val
			}
		}
	}
	all := walk(map[string]string{"limit": "5"})
	if len(all) != 12 || all[0].RequestID != ids[11] || all[11].RequestID != ids[0] {
		t.Fatalf("walked %d, first %s", len(all), all[0].RequestID)
	}
	count := func(q map[string]string) int { return len(page(q).Erasures) }
	for _, tc := range []struct {
		q    map[string]string
		want int
	}{
		{map[string]string{"status": "completed"}, 3},
		{map[string]string{"status": "running"}, 9},
		{map[string]string{"source": "webhook:shopify"}, 4},
		{map[string]string{"from": now.AddDate(0, 0, -20).Format(time.RFC3339)}, 5},
		{map[string]string{"to": now.AddDate(0, 0, -20).Format(time.DateOnly)}, 7},
		// Open and within the last week of their month (or past it):
		// received 25 or more days ago (i = 0..5), less the completed 1, 5.
		{map[string]string{"atRisk": "true"}, 4},
		{map[string]string{"atRisk": "false"}, 8},
	} {
		if got := count(tc.q); got != tc.want {
			t.Errorf("%v: %d requests, want %d", tc.q, got, tc.want)
		}
	}
	// Each item says whether it is at risk, as the filter selects it.
	for _, want := range []bool{true, false} {
		for _, v := range page(map[string]string{"atRisk": strconv.FormatBool(want)}).Erasures {
			if v.AtRisk != want {
				t.Errorf("%s listed by atRisk=%v says atRisk %v", v.RequestID, want, v.AtRisk)
			}
		}
	}
	// CSV: header, one row per request, subsystem outcomes.
	resp := call(t, h, listEvent(map[string]string{"limit": "100"}, "text/csv"))
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Headers["Content-Type"], "text/csv") {
		t.Fatalf("CSV: %d %v", resp.StatusCode, resp.Headers)
	}
	rows, err := csv.NewReader(strings.NewReader(resp.Body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 13 || strings.Join(rows[0], ",") != "requestId,status,source,receivedAt,deadline,extensionMonths,closedAt,projects,orders,customers" {
		t.Fatalf("CSV rows %d, header %v", len(rows), rows[0])
	}
	if rows[1][0] != ids[11] || rows[1][7] != "deleted" || rows[1][8] != "pending" || rows[1][9] != "" {
		t.Fatalf("CSV row %v", rows[1])
	}
	// Bad values: 400 naming the parameter.
	for q, field := range map[string]string{
		"status=done":                   "status",
		"source=email":                  "source",
		"atRisk=maybe":                  "atRisk",
		"from=monday":                   "from",
		"from=2026-03-01&to=2026-02-01": "from",
		"cursor=not-a-cursor":           "cursor",
		"limit=0":                       "limit",
	} {
		query := map[string]string{}
		for _, kv := range strings.Split(q, "&") {
			k, v, _ := strings.Cut(kv, "=")
			query[k] = v
		}
		resp := call(t, h, listEvent(query, ""))
		code, got := errorOf(t, resp.Body)
		if resp.StatusCode != http.StatusBadRequest || got != field {
			t.Errorf("%s: %d %s %s", q, resp.StatusCode, code, got)
		}
	}
}
