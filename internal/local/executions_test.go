package local

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/lethe-erasure/lethe/internal/asl"
	"github.com/lethe-erasure/lethe/internal/store/embedded"
)

// TestExecutionsMaxRunning: with a bound of one running execution, a
// second Start waits until the first execution ends, gives up (starting
// nothing) when its context ends first, and no execution is started twice.
func TestExecutionsMaxRunning(t *testing.T) {
	db, err := embedded.Open(filepath.Join(t.TempDir(), "lethe.db"), embedded.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	cps := db.Checkpoints("eu")
	e := asl.NewEngine(asl.Options{Checkpoints: cps, Region: "eu-west-1", Account: Account})

	// Each execution's task runs until its gate opens.
	gates := map[string]chan struct{}{"first": make(chan struct{}), "second": make(chan struct{})}
	var mu sync.Mutex
	calls := map[string]int{}
	called := func(name string) int {
		mu.Lock()
		defer mu.Unlock()
		return calls[name]
	}
	fn := e.RegisterLambda("work", func(ctx context.Context, in struct {
		Name string `json:"name"`
	}) (string, error) {
		mu.Lock()
		calls[in.Name]++
		mu.Unlock()
		select {
		case <-gates[in.Name]:
		case <-ctx.Done():
		}
		return "done", nil
	})
	m, err := asl.Parse(fmt.Appendf(nil, `{"StartAt":"Work","States":{"Work":{"Type":"Task","Resource":%q,"End":true}}}`, fn))
	if err != nil {
		t.Fatal(err)
	}
	e.RegisterMachine("main", m)

	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var tmu sync.Mutex
	executions := map[string]*asl.Execution{}
	x := &Executions{
		engine: e, checkpoints: cps, machine: "main", ctx: ctx, running: make(chan struct{}, 1),
		track: func(exs ...*asl.Execution) {
			tmu.Lock()
			defer tmu.Unlock()
			for _, ex := range exs {
				executions[ex.Arn()] = ex
			}
		},
	}
	execution := func(name string) *asl.Execution {
		tmu.Lock()
		defer tmu.Unlock()
		return executions[ExecutionArn(e, "main", name)]
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}

	if err := x.Start(context.Background(), "first", `{"name":"first"}`); err != nil {
		t.Fatal(err)
	}
	waitFor("the first task", func() bool { return called("first") == 1 })

	// The bound is taken: a Start whose context ends first gives up.
	short, stop := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer stop()
	if err := x.Start(short, "second", `{"name":"second"}`); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Start while the bound is taken, until its context ends = %v, want DeadlineExceeded", err)
	}
	if exists, err := cps.Exists(context.Background(), ExecutionArn(e, "main", "second")); err != nil || exists || execution("second") != nil {
		t.Fatalf("the refused Start left an execution: exists=%v, %v", exists, err)
	}

	// Another Start waits for the first execution to end.
	started := make(chan error, 1)
	go func() { started <- x.Start(context.Background(), "second", `{"name":"second"}`) }()
	select {
	case err := <-started:
		t.Fatalf("Start returned %v while the first execution runs", err)
	case <-time.After(100 * time.Millisecond):
	}
	if n := called("second"); n != 0 {
		t.Fatalf("the second task ran %d times while the first execution runs", n)
	}
	close(gates["first"])
	if err := <-started; err != nil {
		t.Fatalf("Start once the first ended: %v", err)
	}
	waitFor("the second task", func() bool { return called("second") == 1 })
	close(gates["second"])
	<-execution("second").Done()

	// Started again, neither runs a second time.
	for _, name := range []string{"first", "second"} {
		if err := x.Start(context.Background(), name, fmt.Sprintf(`{"name":%q}`, name)); err != nil {
			t.Errorf("Start(%s) again: %v", name, err)
		}
	}
	time.Sleep(50 * time.Millisecond)
	if calls := [2]int{called("first"), called("second")}; calls != [2]int{1, 1} {
		t.Errorf("tasks ran %v times, want once each", calls)
	}
}
