package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/demo"
	"github.com/lethe-erasure/lethe/internal/local"
	"github.com/lethe-erasure/lethe/internal/webhook"
)

// lethe local runs every configured region in this process (internal/local).

func init() {
	commands["local"] = command{summary: "run every region on this machine, with demo subsystems (no AWS account needed)", run: runLocal}
}

// DefaultSpeed is --speed's default. The demo's async subsystems finish
// ten minutes after a submission (config.DefaultDemoFinishAfterSeconds)
// and are polled after 60 s, then 120, 240, 480 (the default back-off):
// an erasure completes about 900 s of Lethe's time after it is filed, 3 s
// of wall time at 300x, long enough to watch it in the console or
// with lethe status --watch, short enough for a first try. A subsystem in
// outage exhausts its retries (about an hour with jitter) in some 12 s;
// a subsystem that never finishes reaches a one-month deadline in 2.4 h.
const DefaultSpeed = 300

const localUsage = `usage:
  lethe local [--config cdk.json] [--data-dir .lethe] [--speed N] [--port 8080]
              [--region-port 8081] [--demo=true] [--fault REGION/SUBSYSTEM=KNOBS ...]

local runs every region of the configuration in this process on 127.0.0.1,
with the handlers and state machine files that run on AWS: region i's API
on --region-port+i, the console on --port. With --demo (the default)
every subsystem reached by HTTP is a demo subsystem holding the subjects
alice, bob and carol (a built-in connector erases in the local server its
endpoint names); --demo=false calls the configured baseUrls, with each token read
from the environment variable LETHE_SECRET_<NAME> (the secret or
parameter's name upper-cased, other characters as _, e.g.
LETHE_SECRET_LETHE_EU_ORDERS_TOKEN). State survives restarts in
--data-dir: kill it and start it again, and every execution resumes.
SIGINT or SIGTERM stops it cleanly.

--port also serves the edge: POST /webhooks/{provider} forwarded to the
tenant's home region, /t/{tenant}/... redirects, and the operator routes
(/tenants, /quarantine, /erasures). With --demo the demo tenants
eu-shop.myshopify.com and us-shop.myshopify.com (Shopify), eu-help and
us-help (Zendesk) are registered in eu and us, when configured. Their
webhook secrets are LETHE_LOCAL_SHOPIFY_SECRET and LETHE_LOCAL_ZENDESK_SECRET,
else development defaults that the banner prints.

flags:
  --config FILE     configuration: context.lethe of a cdk.json (default cdk.json)
  --data-dir DIR    store, demo subsystems, outbox (SNS), clock, and urls.json, where
                    the other commands find this lethe local (default $LETHE_DATA_DIR,
                    else .lethe)
  --speed N         Lethe's clock runs N times faster than real time (default 300:
                    an erasure with async subsystems completes in about 3 s);
                    1 is real time
  --port N          console, edge and demo subsystems (default 8080; 0 = any free port)
  --region-port N   the first region's API; the next regions follow (default 8081)
  --demo            serve every subsystem with a demo subsystem (default true)
  --fsync           flush every commit to disk (default true); --fsync=false is faster
                    and still survives a killed process, but not a power cut
  --operator NAME   who the console's actions (retry, attest, extend, release) are
                    recorded as: local:NAME (default $USER)
  --fault SPEC      a demo subsystem's fault knobs, repeatable: ` + demo.FaultUsage

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, " ") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func runLocal(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("lethe local", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfgPath := fs.String("config", "cdk.json", "")
	dataDir := fs.String("data-dir", local.DataDir(), "")
	speed := fs.Float64("speed", DefaultSpeed, "")
	port := fs.Int("port", config.LocalEdgePort, "")
	regionPort := fs.Int("region-port", config.LocalFirstRegionPort, "")
	demoOn := fs.Bool("demo", true, "")
	fsync := fs.Bool("fsync", true, "")
	operator := fs.String("operator", os.Getenv("USER"), "")
	var faults stringList
	fs.Var(&faults, "fault", "")
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprintln(stdout, localUsage)
		return 0
	case err != nil:
		return exitCode(stderr, "lethe local", localUsage, usagef("%v", err))
	case fs.NArg() > 0:
		return exitCode(stderr, "lethe local", localUsage, usagef("unexpected argument %q", fs.Arg(0)))
	case *speed <= 0:
		return exitCode(stderr, "lethe local", localUsage, usagef("--speed must be positive"))
	case *port < 0 || *port > 65535 || *regionPort < 0 || *regionPort > 65535:
		return exitCode(stderr, "lethe local", localUsage, usagef("ports must be between 0 and 65535"))
	case len(faults) > 0 && !*demoOn:
		return exitCode(stderr, "lethe local", localUsage, usagef("--fault sets demo subsystems' knobs; it needs --demo"))
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return exitCode(stderr, "lethe local", localUsage, err)
	}
	if err := demo.ApplyFaults(cfg, faults); err != nil {
		return exitCode(stderr, "lethe local", localUsage, usagef("%v", err))
	}
	if *regionPort != 0 && *port >= *regionPort && *port < *regionPort+len(cfg.Regions) {
		return exitCode(stderr, "lethe local", localUsage, usagef("--port %d is one of the regions' ports (%d-%d)", *port, *regionPort, *regionPort+len(cfg.Regions)-1))
	}

	// The engine allocates many short-lived JSON values per state
	// transition and its live heap is small: with GOGC=400 the collector
	// runs a quarter as often, which made the engine about 1.4x faster in
	// our measurements for a heap a few MB larger. An explicit GOGC wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}

	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	rt, err := local.Start(ctx, local.Options{
		Config: cfg, DataDir: *dataDir, Speed: *speed, EdgePort: *port, FirstRegionPort: *regionPort,
		Demo: *demoOn, Log: log, NoSync: !*fsync, Operator: *operator,
	})
	if err != nil {
		return exitCode(stderr, "lethe local", localUsage, err)
	}
	printBanner(stdout, rt, *dataDir, *speed, *demoOn)
	<-ctx.Done()
	fmt.Fprintln(stdout, "lethe local: stopping; executions are checkpointed and resume at the next start")
	if err := rt.Close(); err != nil {
		fmt.Fprintf(stderr, "lethe local: %v\n", err)
		return 1
	}
	return 0
}

func printBanner(w io.Writer, rt *local.Runtime, dataDir string, speed float64, demoOn bool) {
	fmt.Fprintf(w, "lethe local: %d region(s), data in %s, clock at %gx\n", len(rt.Regions()), dataDir, max(speed, 1))
	fmt.Fprintf(w, "  console      %s  (requests, executions, edge, health)\n", rt.StatusURL())
	fmt.Fprintf(w, "  edge         %s  (POST /webhooks/{provider}, /t/{tenant}/..., /tenants, /quarantine, /erasures)\n", rt.EdgeURL())
	for _, r := range rt.Regions() {
		fmt.Fprintf(w, "  region %-5s %s  (%s)", r.Config.Name, r.URL, r.Config.AWSRegion)
		if r.Resumed > 0 {
			fmt.Fprintf(w, ", %d execution(s) resumed", r.Resumed)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "  outbox (SNS) %s\n", rt.Outbox().Dir())
	if demoOn {
		fmt.Fprintf(w, "demo subjects: %s (held by every demo subsystem of every region)\n", strings.Join(config.DemoSubjects, ", "))
	}
	if len(rt.Regions()) > 0 {
		fmt.Fprintf(w, "try: curl -X DELETE %s/api/user/alice\n", rt.Regions()[0].URL)
	}
	printEdgeBanner(w, rt)
}

// printEdgeBanner names the demo tenants and the webhook secrets, and
// prints a signed Shopify customers/redact to try the edge with. A secret
// from the environment is never printed; a development default is, since
// it is public anyway and the reader needs it to sign their own tests.
func printEdgeBanner(w io.Writer, rt *local.Runtime) {
	e := rt.Edge()
	if e == nil || len(e.Registered) == 0 {
		return
	}
	var tenants []string
	for _, t := range e.Registered {
		tenants = append(tenants, fmt.Sprintf("%s %s (%s)", t.Provider, t.Key, t.Region))
	}
	fmt.Fprintf(w, "demo tenants: %s\n", strings.Join(tenants, ", "))
	fmt.Fprintln(w, "webhook secrets (the edge and every region verify with the same one):")
	for _, p := range []string{webhook.Shopify, webhook.Zendesk} {
		secret, dev := rt.WebhookSecret(p)
		switch {
		case secret == "":
			continue
		case dev:
			fmt.Fprintf(w, "  %-8s %q  DEVELOPMENT DEFAULT, for development only; set %s to use your own\n", p, secret, local.WebhookSecretEnv[p])
		default:
			fmt.Fprintf(w, "  %-8s from %s\n", p, local.WebhookSecretEnv[p])
		}
	}
	x, ok := rt.ExampleWebhook(fmt.Sprintf("lethe-local-%d", time.Now().Unix()))
	if !ok {
		return
	}
	fmt.Fprintf(w, "try the edge: a signed Shopify customers/redact of customer %s of %s, filed in %s only (sent again, it is a duplicate the edge does not forward):\n%s\n",
		x.Tenant.Customer, x.Tenant.Key, x.Tenant.Region, x.Curl())
	fmt.Fprintf(w, "  then: curl %s/erasures  (lists it with \"source\": \"webhook:shopify\")\n", localRegionURL(rt, x.Tenant.Region))
}

func localRegionURL(rt *local.Runtime, name string) string {
	if r, ok := rt.Region(name); ok {
		return r.URL
	}
	return ""
}
