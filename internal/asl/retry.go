package asl

import (
	"fmt"
	"math"
	"time"
)

// retrier is one element of a Retry field (spec "Retrying after error").
type retrier struct {
	errorEquals     []string
	intervalSeconds float64
	maxAttempts     int
	backoffRate     float64
	maxDelaySeconds float64
	fullJitter      bool
}

// catcher is one element of a Catch field (spec "Fallback states").
type catcher struct {
	errorEquals []string
	next        string
	resultPath  optPath
}

// errorEquals reads and checks an ErrorEquals list: non-empty, and
// States.ALL alone in it (spec: "States.ALL ... must appear alone in the
// array and must appear in the last Retrier/Catcher").
func (o *obj) errorEquals(last bool) []string {
	v, ok := o.get("ErrorEquals")
	if !ok {
		o.errorf("ErrorEquals", "is required")
		return nil
	}
	arr, isArr := v.([]any)
	if !isArr || len(arr) == 0 {
		o.errorf("ErrorEquals", "must be a non-empty array of error names")
		return nil
	}
	out := make([]string, 0, len(arr))
	for _, e := range arr {
		s, isStr := e.(string)
		if !isStr || s == "" {
			o.errorf("ErrorEquals", "error names must be non-empty strings")
			continue
		}
		if s == ErrAll {
			if len(arr) != 1 {
				o.errorf("ErrorEquals", "States.ALL must appear alone")
			}
			if !last {
				o.errorf("ErrorEquals", "States.ALL must appear in the last element")
			}
		}
		out = append(out, s)
	}
	return out
}

func (p *parser) retriers(parent *obj) []retrier {
	v, ok := parent.get("Retry")
	if !ok {
		return nil
	}
	arr, isArr := v.([]any)
	if !isArr {
		parent.errorf("Retry", "must be an array")
		return nil
	}
	var out []retrier
	for i, e := range arr {
		m, isObj := e.(map[string]any)
		where := fmt.Sprintf("%s, Retry[%d]", parent.where, i)
		if !isObj {
			p.errorf(where, "must be a JSON object")
			continue
		}
		o := p.object(where, m)
		r := retrier{intervalSeconds: 1, maxAttempts: 3, backoffRate: 2}
		r.errorEquals = o.errorEquals(i == len(arr)-1)
		if o.has("IntervalSeconds") {
			r.intervalSeconds = float64(o.positiveInt("IntervalSeconds"))
		}
		if f, ok := o.number("MaxAttempts"); ok {
			if f != math.Trunc(f) || f < 0 || f > 99999999 {
				o.errorf("MaxAttempts", "must be a non-negative integer, got %v", m["MaxAttempts"])
			}
			r.maxAttempts = int(f)
		}
		if f, ok := o.number("BackoffRate"); ok {
			if f < 1 {
				o.errorf("BackoffRate", "must be at least 1.0, got %v", m["BackoffRate"])
			}
			r.backoffRate = f
		}
		if o.has("MaxDelaySeconds") {
			r.maxDelaySeconds = float64(o.positiveInt("MaxDelaySeconds"))
		}
		if o.has("JitterStrategy") {
			switch js := o.str("JitterStrategy"); js {
			case "FULL":
				r.fullJitter = true
			case "NONE":
			default:
				o.errorf("JitterStrategy", "must be FULL or NONE, got %q", js)
			}
		}
		o.done()
		out = append(out, r)
	}
	return out
}

func (p *parser) catchers(parent *obj) []catcher {
	v, ok := parent.get("Catch")
	if !ok {
		return nil
	}
	arr, isArr := v.([]any)
	if !isArr {
		parent.errorf("Catch", "must be an array")
		return nil
	}
	var out []catcher
	for i, e := range arr {
		m, isObj := e.(map[string]any)
		where := fmt.Sprintf("%s, Catch[%d]", parent.where, i)
		if !isObj {
			p.errorf(where, "must be a JSON object")
			continue
		}
		o := p.object(where, m)
		c := catcher{}
		c.errorEquals = o.errorEquals(i == len(arr)-1)
		c.next = o.requiredStr("Next")
		c.resultPath = o.path("ResultPath", true, true)
		o.done()
		out = append(out, c)
	}
	return out
}

// delay is the wait before retry number attempt (0 for the first retry):
// IntervalSeconds × BackoffRate^attempt, capped by MaxDelaySeconds, and with
// JitterStrategy FULL a uniformly random fraction of it (developer guide,
// "Retrying after an error").
func (r *retrier) delay(attempt int, random func() float64) time.Duration {
	secs := r.intervalSeconds * math.Pow(r.backoffRate, float64(attempt))
	if r.maxDelaySeconds > 0 && secs > r.maxDelaySeconds {
		secs = r.maxDelaySeconds
	}
	if r.fullJitter {
		secs *= random()
	}
	return time.Duration(secs * float64(time.Second))
}
