package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"github.com/lethe-erasure/lethe/internal/audit"
	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/erasure"
)

const (
	failedID      = "er_eu_01928c6e-7b3a-7c00-8a00-000000000003"
	failedSubject = "customer-0003@example.com"
	operatorArn   = "arn:aws:iam::123456789012:user/privacy-ops"
)

// fakeExecutions records the executions the retry route starts.
type fakeExecutions struct {
	started []string
	inputs  []string
	fail    error
}

func (f *fakeExecutions) Start(_ context.Context, name, input string) error {
	if f.fail != nil {
		return f.fail
	}
	f.started = append(f.started, name)
	f.inputs = append(f.inputs, input)
	return nil
}

// fakeNotices records the notices published.
type fakeNotices struct {
	sent []string
	fail error
}

func (f *fakeNotices) PublishNotice(_ context.Context, message string) error {
	if f.fail != nil {
		return f.fail
	}
	f.sent = append(f.sent, message)
	return nil
}

// operatorStore is seededStore with a failed request received on
// 2026-01-20 (testNow is 2026-01-31: within its first month): projects
// deleted, orders failed, customers failed.
func operatorStore() *fakeStore {
	f := seededStore()
	received := time.Date(2026, 1, 20, 9, 0, 0, 0, time.UTC)
	f.seed(erasure.Request{
		ID: failedID, SubjectID: failedSubject, Source: erasure.SourceAPI, Status: erasure.StatusFailed,
		ReceivedAt: received, Deadline: config.Deadline{Months: 1}.After(received), CompletedAt: ptr(received.Add(time.Hour)),
		Subsystems: []erasure.SubsystemResult{
			{Name: "projects", Mode: "sync", Status: erasure.SubsystemDeleted, Attempts: 1, FinishedAt: ptr(received.Add(time.Minute))},
			{Name: "orders", Mode: "async", Status: erasure.SubsystemFailed, Attempts: 9, LastError: "orders answered 422", Detail: "SubsystemRejected"},
			{Name: "customers", Mode: "async", Status: erasure.SubsystemFailed, Attempts: 3, Detail: "DeadlinePassed"},
		},
	}, "")
	return f
}

func operatorHandler(t *testing.T, f *fakeStore) (*Handler, *fakeExecutions, *fakeNotices) {
	t.Helper()
	h, _ := newTestHandler(t, f)
	x, n := &fakeExecutions{}, &fakeNotices{}
	WithExecutions(x)(h)
	WithNotices(n)(h)
	return h, x, n
}

func opEvent(method, path, body string) events.APIGatewayProxyRequest {
	ev := events.APIGatewayProxyRequest{HTTPMethod: method, Path: path, Body: body}
	if body != "" {
		ev.Headers = map[string]string{"Content-Type": "application/json"}
	}
	ev.RequestContext.Identity.UserArn = operatorArn
	return ev
}

func viewOf(t *testing.T, body string) RequestView {
	t.Helper()
	var v RequestView
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	return v
}

func subOf(v RequestView, name string) SubsystemView {
	for _, s := range v.Subsystems {
		if s.Name == name {
			return s
		}
	}
	return SubsystemView{}
}

func TestRetryRunsOnlyTheFailedSubsystems(t *testing.T) {
	f := operatorStore()
	h, x, _ := operatorHandler(t, f)
	resp := call(t, h, opEvent("POST", "/erasures/"+failedID+"/retry", ""))
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("retry = %d %s", resp.StatusCode, resp.Body)
	}
	v := viewOf(t, resp.Body)
	if v.Status != erasure.StatusRunning || v.Run != 1 || v.CompletedAt != nil {
		t.Errorf("after retry: %+v", v)
	}
	if s := subOf(v, "projects"); s.Status != erasure.SubsystemDeleted || s.Attempts != 1 {
		t.Errorf("projects %+v; want left deleted", s)
	}
	if s := subOf(v, "orders"); s.Status != erasure.SubsystemPending || s.Attempts != 9 || s.LastError != "" {
		t.Errorf("orders %+v; want pending again, its attempts kept", s)
	}
	if len(x.started) != 1 || x.started[0] != failedID+"-r1" {
		t.Fatalf("started %v; want %s-r1", x.started, failedID)
	}
	var in erasure.ExecutionInput
	if err := json.Unmarshal([]byte(x.inputs[0]), &in); err != nil || in.RequestID != failedID || in.Region != "eu" || strings.Contains(x.inputs[0], failedSubject) {
		t.Errorf("input %s, %v", x.inputs[0], err)
	}
	recs, _ := f.Audit(context.Background(), failedID, 10)
	if len(recs) != 1 || recs[0].Action != audit.ActionRetry || recs[0].Actor != operatorArn || recs[0].Detail["subsystems"] != "orders,customers" {
		t.Errorf("audit %+v", recs)
	}
	// A retry while it runs answers the running one and starts the same
	// execution again (idempotent by name), recording nothing new.
	again := call(t, h, opEvent("POST", "/erasures/"+failedID+"/retry", "{}"))
	if again.StatusCode != http.StatusAccepted || viewOf(t, again.Body).Run != 1 || len(x.started) != 2 || x.started[1] != failedID+"-r1" {
		t.Errorf("second retry = %d %s, started %v", again.StatusCode, again.Body, x.started)
	}
	if recs, _ := f.Audit(context.Background(), failedID, 10); len(recs) != 1 {
		t.Errorf("%d audit records after the repeated retry; want 1", len(recs))
	}
}

func TestRetryOfOneSubsystem(t *testing.T) {
	f := operatorStore()
	h, _, _ := operatorHandler(t, f)
	resp := call(t, h, opEvent("POST", "/erasures/"+failedID+"/retry", `{"subsystems":["customers"]}`))
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("retry = %d %s", resp.StatusCode, resp.Body)
	}
	v := viewOf(t, resp.Body)
	if subOf(v, "orders").Status != erasure.SubsystemFailed || subOf(v, "customers").Status != erasure.SubsystemPending {
		t.Errorf("after retrying customers: %+v", v.Subsystems)
	}
	if r, _ := f.Get(context.Background(), failedID); !cmp.Equal(r.RetryOnly, []string{"customers"}) {
		t.Errorf("retryOnly %v", r.RetryOnly)
	}
}

func TestAttestationClosesAFailedRequest(t *testing.T) {
	f := operatorStore()
	h, _, _ := operatorHandler(t, f)
	path := "/erasures/" + failedID + "/subsystems/%s/attestation"
	resp := call(t, h, opEvent("POST", fmt.Sprintf(path, "orders"), `{"outcome":"deleted","note":"erased by hand in the orders DB"}`))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("attest orders = %d %s", resp.StatusCode, resp.Body)
	}
	v := viewOf(t, resp.Body)
	o := subOf(v, "orders")
	if v.Status != erasure.StatusFailed || o.Status != erasure.SubsystemDeleted || o.Attestation == nil || o.Attestation.By != operatorArn || o.Attestation.Note != "erased by hand in the orders DB" {
		t.Fatalf("after attesting orders: %s %+v", v.Status, o)
	}
	resp = call(t, h, opEvent("POST", fmt.Sprintf(path, "customers"), `{"outcome":"not_held","note":"no account"}`))
	v = viewOf(t, resp.Body)
	if resp.StatusCode != http.StatusOK || v.Status != erasure.StatusCompleted || v.CompletedAt == nil || subOf(v, "customers").Status != erasure.SubsystemNotFound {
		t.Fatalf("after attesting customers = %d: %+v", resp.StatusCode, v)
	}
	recs, _ := f.Audit(context.Background(), failedID, 10)
	if len(recs) != 2 || recs[1].Action != audit.ActionAttestation || recs[1].Detail["outcome"] != "not_found" {
		t.Errorf("audit %+v", recs)
	}
}

func TestSubjectReadIsRecorded(t *testing.T) {
	f := operatorStore()
	h, _ := newTestHandler(t, f)
	resp := call(t, h, opEvent("GET", "/erasures/"+failedID+"/subject", ""))
	if resp.StatusCode != http.StatusOK || resp.Headers["Cache-Control"] != "no-store" {
		t.Fatalf("subject = %d %v %s", resp.StatusCode, resp.Headers, resp.Body)
	}
	var v SubjectView
	if err := json.Unmarshal([]byte(resp.Body), &v); err != nil || v.SubjectID != failedSubject {
		t.Errorf("subject %s, %v", resp.Body, err)
	}
	recs, _ := f.Audit(context.Background(), failedID, 10)
	if len(recs) != 1 || recs[0].Action != audit.ActionSubjectRead || recs[0].Actor != operatorArn {
		t.Errorf("audit %+v", recs)
	}
	for _, r := range recs {
		if b, _ := json.Marshal(r); strings.Contains(string(b), failedSubject) {
			t.Errorf("an audit record holds the subject: %s", b)
		}
	}
}

func TestExtension(t *testing.T) {
	f := operatorStore()
	h, _, n := operatorHandler(t, f)
	before, _ := f.Get(context.Background(), seedOpenID)
	resp := call(t, h, opEvent("POST", "/erasures/"+seedOpenID+"/extension", `{"months":1,"reason":"the orders archive is restored from tape"}`))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("extend = %d %s", resp.StatusCode, resp.Body)
	}
	v := viewOf(t, resp.Body)
	want := config.Deadline{Months: 1}.After(before.Deadline)
	if v.Deadline != formatTime(want) || len(v.Extensions) != 1 || v.Extensions[0].OldDeadline != formatTime(before.Deadline) || v.Extensions[0].By != operatorArn {
		t.Errorf("after extending: deadline %s (want %s), %+v", v.Deadline, formatTime(want), v.Extensions)
	}
	var notice Notice
	if len(n.sent) != 1 || json.Unmarshal([]byte(n.sent[0]), &notice) != nil || notice.RequestID != seedOpenID || notice.NewDeadline != formatTime(want) || strings.Contains(n.sent[0], seedOpenSubject) {
		t.Errorf("notices %v", n.sent)
	}
	// The same extension again: nothing changes, the notice goes again.
	if again := call(t, h, opEvent("POST", "/erasures/"+seedOpenID+"/extension", `{"months":1,"reason":"the orders archive is restored from tape"}`)); again.StatusCode != http.StatusOK || len(viewOf(t, again.Body).Extensions) != 1 || len(n.sent) != 2 {
		t.Errorf("replay = %d %s, %d notices", again.StatusCode, again.Body, len(n.sent))
	}
	// A second month is allowed; a third is not.
	if r := call(t, h, opEvent("POST", "/erasures/"+seedOpenID+"/extension", `{"months":1,"reason":"still restoring"}`)); r.StatusCode != http.StatusOK {
		t.Fatalf("second month = %d %s", r.StatusCode, r.Body)
	}
	r := call(t, h, opEvent("POST", "/erasures/"+seedOpenID+"/extension", `{"months":1,"reason":"more"}`))
	if code, field := errorOf(t, r.Body); r.StatusCode != http.StatusUnprocessableEntity || code != CodeExtensionLimit || field != "months" {
		t.Errorf("third month = %d %s", r.StatusCode, r.Body)
	}
	recs, _ := f.Audit(context.Background(), seedOpenID, 10)
	if len(recs) != 2 || recs[0].Action != audit.ActionExtension {
		t.Errorf("audit %+v", recs)
	}
	// A notice that cannot be sent: 503, the extension is kept, a replay
	// sends it.
	f2 := operatorStore()
	h2, _, n2 := operatorHandler(t, f2)
	n2.fail = errors.New("sns down")
	if r := call(t, h2, opEvent("POST", "/erasures/"+failedID+"/extension", `{"months":2,"reason":"r"}`)); r.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("extend with SNS down = %d %s", r.StatusCode, r.Body)
	}
	n2.fail = nil
	if r := call(t, h2, opEvent("POST", "/erasures/"+failedID+"/extension", `{"months":2,"reason":"r"}`)); r.StatusCode != http.StatusOK || len(n2.sent) != 1 || len(viewOf(t, r.Body).Extensions) != 1 {
		t.Errorf("replay after SNS came back = %d %s", r.StatusCode, r.Body)
	}
}

func TestAuditListing(t *testing.T) {
	f := operatorStore()
	h, _, _ := operatorHandler(t, f)
	call(t, h, opEvent("GET", "/erasures/"+failedID+"/subject", ""))
	call(t, h, opEvent("POST", "/erasures/"+seedOpenID+"/extension", `{"months":1,"reason":"r"}`))
	resp := call(t, h, getEvent("/audit", map[string]string{"requestId": failedID}))
	var v AuditView
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(resp.Body), &v) != nil || len(v.Records) != 1 || v.Records[0].Action != audit.ActionSubjectRead {
		t.Errorf("audit of %s = %d %s", failedID, resp.StatusCode, resp.Body)
	}
	resp = call(t, h, getEvent("/audit", nil))
	if json.Unmarshal([]byte(resp.Body), &v) != nil || len(v.Records) != 2 {
		t.Errorf("audit of the region = %d %s", resp.StatusCode, resp.Body)
	}
}

// TestOperatorRoutesRefuse: every refusal is a 4xx naming the field (or a
// state), and changes nothing: no request written, no audit record, no
// execution, no notice.
func TestOperatorRoutesRefuse(t *testing.T) {
	late := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC) // past the failed request's deadline and first month
	attest := func(id, name string) string { return "/erasures/" + id + "/subsystems/" + name + "/attestation" }
	big := `{"outcome":"deleted","note":"` + strings.Repeat("x", MaxBodyBytes) + `"}`
	tests := []struct {
		name, method, path, body string
		now                      time.Time
		status                   int
		code, field              string
	}{
		{"retry unknown id", "POST", "/erasures/er_eu_01928c6e-7b3a-7c00-8a00-00000000ffff/retry", "", testNow, 404, CodeNotFound, "requestId"},
		{"retry other region", "POST", "/erasures/er_us_01928c6e-7b3a-7c00-8a00-000000000003/retry", "", testNow, 404, CodeWrongRegion, "requestId"},
		{"retry bad id", "POST", "/erasures/alice@example.com/retry", "", testNow, 400, CodeInvalidRequestID, "requestId"},
		{"retry running", "POST", "/erasures/" + seedOpenID + "/retry", "", testNow, 409, CodeRequestRunning, "requestId"},
		{"retry completed", "POST", "/erasures/" + seedDoneID + "/retry", "", testNow, 409, CodeRequestCompleted, "requestId"},
		{"retry past deadline", "POST", "/erasures/" + failedID + "/retry", "", late, 409, CodeDeadlinePassed, "requestId"},
		{"retry unknown subsystem", "POST", "/erasures/" + failedID + "/retry", `{"subsystems":["billing"]}`, testNow, 404, CodeUnknownSubsystem, "subsystems"},
		{"retry settled subsystem", "POST", "/erasures/" + failedID + "/retry", `{"subsystems":["projects"]}`, testNow, 409, CodeSubsystemSettled, "subsystems"},
		{"retry empty list", "POST", "/erasures/" + failedID + "/retry", `{"subsystems":[]}`, testNow, 400, CodeUnknownSubsystem, "subsystems"},
		{"retry unknown field", "POST", "/erasures/" + failedID + "/retry", `{"subsystem":"orders"}`, testNow, 400, CodeUnknownField, "subsystem"},
		{"retry wrong type", "POST", "/erasures/" + failedID + "/retry", `{"subsystems":"orders"}`, testNow, 400, CodeInvalidType, "subsystems"},
		{"retry GET", "GET", "/erasures/" + failedID + "/retry", "", testNow, 405, CodeMethodNotAllowed, ""},
		{"attest settled", "POST", attest(failedID, "projects"), `{"outcome":"deleted","note":"n"}`, testNow, 409, CodeSubsystemSettled, "name"},
		{"attest unknown subsystem", "POST", attest(failedID, "billing"), `{"outcome":"deleted","note":"n"}`, testNow, 404, CodeUnknownSubsystem, "name"},
		{"attest completed", "POST", attest(seedDoneID, "orders"), `{"outcome":"deleted","note":"n"}`, testNow, 409, CodeRequestCompleted, "requestId"},
		{"attest bad outcome", "POST", attest(failedID, "orders"), `{"outcome":"gone","note":"n"}`, testNow, 400, CodeInvalidOutcome, "outcome"},
		{"attest no outcome", "POST", attest(failedID, "orders"), `{"note":"n"}`, testNow, 400, CodeRequired, "outcome"},
		{"attest empty note", "POST", attest(failedID, "orders"), `{"outcome":"deleted","note":"  "}`, testNow, 400, CodeRequired, "note"},
		{"attest no note", "POST", attest(failedID, "orders"), `{"outcome":"deleted"}`, testNow, 400, CodeRequired, "note"},
		{"attest unknown field", "POST", attest(failedID, "orders"), `{"outcome":"deleted","note":"n","by":"me"}`, testNow, 400, CodeUnknownField, "by"},
		{"attest too large", "POST", attest(failedID, "orders"), big, testNow, 413, CodeBodyTooLarge, ""},
		{"attest not json", "POST", attest(failedID, "orders"), `outcome=deleted`, testNow, 400, CodeInvalidJSON, ""},
		{"subject of completed", "GET", "/erasures/" + seedDoneID + "/subject", "", testNow, 410, CodeSubjectForgotten, "requestId"},
		{"subject unknown", "GET", "/erasures/er_eu_01928c6e-7b3a-7c00-8a00-00000000ffff/subject", "", testNow, 404, CodeNotFound, "requestId"},
		{"subject POST", "POST", "/erasures/" + failedID + "/subject", "", testNow, 405, CodeMethodNotAllowed, ""},
		{"extend after the first month", "POST", "/erasures/" + failedID + "/extension", `{"months":1,"reason":"r"}`, late, 422, CodeExtensionWindowClosed, "months"},
		{"extend three months", "POST", "/erasures/" + failedID + "/extension", `{"months":3,"reason":"r"}`, testNow, 400, CodeInvalidMonths, "months"},
		{"extend zero months", "POST", "/erasures/" + failedID + "/extension", `{"months":0,"reason":"r"}`, testNow, 400, CodeInvalidMonths, "months"},
		{"extend months as text", "POST", "/erasures/" + failedID + "/extension", `{"months":"1","reason":"r"}`, testNow, 400, CodeInvalidType, "months"},
		{"extend no reason", "POST", "/erasures/" + failedID + "/extension", `{"months":1}`, testNow, 400, CodeRequired, "reason"},
		{"extend completed", "POST", "/erasures/" + seedDoneID + "/extension", `{"months":1,"reason":"r"}`, testNow, 409, CodeRequestCompleted, "requestId"},
		{"audit bad id", "GET", "/audit?requestId=x", "", testNow, 400, CodeInvalidRequestID, "requestId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := operatorStore()
			h, x, n := operatorHandler(t, f)
			WithClock(func() time.Time { return tt.now })(h)
			before := fmt.Sprint(f.byID)
			ev := opEvent(tt.method, tt.path, tt.body)
			if p, q, ok := strings.Cut(tt.path, "?"); ok {
				k, v, _ := strings.Cut(q, "=")
				ev.Path, ev.QueryStringParameters = p, map[string]string{k: v}
			}
			resp := call(t, h, ev)
			code, field := errorOf(t, resp.Body)
			if resp.StatusCode != tt.status || code != tt.code || field != tt.field {
				t.Errorf("= %d %s/%s; want %d %s/%s (%s)", resp.StatusCode, code, field, tt.status, tt.code, tt.field, resp.Body)
			}
			if after := fmt.Sprint(f.byID); after != before || len(f.audit) != 0 || len(x.started) != 0 || len(n.sent) != 0 {
				t.Errorf("a refused call changed something: %d audit records, %d executions, %d notices", len(f.audit), len(x.started), len(n.sent))
			}
		})
	}
}
