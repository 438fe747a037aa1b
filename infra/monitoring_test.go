package main

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/jsii-runtime-go"

	"github.com/lethe-erasure/lethe/internal/metrics"
	"github.com/lethe-erasure/lethe/internal/registry"
)

// wantAlarms are the alarm names the monitoring makes for functions and
// machines.
func wantAlarms(functions, machines []string) []string {
	var out []string
	for _, fn := range functions {
		out = append(out, fn+"/errors", fn+"/throttles", fn+"/duration")
	}
	for _, m := range machines {
		out = append(out, m+"/failed", m+"/timed-out")
	}
	return out
}

// checkMonitoring: every alarm named is in the template, each alarm's
// alarm and OK actions are the ops topic alone, and the dashboard draws
// every function and machine.
func checkMonitoring(t *testing.T, tpl map[string]any, mon Monitoring, opsID string, names []string) {
	t.Helper()
	alarms := resources(tpl, "AWS::CloudWatch::Alarm")
	ops := toJSON(t, []any{map[string]any{"Ref": opsID}})
	for _, name := range names {
		a, ok := mon.Alarms[name]
		if !ok {
			t.Errorf("no alarm %s", name)
			continue
		}
		p := props(alarms[logicalID(t, a)])
		if toJSON(t, p["AlarmActions"]) != ops || toJSON(t, p["OKActions"]) != ops {
			t.Errorf("alarm %s acts on %s / %s, want the ops topic", name, toJSON(t, p["AlarmActions"]), toJSON(t, p["OKActions"]))
		}
	}
	for id, a := range alarms {
		if toJSON(t, props(a)["AlarmActions"]) != ops {
			t.Errorf("alarm %s does not go to the ops topic: %s", id, toJSON(t, props(a)["AlarmActions"]))
		}
	}
	boards := resources(tpl, "AWS::CloudWatch::Dashboard")
	if len(boards) != 1 {
		t.Fatalf("%d dashboards, want 1", len(boards))
	}
	var body string
	for _, b := range boards {
		body = toJSON(t, props(b)["DashboardBody"])
	}
	for _, name := range names {
		subject, _, _ := strings.Cut(name, "/")
		if !strings.Contains(body, subject+": ") && !strings.Contains(body, subject) {
			t.Errorf("the dashboard does not draw %s", subject)
		}
	}
}

func TestMonitoringOfEveryRegion(t *testing.T) {
	forEachRegion(t, func(t *testing.T, s *synthesized, st *RegionalStack, tpl map[string]any) {
		var machines []string
		for _, m := range registry.Machines {
			machines = append(machines, m.Name)
		}
		names := append(wantAlarms(registry.Functions, machines), "api/5xx", "stream/iterator-age", "queue/starter-failures", "queue/webhooks-dead-letter",
			"requests/at-risk", "requests/overdue")
		checkMonitoring(t, tpl, st.Monitoring, cfnID(t, st, st.Topics.Ops), names)
		// And the business metrics.
		body := toJSON(t, resources(tpl, "AWS::CloudWatch::Dashboard"))
		for _, want := range []string{"requests: open, at risk, overdue", "requests: completed, failed", "requests: received by source",
			"time to erasure p50, p99 (hours)", metrics.TimeToErasureHours, metrics.ErasuresReceived} {
			if !strings.Contains(body, want) {
				t.Errorf("the dashboard lacks %q", want)
			}
		}
		// The duration alarm sits at 80 % of the function's timeout.
		api := props(resources(tpl, "AWS::CloudWatch::Alarm")[cfnID(t, st, st.Monitoring.Alarms[registry.FnAPI+"/duration"])])
		timeout := *st.Functions[registry.FnAPI].Function.Timeout().ToMilliseconds(nil)
		if api["Threshold"] != 0.8*timeout || api["ExtendedStatistic"] != "p99" {
			t.Errorf("api duration alarm: threshold %v (%v), want p99 above %v", api["Threshold"], api["ExtendedStatistic"], 0.8*timeout)
		}
	})
}

func TestMonitoringOfTheEdge(t *testing.T) {
	_, e, tpl := edge(t)
	names := append(wantAlarms(registry.EdgeFunctions, nil), "api/5xx")
	checkMonitoring(t, tpl, e.Monitoring, logicalID(t, e.Ops), names)
}

// TestMonitoringFollowsTheRegistry: a function the registry gains gets its
// widgets and alarms from NewMonitoring with no edit of it: here a copy of
// the registry's functions with one more, on a stack of their own.
func TestMonitoringFollowsTheRegistry(t *testing.T) {
	app := awscdk.NewApp(nil)
	stack := awscdk.NewStack(app, jsii.String("Copy"), nil)
	fns := Functions{}
	names := append(append([]string{}, registry.Functions...), "brand-new-function")
	for i, name := range names {
		f := awslambda.NewFunction(stack, jsii.String(fmt.Sprintf("Fn%d", i)), &awslambda.FunctionProps{
			Runtime: awslambda.Runtime_NODEJS_22_X(), Handler: jsii.String("index.handler"),
			Code: awslambda.Code_FromInline(jsii.String("x")), Timeout: awscdk.Duration_Seconds(jsii.Number(float64(10 + i))),
		})
		fns[name] = GoFunction{Function: f}
	}
	ops := awssns.NewTopic(stack, jsii.String("Ops"), nil)
	mon := NewMonitoring(stack, "Monitoring", MonitoringProps{Name: "Copy", Functions: fns, Ops: ops})
	var got []string
	for name := range mon.Alarms {
		got = append(got, name)
	}
	sort.Strings(got)
	want := wantAlarms(names, nil)
	sort.Strings(want)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("alarms %v, want %v", got, want)
	}
	tpl := assertions.Template_FromStack(stack, nil)
	tpl.ResourceCountIs(jsii.String("AWS::CloudWatch::Alarm"), jsii.Number(float64(len(want))))
	body := toJSON(t, tpl.ToJSON())
	if !strings.Contains(body, "brand-new-function: invocations, errors, throttles") {
		t.Error("the dashboard does not draw the new function")
	}
}

// TestDeadlineWatchSchedule: EventBridge Scheduler invokes the deadline
// watch every hour through a role that may invoke that function alone;
// the watch may query the open index and no other, and publish to ops.
func TestDeadlineWatchSchedule(t *testing.T) {
	forEachRegion(t, func(t *testing.T, s *synthesized, st *RegionalStack, tpl map[string]any) {
		fn := cfnID(t, st, st.Functions[registry.FnDeadlineWatch].Function)
		var sched map[string]any
		for _, r := range resources(tpl, "AWS::Scheduler::Schedule") {
			sched = props(r)
		}
		if sched == nil || sched["ScheduleExpression"] != "rate(1 hour)" || !strings.Contains(toJSON(t, sched["Target"]), `"`+fn+`"`) {
			t.Fatalf("schedule %v, want rate(1 hour) invoking %s", sched, fn)
		}
		roleID := ""
		if ref, ok := sched["Target"].(map[string]any)["RoleArn"].(map[string]any)["Fn::GetAtt"].([]any); ok {
			roleID = ref[0].(string)
		}
		var invoke []string
		for _, st := range roleStatements(t, tpl)[roleID] {
			invoke = append(invoke, st.Actions...)
			if len(st.Actions) > 0 && !strings.Contains(st.Resources, fn) {
				t.Errorf("the scheduler's role may %v on %s", st.Actions, st.Resources)
			}
		}
		if strings.Join(invoke, ",") != "lambda:InvokeFunction" {
			t.Errorf("the scheduler's role may %v, want lambda:InvokeFunction alone", invoke)
		}
		for _, st := range roleStatements(t, tpl)[cfnID(t, st, st.Functions[registry.FnDeadlineWatch].Role)] {
			if slices.Contains(st.Actions, "dynamodb:Query") && (!strings.Contains(st.Resources, "/index/open") || strings.Contains(st.Resources, "/index/recent")) {
				t.Errorf("the watch may query %s, want the open index alone", st.Resources)
			}
		}
	})
}
