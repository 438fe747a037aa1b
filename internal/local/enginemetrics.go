package local

import (
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lethe-erasure/lethe/internal/asl"
)

// engineMetrics are the local engine's own counters on /metrics: the
// executions the runtime started (or resumed), by machine and how they
// ended, the state transitions they were billed on AWS, and the tasks'
// Lambda invocations' latency.
type engineMetrics struct {
	executions  *prometheus.CounterVec
	transitions *prometheus.CounterVec
	tasks       *prometheus.HistogramVec
}

func newEngineMetrics(reg prometheus.Registerer) *engineMetrics {
	m := &engineMetrics{
		executions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "Executions",
			Help: "Executions of the Erasure machine the local engine ended, by region, machine and status."}, []string{"region", "machine", "status"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "StateTransitions",
			Help: "State transitions of the ended executions, as Step Functions bills them."}, []string{"region", "machine"}),
	}
	m.tasks = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "TaskSeconds",
		Help:    "Wall-clock seconds of the tasks' Lambda invocations, by region, function and outcome.",
		Buckets: []float64{.001, .005, .01, .05, .1, .5, 1, 5, 10, 30, 90}}, []string{"region", "function", "outcome"})
	reg.MustRegister(m.executions, m.transitions, m.tasks)
	return m
}

// task records one task's Lambda invocation.
func (m *engineMetrics) task(region, function string, took time.Duration, failed bool) {
	outcome := "ok"
	if failed {
		outcome = "error"
	}
	m.tasks.WithLabelValues(region, function, outcome).Observe(took.Seconds())
}

// watch counts x once it ends (it may outlive the runtime: a checkpointed
// execution that does not end before Close is counted by the next start).
func (m *engineMetrics) watch(region string, x *asl.Execution) {
	go func() {
		<-x.Done()
		r := x.Describe()
		machine := r.StateMachineArn[strings.LastIndex(r.StateMachineArn, ":")+1:]
		m.executions.WithLabelValues(region, machine, r.Status).Inc()
		m.transitions.WithLabelValues(region, machine).Add(float64(r.BilledTransitions))
	}()
}
