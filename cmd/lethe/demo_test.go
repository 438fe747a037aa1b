package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestDemoFault turns a fault on and off in a running lethe local, found
// by its urls.json, as an operator trying Lethe would.
func TestDemoFault(t *testing.T) {
	rt := localRuntime(t)
	run := func(args ...string) (string, string, int) {
		var out, errb bytes.Buffer
		code := demoCmd(t.Context(), args, nil, &out, &errb)
		return out.String(), errb.String(), code
	}
	if out, errOut, code := run("fault", "eu/orders=outage,latency:5ms"); code != 0 || !strings.Contains(out, "eu/orders: outage,latency:5ms") {
		t.Fatalf("set: exit %d\n%s%s", code, out, errOut)
	}
	if got := rt.Farm().Faults("eu", "orders"); !got.Outage || got.LatencyMillis != 5 {
		t.Errorf("the farm runs with %+v", got)
	}
	if out, errOut, code := run("fault", "eu/orders"); code != 0 || !strings.Contains(out, "outage") {
		t.Errorf("show: exit %d\n%s%s", code, out, errOut)
	}
	if out, errOut, code := run("fault", "eu/orders=clear"); code != 0 || !strings.Contains(out, "eu/orders: no faults") {
		t.Errorf("clear: exit %d\n%s%s", code, out, errOut)
	}
	if out, errOut, code := run("fault", "eu/orders=meltdown"); code != 1 || !strings.Contains(errOut, "unknown knob") {
		t.Errorf("bad knob: exit %d\n%s%s", code, out, errOut)
	}
	if out, errOut, code := run("fault", "eu/nosuch=outage"); code != 1 || !strings.Contains(errOut, "eu/nosuch") {
		t.Errorf("unknown subsystem: exit %d\n%s%s", code, out, errOut)
	}
	for _, args := range [][]string{{}, {"fault"}, {"fault", "orders=outage"}, {"fault", "--url", "https://example.com", "eu/orders=outage"}} {
		if out, errOut, code := run(args...); code != 2 {
			t.Errorf("lethe demo %v: exit %d, want 2\n%s%s", args, code, out, errOut)
		}
	}
}
