package local

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lethe-erasure/lethe/internal/asl"
)

// engineMetrics are the local engine's own counters on /metrics: the
// executions the runtime started (or resumed), by machine and how they
// ended, and the state transitions they were billed on AWS.
type engineMetrics struct {
	executions  *prometheus.CounterVec
	transitions *prometheus.CounterVec
}

func newEngineMetrics(reg prometheus.Registerer) *engineMetrics {
	m := &engineMetrics{
		executions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "Executions",
			Help: "Executions of the Erasure machine the local engine ended, by region, machine and status."}, []string{"region", "machine", "status"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "StateTransitions",
			Help: "State transitions of the ended executions, as Step Functions bills them."}, []string{"region", "machine"}),
	}
	reg.MustRegister(m.executions, m.transitions)
	return m
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
