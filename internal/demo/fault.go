package demo

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/lethe-erasure/lethe/internal/config"
)

// FaultError says what is wrong with a --fault flag of `lethe local`.
type FaultError struct {
	// Spec is the flag's value as given.
	Spec string
	// Item is the knob at fault (e.g. "errorRate:2"), empty when the
	// subsystem part is.
	Item   string
	Reason string
}

func (e *FaultError) Error() string {
	if e.Item == "" {
		return fmt.Sprintf("--fault %q: %s", e.Spec, e.Reason)
	}
	return fmt.Sprintf("--fault %q: %s: %s", e.Spec, e.Item, e.Reason)
}

// FaultUsage is the grammar of --fault, for the flag's help text.
const FaultUsage = `<region>/<subsystem>=<knob>[,<knob>...] with knobs outage, reject, neverFinish, callback (each also :true|:false; ` +
	`callback has Lethe offer the async subsystem callbacks, callback:false keeps the subsystem from making them), ` +
	`errorRate:<0..1>, latency:<duration, e.g. 200ms>, finishAfter:<duration, e.g. 3600s, 2h, 20d>, clear (no faults); ` +
	`e.g. eu/orders=errorRate:0.3,latency:200ms`

// ParseFault reads one --fault flag of `lethe local`, e.g.
// "eu/orders=outage", "eu/projects=reject" or "eu/orders=errorRate:0.3,latency:200ms,neverFinish,finishAfter:3600s",
// into the key of config.Local.Subsystems ("eu/orders") and that subsystem's
// knobs: the knobs named are set on base(region, subsystem) (pass
// (*config.Config).Demo; nil means none), the others kept. Later knobs win
// over earlier ones. It does not check that the subsystem is configured:
// ApplyFaults does.
func ParseFault(spec string, base func(region, subsystem string) config.DemoSubsystem) (string, config.DemoSubsystem, error) {
	var d config.DemoSubsystem
	bad := func(item, reason string) (string, config.DemoSubsystem, error) {
		return "", config.DemoSubsystem{}, &FaultError{Spec: spec, Item: item, Reason: reason}
	}
	k, knobs, ok := strings.Cut(spec, "=")
	region, name, okKey := strings.Cut(strings.TrimSpace(k), "/")
	switch {
	case !ok:
		return bad("", "want <region>/<subsystem>=<knobs>, e.g. eu/orders=outage")
	case !okKey || region == "" || name == "" || strings.Contains(name, "/"):
		return bad("", fmt.Sprintf("%q is not <region>/<subsystem>, e.g. eu/orders", k))
	case strings.TrimSpace(knobs) == "":
		return bad("", "no knobs after '=' (e.g. outage, errorRate:0.3, latency:200ms, neverFinish, finishAfter:3600s, clear)")
	}
	if base != nil {
		d = base(region, name)
	}
	for _, item := range strings.Split(knobs, ",") {
		item = strings.TrimSpace(item)
		knob, value, hasValue := strings.Cut(item, ":")
		switch strings.ToLower(knob) {
		case "outage", "reject", "neverfinish", "callback":
			on := true
			if hasValue {
				var err error
				if on, err = strconv.ParseBool(value); err != nil {
					return bad(item, "want true or false")
				}
			}
			switch strings.ToLower(knob) {
			case "outage":
				d.Outage = on
			case "reject":
				d.Reject = on
			case "callback":
				d.NoCallback = !on
			default:
				d.NeverFinish = on
			}
		case "errorrate":
			r, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
			switch {
			case !hasValue:
				return bad(item, "needs a share of calls to fail, e.g. errorRate:0.3")
			case err != nil || math.IsNaN(r) || r < 0 || r > 1:
				return bad(item, "must be a number between 0 and 1")
			}
			d.ErrorRate = r
		case "latency":
			if !hasValue {
				return bad(item, "needs a duration, e.g. latency:200ms")
			}
			l, err := parseDuration(value)
			switch {
			case err != nil:
				return bad(item, err.Error())
			case l > 0 && l < time.Millisecond:
				return bad(item, "must be 0 or at least 1ms")
			case l > time.Hour:
				return bad(item, "must be at most 1h")
			}
			d.LatencyMillis = int(l.Milliseconds())
		case "finishafter":
			if !hasValue {
				return bad(item, "needs a duration, e.g. finishAfter:3600s")
			}
			f, err := parseDuration(value)
			switch {
			case err != nil:
				return bad(item, err.Error())
			case f < time.Second || f%time.Second != 0:
				return bad(item, "must be a whole number of seconds, at least 1s")
			case f.Seconds() > math.MaxInt32:
				return bad(item, "is too long")
			}
			d.FinishAfterSeconds = int(f / time.Second)
		case "clear", "none":
			if hasValue {
				return bad(item, "takes no value")
			}
			d.Outage, d.Reject, d.NeverFinish, d.ErrorRate, d.LatencyMillis = false, false, false, 0, 0
		case "":
			return bad(item, "empty knob (a stray comma?)")
		default:
			return bad(item, "unknown knob; want outage, reject, errorRate, latency, neverFinish, finishAfter, callback or clear")
		}
	}
	return key(region, name), d, nil
}

// parseDuration is time.ParseDuration with days ("20d"), the unit async
// subsystems are slow in. A bare number has no unit and is refused.
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseFloat(days, 64)
		if err != nil || n < 0 || math.IsNaN(n) || n > 365*100 {
			return 0, fmt.Errorf("%q is not a number of days", s)
		}
		return time.Duration(n * float64(24*time.Hour)), nil
	}
	v, err := time.ParseDuration(s)
	switch {
	case err != nil:
		return 0, fmt.Errorf("%q is not a duration (e.g. 200ms, 30s, 2h, 20d)", s)
	case v < 0:
		return 0, fmt.Errorf("%q is negative", s)
	}
	return v, nil
}

// ApplyFaults sets the knobs of --fault flags on cfg.Local.Subsystems, in
// order (two flags for one subsystem add up), refusing a subsystem that cfg
// does not configure; the local runtime then passes cfg.Demo(region, name)
// to (*Farm).Subsystem.
func ApplyFaults(cfg *config.Config, specs []string) error {
	for _, spec := range specs {
		k, d, err := ParseFault(spec, cfg.Demo)
		if err != nil {
			return err
		}
		region, name, _ := strings.Cut(k, "/")
		r, ok := cfg.Region(region)
		if !ok {
			return &FaultError{Spec: spec, Reason: fmt.Sprintf("no region named %q in the configuration", region)}
		}
		if _, ok := r.Subsystem(name); !ok {
			return &FaultError{Spec: spec, Reason: fmt.Sprintf("region %s has no subsystem %q", region, name)}
		}
		if cfg.Local.Subsystems == nil {
			cfg.Local.Subsystems = map[string]config.DemoSubsystem{}
		}
		cfg.Local.Subsystems[k] = d
		if offersCallback(spec) {
			if err := useCallbacks(cfg, region, name); err != nil {
				return &FaultError{Spec: spec, Item: "callback", Reason: err.Error()}
			}
		}
	}
	return nil
}

// offersCallback reports whether a --fault turns callbacks on ("callback"
// or "callback:true"): Lethe then offers the subsystem a callback, which
// the demo subsystem makes.
func offersCallback(spec string) bool {
	_, knobs, _ := strings.Cut(spec, "=")
	on := false
	for _, item := range strings.Split(knobs, ",") {
		knob, value, hasValue := strings.Cut(strings.TrimSpace(item), ":")
		if strings.EqualFold(knob, "callback") {
			b, err := strconv.ParseBool(value)
			on = !hasValue || (err == nil && b)
		}
	}
	return on
}

// useCallbacks configures Lethe to offer the async subsystem callbacks,
// with the sparse status checks of a subsystem that calls back.
func useCallbacks(cfg *config.Config, region, name string) error {
	for i := range cfg.Regions {
		if cfg.Regions[i].Name != region {
			continue
		}
		for j := range cfg.Regions[i].Subsystems {
			s := &cfg.Regions[i].Subsystems[j]
			if s.Name != name {
				continue
			}
			if s.Mode != config.ModeAsync {
				return fmt.Errorf("%s/%s is %s: only async subsystems call back", region, name, s.Mode)
			}
			s.Callback = true
			s.Poll = &config.PollPolicy{InitialSeconds: config.DefaultCallbackPollInitialSeconds,
				MaxSeconds: config.DefaultCallbackPollMaxSeconds, Multiplier: config.DefaultPollMultiplier}
		}
	}
	return nil
}
