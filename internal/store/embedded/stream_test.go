package embedded_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/starter"
	"github.com/lethe-erasure/lethe/internal/store/dynamo"
	"github.com/lethe-erasure/lethe/internal/store/embedded"
	"github.com/lethe-erasure/lethe/internal/store/storetest"
)

var _ embedded.StreamHandler = (*starter.Handler)(nil).Handle

// recorder is a stream handler that records what it is given and answers
// as its script says.
type recorder struct {
	mu      sync.Mutex
	batches []events.DynamoDBEvent
	// answer decides the response to the n-th call (from 0); nil: success.
	answer func(n int, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error)
	got    chan struct{}
}

func newRecorder() *recorder { return &recorder{got: make(chan struct{}, 1000)} }

func (r *recorder) handle(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	r.mu.Lock()
	n := len(r.batches)
	r.batches = append(r.batches, ev)
	answer := r.answer
	r.mu.Unlock()
	defer func() { r.got <- struct{}{} }()
	if answer != nil {
		return answer(n, ev)
	}
	return events.DynamoDBEventResponse{}, nil
}

// records returns every record delivered so far, in delivery order.
func (r *recorder) records() []events.DynamoDBEventRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []events.DynamoDBEventRecord
	for _, b := range r.batches {
		out = append(out, b.Records...)
	}
	return out
}

func requestIDs(recs []events.DynamoDBEventRecord) []string {
	var out []string
	for _, rec := range recs {
		out = append(out, rec.Change.Keys["pk"].String())
	}
	return out
}

// stream runs Stream in the background until the test ends (or stop is
// called) and reports its error.
func stream(t *testing.T, reqs *embedded.Requests, h embedded.StreamHandler, opts embedded.StreamOptions) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- reqs.Stream(ctx, h, opts) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() { cancel(); err = <-done })
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func createN(t *testing.T, reqs *embedded.Requests, n int, prefix string) []erasure.Request {
	t.Helper()
	var out []erasure.Request
	for i := range n {
		r := storetest.NewRequest(t, fmt.Sprintf("%s-%d@example.com", prefix, i))
		got, created, err := reqs.Create(context.Background(), r, "")
		if err != nil || !created {
			t.Fatalf("Create: %v, created=%v", err, created)
		}
		out = append(out, got)
	}
	return out
}

// TestStreamDeliversEveryRequest: every created request reaches the
// handler once, in order, in batches of at most BatchSize, shaped as Lambda
// delivers DynamoDB stream records; refused creates put nothing on the
// feed; and delivered records leave it.
func TestStreamDeliversEveryRequest(t *testing.T) {
	db, _ := openDB(t, embedded.Options{NoSync: true})
	reqs := db.Requests("eu")
	created := createN(t, reqs, 230, "user")
	// Refused: an open subject's second request, a reused key.
	if _, ok, err := reqs.Create(context.Background(), storetest.NewRequest(t, "user-0@example.com"), ""); ok || err != nil {
		t.Fatalf("dedup create: created=%v, %v", ok, err)
	}
	if n, _ := reqs.Pending(); n != 230 {
		t.Fatalf("feed holds %d records, want 230", n)
	}

	rec := newRecorder()
	stream(t, reqs, rec.handle, embedded.StreamOptions{BatchSize: 100, Poll: time.Hour, AWSRegion: "eu-west-1"})
	waitFor(t, "230 records", func() bool { return len(rec.records()) >= 230 })
	waitFor(t, "an empty feed", func() bool { n, _ := reqs.Pending(); return n == 0 })

	rec.mu.Lock()
	for i, b := range rec.batches {
		if len(b.Records) > 100 {
			t.Errorf("batch %d has %d records, BatchSize is 100", i, len(b.Records))
		}
	}
	rec.mu.Unlock()
	got := rec.records()
	var want []string
	for _, r := range created {
		want = append(want, r.ID)
	}
	if diff := cmp.Diff(want, requestIDs(got)); diff != "" {
		t.Fatalf("delivered request ids, in order (-created +delivered):\n%s", diff)
	}
	last := ""
	for i, r := range got {
		// Numeric strings of one width (21 digits, as DynamoDB Streams'),
		// so text order is numeric order.
		seq := r.Change.SequenceNumber
		if strings.Trim(seq, "0123456789") != "" || len(seq) != 21 {
			t.Fatalf("record %d: sequence number %q is not a 21-digit number", i, seq)
		}
		if seq <= last {
			t.Errorf("record %d: sequence number %s after %s", i, seq, last)
		}
		last = seq
		if r.EventName != "INSERT" || r.EventSource != "aws:dynamodb" || r.AWSRegion != "eu-west-1" || r.EventVersion != "1.1" ||
			r.Change.StreamViewType != "NEW_IMAGE" || r.EventID == "" || !strings.HasPrefix(r.EventSourceArn, "arn:aws:dynamodb:eu-west-1:") ||
			r.Change.ApproximateCreationDateTime.IsZero() || r.Change.SizeBytes == 0 {
			t.Errorf("record %d is not shaped as Lambda delivers it: %+v", i, r)
		}
		// The image is what DynamoDB would emit for the item, without the
		// subject id: the embedded feed holds it sealed, and no stream
		// reader needs it.
		noSubject := created[i]
		noSubject.SubjectID = ""
		wantImage, err := dynamo.NewImage(noSubject)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(marshal(t, wantImage), marshal(t, r.Change.NewImage)); diff != "" {
			t.Errorf("record %d NewImage (-dynamo +embedded):\n%s", i, diff)
		}
		decoded, err := dynamo.RequestFromImage(r.Change.NewImage)
		if err != nil {
			t.Fatalf("record %d: the starter's decoder refuses it: %v", i, err)
		}
		wantReq := created[i]
		wantReq.SubjectID = ""
		if diff := cmp.Diff(wantReq, decoded); diff != "" {
			t.Errorf("record %d decoded (-created +decoded):\n%s", i, diff)
		}
	}

	// A request created while the streamer idles (Poll is an hour) is
	// delivered at once: Create wakes it.
	start := time.Now()
	late := createN(t, reqs, 1, "late")[0]
	waitFor(t, "the late request", func() bool { return len(rec.records()) == 231 })
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("a new request took %v to reach the handler", d)
	}
	if ids := requestIDs(rec.records()[230:]); ids[0] != late.ID {
		t.Errorf("late delivery = %v, want %s", ids, late.ID)
	}
}

func marshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestStreamRedelivery: Lambda's ReportBatchItemFailures semantics. The
// records before the lowest failed one are acknowledged, the rest come
// again; a batch whose handler failed, or that names a record it was not
// given, comes again whole.
func TestStreamRedelivery(t *testing.T) {
	for _, tc := range []struct {
		name string
		// fail answers the first call; later calls succeed.
		fail func(ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error)
		// second is the index of the first record of the second delivery.
		second int
	}{
		{"item failures: from the lowest", func(ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			return events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{
				{ItemIdentifier: ev.Records[4].Change.SequenceNumber},
				{ItemIdentifier: ev.Records[2].Change.SequenceNumber},
			}}, nil
		}, 2},
		{"handler error: the whole batch", func(events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			return events.DynamoDBEventResponse{}, errors.New("function timed out")
		}, 0},
		{"empty identifier: the whole batch", func(ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			return events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{
				{ItemIdentifier: ev.Records[3].Change.SequenceNumber}, {ItemIdentifier: ""},
			}}, nil
		}, 0},
		{"unknown identifier: the whole batch", func(events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			return events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{{ItemIdentifier: "100000000000000099999"}}}, nil
		}, 0},
		{"empty failure list: success", func(events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
			return events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{}}, nil
		}, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, _ := openDB(t, embedded.Options{NoSync: true})
			reqs := db.Requests("eu")
			created := createN(t, reqs, 6, "user")
			rec := newRecorder()
			rec.answer = func(n int, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
				if n == 0 {
					return tc.fail(ev)
				}
				return events.DynamoDBEventResponse{}, nil
			}
			stream(t, reqs, rec.handle, embedded.StreamOptions{Backoff: time.Millisecond, Poll: 5 * time.Millisecond})
			waitFor(t, "an empty feed", func() bool { n, _ := reqs.Pending(); return n == 0 })
			time.Sleep(20 * time.Millisecond) // nothing more may come
			var want []string
			for _, r := range created {
				want = append(want, r.ID)
			}
			for _, r := range created[tc.second:] {
				want = append(want, r.ID)
			}
			if diff := cmp.Diff(want, requestIDs(rec.records())); diff != "" {
				t.Errorf("deliveries (-want +got):\n%s", diff)
			}
		})
	}
}

// TestStreamSurvivesCrash: records not acknowledged when the process dies
// (here: the file closed while the handler keeps failing) are delivered
// after the file is opened again, and new records get new sequence numbers.
func TestStreamSurvivesCrash(t *testing.T) {
	db, path := openDB(t, embedded.Options{})
	reqs := db.Requests("eu")
	created := createN(t, reqs, 5, "user")
	failing := newRecorder()
	failing.answer = func(int, events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		return events.DynamoDBEventResponse{}, errors.New("starter down")
	}
	stop := stream(t, reqs, failing.handle, embedded.StreamOptions{Backoff: time.Millisecond})
	<-failing.got
	<-failing.got
	if err := stop(); err != nil {
		t.Fatalf("Stream: %v", err)
	}
	first := failing.records()[0].Change.SequenceNumber
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db2, err := embedded.Open(path, embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	reqs2 := db2.Requests("eu")
	more := createN(t, reqs2, 1, "after")
	rec := newRecorder()
	stream(t, reqs2, rec.handle, embedded.StreamOptions{})
	waitFor(t, "6 records", func() bool { return len(rec.records()) >= 6 })
	var want []string
	for _, r := range append(created, more...) {
		want = append(want, r.ID)
	}
	got := rec.records()
	if diff := cmp.Diff(want, requestIDs(got)); diff != "" {
		t.Errorf("after reopening (-want +got):\n%s", diff)
	}
	if got[0].Change.SequenceNumber != first {
		t.Errorf("redelivered record has sequence %s, first delivered as %s", got[0].Change.SequenceNumber, first)
	}
	if got[5].Change.SequenceNumber <= got[4].Change.SequenceNumber {
		t.Errorf("sequence after reopening %s is not above %s", got[5].Change.SequenceNumber, got[4].Change.SequenceNumber)
	}
}

func TestStreamOnePerRegion(t *testing.T) {
	db, _ := openDB(t, embedded.Options{NoSync: true})
	rec := newRecorder()
	stream(t, db.Requests("eu"), rec.handle, embedded.StreamOptions{})
	time.Sleep(10 * time.Millisecond)
	if err := db.Requests("eu").Stream(context.Background(), rec.handle, embedded.StreamOptions{}); !errors.Is(err, embedded.ErrAlreadyStreaming) {
		t.Errorf("second Stream of eu = %v, want ErrAlreadyStreaming", err)
	}
	// Regions are apart: us streams, and sees nothing of eu.
	us := newRecorder()
	stream(t, db.Requests("us"), us.handle, embedded.StreamOptions{Poll: time.Millisecond})
	createN(t, db.Requests("eu"), 3, "eu")
	waitFor(t, "eu's records", func() bool { return len(rec.records()) == 3 })
	time.Sleep(20 * time.Millisecond)
	if n := len(us.records()); n != 0 {
		t.Errorf("us received %d of eu's records", n)
	}
	if list, _ := db.Requests("us").List(context.Background(), 0); len(list) != 0 {
		t.Errorf("us lists %d of eu's requests", len(list))
	}
}

// fakeExecutions stands in for Step Functions: it records the executions
// started, refuses a second start of a name as the real service answers
// ExecutionAlreadyExists (which the starter's Executions treats as
// started), and fails the first start of the names in failOnce.
type fakeExecutions struct {
	mu       sync.Mutex
	started  map[string]string // name -> input
	starts   map[string]int
	failOnce map[string]bool
}

func (f *fakeExecutions) Start(_ context.Context, name, input string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.starts[name]++
	if f.failOnce[name] {
		delete(f.failOnce, name)
		return errors.New("ServiceUnavailable: try again")
	}
	if _, ok := f.started[name]; !ok {
		f.started[name] = input
	}
	return nil
}

func (f *fakeExecutions) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.started)
}

// TestStreamStartsExecutions: the real starter handler on the feed starts
// one execution per request, with the request id and no subject id, marks
// each request running, and a start that failed is retried.
func TestStreamStartsExecutions(t *testing.T) {
	db, _ := openDB(t, embedded.Options{NoSync: true})
	reqs := db.Requests("eu")
	created := createN(t, reqs, 40, "subject")
	exec := &fakeExecutions{started: map[string]string{}, starts: map[string]int{}, failOnce: map[string]bool{created[7].ID: true}}
	h := starter.New(exec, reqs, "eu", nil)
	stream(t, reqs, h.Handle, embedded.StreamOptions{BatchSize: 10, Backoff: time.Millisecond})
	created = append(created, createN(t, reqs, 10, "later")...)
	waitFor(t, "50 executions", func() bool { return exec.count() == 50 })
	waitFor(t, "an empty feed", func() bool { n, _ := reqs.Pending(); return n == 0 })

	exec.mu.Lock()
	defer exec.mu.Unlock()
	for _, r := range created {
		input, ok := exec.started[r.ID]
		if !ok {
			t.Errorf("no execution for %s", r.ID)
			continue
		}
		var in erasure.ExecutionInput
		if err := json.Unmarshal([]byte(input), &in); err != nil || in.RequestID != r.ID || in.Region != "eu" || !in.Deadline.Equal(r.Deadline) {
			t.Errorf("execution input of %s = %s (%v)", r.ID, input, err)
		}
		if strings.Contains(input, r.SubjectID) {
			t.Errorf("execution input of %s carries the subject id", r.ID)
		}
		got, err := reqs.Get(context.Background(), r.ID)
		if err != nil || got.Status != erasure.StatusRunning {
			t.Errorf("%s: status %s, %v; want running", r.ID, got.Status, err)
		}
	}
	// The failed start and the records after it in its batch came again.
	if n := exec.starts[created[7].ID]; n != 2 {
		t.Errorf("%s started %d times, want 2 (failed, then retried)", created[7].ID, n)
	}
	if n := exec.starts[created[0].ID]; n != 1 {
		t.Errorf("%s (before the failure) started %d times, want 1", created[0].ID, n)
	}
}
