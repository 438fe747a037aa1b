package embedded_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lethe-erasure/lethe/internal/asl"
	"github.com/lethe-erasure/lethe/internal/store/embedded"
)

func evs(ids ...int) [][]byte {
	var out [][]byte
	for _, id := range ids {
		out = append(out, fmt.Appendf(nil, `{"id":%d}`, id))
	}
	return out
}

func TestCheckpointsSaveLoad(t *testing.T) {
	db, path := openDB(t, embedded.Options{})
	ctx := context.Background()
	cps := db.Checkpoints("eu")
	const a, b = "arn:aws:states:eu-west-1:123456789012:execution:Erasure:a", "arn:aws:states:eu-west-1:123456789012:execution:Erasure:a-b"

	if _, err := cps.Load(ctx, a); !errors.Is(err, asl.ErrNoCheckpoint) {
		t.Fatalf("Load of nothing = %v, want ErrNoCheckpoint", err)
	}
	if ok, err := cps.Exists(ctx, a); err != nil || ok {
		t.Fatalf("Exists of nothing = %v, %v", ok, err)
	}
	steps := []struct {
		arn string
		cp  asl.Checkpoint
	}{
		{a, asl.Checkpoint{State: []byte(`{"s":1}`), FirstEvent: 1, Events: evs(1, 2)}},
		{b, asl.Checkpoint{State: []byte(`{"b":1}`), FirstEvent: 1, Events: evs(1)}},
		{a, asl.Checkpoint{State: []byte(`{"s":2}`), FirstEvent: 3, Events: evs(3, 4, 5)}},
		// A save that failed is sent again with the next: events 4 and 5
		// are replaced, and the old 5 does not linger past the new end.
		{a, asl.Checkpoint{State: []byte(`{"s":3}`), FirstEvent: 4, Events: [][]byte{[]byte(`{"id":4,"v":"new"}`)}}},
		{b, asl.Checkpoint{State: []byte(`{"b":2}`), FirstEvent: 2, Events: evs(2), Finished: true}},
	}
	for _, s := range steps {
		if err := cps.Save(ctx, s.arn, s.cp); err != nil {
			t.Fatalf("Save(%s): %v", s.arn, err)
		}
	}
	check := func(cps *embedded.Checkpoints) {
		t.Helper()
		wantA := asl.Checkpoint{State: []byte(`{"s":3}`), FirstEvent: 1, Events: append(evs(1, 2, 3), []byte(`{"id":4,"v":"new"}`))}
		wantB := asl.Checkpoint{State: []byte(`{"b":2}`), FirstEvent: 1, Events: evs(1, 2), Finished: true}
		for arn, want := range map[string]asl.Checkpoint{a: wantA, b: wantB} {
			got, err := cps.Load(ctx, arn)
			if err != nil {
				t.Fatalf("Load(%s): %v", arn, err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Load(%s) (-want +got):\n%s", arn, diff)
			}
			if ok, err := cps.Exists(ctx, arn); err != nil || !ok {
				t.Errorf("Exists(%s) = %v, %v", arn, ok, err)
			}
		}
		un, err := cps.Unfinished(ctx)
		if err != nil || !cmp.Equal(un, []string{a}) {
			t.Errorf("Unfinished = %v, %v; want [%s]", un, err, a)
		}
	}
	check(cps)
	if un, _ := db.Checkpoints("us").Unfinished(ctx); len(un) != 0 {
		t.Errorf("us sees eu's executions: %v", un)
	}

	// Reopened: the same.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db2, err := embedded.Open(path, embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	check(db2.Checkpoints("eu"))

	// Finishing a leaves nothing to resume; a running one cannot be
	// deleted, a finished one can.
	cps2 := db2.Checkpoints("eu")
	if err := cps2.Delete(ctx, a); err == nil {
		t.Error("Delete of a running execution succeeded")
	}
	if err := cps2.Save(ctx, a, asl.Checkpoint{State: []byte(`{"s":4}`), FirstEvent: 5, Finished: true}); err != nil {
		t.Fatal(err)
	}
	if un, err := cps2.Unfinished(ctx); err != nil || len(un) != 0 {
		t.Errorf("Unfinished after finishing = %v, %v", un, err)
	}
	if err := cps2.Delete(ctx, b); err != nil {
		t.Fatal(err)
	}
	if _, err := cps2.Load(ctx, b); !errors.Is(err, asl.ErrNoCheckpoint) {
		t.Errorf("Load after Delete = %v", err)
	}
	if got, err := cps2.Load(ctx, a); err != nil || len(got.Events) != 4 {
		t.Errorf("deleting %s touched %s: %d events, %v", b, a, len(got.Events), err)
	}
}

// TestCheckpointsConcurrentSaves: many executions saving at once (their
// saves share commits) each read back exactly their own history.
func TestCheckpointsConcurrentSaves(t *testing.T) {
	db, _ := openDB(t, embedded.Options{})
	ctx := context.Background()
	cps := db.Checkpoints("eu")
	const n, saves = 40, 25
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			arn := fmt.Sprintf("arn:aws:states:eu-west-1:123456789012:execution:Erasure:x%d", i)
			for s := range saves {
				cp := asl.Checkpoint{State: fmt.Appendf(nil, `{"x":%d,"s":%d}`, i, s), FirstEvent: int64(2*s + 1), Events: evs(2*s+1, 2*s+2), Finished: s == saves-1 && i%2 == 0}
				if err := cps.Save(ctx, arn, cp); err != nil {
					t.Errorf("Save: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	for i := range n {
		arn := fmt.Sprintf("arn:aws:states:eu-west-1:123456789012:execution:Erasure:x%d", i)
		got, err := cps.Load(ctx, arn)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Events) != 2*saves || string(got.State) != fmt.Sprintf(`{"x":%d,"s":%d}`, i, saves-1) {
			t.Errorf("%s: %d events, state %s", arn, len(got.Events), got.State)
		}
	}
	un, err := cps.Unfinished(ctx)
	if err != nil || len(un) != n/2 {
		t.Errorf("Unfinished = %d, %v; want %d", len(un), err, n/2)
	}
}

// durable is a small machine with what a checkpoint must carry: a task
// result, a timer, and a Map whose iterations run concurrently.
const durable = `{"StartAt":"Load","States":{
	"Load":{"Type":"Task","Resource":"arn:aws:lambda:eu-west-1:123456789012:function:load","ResultPath":"$.subsystems","Next":"Wait"},
	"Wait":{"Type":"Wait","Seconds":3600,"Next":"Each"},
	"Each":{"Type":"Map","ItemsPath":"$.subsystems","ItemProcessor":{"StartAt":"Delete","States":{
		"Delete":{"Type":"Task","Resource":"arn:aws:lambda:eu-west-1:123456789012:function:delete","End":true}}},
		"ResultPath":"$.results","End":true}}}`

type world struct {
	loads, deletes atomic.Int32
	block          atomic.Bool // delete of "orders" blocks until the engine's context ends
	blocked        chan struct{}
}

func (w *world) engine(t *testing.T, cps asl.Checkpoints) *asl.Engine {
	t.Helper()
	m, err := asl.Parse([]byte(durable))
	if err != nil {
		t.Fatal(err)
	}
	e := asl.NewEngine(asl.Options{Checkpoints: cps, Clock: asl.NewFakeClock(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)), Region: "eu-west-1"})
	e.RegisterMachine("Durable", m)
	e.RegisterLambda("load", func(context.Context) ([]string, error) {
		w.loads.Add(1)
		return []string{"projects", "orders", "customers"}, nil
	})
	e.RegisterLambda("delete", func(ctx context.Context, name string) (string, error) {
		w.deletes.Add(1)
		if name == "orders" && w.block.Load() {
			w.blocked <- struct{}{}
			<-ctx.Done()
			return "", ctx.Err()
		}
		return name + ":deleted", nil
	})
	return e
}

// TestEngineResumesFromTheFile: an execution checkpointed in the file is
// killed mid-task; a new engine on the reopened file resumes it and it
// completes, without running again what had completed.
func TestEngineResumesFromTheFile(t *testing.T) {
	db, path := openDB(t, embedded.Options{})
	w := &world{blocked: make(chan struct{}, 1)}
	w.block.Store(true)

	e1 := w.engine(t, db.Checkpoints("eu"))
	ctx, crash := context.WithCancel(context.Background())
	x, err := e1.Start(ctx, "Durable", "er_eu_1", map[string]any{"requestId": "er_eu_1"})
	if err != nil {
		t.Fatal(err)
	}
	<-w.blocked
	crash()
	if _, err := x.Wait(context.Background()); err == nil {
		t.Fatal("the killed execution reported success")
	}
	arn := x.Arn()
	if ok, err := db.Checkpoints("eu").Exists(context.Background(), arn); err != nil || !ok {
		t.Fatalf("Exists = %v, %v", ok, err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db2, err := embedded.Open(path, embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	cps := db2.Checkpoints("eu")
	if un, err := cps.Unfinished(context.Background()); err != nil || !cmp.Equal(un, []string{arn}) {
		t.Fatalf("Unfinished after reopening = %v, %v; want [%s]", un, err, arn)
	}
	w.block.Store(false)
	e2 := w.engine(t, cps)
	xs, err := e2.Resume(context.Background())
	if err != nil || len(xs) != 1 {
		t.Fatalf("Resume = %d executions, %v", len(xs), err)
	}
	res, err := xs[0].Wait(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != asl.StatusSucceeded {
		t.Fatalf("resumed execution %s: %s %s", res.Status, res.Error, res.Cause)
	}
	out, _ := json.Marshal(res.Output)
	const want = `{"requestId":"er_eu_1","results":["projects:deleted","orders:deleted","customers:deleted"],"subsystems":["projects","orders","customers"]}`
	if string(out) != want {
		t.Errorf("output = %s, want %s", out, want)
	}
	// Load ran once; orders' delete was in flight, so it ran twice; the
	// other deletes may have completed before the kill or not, but each
	// subsystem was deleted at least once and at most twice.
	if n := w.loads.Load(); n != 1 {
		t.Errorf("load ran %d times, want 1", n)
	}
	if n := w.deletes.Load(); n < 4 || n > 6 {
		t.Errorf("delete ran %d times, want 4 to 6", n)
	}
	if un, err := cps.Unfinished(context.Background()); err != nil || len(un) != 0 {
		t.Errorf("Unfinished after completion = %v, %v", un, err)
	}
	cp, err := cps.Load(context.Background(), arn)
	if err != nil || !cp.Finished || len(cp.Events) != res.History.Len() {
		t.Errorf("stored checkpoint: finished=%v, %d events, %v; history has %d", cp.Finished, len(cp.Events), err, res.History.Len())
	}
}

func TestCheckpointsPrune(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	db, _ := openDB(t, embedded.Options{Now: func() time.Time { return now }})
	ctx := context.Background()
	cps := db.Checkpoints("eu")
	save := func(arn string, finished bool) {
		t.Helper()
		if err := cps.Save(ctx, arn, asl.Checkpoint{State: []byte(`{}`), FirstEvent: 1, Events: evs(1, 2), Finished: finished}); err != nil {
			t.Fatal(err)
		}
	}
	save("old-1", true)
	save("old-2", true)
	save("running", false)
	now = now.Add(100 * 24 * time.Hour)
	save("recent", true)

	if n, err := cps.Prune(ctx, now.Add(-90*24*time.Hour), 1); err != nil || n != 1 {
		t.Fatalf("Prune limit 1 = %d, %v", n, err)
	}
	if n, err := cps.Prune(ctx, now.Add(-90*24*time.Hour), 100); err != nil || n != 1 {
		t.Fatalf("second Prune = %d, %v; want the other old one", n, err)
	}
	for arn, want := range map[string]bool{"old-1": false, "old-2": false, "running": true, "recent": true} {
		if ok, err := cps.Exists(ctx, arn); err != nil || ok != want {
			t.Errorf("Exists(%s) = %v, %v; want %v", arn, ok, err, want)
		}
	}
	if _, err := cps.Load(ctx, "old-1"); !errors.Is(err, asl.ErrNoCheckpoint) {
		t.Errorf("Load of a pruned execution = %v, want ErrNoCheckpoint", err)
	}
	if cp, err := cps.Load(ctx, "recent"); err != nil || len(cp.Events) != 2 {
		t.Errorf("Load(recent) = %d events, %v", len(cp.Events), err)
	}
	if n, err := cps.Prune(ctx, now.Add(time.Hour), 100); err != nil || n != 1 {
		t.Errorf("Prune of everything closed = %d, %v; want 1 (recent; running is kept)", n, err)
	}
	if un, _ := cps.Unfinished(ctx); len(un) != 1 || un[0] != "running" {
		t.Errorf("Unfinished = %v", un)
	}
}
