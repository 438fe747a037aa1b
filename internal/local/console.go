package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/lethe-erasure/lethe/internal/asl"
	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/console"
	"github.com/lethe-erasure/lethe/internal/edge"
	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/metrics"
	"github.com/lethe-erasure/lethe/internal/registry"
)

// The console on the status port reads the regions' and the edge's APIs
// over loopback HTTP, as it would read deployed ones; what only this
// process has, it reads from the runtime: the executions (the engine, or
// a checkpoint), the health figures (the metrics registry behind
// /metrics) and the mail (the outbox).

// ConsoleRetry is the console's call policy: one attempt, so that an
// operator's action is sent once and its answer shown as given.
var ConsoleRetry = edge.RetryPolicy{Attempts: 1, Timeout: IntegrationTimeout + 5*time.Second}

// newConsole wires the console of rt. operator names the caller of the
// operator routes (local:<operator>).
func (rt *Runtime) newConsole(operator string) (*console.Console, error) {
	o := console.Options{
		Title:      "Lethe local",
		Edge:       config.RegionEndpoint{Name: "edge", APIURL: rt.edgeURL},
		Caller:     edge.NewRegionalClient(&http.Client{}, nil, ConsoleRetry),
		Header:     http.Header{OperatorHeader: {operator}},
		Executions: localExecutions{rt},
		Health:     localHealth{rt},
		Mail:       localMail{rt.outbox},
		Now:        rt.clock.Now,
		Log:        rt.log,
	}
	for _, reg := range rt.regions {
		o.Regions = append(o.Regions, config.RegionEndpoint{Name: reg.Config.Name, AWSRegion: reg.Config.AWSRegion, APIURL: reg.URL})
	}
	return console.New(o)
}

// localExecutions reads executions from the regions' engines, or from the
// store's checkpoint when the engine no longer holds them.
type localExecutions struct{ rt *Runtime }

func (l localExecutions) OfRequest(ctx context.Context, region, requestID string, runs int) ([]console.Summary, error) {
	reg, ok := l.rt.Region(region)
	if !ok {
		return nil, fmt.Errorf("no region %q", region)
	}
	var out []console.Summary
	for run := 0; run <= runs; run++ {
		name := erasure.RunName(requestID, run)
		x, _, found := l.describe(ctx, reg, ExecutionArn(reg.Engine, reg.Wired.Main, name))
		if found {
			out = append(out, x)
			out = append(out, l.children(ctx, reg, name)...)
		}
	}
	return out, nil
}

// children are a run's child executions: one per subsystem, on the
// machine of its mode.
func (l localExecutions) children(ctx context.Context, reg *Region, run string) []console.Summary {
	var out []console.Summary
	for _, sub := range reg.Config.Subsystems {
		m := reg.Wired.Machines[registry.MachineSyncDeletion]
		if sub.Mode == config.ModeAsync {
			m = reg.Wired.Machines[registry.MachineAsyncDeletion]
		}
		if x, _, found := l.describe(ctx, reg, ExecutionArn(reg.Engine, m, run+"-"+sub.Name)); found {
			out = append(out, x)
		}
	}
	return out
}

func (l localExecutions) Execution(ctx context.Context, arn string) (console.Execution, error) {
	reg, ok := l.rt.regionOfExecution(arn)
	if !ok {
		return console.Execution{}, console.ErrNoExecution
	}
	sum, events, found := l.describe(ctx, reg, arn)
	if !found {
		return console.Execution{}, console.ErrNoExecution
	}
	x := console.Execution{Summary: sum, Region: reg.Config.Name, Events: events, Definition: reg.Wired.Definitions[sum.Machine]}
	run, _ := console.RunOf(sum.Name)
	if sum.Machine == reg.Wired.Main {
		x.Children = l.children(ctx, reg, sum.Name)
	} else if run != "" {
		x.Parent = ExecutionArn(reg.Engine, reg.Wired.Main, run)
	}
	return x, nil
}

// regionOfExecution finds the region whose engine minted arn.
func (rt *Runtime) regionOfExecution(arn string) (*Region, bool) {
	for _, reg := range rt.regions {
		prefix := strings.Replace(reg.Engine.MachineArn("Lethe-"+reg.Config.Name+"-"), ":stateMachine:", ":execution:", 1)
		if strings.HasPrefix(arn, prefix) {
			return reg, true
		}
	}
	return nil, false
}

// describe reads an execution from the engine when it holds it, else
// from the store's checkpoint (an execution of an earlier process that
// has not resumed, or is being resumed).
func (l localExecutions) describe(ctx context.Context, reg *Region, arn string) (console.Summary, []asl.Event, bool) {
	sum := console.Summary{Arn: arn}
	if i := strings.LastIndex(arn, ":"); i > 0 {
		sum.Name = arn[i+1:]
		if j := strings.LastIndex(arn[:i], ":"); j > 0 {
			sum.Machine = arn[j+1 : i]
		}
	}
	if x, ok := reg.Engine.Execution(arn); ok {
		res := x.Describe()
		sum.Status, sum.Transitions = res.Status, res.BilledTransitions
		sum.Start, sum.Stop, sum.Error, sum.Cause = res.StartDate, res.StopDate, res.Error, res.Cause
		return sum, res.History.Events(), true
	}
	cp, err := reg.Checkpoints.Load(ctx, arn)
	if err != nil {
		if !errors.Is(err, asl.ErrNoCheckpoint) {
			sum.Status, sum.Cause = "UNREADABLE", err.Error()
			return sum, nil, true
		}
		return sum, nil, false
	}
	events := make([]asl.Event, 0, len(cp.Events))
	for _, raw := range cp.Events {
		var e asl.Event
		if json.Unmarshal(raw, &e) == nil {
			events = append(events, e)
		}
	}
	sum.Status = "RUNNING"
	for _, e := range events {
		if strings.HasSuffix(e.Type, "StateEntered") {
			sum.Transitions++
		}
	}
	if len(events) > 0 {
		sum.Start = events[0].Timestamp
		last := events[len(events)-1]
		if st, ok := map[string]string{"ExecutionSucceeded": "SUCCEEDED", "ExecutionFailed": "FAILED", "ExecutionAborted": "ABORTED", "ExecutionTimedOut": "TIMED_OUT"}[last.Type]; ok {
			sum.Status, sum.Stop = st, last.Timestamp
			sum.Error, _ = last.Details["error"].(string)
			sum.Cause, _ = last.Details["cause"].(string)
		}
	}
	return sum, events, true
}

// localHealth is a region's counters (as on /metrics) and the alarms the
// deployed stack would have firing on them: requests at risk or overdue
// at the deadline watch's last run, and executions that failed since
// lethe local started.
type localHealth struct{ rt *Runtime }

func (l localHealth) Region(region string) console.HealthView {
	m := l.rt.metrics
	r := map[string]string{"region": region}
	v := console.HealthView{}
	for _, name := range []string{metrics.ErasuresReceived, metrics.ErasuresCompleted, metrics.ErasuresFailed,
		metrics.OpenRequests, metrics.AtRiskRequests, metrics.OverdueRequests} {
		v.Counters = append(v.Counters, console.Counter{Name: name, Value: m.Sum(name, r)})
	}
	for _, st := range []string{"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"} {
		v.Counters = append(v.Counters, console.Counter{Name: "Executions " + st, Value: m.Sum("Executions", map[string]string{"region": region, "status": st})})
	}
	at, over := m.Sum(metrics.AtRiskRequests, r), m.Sum(metrics.OverdueRequests, r)
	failed := m.Sum("Executions", map[string]string{"region": region, "status": "FAILED"})
	v.Alarms = []console.Alarm{
		{Name: "requests/at-risk", Why: fmt.Sprintf("%g request(s) at risk at the deadline watch's last run", at), Firing: at > 0},
		{Name: "requests/overdue", Why: fmt.Sprintf("%g request(s) overdue at the deadline watch's last run", over), Firing: over > 0},
		{Name: "erasure/failed", Why: fmt.Sprintf("%g Erasure execution(s) failed since lethe local started", failed), Firing: failed > 0},
	}
	return v
}

// localMail is the outbox as the console lists it.
type localMail struct{ o *Outbox }

func (l localMail) Recent(n int) []console.Message {
	var out []console.Message
	for _, m := range l.o.Recent(n) {
		out = append(out, console.Message{Time: m.Time, Topic: m.TopicArn, Subject: m.Subject, Body: m.Message})
	}
	return out
}
