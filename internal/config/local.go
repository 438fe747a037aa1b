package config

import (
	"fmt"
	"strings"
)

// Ports of the embedded default (`lethe local`): the edge and the status
// page on LocalEdgePort, region i (in configuration order) on
// LocalFirstRegionPort+i, all on 127.0.0.1.
const (
	LocalHost            = "127.0.0.1"
	LocalEdgePort        = 8080
	LocalFirstRegionPort = 8081
)

// Local holds the settings of the embedded default only; the CDK app and
// the deployed functions never read them (ForRegion leaves them out).
type Local struct {
	// Subsystems tunes the demo subsystems `lethe local` serves, keyed
	// "<region>/<subsystem>" (e.g. "eu/orders").
	Subsystems map[string]DemoSubsystem `json:"subsystems,omitempty"`
}

// DemoSubsystem is one demo subsystem's behaviour: how long its async
// erasures take and which faults it injects, so that retries, failure mail
// and the deadline can be watched on a laptop.
type DemoSubsystem struct {
	// FinishAfterSeconds is how long (on Lethe's clock, so --speed shortens
	// it) an async erasure stays pending after its submission. 0 means
	// DefaultDemoFinishAfterSeconds.
	FinishAfterSeconds int `json:"finishAfterSeconds,omitempty"`
	// ErrorRate is the share of calls answered 503 (0 to 1).
	ErrorRate float64 `json:"errorRate,omitempty"`
	// LatencyMillis delays every answer by this much wall time.
	LatencyMillis int `json:"latencyMillis,omitempty"`
	// Outage answers every call 503.
	Outage bool `json:"outage,omitempty"`
	// Reject answers every call 403, a permanent refusal (as a subsystem
	// whose token was revoked): Lethe fails the subsystem at once.
	Reject bool `json:"reject,omitempty"`
	// NeverFinish keeps async erasures pending forever.
	NeverFinish bool `json:"neverFinish,omitempty"`
	// NoCallback keeps the subsystem from calling back even when Lethe
	// offers it a callback (a subsystem that forgets to): Lethe's sparse
	// status checks must then find the erasure done. By default a demo
	// subsystem calls back whenever Lethe's submit offers a callback.
	NoCallback bool `json:"noCallback,omitempty"`
	// Subjects are held besides the seeded alice, bob and carol.
	Subjects []string `json:"subjects,omitempty"`
}

// DefaultDemoFinishAfterSeconds is how long a demo async erasure takes
// unless configured: ten minutes, a few polls of the default back-off.
const DefaultDemoFinishAfterSeconds = 600

// DemoSubjects are the subjects every demo subsystem holds at first start.
var DemoSubjects = []string{"alice", "bob", "carol"}

// LocalURL is the base URL of a region's API under `lethe local`, from its
// position in the configuration: http://127.0.0.1:8081 for the first.
func (c *Config) LocalURL(region string) (string, error) {
	for i, r := range c.Regions {
		if r.Name == region {
			return fmt.Sprintf("http://%s:%d", LocalHost, LocalFirstRegionPort+i), nil
		}
	}
	return "", &Error{"regions", fmt.Sprintf("no region named %q", region)}
}

// Demo returns the demo settings of one subsystem, defaults filled.
func (c *Config) Demo(region, subsystem string) DemoSubsystem {
	d := c.Local.Subsystems[region+"/"+subsystem]
	if d.FinishAfterSeconds == 0 {
		d.FinishAfterSeconds = DefaultDemoFinishAfterSeconds
	}
	return d
}

func (l Local) validate(c *Config) error {
	for key, d := range l.Subsystems {
		k := "local.subsystems." + key
		region, sub, ok := strings.Cut(key, "/")
		r, found := c.Region(region)
		if !ok || !found {
			return &Error{k, "must be <region>/<subsystem> of a configured region"}
		}
		if _, found := r.Subsystem(sub); !found {
			return &Error{k, fmt.Sprintf("region %s has no subsystem %q", region, sub)}
		}
		if d.ErrorRate < 0 || d.ErrorRate > 1 {
			return &Error{k + ".errorRate", "must be between 0 and 1"}
		}
		if d.FinishAfterSeconds < 0 || d.LatencyMillis < 0 {
			return &Error{k, "finishAfterSeconds and latencyMillis must not be negative"}
		}
		for i, s := range d.Subjects {
			if strings.TrimSpace(s) == "" {
				return &Error{fmt.Sprintf("%s.subjects[%d]", k, i), "must not be empty"}
			}
		}
	}
	return nil
}
