package difftest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda/messages"

	"github.com/lethe-erasure/lethe/internal/asl"
	"github.com/lethe-erasure/lethe/internal/eventstest"
	"github.com/lethe-erasure/lethe/internal/registry"
	"github.com/lethe-erasure/lethe/statemachines"
)

// Both engines run with the same identity and time: the npm engine has no
// execution ARNs or state entry times of its own, so it is handed Lethe's
// (its documented "context" run option mocks the context object).
var (
	epoch        = time.Date(2026, 1, 31, 9, 0, 0, 0, time.UTC)
	epochText    = "2026-01-31T09:00:00.000Z"
	region       = "us-east-1"
	account      = "123456789012"
	mainMachine  = "difftest"
	mainExecName = "difftest"
)

func machineArn(name string) string {
	return fmt.Sprintf("arn:aws:states:%s:%s:stateMachine:%s", region, account, name)
}

func functionArn(name string) string {
	return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", region, account, name)
}

// fnSpec is a stub Lambda function, declared in a case and served the same
// way by both engines (see runner.mjs for the Node side).
type fnSpec struct {
	Return   json.RawMessage `json:"return,omitempty"`
	InputAs  string          `json:"inputAs,omitempty"`
	Echo     bool            `json:"echo,omitempty"`
	Fail     *fnFailure      `json:"fail,omitempty"`
	Sequence []fnSpec        `json:"sequence,omitempty"`
}

type fnFailure struct {
	Error   string `json:"error"`
	Message string `json:"message,omitempty"`
}

// testCase is one entry of testdata/cases/*.json.
type testCase struct {
	Name    string `json:"name"`
	Comment string `json:"comment,omitempty"`
	// Definition is inline ASL; StateMachine instead names a file of
	// statemachines/ whose placeholders are substituted (functions by
	// their registry names, machines by their ARNs, topics by an ARN)
	// and whose child machines are registered in both engines.
	Definition   json.RawMessage            `json:"definition,omitempty"`
	StateMachine string                     `json:"stateMachine,omitempty"`
	Machines     map[string]json.RawMessage `json:"machines,omitempty"`
	Input        json.RawMessage            `json:"input,omitempty"`
	Functions    map[string]fnSpec          `json:"functions,omitempty"`
	// IgnoreCause compares only error names (a States.Runtime cause is
	// each engine's own prose); IgnoreKeys drops object keys, anywhere in
	// the output, whose values are times that only Lethe's fake clock
	// moves.
	IgnoreCause bool     `json:"ignoreCause,omitempty"`
	IgnoreKeys  []string `json:"ignoreKeys,omitempty"`

	file string
}

// outcome is how an execution ended, in either engine.
type outcome struct {
	Status string `json:"status"`
	Output any    `json:"output,omitempty"`
	Error  string `json:"error,omitempty"`
	Cause  string `json:"cause,omitempty"`
}

func (o outcome) String() string {
	b, _ := json.Marshal(o)
	return string(b)
}

// loadCases reads every testdata/cases/*.json file (each a JSON array of
// cases) and resolves StateMachine cases into definitions.
func loadCases(t testing.TB) []*testCase {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "cases", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no case files under testdata/cases: %v", err)
	}
	var all []*testCase
	seen := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var cs []*testCase
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&cs); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, c := range cs {
			c.file = filepath.Base(f)
			if c.Name == "" {
				t.Fatalf("%s: a case has no name", f)
			}
			if other, dup := seen[c.Name]; dup {
				t.Fatalf("case %q is in both %s and %s", c.Name, other, c.file)
			}
			seen[c.Name] = c.file
			prepare(t, c)
			all = append(all, c)
		}
	}
	return all
}

// prepare resolves a StateMachine case into definitions and defaults the
// input.
func prepare(t testing.TB, c *testCase) {
	t.Helper()
	if c.StateMachine != "" {
		resolveStateMachine(t, c)
	}
	if len(c.Definition) == 0 {
		t.Fatalf("%s: case %q has no definition", c.file, c.Name)
	}
	if len(c.Input) == 0 {
		c.Input = json.RawMessage(`{}`)
	}
}

// loadCase reads one case from a file holding a single case object.
func loadCase(t testing.TB, path string) *testCase {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c := &testCase{file: filepath.Base(path)}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	prepare(t, c)
	return c
}

// substitutions fills the placeholders of statemachines/*.asl.json: every
// function with the ARN of a stub named after its function folder, every
// machine with its ARN in both engines, every topic with an SNS ARN.
func substitutions() map[string]string {
	values := map[string]string{}
	for _, p := range registry.Placeholders {
		switch p.Kind {
		case registry.Function:
			values[p.Name] = functionArn(p.Target)
		case registry.StateMachine:
			values[p.Name] = machineArn(p.Target)
		case registry.Topic:
			values[p.Name] = fmt.Sprintf("arn:aws:sns:%s:%s:lethe-%s", region, account, p.Target)
		}
	}
	return values
}

func resolveStateMachine(t testing.TB, c *testCase) {
	t.Helper()
	values := substitutions()
	def, err := statemachines.Substituted(c.StateMachine, values)
	if err != nil {
		t.Fatalf("case %q: %v", c.Name, err)
	}
	c.Definition = json.RawMessage(def)
	if c.Machines == nil {
		c.Machines = map[string]json.RawMessage{}
	}
	for _, m := range registry.Machines {
		if m.Name == c.StateMachine {
			continue
		}
		d, err := statemachines.Substituted(m.Name, values)
		if err != nil {
			t.Fatalf("case %q: %v", c.Name, err)
		}
		c.Machines[m.Name] = json.RawMessage(d)
	}
}

// stubFunction is a fnSpec served as an aws-lambda-go Handler, so the
// engine's Lambda path (payload marshalling, error type names) is the one
// under test.
type stubFunction struct {
	spec  fnSpec
	mu    sync.Mutex
	calls int
}

func (s *stubFunction) Invoke(_ context.Context, payload []byte) ([]byte, error) {
	s.mu.Lock()
	n := s.calls
	s.calls++
	s.mu.Unlock()
	sp := s.spec
	if len(sp.Sequence) > 0 {
		sp = sp.Sequence[min(n, len(sp.Sequence)-1)]
	}
	switch {
	case sp.Fail != nil:
		return nil, messages.InvokeResponse_Error{Type: sp.Fail.Error, Message: sp.Fail.Message}
	case sp.Echo:
		return payload, nil
	case sp.InputAs != "":
		var out map[string]any
		if err := json.Unmarshal(sp.Return, &out); err != nil {
			return nil, err
		}
		out[sp.InputAs] = json.RawMessage(payload)
		return json.Marshal(out)
	case len(sp.Return) > 0:
		return sp.Return, nil
	}
	return []byte("null"), nil
}

// outbox is sns:publish for both engines' cases: it accepts everything.
type outbox struct {
	mu sync.Mutex
	n  int
}

func (o *outbox) Publish(context.Context, asl.PublishInput) (string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.n++
	return fmt.Sprintf("msg-%d", o.n), nil
}

// lethe is one Lethe engine wired for a case: fake clock, fixed jitter,
// stub functions, children registered.
type lethe struct {
	engine *asl.Engine
	main   string
}

// newLethe makes an engine for the case; keep is its KeepFinished.
func newLethe(c *testCase, keep int) (*lethe, error) {
	// The engine's own virtual time: Wait states and retry intervals take
	// no real time, and every stub task is instant, so no task times out.
	clock := asl.NewFakeClock(epoch)
	e := asl.NewEngine(asl.Options{
		Clock: clock, Region: region, Account: account,
		Publisher: &outbox{}, Random: func() float64 { return 0.5 },
		KeepFinished: keep,
	})
	for name, spec := range c.Functions {
		e.RegisterLambda(name, &stubFunction{spec: spec})
	}
	for name, def := range c.Machines {
		m, err := asl.Parse(def)
		if err != nil {
			return nil, err
		}
		e.RegisterMachine(name, m)
	}
	m, err := asl.Parse(c.Definition)
	if err != nil {
		return nil, err
	}
	return &lethe{engine: e, main: e.RegisterMachine(mainMachine, m)}, nil
}

// run executes the case once under execution name name.
func (l *lethe) run(ctx context.Context, name string, input json.RawMessage) (outcome, error) {
	x, err := l.engine.Start(ctx, l.main, name, []byte(input))
	if err != nil {
		return outcome{}, err
	}
	res, err := x.Wait(ctx)
	if err != nil {
		return outcome{}, err
	}
	switch res.Status {
	case asl.StatusSucceeded:
		return outcome{Status: "SUCCEEDED", Output: res.Output}, nil
	case asl.StatusFailed:
		return outcome{Status: "FAILED", Error: res.Error, Cause: res.Cause}, nil
	}
	return outcome{Status: res.Status, Error: res.Error, Cause: res.Cause}, nil
}

func runLethe(c *testCase) outcome {
	l, err := newLethe(c, 0)
	if err != nil {
		var ve *asl.ValidationError
		if errors.As(err, &ve) {
			return outcome{Status: "INVALID", Error: "InvalidDefinition", Cause: err.Error()}
		}
		return outcome{Status: "HARNESS_ERROR", Cause: err.Error()}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	o, err := l.run(ctx, mainExecName, c.Input)
	if err != nil {
		return outcome{Status: "HARNESS_ERROR", Cause: err.Error()}
	}
	return o
}

// npmEngine is the one node process running runner.mjs.
type npmEngine struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *bufio.Reader
	stderr *strings.Builder
	seq    int
}

// startNpm starts runner.mjs, or skips the test when node or the npm
// package is missing (make setup installs it into .tools).
func startNpm(t testing.TB) *npmEngine {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not on PATH: the differential test needs Node.js and aws-local-stepfunctions (make setup)")
	}
	pkg := filepath.Join(eventstest.Root(t), ".tools", "node_modules", "aws-local-stepfunctions")
	if _, err := os.Stat(filepath.Join(pkg, "build", "main.node.esm.js")); err != nil {
		t.Skipf("aws-local-stepfunctions is not installed at %s: run `make setup` (or cd .tools && npm ci)", pkg)
	}
	cmd := exec.Command(node, "runner.mjs", pkg)
	stderr := &strings.Builder{}
	cmd.Stderr = stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n := &npmEngine{cmd: cmd, stdin: in, stdout: bufio.NewReaderSize(out, 1<<20), stderr: stderr}
	t.Cleanup(func() {
		_ = n.stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	return n
}

// npmRequest is a case as runner.mjs reads it.
type npmRequest struct {
	ID         string                     `json:"id"`
	Kind       string                     `json:"kind"`
	Definition json.RawMessage            `json:"definition"`
	Input      json.RawMessage            `json:"input"`
	Functions  map[string]fnSpec          `json:"functions,omitempty"`
	Machines   map[string]json.RawMessage `json:"machines,omitempty"`
	Context    any                        `json:"context"`
	N          int                        `json:"n,omitempty"`
}

func newNpmRequest(kind string, c *testCase) npmRequest {
	machines := map[string]json.RawMessage{}
	for name, def := range c.Machines {
		machines[machineArn(name)] = def
	}
	return npmRequest{
		Kind: kind, Definition: c.Definition, Input: c.Input, Functions: c.Functions, Machines: machines,
		Context: map[string]any{
			"Execution": map[string]any{
				"Id":   fmt.Sprintf("arn:aws:states:%s:%s:execution:%s:%s", region, account, mainMachine, mainExecName),
				"Name": mainExecName,
			},
			"State":        map[string]any{"EnteredTime": epochText, "RetryCount": 0},
			"StateMachine": map[string]any{"Id": machineArn(mainMachine), "Name": mainMachine},
		},
	}
}

// send writes requests; receive reads answers in the same order.
func (n *npmEngine) send(req npmRequest) (string, error) {
	n.seq++
	req.ID = fmt.Sprintf("r%d", n.seq)
	b, err := json.Marshal(req)
	if err != nil {
		return "", err
	}
	_, err = n.stdin.Write(append(b, '\n'))
	return req.ID, err
}

func (n *npmEngine) receive(id string, into any) error {
	line, err := n.stdout.ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("runner.mjs stopped answering: %v; stderr: %s", err, n.stderr.String())
	}
	var head struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(line, &head); err != nil {
		return fmt.Errorf("runner.mjs answered non-JSON %q: %v", line, err)
	}
	if head.ID != id {
		return fmt.Errorf("runner.mjs answered %s, want %s", head.ID, id)
	}
	return json.Unmarshal(line, into)
}

// normalize makes outcomes comparable: numbers as float64 (JSON equality,
// not text equality), ignored keys dropped, causes dropped if ignored.
func normalize(c *testCase, o outcome) outcome {
	if o.Output != nil {
		b, err := json.Marshal(o.Output)
		if err == nil {
			var v any
			if json.Unmarshal(b, &v) == nil {
				o.Output = dropKeys(v, c.IgnoreKeys)
			}
		}
	}
	if c.IgnoreCause || o.Status == "INVALID" {
		o.Cause = ""
	}
	return o
}

func dropKeys(v any, keys []string) any {
	if len(keys) == 0 {
		return v
	}
	switch x := v.(type) {
	case map[string]any:
		for _, k := range keys {
			delete(x, k)
		}
		for k, e := range x {
			x[k] = dropKeys(e, keys)
		}
	case []any:
		for i, e := range x {
			x[i] = dropKeys(e, keys)
		}
	}
	return v
}

func execOutput(name string, args ...string) (string, error) {
	b, err := exec.Command(name, args...).Output()
	return strings.TrimSpace(string(b)), err
}
