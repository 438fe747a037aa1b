package asl

import (
	"context"
	"time"
)

// waitState delays the machine for a fixed time or until a timestamp (spec
// "Wait State"). The deadline is checkpointed when the wait starts, so that
// a resumed execution waits only for what is left.
type waitState struct {
	stateCommon
	seconds       int
	timestamp     time.Time
	secondsPath   *compiledPath
	timestampPath *compiledPath
}

func (p *parser) waitState(o *obj, c stateCommon) *waitState {
	s := &waitState{stateCommon: c}
	o.io(&s.stateCommon)
	o.transition(&s.stateCommon)
	n := 0
	for _, k := range []string{"Seconds", "Timestamp", "SecondsPath", "TimestampPath"} {
		if o.has(k) {
			n++
		}
	}
	if n != 1 {
		o.errorf("Seconds", "exactly one of Seconds, Timestamp, SecondsPath or TimestampPath is required")
	}
	if o.has("Seconds") {
		if f, ok := o.number("Seconds"); ok {
			if f < 0 || f != float64(int64(f)) || f > 99999999 {
				o.errorf("Seconds", "must be a non-negative integer")
			}
			s.seconds = int(f)
		}
	}
	if o.has("Timestamp") {
		ts := o.str("Timestamp")
		t, err := parseTimestamp(ts)
		if err != nil {
			o.errorf("Timestamp", "must be an RFC 3339 timestamp: %v", err)
		}
		s.timestamp = t
	}
	s.secondsPath = o.optionalPath("SecondsPath", true)
	s.timestampPath = o.optionalPath("TimestampPath", true)
	return s
}

// until computes when the wait ends, from the effective input.
func (s *waitState) until(entered time.Time, in, ctx any) (time.Time, *Failure) {
	switch {
	case s.secondsPath != nil:
		v, f := pathValue(s.secondsPath, "SecondsPath", in, ctx)
		if f != nil {
			return time.Time{}, f
		}
		secs, ok := toFloat(v)
		if !ok || secs < 0 || secs != float64(int64(secs)) {
			return time.Time{}, fail(ErrRuntime, "The SecondsPath parameter does not reference a valid non-negative integer: %s", jsonString(v))
		}
		return entered.Add(time.Duration(secs) * time.Second), nil
	case s.timestampPath != nil:
		v, f := pathValue(s.timestampPath, "TimestampPath", in, ctx)
		if f != nil {
			return time.Time{}, f
		}
		str, _ := v.(string)
		t, err := parseTimestamp(str)
		if err != nil {
			return time.Time{}, fail(ErrRuntime, "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: %s", jsonString(v))
		}
		return t, nil
	case !s.timestamp.IsZero():
		return s.timestamp, nil
	default:
		return entered.Add(time.Duration(s.seconds) * time.Second), nil
	}
}

func (s *waitState) exec(ctx context.Context, x *Execution, th *thread) (any, *Failure, error) {
	cobj := x.contextObject(th, &s.stateCommon)
	in, f := applyInputPath(s.inputPath, th.Input, cobj)
	if f != nil {
		return nil, f, nil
	}
	if th.WaitUntil == nil {
		until, f := s.until(th.EnteredTime, in, cobj)
		if f != nil {
			return nil, f, nil
		}
		x.mutate(func() { th.WaitUntil = &until })
	}
	if err := x.sleepUntil(ctx, *th.WaitUntil); err != nil {
		return nil, nil, err
	}
	out, f := applyOutputPath(s.outputPath, in, cobj)
	return out, f, nil
}
