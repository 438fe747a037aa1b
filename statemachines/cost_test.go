package statemachines_test

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lethe-erasure/lethe/internal/asl"
	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/local"
	"github.com/lethe-erasure/lethe/internal/registry"
)

// Figure P1 of the embedded-default issue: what an erasure costs on a
// Standard workflow (billed state transitions, Lambda invocations) when the
// async subsystems take from one hour to twenty days, under Lethe's poll
// back-off and under the original design's fixed hourly polling, and how
// late each policy notices that a subsystem finished, as a share of that
// subsystem's own time. The machines, handlers and poll policy are the real
// ones; only time is simulated (FakeClock).

// costRun is what one erasure cost.
type costRun struct {
	transitions, invocations int
	lags                     []float64 // per async subsystem: detection lag / subsystem's time
}

// completionTimes spreads the async subsystems' times geometrically from one
// hour to twenty days: every erasure of the workload uses one for orders and
// another for customers.
func completionTimes(n int) []time.Duration {
	lo, hi := float64(time.Hour), float64(20*24*time.Hour)
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = time.Duration(lo * math.Pow(hi/lo, float64(i)/float64(n-1))).Round(time.Minute)
	}
	return out
}

// eraseTakingTimes runs one erasure whose orders and customers finish after
// the given times, with the poll policy given, and adds up its cost over the
// main execution and its three child executions.
func eraseTakingTimes(tb testing.TB, poll config.PollPolicy, orders, customers time.Duration) costRun {
	return eraseWith(tb, poll, orders, customers, 0)
}

// eraseWith is eraseTakingTimes with orders down (503) for the first
// ordersDown of the erasure.
func eraseWith(tb testing.TB, poll config.PollPolicy, orders, customers, ordersDown time.Duration) costRun {
	return eraseIn(tb, poll, false, orders, customers, ordersDown)
}

// eraseIn is eraseWith where the async subsystems call back when
// callback is set (their poll policy then the sparse fallback checks).
func eraseIn(tb testing.TB, poll config.PollPolicy, callback bool, orders, customers, ordersDown time.Duration) costRun {
	reg := newRegionWith(tb, func(r *config.Region) {
		for i := range r.Subsystems {
			if r.Subsystems[i].Mode == config.ModeAsync {
				p := poll
				r.Subsystems[i].Poll = &p
				r.Subsystems[i].Callback = callback
			}
		}
	}, "erin")
	reg.subsystems["orders"].finishAfter = orders
	reg.subsystems["customers"].finishAfter = customers
	reg.subsystems["orders"].downUntil = reg.clock.Now().Add(ordersDown)
	req, res := reg.erase(tb, "erin")
	if res.Status != "SUCCEEDED" || req.Status != erasure.StatusCompleted {
		tb.Fatalf("erasure %s (%s %s), request %s", res.Status, res.Error, res.Cause, req.Status)
	}
	var run costRun
	count := func(r *asl.Result) {
		run.transitions += r.BilledTransitions
		for _, e := range r.History.Events() {
			if e.Type == "TaskScheduled" && e.Details["resourceType"] == "lambda" {
				run.invocations++
			}
		}
	}
	count(res)
	for _, s := range reg.cfg.Regions[0].Subsystems {
		machine := reg.wired.Machines[registry.MachineSyncDeletion]
		if s.Mode == config.ModeAsync {
			machine = reg.wired.Machines[registry.MachineAsyncDeletion]
		}
		arn := fmt.Sprintf("arn:aws:states:%s:%s:execution:%s:%s-%s", reg.cfg.Regions[0].AWSRegion, local.Account, machine, req.ID, s.Name)
		x, ok := reg.engine.Execution(arn)
		if !ok {
			tb.Fatalf("no child execution %s", arn)
		}
		count(x.Describe())
		if f := reg.subsystems[s.Name]; s.Mode == config.ModeAsync {
			// Lethe learns of the end when it records the subsystem
			// deleted on the request.
			finished := f.submitted["t-"+req.ID].Add(f.finishAfter)
			sub, _ := req.Subsystem(s.Name)
			if sub.FinishedAt == nil {
				tb.Fatalf("%s: no finishedAt", s.Name)
			}
			run.lags = append(run.lags, float64(sub.FinishedAt.Sub(finished))/float64(f.finishAfter))
		}
	}
	return run
}

// costOf runs the workload under one poll policy.
func costOf(tb testing.TB, poll config.PollPolicy, times []time.Duration) (transitions, invocations float64, lags []float64) {
	return costIn(tb, poll, false, times)
}

// costIn is costOf with the async subsystems calling back when callback
// is set.
func costIn(tb testing.TB, poll config.PollPolicy, callback bool, times []time.Duration) (transitions, invocations float64, lags []float64) {
	for i, t := range times {
		run := eraseIn(tb, poll, callback, t, times[len(times)-1-i], 0)
		transitions += float64(run.transitions)
		invocations += float64(run.invocations)
		lags = append(lags, run.lags...)
	}
	n := float64(len(times))
	slices.Sort(lags)
	return transitions / n, invocations / n, lags
}

func percentile(sorted []float64, p float64) float64 {
	return sorted[int(math.Round(p*float64(len(sorted)-1)))]
}

// BenchmarkPollingCost prints figure P1: per erasure, billed transitions and
// Lambda invocations under Lethe's back-off and under hourly polling, their
// ratio, and the detection lag as a share of the subsystem's own time.
func BenchmarkPollingCost(b *testing.B) {
	full, err := config.Load("../cdk.json")
	if err != nil {
		b.Fatal(err)
	}
	eu, _ := full.Region("eu")
	orders, _ := eu.Subsystem("orders")
	backoff := *orders.Poll
	hourly := config.PollPolicy{InitialSeconds: 3600, MaxSeconds: 3600, Multiplier: 1}
	times := completionTimes(12)
	for range b.N {
		bt, bi, bl := costOf(b, backoff, times)
		ht, hi, hl := costOf(b, hourly, times)
		b.ReportMetric(bt, "transitions/erasure")
		b.ReportMetric(bi, "invocations/erasure")
		b.ReportMetric(ht, "hourly-transitions/erasure")
		b.ReportMetric(hi, "hourly-invocations/erasure")
		b.ReportMetric(ht/bt, "hourly/backoff")
		b.ReportMetric(100*percentile(bl, 0.5), "lag%p50")
		b.ReportMetric(100*percentile(bl, 1), "lag%max")
		b.ReportMetric(100*percentile(hl, 0.5), "hourly-lag%p50")
		b.ReportMetric(100*percentile(hl, 1), "hourly-lag%max")
	}
	b.Logf("async completion times: %v; back-off %+v; hourly %+v", times, backoff, hourly)
}

// policies are the eu region's poll back-off and the sparse fallback
// checks of subsystems that call back.
func policies(tb testing.TB) (backoff, sparse config.PollPolicy) {
	tb.Helper()
	full, err := config.Load("../cdk.json")
	if err != nil {
		tb.Fatal(err)
	}
	eu, _ := full.Region("eu")
	orders, _ := eu.Subsystem("orders")
	return *orders.Poll, config.PollPolicy{InitialSeconds: config.DefaultCallbackPollInitialSeconds,
		MaxSeconds: config.DefaultCallbackPollMaxSeconds, Multiplier: config.DefaultPollMultiplier}
}

// BenchmarkCallbackCost prints figure P1 for subsystems that call back
// (issue 13): per erasure of the same workload, billed transitions, Lambda
// invocations and detection lag, next to Lethe's poll back-off.
func BenchmarkCallbackCost(b *testing.B) {
	backoff, sparse := policies(b)
	times := completionTimes(12)
	for range b.N {
		ct, ci, cl := costIn(b, sparse, true, times)
		bt, bi, _ := costOf(b, backoff, times)
		b.ReportMetric(ct, "transitions/erasure")
		b.ReportMetric(ci, "invocations/erasure")
		b.ReportMetric(100*percentile(cl, 0.5), "lag%p50")
		b.ReportMetric(100*percentile(cl, 1), "lag%max")
		b.ReportMetric(bt, "polling-transitions/erasure")
		b.ReportMetric(bi, "polling-invocations/erasure")
	}
	b.Logf("async completion times: %v; callbacks with fallback checks %+v", times, sparse)
}

// TestCallbacksCostLessThanPolling: on a small workload, subsystems that
// call back cost fewer transitions and invocations than polled ones, and
// Lethe learns of each end the moment it comes (no lag).
func TestCallbacksCostLessThanPolling(t *testing.T) {
	backoff, sparse := policies(t)
	times := completionTimes(4)
	ct, ci, cl := costIn(t, sparse, true, times)
	bt, bi, _ := costOf(t, backoff, times)
	t.Logf("per erasure: callbacks %.0f transitions, %.0f invocations; polling %.0f transitions, %.0f invocations", ct, ci, bt, bi)
	if ct >= bt || ci >= bi {
		t.Errorf("callbacks cost %.0f transitions / %.0f invocations, polling %.0f / %.0f: want fewer", ct, ci, bt, bi)
	}
	if cl[0] != 0 || cl[len(cl)-1] != 0 {
		t.Errorf("detection lag shares %v, want 0: a callback is recorded when it comes", cl)
	}
}

// TestBackoffCostsLessThanHourlyPolling checks the claim behind P1 on a
// small workload: over times from one hour to twenty days, the back-off
// bills fewer transitions than hourly polling, and notices a subsystem's
// end within its own time (lag at most 100% of it: the back-off never waits
// longer than the time already spent, capped at six hours).
func TestBackoffCostsLessThanHourlyPolling(t *testing.T) {
	times := completionTimes(4)
	full, err := config.Load("../cdk.json")
	if err != nil {
		t.Fatal(err)
	}
	eu, _ := full.Region("eu")
	orders, _ := eu.Subsystem("orders")
	bt, bi, bl := costOf(t, *orders.Poll, times)
	ht, hi, _ := costOf(t, config.PollPolicy{InitialSeconds: 3600, MaxSeconds: 3600, Multiplier: 1}, times)
	t.Logf("per erasure: back-off %.0f transitions, %.0f invocations; hourly %.0f transitions, %.0f invocations", bt, bi, ht, hi)
	if bt >= ht || bi >= hi {
		t.Errorf("back-off costs %.0f transitions / %.0f invocations, hourly %.0f / %.0f: want fewer", bt, bi, ht, hi)
	}
	if worst := bl[len(bl)-1]; worst > 1 || bl[0] < 0 {
		t.Errorf("detection lag share %v: want between 0 and 100%% of the subsystem's time", bl)
	}
}

// BenchmarkOutageCost prints the figure of issue 10: billed transitions and
// Lambda invocations of one erasure (every execution of it) whose async
// subsystem orders is down for its first three days, next to the healthy
// case; both subsystems finish one hour after they take the erasure.
func BenchmarkOutageCost(b *testing.B) {
	full, err := config.Load("../cdk.json")
	if err != nil {
		b.Fatal(err)
	}
	eu, _ := full.Region("eu")
	orders, _ := eu.Subsystem("orders")
	for range b.N {
		healthy := eraseWith(b, *orders.Poll, time.Hour, time.Hour, 0)
		down := eraseWith(b, *orders.Poll, time.Hour, time.Hour, 72*time.Hour)
		b.ReportMetric(float64(healthy.transitions), "healthy-transitions")
		b.ReportMetric(float64(healthy.invocations), "healthy-invocations")
		b.ReportMetric(float64(down.transitions), "outage3d-transitions")
		b.ReportMetric(float64(down.invocations), "outage3d-invocations")
	}
}

// TestCallbackOutcomes: on the real machines and handlers, with the
// subsystems' callbacks as simulated workers on virtual time, a callback of
// deleted after two and a half days (after the fallback check of day one,
// before the next, on day three) ends the subsystem deleted at that
// instant, and
// one of failed fails it: recorded with the subsystem's detail, mailed to
// its admins, the request failed.
func TestCallbackOutcomes(t *testing.T) {
	_, sparse := policies(t)
	for _, status := range []string{"deleted", "failed"} {
		t.Run(status, func(t *testing.T) {
			reg := newRegionWith(t, func(r *config.Region) {
				if i := slices.IndexFunc(r.Subsystems, func(s config.Subsystem) bool { return s.Name == "orders" }); i >= 0 {
					p := sparse
					r.Subsystems[i].Poll, r.Subsystems[i].Callback = &p, true
				}
			}, "erin")
			orders := reg.subsystems["orders"]
			orders.finishAfter, orders.calledBackStatus = 60*time.Hour, status
			req, _ := reg.erase(t, "erin")
			sub, _ := req.Subsystem("orders")
			calledBack := orders.submitted["t-"+req.ID].Add(60 * time.Hour)
			switch status {
			case "deleted":
				if req.Status != erasure.StatusCompleted || sub.Status != erasure.SubsystemDeleted || sub.FinishedAt == nil ||
					!sub.FinishedAt.Equal(calledBack) || sub.Detail != "called back: the archive job deleted" || sub.Attempts != 2 {
					t.Errorf("request %s, orders %s at %v after %d calls (%q); want deleted by the callback at %v, after the submission and one check",
						req.Status, sub.Status, sub.FinishedAt, sub.Attempts, sub.Detail, calledBack)
				}
			case "failed":
				mails := reg.outbox.to(local.TopicArn(reg.cfg.Regions[0], local.SubsystemTopicName("eu", "orders")))
				if req.Status != erasure.StatusFailed || sub.Status != erasure.SubsystemFailed ||
					!strings.Contains(sub.Detail, "called back that the erasure failed: the archive job failed") || len(mails) != 1 {
					t.Errorf("request %s, orders %s (%q), %d mails; want failed by the callback and its admins mailed once", req.Status, sub.Status, sub.Detail, len(mails))
				}
			}
		})
	}
}
