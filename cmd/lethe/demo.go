package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/demo"
	"github.com/lethe-erasure/lethe/internal/local"
)

func init() {
	commands["demo"] = command{summary: "turn a demo subsystem's faults on or off while lethe local runs", run: demoCmd}
}

const demoUsage = `usage:
  lethe demo fault [--url URL] REGION/SUBSYSTEM=KNOBS   set knobs (named ones; the others are kept)
  lethe demo fault [--url URL] REGION/SUBSYSTEM         show the knobs

fault changes a demo subsystem of a running lethe local at once, so an
outage can start and end while a request runs (PUT
/demo/REGION/SUBSYSTEM/faults on its status port). KNOBS as for --fault of
lethe local: outage, reject, neverFinish (each also :true|:false),
errorRate:<0..1>, latency:<duration>, finishAfter:<duration>, clear.
e.g. lethe demo fault eu/orders=outage, later lethe demo fault eu/orders=clear.

flags:
  --url URL   lethe local's console port (default: its urls.json in
              $LETHE_DATA_DIR, else .lethe; else http://127.0.0.1:8080)`

func demoCmd(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "fault" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprintln(stdout, demoUsage)
			return 0
		}
		return exitCode(stderr, "lethe demo", demoUsage, usagef("want: lethe demo fault REGION/SUBSYSTEM[=KNOBS]"))
	}
	fs := flag.NewFlagSet("lethe demo fault", flag.ContinueOnError)
	base := fs.String("url", "", "")
	pos, err := parseArgs(fs, args[1:])
	switch {
	case err == flag.ErrHelp:
		fmt.Fprintln(stdout, demoUsage)
		return 0
	case err != nil:
		return exitCode(stderr, "lethe demo fault", demoUsage, usagef("%v", err))
	case len(pos) != 1:
		return exitCode(stderr, "lethe demo fault", demoUsage, usagef("want one REGION/SUBSYSTEM[=KNOBS], got %d arguments", len(pos)))
	}
	key, knobs, set := strings.Cut(pos[0], "=")
	region, name, ok := strings.Cut(key, "/")
	if !ok || region == "" || name == "" || strings.Contains(name, "/") {
		return exitCode(stderr, "lethe demo fault", demoUsage, usagef("%q is not REGION/SUBSYSTEM, e.g. eu/orders", key))
	}
	if *base == "" {
		*base = fmt.Sprintf("http://%s:%d", config.LocalHost, config.LocalEdgePort)
		if u, err := local.ReadURLs(local.DataDir()); err == nil && u.Edge != "" {
			*base = u.Edge
		}
	}
	if !isLoopback(*base) {
		return exitCode(stderr, "lethe demo fault", demoUsage, usagef("--url must be lethe local's, on 127.0.0.1"))
	}
	method, body := http.MethodGet, []byte(nil)
	if set {
		method = http.MethodPut
		body, _ = json.Marshal(map[string]string{"faults": knobs})
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	url := strings.TrimRight(*base, "/") + "/demo/" + region + "/" + name + "/faults"
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return exitCode(stderr, "lethe demo fault", demoUsage, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return exitCode(stderr, "lethe demo fault", demoUsage, fmt.Errorf("no lethe local answers at %s (start it with lethe local, or pass --url): %w", *base, err))
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode == http.StatusNotFound {
		return exitCode(stderr, "lethe demo fault", demoUsage, fmt.Errorf("%s/%s is not a demo subsystem of the lethe local at %s", region, name, *base))
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct{ Code, Message string }
		}
		if json.Unmarshal(raw, &e) == nil && e.Error.Message != "" {
			err = fmt.Errorf("%s: %s", e.Error.Code, e.Error.Message)
		} else {
			err = fmt.Errorf("HTTP %d from %s (is %s/%s a demo subsystem of this lethe local?)", resp.StatusCode, url, region, name)
		}
		return exitCode(stderr, "lethe demo fault", demoUsage, err)
	}
	var v demo.FaultsView
	if err := json.Unmarshal(raw, &v); err != nil {
		return exitCode(stderr, "lethe demo fault", demoUsage, fmt.Errorf("the answer is not the expected JSON: %v", err))
	}
	fmt.Fprintf(stdout, "%s/%s: %s\n", v.Region, v.Subsystem, describeKnobs(v.Faults))
	return 0
}

// describeKnobs says a demo subsystem's knobs in --fault's words.
func describeKnobs(d config.DemoSubsystem) string {
	var on []string
	if d.Outage {
		on = append(on, "outage")
	}
	if d.Reject {
		on = append(on, "reject")
	}
	if d.NeverFinish {
		on = append(on, "neverFinish")
	}
	if d.ErrorRate > 0 {
		on = append(on, fmt.Sprintf("errorRate:%g", d.ErrorRate))
	}
	if d.LatencyMillis > 0 {
		on = append(on, fmt.Sprintf("latency:%dms", d.LatencyMillis))
	}
	faults := "no faults"
	if len(on) > 0 {
		faults = strings.Join(on, ",")
	}
	return fmt.Sprintf("%s (async erasures finish after %s)", faults, time.Duration(d.FinishAfterSeconds)*time.Second)
}
