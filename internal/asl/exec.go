package asl

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Execution is one run of a Machine. Its running state (threads, history,
// counters) lives here, apart from the immutable Machine.
type Execution struct {
	e           *Engine
	m           *Machine
	arn         string
	name        string
	machineArn  string
	machineName string
	input       any
	start       time.Time
	base        context.Context // the context executions started by this one run in
	deadline    time.Time       // from the machine's TimeoutSeconds; zero for none

	ctxOnce      sync.Once // builds the two parts of the context object that never change
	ctxExecution map[string]any
	ctxMachine   map[string]any

	mu          sync.Mutex
	root        *thread
	history     []event
	saved       int // events already in the checkpoint store
	transitions int
	status      string
	output      any
	failure     *Failure
	stop        time.Time
	persistErr  error
	ended       bool    // run has finished; waiters were woken
	waiters     []*park // engine work waiting for the end (.sync parents)

	// Under e.mu: .sync parents yet to read the outcome, and whether
	// KeepFinished has dropped the execution meanwhile.
	pins           int
	forgetUnpinned bool

	done chan struct{}
}

// Status values of an execution, as DescribeExecution reports them.
const (
	StatusRunning   = "RUNNING"
	StatusSucceeded = "SUCCEEDED"
	StatusFailed    = "FAILED"
	StatusTimedOut  = "TIMED_OUT"
	StatusAborted   = "ABORTED"
)

// thread is the position of one line of control: the whole machine, a
// Parallel branch or a Map iteration. It is what checkpoints persist, so its
// fields are exported to encoding/json; only the goroutine running the
// thread writes it, always under Execution.mu (see mutate).
type thread struct {
	State       string        `json:"state"`
	Input       any           `json:"input"`
	Entered     bool          `json:"entered,omitempty"`
	EnteredTime time.Time     `json:"enteredTime"`
	EnteredID   int64         `json:"enteredId,omitempty"`
	LastEvent   int64         `json:"lastEvent"`
	Attempts    []int         `json:"attempts,omitempty"`
	RetryCount  int           `json:"retryCount,omitempty"`
	RetryAt     *time.Time    `json:"retryAt,omitempty"`
	WaitUntil   *time.Time    `json:"waitUntil,omitempty"`
	Task        *taskProgress `json:"task,omitempty"`
	Fanout      *fanout       `json:"fanout,omitempty"`
	MapItem     *mapItem      `json:"mapItem,omitempty"`
	Done        bool          `json:"done,omitempty"`
	Output      any           `json:"output,omitempty"`
	Failure     *Failure      `json:"failure,omitempty"`
}

// fanout is a Parallel or Map state in progress: one child thread per
// branch or item.
type fanout struct {
	Children []*thread `json:"children"`
	Started  []bool    `json:"started,omitempty"`
}

// mapItem is the $$.Map.Item of a Map iteration thread.
type mapItem struct {
	Index int `json:"index"`
	Value any `json:"value"`

	ctx map[string]any // $$.Map, built once by the iteration's goroutine
}

// contextObject is $$.Map for the iteration; like every JSON value it is
// never modified, so every state of the iteration shares it.
func (m *mapItem) contextObject() map[string]any {
	if m.ctx == nil {
		m.ctx = map[string]any{"Item": map[string]any{"Index": jsonIntValue(m.Index), "Value": m.Value}}
	}
	return m.ctx
}

// Task phases. A Task whose result is checkpointed ("succeeded") is never
// invoked again; one that was "started" when the process died is invoked
// again on resume (at least once, as with AWS); one "submitted" (a
// waitForTaskToken or .sync task) waits again for its token or child
// execution without re-sending.
const (
	phaseStarted   = "started"
	phaseSubmitted = "submitted"
	phaseSucceeded = "succeeded"
)

type taskProgress struct {
	Phase  string `json:"phase"`
	Token  string `json:"token,omitempty"`
	Child  string `json:"child,omitempty"`
	Result any    `json:"result,omitempty"`
}

// mutate applies a change to the execution state under its lock, then
// checkpoints it: every transition, task result and timer is persisted
// before the execution moves on.
func (x *Execution) mutate(f func()) {
	x.mu.Lock()
	defer x.mu.Unlock()
	f()
	x.checkpointLocked(false)
}

func (x *Execution) now() time.Time { return x.e.clock.Now() }

// emitLocked appends an event to the history; the thread's last event
// becomes its previousEventId, as AWS chains events per line of control.
func (x *Execution) emitLocked(th *thread, typ, key string, details []field) int64 {
	ev := event{id: int64(len(x.history) + 1), ts: x.now(), typ: typ, key: key, fields: details}
	if th != nil {
		ev.prev = th.LastEvent
		th.LastEvent = ev.id
	} else if len(x.history) > 0 {
		ev.prev = x.history[len(x.history)-1].id
	}
	x.history = append(x.history, ev)
	return ev.id
}

// emitAside appends an event chained after prev without moving any
// thread's chain: AWS records MapIterationSucceeded and the
// Map/ParallelStateSucceeded events this way.
func (x *Execution) emitAside(prev int64, typ, key string, details []field) int64 {
	ev := event{id: int64(len(x.history) + 1), prev: prev, ts: x.now(), typ: typ, key: key, fields: details}
	x.history = append(x.history, ev)
	return ev.id
}

// errExecutionTimedOut stops a thread whose wait would outlast the
// execution's TimeoutSeconds.
var errExecutionTimedOut = errors.New("the execution timed out")

// sleepUntil waits on the engine's sleeper until t, or until the
// execution's deadline if that comes first.
func (x *Execution) sleepUntil(ctx context.Context, t time.Time) error {
	if !x.deadline.IsZero() && t.After(x.deadline) {
		if err := x.sleepUntil(ctx, x.deadline); err != nil {
			return err
		}
		return errExecutionTimedOut
	}
	d := t.Sub(x.now())
	if d <= 0 {
		return ctx.Err()
	}
	return x.e.sleeper.Sleep(ctx, d)
}

// contextObject is the context object of spec "The Context Object", as AWS
// fills it ($$.Execution, $$.State, $$.StateMachine, $$.Task, $$.Map), for
// state s of thread th; nil when no path of s reads it. Its Execution and
// StateMachine objects are built once per execution and shared: like every
// JSON value in the engine they are never modified.
func (x *Execution) contextObject(th *thread, s *stateCommon) map[string]any {
	if !s.usesContext {
		return nil
	}
	x.ctxOnce.Do(func() {
		x.ctxExecution = map[string]any{
			"Id":        x.arn,
			"Input":     x.input,
			"Name":      x.name,
			"RoleArn":   x.e.roleArn,
			"StartTime": formatTime(x.start),
		}
		x.ctxMachine = map[string]any{"Id": x.machineArn, "Name": x.machineName}
	})
	c := make(map[string]any, 5)
	c["Execution"] = x.ctxExecution
	c["State"] = map[string]any{
		"EnteredTime": formatTime(th.EnteredTime),
		"Name":        s.nameValue,
		"RetryCount":  jsonIntValue(th.RetryCount),
	}
	c["StateMachine"] = x.ctxMachine
	if th.Task != nil && th.Task.Token != "" {
		c["Task"] = map[string]any{"Token": th.Task.Token}
	}
	if th.MapItem != nil {
		c["Map"] = th.MapItem.contextObject()
	}
	return c
}

func formatTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// run drives the execution to its end and records the outcome.
// The goroutine running it was counted busy by whoever started it.
func (x *Execution) run(ctx context.Context) {
	s := x.e.sched
	defer s.leave()  // last: the execution's work is over
	defer x.finish() // wakes .sync parents before this goroutine goes idle
	x.base = ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var timedOut bool
	var tmu sync.Mutex
	if x.m.timeoutSeconds > 0 {
		deadline := x.start.Add(time.Duration(x.m.timeoutSeconds) * time.Second)
		x.deadline = deadline
		p := s.newPark(ctx, deadline.Sub(x.now()), true)
		s.enter()
		go func() {
			defer s.leave()
			if p.wait() == wokeTimer {
				tmu.Lock()
				timedOut = true
				tmu.Unlock()
				cancel()
			}
		}()
	}
	out, f, err := x.runThread(ctx, x.m.root, x.root)
	tmu.Lock()
	to := timedOut || errors.Is(err, errExecutionTimedOut)
	tmu.Unlock()
	x.mu.Lock()
	defer x.mu.Unlock()
	x.stop = x.now()
	switch {
	case to:
		x.status, x.failure = StatusTimedOut, &Failure{Name: ErrTimeout, Cause: "The execution timed out"}
		x.emitLocked(nil, "ExecutionTimedOut", "executionTimedOutEventDetails", errorDetails(x.failure))
	case err != nil:
		// Stopped from outside (the process is going away): the last
		// checkpoint stays unfinished so that another engine resumes it.
		x.status = StatusAborted
		x.failure = &Failure{Name: "States.Aborted", Cause: err.Error()}
		return
	case f != nil:
		x.status, x.failure = StatusFailed, f
		x.emitLocked(nil, "ExecutionFailed", "executionFailedEventDetails", errorDetails(f))
	default:
		x.status, x.output = StatusSucceeded, out
		x.emitLocked(nil, "ExecutionSucceeded", "executionSucceededEventDetails", outputDetails(out))
	}
	x.checkpointLocked(true)
}

// finish marks the execution ended and wakes the engine work waiting for it,
// each counted busy before this execution's goroutine goes idle.
func (x *Execution) finish() {
	x.mu.Lock()
	x.ended = true
	x.m.historyLen.Store(int32(min(len(x.history), maxHistoryHint)))
	ws := x.waiters
	x.waiters = nil
	stopped := x.status == StatusRunning // stopped from outside, unfinished: not retired
	x.mu.Unlock()
	if !stopped {
		x.e.retire(x) // before Wait returns, so that a caller sees the bound kept
	}
	close(x.done)
	for _, p := range ws {
		p.signal(false)
	}
}

// runThread runs one line of control until it ends. An error (not a
// Failure) means the execution was stopped from outside.
func (x *Execution) runThread(ctx context.Context, b *branch, th *thread) (any, *Failure, error) {
	for {
		if th.Done {
			return th.Output, th.Failure, nil
		}
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		s := b.states[th.State]
		c := s.common()
		if !th.Entered {
			x.mutate(func() {
				th.Entered = true
				th.EnteredTime = x.now()
				th.EnteredID = x.emitLocked(th, c.typ+"StateEntered", "stateEnteredEventDetails",
					inputDetails(th.Input, str("name", c.name)))
				x.transitions++
			})
		}
		out, next, f, err := x.execState(ctx, s, th)
		if err != nil {
			return nil, nil, err
		}
		if f != nil {
			if f.Name == ErrRuntime && !strings.HasPrefix(f.Cause, "An error occurred while executing") {
				f = &Failure{Name: f.Name, Cause: fmt.Sprintf("An error occurred while executing the state '%s' (entered at the event id #%d). %s", c.name, th.EnteredID, f.Cause)}
			}
			x.mutate(func() { th.Done, th.Failure = true, f })
			return nil, f, nil
		}
		x.mutate(func() {
			x.emitLocked(th, c.typ+"StateExited", "stateExitedEventDetails", outputDetails(out, str("name", c.name)))
			if next == "" {
				th.Done, th.Output = true, out
				return
			}
			*th = thread{State: next, Input: out, LastEvent: th.LastEvent, MapItem: th.MapItem}
		})
		if th.Done {
			return out, nil, nil
		}
	}
}

// execState runs one state and says where to go next ("" ends the thread).
func (x *Execution) execState(ctx context.Context, s state, th *thread) (any, string, *Failure, error) {
	switch s := s.(type) {
	case *passState:
		out, f := s.exec(x, th)
		return out, s.next, f, nil
	case *succeedState:
		out, f := s.exec(x, th)
		return out, "", f, nil
	case *failState:
		return nil, "", s.failure(x, th), nil
	case *choiceState:
		out, next, f := s.exec(x, th)
		return out, next, f, nil
	case *waitState:
		out, f, err := s.exec(ctx, x, th)
		return out, s.next, f, err
	case *taskState:
		return x.withRetry(ctx, s, th, func() (any, *Failure, error) { return s.attempt(ctx, x, th) })
	case *parallelState:
		return x.withRetry(ctx, s, th, func() (any, *Failure, error) { return s.attempt(ctx, x, th) })
	case *mapState:
		return x.withRetry(ctx, s, th, func() (any, *Failure, error) { return s.attempt(ctx, x, th) })
	}
	return nil, "", fail(ErrRuntime, "unknown state type %T", s), nil
}

// withRetry runs attempts of a Task, Parallel or Map state under its Retry
// and Catch fields (spec "Error Handling"): the first retrier whose
// ErrorEquals matches decides; when its attempts are spent, or none
// matches, the first matching catcher moves on with the error output placed
// by its ResultPath into the state's raw input.
func (x *Execution) withRetry(ctx context.Context, s state, th *thread, attempt func() (any, *Failure, error)) (any, string, *Failure, error) {
	c := s.common()
	for {
		if th.RetryAt != nil {
			if err := x.sleepUntil(ctx, *th.RetryAt); err != nil {
				return nil, "", nil, err
			}
			x.mutate(func() { th.RetryAt = nil })
		}
		out, f, err := attempt()
		if err != nil {
			return nil, "", nil, err
		}
		if f == nil {
			return out, c.next, nil, nil
		}
		if i, ok := x.retrierFor(c, th, f); ok {
			r := &c.retry[i]
			x.mutate(func() {
				if th.Attempts == nil {
					th.Attempts = make([]int, len(c.retry))
				}
				at := x.now().Add(r.delay(th.Attempts[i], x.e.random))
				th.Attempts[i]++
				th.RetryCount++
				th.RetryAt = &at
				th.Task, th.Fanout = nil, nil
				x.transitions++ // AWS bills each retry as a state transition
			})
			continue
		}
		if c.typ == "Parallel" || c.typ == "Map" {
			// AWS records the state's failure once, after the last attempt.
			x.mutate(func() { x.emitLocked(th, c.typ+"StateFailed", "", nil) })
		}
		for _, ct := range c.catch {
			if matches(ct.errorEquals, f) {
				out, rf := applyResultPath(ct.resultPath, th.Input, f.errorOutput())
				if rf != nil {
					return nil, "", rf, nil
				}
				return out, ct.next, nil, nil
			}
		}
		return nil, "", f, nil
	}
}

func (x *Execution) retrierFor(c *stateCommon, th *thread, f *Failure) (int, bool) {
	for i := range c.retry {
		if matches(c.retry[i].errorEquals, f) {
			n := 0
			if th.Attempts != nil {
				n = th.Attempts[i]
			}
			return i, n < c.retry[i].maxAttempts
		}
	}
	return 0, false
}

// runChildren runs the threads of a Parallel or Map with at most limit at a
// time (0: no limit). The first failure stops the others, and is returned
// with its index. The calling goroutine is idle while it waits for a slot or
// for the children's end; each child is busy work of its own, and the child
// that ends while the parent waits hands its unit of work to the parent.
func (x *Execution) runChildren(ctx context.Context, fo *fanout, branchOf func(i int) *branch, limit int,
	onStart func(i int, th *thread), onEnd func(i int, th *thread, f *Failure)) (*Failure, int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s := x.e.sched
	n := len(fo.Children)
	if limit <= 0 || limit > n {
		limit = n
	}
	var mu sync.Mutex
	running := 0
	var parked *park      // the parent's wait, while it waits
	var wants func() bool // what the parent waits for
	var firstFail *Failure
	failIdx := -1
	var abort error
	// await parks the parent until cond holds; called and returns with mu
	// held. A child that ends wakes the parent only when cond holds then.
	await := func(cond func() bool) {
		for !cond() {
			p := s.newPark(nil, 0, false)
			parked, wants = p, cond
			mu.Unlock()
			p.wait()
			mu.Lock()
		}
	}
	// child runs one child thread; inline, on the parent's goroutine and
	// unit of busy work (the last child: the parent would only wait), and
	// then returns with mu held.
	child := func(i int, th *thread, inline bool) {
		_, f, err := x.runThread(ctx, branchOf(i), th)
		mu.Lock()
		switch {
		case err != nil:
			if abort == nil && firstFail == nil {
				abort = err
			}
		default:
			if onEnd != nil {
				onEnd(i, th, f)
			}
			if f != nil && firstFail == nil {
				firstFail, failIdx = f, i
				cancel()
			}
		}
		running--
		if inline {
			return // with mu held, as the parent's loop expects
		}
		var p *park
		if parked != nil && wants() {
			p, parked = parked, nil
		}
		mu.Unlock()
		if p != nil {
			p.signal(true)
		} else {
			s.leave()
		}
	}
	mu.Lock()
	last := n - 1
	for last >= 0 && fo.Children[last].Done && fo.Children[last].Failure == nil {
		last--
	}
	for i := 0; i <= last; i++ {
		th := fo.Children[i]
		if th.Done && th.Failure == nil {
			continue
		}
		await(func() bool { return running < limit || ctx.Err() != nil })
		if ctx.Err() != nil {
			break
		}
		running++
		mu.Unlock()
		if onStart != nil {
			onStart(i, th) // here, so that children start in index order
		}
		if i == last {
			child(i, th, true)
			break
		}
		s.enter()
		spawn(func() { child(i, th, false) })
		mu.Lock()
	}
	await(func() bool { return running == 0 })
	mu.Unlock()
	if firstFail != nil {
		return firstFail, failIdx, nil
	}
	if abort != nil {
		return nil, 0, abort
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	return nil, 0, nil
}
