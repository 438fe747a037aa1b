package asl

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Options configure an Engine. Every field is optional.
type Options struct {
	// Clock and Sleeper control time; by default the wall clock. A
	// *FakeClock (tests) or *RealClock with a speed (demos) serves as both.
	// With a *FakeClock the engine tells the clock when its work is busy and
	// when it is idle, so that virtual time moves only when every execution
	// waits on it (see FakeClock).
	Clock   Clock
	Sleeper Sleeper
	// Checkpoints persists executions so that Resume continues them in a
	// new process; nil keeps executions in memory only.
	Checkpoints Checkpoints
	// Region and Account make the ARNs the engine mints
	// (arn:aws:states:<Region>:<Account>:...); defaults us-east-1 and
	// 123456789012.
	Region  string
	Account string
	// Publisher serves arn:aws:states:::sns:publish; ItemStore serves the
	// DynamoDB getItem/putItem/updateItem/deleteItem integrations.
	Publisher Publisher
	ItemStore ItemStore
	// Random returns a number in [0, 1) for JitterStrategy FULL; tests fix
	// it to make back-off deterministic.
	Random func() float64
	// KeepFinished bounds how many finished executions the engine keeps in
	// memory for Execution and Describe: beyond it the oldest is forgotten
	// (as by Forget; with Checkpoints it is still read from the store). A
	// child execution is kept until its .sync parent has read its outcome.
	// Zero keeps every finished execution, as AWS keeps them for 90 days;
	// a long-running process sets a bound so that its memory does not grow
	// with every execution it ever ran.
	KeepFinished int
	// OnInvoke, when set, is told of every Lambda invocation a task made:
	// the function's name, how long it took on the wall clock, and
	// whether it failed (lethe local's task latency metric).
	OnInvoke func(function string, took time.Duration, failed bool)
}

// Engine runs executions of registered state machines. It is safe for
// concurrent use; each execution runs on its own goroutines.
type Engine struct {
	clock   Clock
	sleeper Sleeper
	sched   scheduler
	store   Checkpoints
	region  string
	account string
	random  func() float64
	// onInvoke is Options.OnInvoke.
	onInvoke func(function string, took time.Duration, failed bool)
	roleArn  string // the role executions run as, in history and $$.Execution

	mu           sync.Mutex
	machines     map[string]*Machine // by state machine ARN
	anonymous    map[*Machine]string
	lambdas      map[string]*lambdaFunction
	integrations map[string]Integration
	resolvedBy   map[string]*resolved // resolve's answers, until an integration is registered
	publisher    Publisher
	items        ItemStore
	executions   map[string]*Execution
	tokens       map[string]chan tokenMessage
	// tokenWakes end the idle token waits of a simulating FakeClock: the
	// sender calls it while it is busy work, before time can move.
	tokenWakes map[string]func()
	keep       int          // Options.KeepFinished
	finished   []*Execution // finished executions in the order they ended, while keep > 0
}

// NewEngine makes an engine with no machines and no integrations.
func NewEngine(o Options) *Engine {
	e := &Engine{
		clock: o.Clock, sleeper: o.Sleeper, store: o.Checkpoints, region: o.Region, account: o.Account,
		random: o.Random, publisher: o.Publisher, items: o.ItemStore, keep: max(o.KeepFinished, 0), onInvoke: o.OnInvoke,
		machines: map[string]*Machine{}, anonymous: map[*Machine]string{}, lambdas: map[string]*lambdaFunction{},
		integrations: map[string]Integration{}, executions: map[string]*Execution{}, tokens: map[string]chan tokenMessage{}, tokenWakes: map[string]func(){},
	}
	if e.clock == nil {
		if fc, ok := e.sleeper.(*FakeClock); ok {
			e.clock = fc
		} else {
			e.clock = NewRealClock(1)
		}
	}
	if fc, ok := e.clock.(*FakeClock); ok {
		e.sched = fc
	} else {
		e.sched = realTime{clock: e.clock}
	}
	if e.sleeper == nil {
		if s, ok := e.clock.(Sleeper); ok {
			e.sleeper = s
		} else {
			e.sleeper = NewRealClock(1)
		}
	}
	if e.region == "" {
		e.region = "us-east-1"
	}
	if e.account == "" {
		e.account = "123456789012"
	}
	if e.random == nil {
		e.random = rand.Float64
	}
	e.roleArn = fmt.Sprintf("arn:aws:iam::%s:role/lethe-local", e.account)
	return e
}

// MachineArn is the ARN the engine gives a state machine name.
func (e *Engine) MachineArn(name string) string {
	return fmt.Sprintf("arn:aws:states:%s:%s:stateMachine:%s", e.region, e.account, name)
}

// RegisterMachine makes a machine startable by name or ARN, by Start and by
// the states:startExecution integration of other machines. It returns the
// ARN. Registering a name again replaces the definition for new executions.
func (e *Engine) RegisterMachine(name string, m *Machine) string {
	arn := e.MachineArn(name)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.machines[arn] = m
	return arn
}

func (e *Engine) machine(nameOrArn string) (*Machine, string, bool) {
	arn := nameOrArn
	if !strings.HasPrefix(arn, "arn:") {
		arn = e.MachineArn(nameOrArn)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	m, ok := e.machines[arn]
	return m, arn, ok
}

// Result describes an execution the way DescribeExecution and
// GetExecutionHistory do, plus the billed state transitions.
type Result struct {
	ExecutionArn    string
	Name            string
	StateMachineArn string
	Status          string
	Input           any
	Output          any
	Error           string
	Cause           string
	StartDate       time.Time
	StopDate        time.Time
	History         History
	// BilledTransitions counts the state transitions AWS would bill a
	// Standard workflow for: one per state entered, in branches and
	// iterations too, plus one per retry.
	BilledTransitions int
}

// Start begins an execution of a registered machine (by name or ARN) and
// returns at once. name may be empty (a UUID is used); input is any JSON
// value, JSON text as []byte or json.RawMessage, or a Go value that
// encoding/json marshals. A map[string]any or []any of JSON values is kept
// as given, not copied: the caller must not modify it afterwards (the
// history renders it when read). Cancelling ctx stops the execution without
// finishing it, as a process that dies would: its checkpoint stays
// unfinished for Resume.
func (e *Engine) Start(ctx context.Context, machine, name string, input any) (*Execution, error) {
	m, arn, ok := e.machine(machine)
	if !ok {
		return nil, fmt.Errorf("state machine %s does not exist", machine)
	}
	return e.start(ctx, m, arn, name, input, 0)
}

// Run executes a machine that need not be registered and waits for its end.
func (e *Engine) Run(ctx context.Context, m *Machine, input any) (*Result, error) {
	e.mu.Lock()
	arn, ok := e.anonymous[m]
	if !ok {
		arn = e.MachineArn(fmt.Sprintf("Machine%d", len(e.anonymous)+1))
		e.anonymous[m] = arn
		e.machines[arn] = m
	}
	e.mu.Unlock()
	x, err := e.start(ctx, m, arn, "", input, 0)
	if err != nil {
		return nil, err
	}
	res, err := x.Wait(ctx)
	e.mu.Lock()
	delete(e.executions, x.arn)
	e.mu.Unlock()
	return res, err
}

// start begins an execution; pins counts the .sync parents that will read
// its outcome (see KeepFinished), set before it can possibly end.
func (e *Engine) start(ctx context.Context, m *Machine, machineArn, name string, input any, pins int) (*Execution, error) {
	in, err := normalize(input)
	if err != nil {
		return nil, fmt.Errorf("execution input is not JSON: %w", err)
	}
	if name == "" {
		name = uuid.NewString()
	}
	machineName := machineArn[strings.LastIndex(machineArn, ":")+1:]
	arn := fmt.Sprintf("arn:aws:states:%s:%s:execution:%s:%s", e.region, e.account, machineName, name)
	x := &Execution{
		e: e, m: m, arn: arn, name: name, machineArn: machineArn, machineName: machineName,
		input: in, start: e.clock.Now(), status: StatusRunning, done: make(chan struct{}),
		root:    &thread{State: m.root.startAt, Input: in},
		history: make([]event, 0, m.historyCap()),
		pins:    pins,
	}
	e.mu.Lock()
	if old, ok := e.executions[arn]; ok {
		e.mu.Unlock()
		return nil, fmt.Errorf("ExecutionAlreadyExists: execution %s already exists (status %s)", arn, old.Describe().Status)
	}
	e.executions[arn] = x
	e.mu.Unlock()
	x.mu.Lock()
	x.emitLocked(nil, "ExecutionStarted", "executionStartedEventDetails", inputDetails(in, str("roleArn", e.roleArn)))
	x.checkpointLocked(false)
	x.mu.Unlock()
	e.sched.enter()
	spawn(func() { x.run(ctx) })
	return x, nil
}

// Resume continues every unfinished execution of the checkpoint store,
// typically once at start-up after a crash. Their machines must be
// registered first (by the same names). Completed tasks are not run again;
// a task that was in flight when the process died is run again, as AWS
// itself runs service integrations at least once.
func (e *Engine) Resume(ctx context.Context) ([]*Execution, error) {
	if e.store == nil {
		return nil, nil
	}
	arns, err := e.store.Unfinished(ctx)
	if err != nil {
		return nil, fmt.Errorf("list unfinished executions: %w", err)
	}
	var out []*Execution
	var errs []error
	for _, arn := range arns {
		e.mu.Lock()
		_, running := e.executions[arn]
		e.mu.Unlock()
		if running {
			continue
		}
		s, err := loadSnapshot(ctx, e.store, arn)
		if err != nil {
			errs = append(errs, fmt.Errorf("resume %s: %w", arn, err))
			continue
		}
		m, _, ok := e.machine(s.MachineArn)
		if !ok {
			errs = append(errs, fmt.Errorf("resume %s: state machine %s is not registered", arn, s.MachineArn))
			continue
		}
		x := &Execution{
			e: e, m: m, arn: s.ExecutionArn, name: s.Name, machineArn: s.MachineArn,
			machineName: s.MachineArn[strings.LastIndex(s.MachineArn, ":")+1:],
			input:       s.Input, start: s.Start, status: StatusRunning, done: make(chan struct{}),
			root: s.Root, history: recorded(s.History), saved: len(s.History), transitions: s.Transitions,
		}
		e.mu.Lock()
		e.executions[arn] = x
		e.mu.Unlock()
		x.registerPendingTokens(x.root)
		out = append(out, x)
	}
	// Start only once all are registered, so that a parent finds the child
	// execution it waits for.
	for _, x := range out {
		e.sched.enter()
		spawn(func() { x.run(ctx) })
	}
	return out, errors.Join(errs...)
}

func (x *Execution) registerPendingTokens(th *thread) {
	if th == nil {
		return
	}
	if th.Task != nil && th.Task.Token != "" && th.Task.Phase != phaseSucceeded {
		x.e.tokenChannel(th.Task.Token)
	}
	if th.Fanout != nil {
		for _, c := range th.Fanout.Children {
			x.registerPendingTokens(c)
		}
	}
}

// Forget drops a finished execution from the engine's memory, so that a
// long-running process does not keep every history it ever ran; its
// checkpoint, if any, stays in the store. Afterwards Execution no longer
// finds it, and a .sync parent that still waits for it reads its outcome
// from the store. A running execution cannot be forgotten.
func (e *Engine) Forget(arn string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.executions[arn]
	if !ok {
		return fmt.Errorf("ExecutionDoesNotExist: execution %s is not known to this engine", arn)
	}
	select {
	case <-x.done:
	default:
		return fmt.Errorf("execution %s is still running", arn)
	}
	delete(e.executions, arn)
	return nil
}

// retire counts a finished execution against KeepFinished and forgets the
// oldest finished ones beyond it, except those a .sync parent has yet to
// read (their parent's unpin forgets them).
func (e *Engine) retire(x *Execution) {
	if e.keep == 0 {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.finished = append(e.finished, x)
	if len(e.finished) <= e.keep {
		return
	}
	old := e.finished[0]
	e.finished[0] = nil
	e.finished = e.finished[1:]
	if old.pins > 0 {
		old.forgetUnpinned = true
	} else if e.executions[old.arn] == old {
		delete(e.executions, old.arn)
	}
}

// pin keeps a child execution in memory until its .sync parent has read
// its outcome (unpin).
func (e *Engine) pin(arn string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.executions[arn]; ok {
		x.pins++
	}
}

func (e *Engine) unpin(arn string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.executions[arn]
	if !ok || x.pins == 0 {
		return
	}
	x.pins--
	if x.pins == 0 && x.forgetUnpinned {
		delete(e.executions, arn)
	}
}

// Execution returns a running or finished execution known to this engine.
func (e *Engine) Execution(arn string) (*Execution, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.executions[arn]
	return x, ok
}

// Arn is the execution's ARN.
func (x *Execution) Arn() string { return x.arn }

// Done is closed when the execution ends (or is stopped).
func (x *Execution) Done() <-chan struct{} { return x.done }

// Wait blocks until the execution ends and returns its description. It
// returns an error when ctx ends first, when the execution was stopped
// before finishing, or when its checkpoints could not be written.
func (x *Execution) Wait(ctx context.Context) (*Result, error) {
	select {
	case <-x.done:
	case <-ctx.Done():
		return x.Describe(), ctx.Err()
	}
	r := x.Describe()
	x.mu.Lock()
	perr := x.persistErr
	x.mu.Unlock()
	if r.Status == StatusAborted {
		return r, fmt.Errorf("execution %s stopped before it finished: %s", x.arn, r.Cause)
	}
	return r, perr
}

// Describe reports the execution's current state, history included.
func (x *Execution) Describe() *Result {
	x.mu.Lock()
	defer x.mu.Unlock()
	r := &Result{
		ExecutionArn: x.arn, Name: x.name, StateMachineArn: x.machineArn, Status: x.status,
		Input: x.input, Output: x.output, StartDate: x.start, StopDate: x.stop,
		History: History{events: x.history[:len(x.history):len(x.history)]}, BilledTransitions: x.transitions,
	}
	if x.failure != nil {
		r.Error, r.Cause = x.failure.Name, x.failure.Cause
	}
	return r
}

// awaitExecution waits for another execution (a .sync child) to end,
// whether it runs in this engine or finished before the process restarted.
// The caller is engine work: it is idle while the child runs.
func (e *Engine) awaitExecution(ctx context.Context, arn string) (*Result, error) {
	if x, ok := e.Execution(arn); ok {
		x.mu.Lock()
		if !x.ended {
			p := e.sched.newPark(ctx, 0, false)
			x.waiters = append(x.waiters, p)
			x.mu.Unlock()
			p.wait()
		} else {
			x.mu.Unlock()
		}
		return x.Wait(ctx)
	}
	if e.store != nil {
		s, err := loadSnapshot(ctx, e.store, arn)
		if err != nil {
			return nil, err
		}
		r := &Result{ExecutionArn: s.ExecutionArn, Name: s.Name, StateMachineArn: s.MachineArn, Status: s.Status,
			Input: s.Input, Output: s.Output, StartDate: s.Start, StopDate: s.Stop, History: historyOf(s.History),
			BilledTransitions: s.Transitions}
		if s.Failure != nil {
			r.Error, r.Cause = s.Failure.Name, s.Failure.Cause
		}
		if s.Status == StatusRunning {
			return nil, fmt.Errorf("execution %s is unfinished and not running here", arn)
		}
		return r, nil
	}
	return nil, fmt.Errorf("execution %s does not exist", arn)
}

// Task tokens (the .waitForTaskToken pattern).

type tokenMessage struct {
	heartbeat bool
	output    any
	failure   *Failure
}

// ErrTaskDoesNotExist is returned for a task token that no task waits for
// (AWS's TaskDoesNotExist).
var ErrTaskDoesNotExist = errors.New("TaskDoesNotExist: no task waits for this token")

func (e *Engine) newToken() string { return uuid.NewString() }

func (e *Engine) tokenChannel(token string) chan tokenMessage {
	e.mu.Lock()
	defer e.mu.Unlock()
	ch, ok := e.tokens[token]
	if !ok {
		ch = make(chan tokenMessage, 16)
		e.tokens[token] = ch
	}
	return ch
}

func (e *Engine) dropToken(token string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.tokens, token)
	delete(e.tokenWakes, token)
}

func (e *Engine) sendToken(token string, m tokenMessage) error {
	e.mu.Lock()
	ch, ok := e.tokens[token]
	e.mu.Unlock()
	if !ok {
		return ErrTaskDoesNotExist
	}
	select {
	case ch <- m:
		if !m.heartbeat {
			e.mu.Lock()
			wake := e.tokenWakes[token]
			e.mu.Unlock()
			if wake != nil {
				wake()
			}
		}
		return nil
	default:
		if m.heartbeat {
			return nil // a heartbeat is already queued
		}
		return fmt.Errorf("task token %s already completed", token)
	}
}

// SendTaskSuccess completes a waitForTaskToken task with output, JSON text.
func (e *Engine) SendTaskSuccess(token string, output []byte) error {
	v, err := decodeValue(output)
	if err != nil {
		return fmt.Errorf("InvalidOutput: %w", err)
	}
	return e.sendToken(token, tokenMessage{output: v})
}

// SendTaskFailure fails a waitForTaskToken task with an error name and cause
// that its Retry and Catch match.
func (e *Engine) SendTaskFailure(token, errorName, cause string) error {
	return e.sendToken(token, tokenMessage{failure: &Failure{Name: errorName, Cause: cause}})
}

// SendTaskHeartbeat tells a task with HeartbeatSeconds that its worker is
// still alive.
func (e *Engine) SendTaskHeartbeat(token string) error {
	return e.sendToken(token, tokenMessage{heartbeat: true})
}
