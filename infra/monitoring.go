package main

import (
	"fmt"
	"sort"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/lethe-erasure/lethe/internal/metrics"
)

// Monitoring is generated from what a stack already declares: every
// function and state machine it built from the registry, its API, its
// queues. A function or machine added to the registry gets its widgets and
// alarms with no other edit, and so does a queue given here.

// durationAlarmShare is how close to its timeout a function's p99 duration
// may come before it alarms.
const durationAlarmShare = 0.8

// iteratorAgeAlarm is how far behind the stream the starter may fall.
const iteratorAgeAlarm = 5 * 60 * 1000 // ms

// MonitoringProps is what a stack's dashboard and alarms are made of.
type MonitoringProps struct {
	// Name is the dashboard's name, the stack's (Lethe-eu).
	Name      string
	Functions Functions
	Machines  StateMachines
	// API draws and alarms the REST API, when set.
	API *API
	// EdgeAPI draws the edge's HTTP API, when set.
	EdgeAPI *EdgeAPI
	// Queues are drawn by depth; those in DeadLetters also alarm when not
	// empty (what is in them was not processed).
	Queues      map[string]awssqs.IQueue
	DeadLetters map[string]bool
	// StreamReader is the function whose stream iterator age alarms
	// (the starter), if any.
	StreamReader string
	// Ops receives every alarm and OK action.
	Ops awssns.ITopic
	// Region, when set, draws the region's business metrics (namespace
	// Lethe) and alarms on requests at risk or overdue (the deadline
	// watch's gauges).
	Region string
}

// Monitoring is a stack's generated dashboard and alarms.
type Monitoring struct {
	Dashboard awscloudwatch.Dashboard
	// Alarms by name: "<function>/errors", "<machine>/failed", "api/5xx", ...
	Alarms map[string]awscloudwatch.Alarm
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

var fiveMinutes = awscdk.Duration_Minutes(jsii.Number(5))

func metricOpts(stat string) *awscloudwatch.MetricOptions {
	return &awscloudwatch.MetricOptions{Statistic: jsii.String(stat), Period: fiveMinutes}
}

// apiMetrics are the metrics a REST and an HTTP API both answer.
type apiMetrics interface {
	MetricCount(*awscloudwatch.MetricOptions) awscloudwatch.Metric
	MetricClientError(*awscloudwatch.MetricOptions) awscloudwatch.Metric
	MetricServerError(*awscloudwatch.MetricOptions) awscloudwatch.Metric
	MetricLatency(*awscloudwatch.MetricOptions) awscloudwatch.Metric
}

// NewMonitoring builds the dashboard and the alarms.
func NewMonitoring(scope constructs.Construct, id string, p MonitoringProps) Monitoring {
	c := constructs.NewConstruct(scope, jsii.String(id))
	m := Monitoring{Alarms: map[string]awscloudwatch.Alarm{}}
	action := awscloudwatchactions.NewSnsAction(p.Ops)
	alarm := func(name, description string, metric awscloudwatch.IMetric, threshold float64, op awscloudwatch.ComparisonOperator) {
		a := awscloudwatch.NewAlarm(c, jsii.String("Alarm-"+name), &awscloudwatch.AlarmProps{
			AlarmName:          jsii.String(p.Name + "-" + name),
			AlarmDescription:   jsii.String(description),
			Metric:             metric,
			Threshold:          jsii.Number(threshold),
			ComparisonOperator: op,
			EvaluationPeriods:  jsii.Number(1),
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		a.AddAlarmAction(action)
		a.AddOkAction(action)
		m.Alarms[name] = a
	}
	above := awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD
	var rows [][]awscloudwatch.IWidget

	for _, name := range sortedKeys(p.Functions) {
		fn := p.Functions[name].Function
		timeoutMs := *fn.Timeout().ToMilliseconds(nil)
		calls := awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
			Title: jsii.String(name + ": invocations, errors, throttles"), Width: jsii.Number(8),
			Left: &[]awscloudwatch.IMetric{fn.MetricInvocations(metricOpts("Sum")), fn.MetricErrors(metricOpts("Sum")), fn.MetricThrottles(metricOpts("Sum"))},
		})
		duration := awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
			Title: jsii.String(name + ": duration p50, p99 (ms)"), Width: jsii.Number(8),
			Left:            &[]awscloudwatch.IMetric{fn.MetricDuration(metricOpts("p50")), fn.MetricDuration(metricOpts("p99"))},
			LeftAnnotations: &[]*awscloudwatch.HorizontalAnnotation{{Value: jsii.Number(timeoutMs), Label: jsii.String("timeout")}},
		})
		concurrency := awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
			Title: jsii.String(name + ": concurrent executions"), Width: jsii.Number(8),
			Left: &[]awscloudwatch.IMetric{fn.Metric(jsii.String("ConcurrentExecutions"), metricOpts("Maximum"))},
		})
		rows = append(rows, []awscloudwatch.IWidget{calls, duration, concurrency})
		alarm(name+"/errors", fmt.Sprintf("Function %s returned errors.", name), fn.MetricErrors(metricOpts("Sum")), 0, above)
		alarm(name+"/throttles", fmt.Sprintf("Function %s was throttled.", name), fn.MetricThrottles(metricOpts("Sum")), 0, above)
		alarm(name+"/duration", fmt.Sprintf("Function %s's p99 duration is above %.0f %% of its timeout.", name, durationAlarmShare*100),
			fn.MetricDuration(metricOpts("p99")), durationAlarmShare*timeoutMs, above)
	}
	if p.StreamReader != "" {
		fn := p.Functions[p.StreamReader].Function
		age := fn.Metric(jsii.String("IteratorAge"), metricOpts("Maximum"))
		rows = append(rows, []awscloudwatch.IWidget{awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
			Title: jsii.String("requests stream: iterator age (ms)"), Width: jsii.Number(24), Left: &[]awscloudwatch.IMetric{age},
		})})
		alarm("stream/iterator-age", "The starter is more than 5 minutes behind the requests stream: new requests wait for their execution.",
			age, iteratorAgeAlarm, above)
	}

	for _, name := range sortedKeys(p.Machines) {
		sm := p.Machines[name].Machine
		runs := awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
			Title: jsii.String(name + ": executions"), Width: jsii.Number(12),
			Left: &[]awscloudwatch.IMetric{sm.MetricStarted(metricOpts("Sum")), sm.MetricSucceeded(metricOpts("Sum")), sm.MetricFailed(metricOpts("Sum")),
				sm.MetricTimedOut(metricOpts("Sum")), sm.MetricAborted(metricOpts("Sum"))},
		})
		took := awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
			Title: jsii.String(name + ": execution time p99 (ms)"), Width: jsii.Number(12),
			Left: &[]awscloudwatch.IMetric{sm.MetricTime(metricOpts("p99"))},
		})
		rows = append(rows, []awscloudwatch.IWidget{runs, took})
		alarm(name+"/failed", fmt.Sprintf("Executions of state machine %s failed.", name), sm.MetricFailed(metricOpts("Sum")), 0, above)
		alarm(name+"/timed-out", fmt.Sprintf("Executions of state machine %s timed out.", name), sm.MetricTimedOut(metricOpts("Sum")), 0, above)
	}

	// One API, REST (regional) or HTTP (edge): both answer the same metrics.
	var api apiMetrics
	label, what := "API", "The erasure API"
	switch {
	case p.API != nil:
		api = p.API.RestAPI
	case p.EdgeAPI != nil:
		api, label, what = p.EdgeAPI.HttpAPI, "edge API", "The edge's API"
	}
	if api != nil {
		rows = append(rows, []awscloudwatch.IWidget{
			awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
				Title: jsii.String(label + ": requests, 4xx, 5xx"), Width: jsii.Number(12),
				Left: &[]awscloudwatch.IMetric{api.MetricCount(metricOpts("Sum")), api.MetricClientError(metricOpts("Sum")), api.MetricServerError(metricOpts("Sum"))},
			}),
			awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
				Title: jsii.String(label + ": latency p99 (ms)"), Width: jsii.Number(12),
				Left: &[]awscloudwatch.IMetric{api.MetricLatency(metricOpts("p99"))},
			}),
		})
		alarm("api/5xx", what+" answered 5xx.", api.MetricServerError(metricOpts("Sum")), 0, above)
	}

	if p.Region != "" {
		business := func(name, stat string) awscloudwatch.Metric {
			return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{Namespace: jsii.String(metrics.Namespace), MetricName: jsii.String(name),
				DimensionsMap: &map[string]*string{"region": jsii.String(p.Region)}, Statistic: jsii.String(stat), Period: fiveMinutes})
		}
		rows = append(rows, []awscloudwatch.IWidget{
			awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
				Title: jsii.String("requests: open, at risk, overdue"), Width: jsii.Number(12),
				Left: &[]awscloudwatch.IMetric{business(metrics.OpenRequests, "Maximum"), business(metrics.AtRiskRequests, "Maximum"), business(metrics.OverdueRequests, "Maximum")},
			}),
			awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
				Title: jsii.String("requests: completed, failed"), Width: jsii.Number(12),
				Left: &[]awscloudwatch.IMetric{business(metrics.ErasuresCompleted, "Sum"), business(metrics.ErasuresFailed, "Sum")},
			}),
		}, []awscloudwatch.IWidget{
			// Received is counted by source, which this region's dashboard
			// sums over with a search expression.
			awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
				Title: jsii.String("requests: received by source"), Width: jsii.Number(12),
				Left: &[]awscloudwatch.IMetric{awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
					Expression: jsii.String(fmt.Sprintf(`SEARCH('{%s,region,source} MetricName="%s" region="%s"', 'Sum', 300)`, metrics.Namespace, metrics.ErasuresReceived, p.Region)),
					Label:      jsii.String("received"), Period: fiveMinutes,
				})},
			}),
			awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
				Title: jsii.String("time to erasure p50, p99 (hours)"), Width: jsii.Number(12),
				Left: &[]awscloudwatch.IMetric{business(metrics.TimeToErasureHours, "p50"), business(metrics.TimeToErasureHours, "p99")},
			}),
		})
		alarm("requests/at-risk", "Open erasure requests are within deadline.atRiskBeforeHours of their deadline (the deadline watch's digest names them).",
			business(metrics.AtRiskRequests, "Maximum"), 0, above)
		alarm("requests/overdue", "Open erasure requests are past their legal deadline (the deadline watch's digest names them).",
			business(metrics.OverdueRequests, "Maximum"), 0, above)
	}
	if len(p.Queues) > 0 {
		var depths []awscloudwatch.IMetric
		for _, name := range sortedKeys(p.Queues) {
			q := p.Queues[name]
			depth := q.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Statistic: jsii.String("Maximum"), Period: fiveMinutes, Label: jsii.String(name)})
			depths = append(depths, depth)
			if p.DeadLetters[name] {
				alarm("queue/"+name, fmt.Sprintf("Queue %s holds messages that were not processed.", name),
					q.MetricApproximateNumberOfMessagesVisible(metricOpts("Maximum")), 0, above)
			}
		}
		rows = append(rows, []awscloudwatch.IWidget{awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
			Title: jsii.String("queues: depth"), Width: jsii.Number(24), Left: &depths,
		})})
	}

	widgets := make([]*[]awscloudwatch.IWidget, len(rows))
	for i := range rows {
		widgets[i] = &rows[i]
	}
	m.Dashboard = awscloudwatch.NewDashboard(c, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
		DashboardName: jsii.String(p.Name), Widgets: &widgets,
	})
	return m
}
