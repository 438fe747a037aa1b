// Package local is the embedded default, `lethe local`: every configured
// region in one process on 127.0.0.1, running the very handlers the Lambda
// functions run and the very statemachines/*.asl.json Step Functions runs,
// through Lethe's own interpreter (internal/asl). Nothing is re-implemented
// for local use; only the AWS services are stood in for:
//
//   - DynamoDB and its stream: the embedded store (internal/store/embedded),
//     whose change feed calls the starter's handler as the event source
//     mapping would;
//   - Step Functions: one asl.Engine per region, its executions checkpointed
//     in the same file, resumed at start-up;
//   - Lambda: the handlers registered with the engine under the functions'
//     deployed names and invoked through aws-lambda-go;
//   - API Gateway: Gateway, in front of the api and webhook receiver
//     handlers, on one port per region; HTTPAPI in front of the edge's two
//     handlers (see edge.go), on the status port;
//   - SNS: Outbox, one JSON-lines file per topic;
//   - the edge's DynamoDB tables: internal/store/edgeembedded;
//   - Secrets Manager and SSM: EnvSecrets (only for subsystems of your own;
//     the demo subsystems take no token); WebhookSecrets for the webhook
//     signing secrets of the edge and the receivers.
//
// With Options.Demo every subsystem reached by HTTP is served by a demo
// subsystem (internal/demo) on the status port, so that a newcomer can file an
// erasure and watch it go through with no AWS account and no real system.
package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/lethe-erasure/lethe/internal/certify"
	"github.com/lethe-erasure/lethe/internal/subsystem"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lethe-erasure/lethe/internal/api"
	"github.com/lethe-erasure/lethe/internal/asl"
	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/demo"
	"github.com/lethe-erasure/lethe/internal/metrics"
	"github.com/lethe-erasure/lethe/internal/proof"
	"github.com/lethe-erasure/lethe/internal/receiver"
	"github.com/lethe-erasure/lethe/internal/registry"
	"github.com/lethe-erasure/lethe/internal/secrets"
	"github.com/lethe-erasure/lethe/internal/starter"
	"github.com/lethe-erasure/lethe/internal/store/embedded"
	"github.com/lethe-erasure/lethe/internal/subjectkey"
	"github.com/lethe-erasure/lethe/internal/watch"
)

// Options configure the runtime.
type Options struct {
	// Config is the whole configuration (every region); required.
	Config *config.Config
	// DataDir holds the store, the demo subsystems' state, the outbox and
	// the clock's reading, and URLsFile while it runs; default DataDir().
	DataDir string
	// Speed runs Lethe's clock this many times faster than the wall clock
	// (<= 1: real time). Ignored when Clock is set.
	Speed float64
	// EdgePort serves the edge, the console and the demo
	// subsystems; FirstRegionPort serves the first region's API, the next
	// region the next port. 0 picks a free port (tests).
	EdgePort        int
	FirstRegionPort int
	// Demo serves every configured HTTP subsystem with a demo subsystem,
	// replacing its baseUrl and token (built-in connectors erase in the
	// local servers they name); false calls the configured baseUrls
	// with tokens from the environment (EnvSecrets).
	Demo bool
	// Clock overrides the accelerated clock (tests pass an asl.FakeClock).
	Clock asl.Clock
	// Log receives the handlers' and the runtime's log lines; default
	// discards.
	Log *slog.Logger
	// NoSync skips fsync on the store's commits (benchmarks); a process
	// killed with SIGKILL still loses nothing.
	NoSync bool
	// WebhookSecrets are the providers' webhook signing secrets, keyed by
	// provider, which the edge and every region's receiver verify with
	// (WebhookSecrets); nil reads them from the environment
	// (WebhookSecretsFromEnv: LETHE_LOCAL_SHOPIFY_SECRET,
	// LETHE_LOCAL_ZENDESK_SECRET, else the development defaults).
	WebhookSecrets map[string]string
	// Operator is who the console's actions are recorded as
	// (local:<Operator>; "operator" when empty or malformed).
	Operator string
}

// CallbackRound is how often (wall time) the demo subsystems finish due
// erasures and call back.
const CallbackRound = 50 * time.Millisecond

// CallbackPath is the regional API's callback route.
const CallbackPath = "/callbacks"

// SigningKeyFile is the region's certificate signing key in the data
// directory (PKCS#8 PEM): the stand-in for the stack's KMS key.
func SigningKeyFile(region string) string { return "signing-" + region + ".pem" }

// SubjectKeyFile is the region's subject key in the data directory: the
// stand-in for the secret the regional stack creates.
func SubjectKeyFile(region string) string { return "subject-" + region + ".key" }

// DefaultDataDir is where `lethe local` keeps its state.
const DefaultDataDir = ".lethe"

// KeepFinished bounds the finished executions each engine keeps in memory;
// older ones are read back from the store when asked for.
const KeepFinished = 1000

// Files and folders of the data directory.
const (
	dbFile        = "lethe.db"
	demoFile      = "subsystems.db"
	clockFileName = "clock.json"
	outboxDir     = "outbox"
)

// Runtime is a running `lethe local`.
type Runtime struct {
	cfg     *config.Config // with the demo subsystems' URLs when Demo
	dataDir string
	log     *slog.Logger
	clock   asl.Clock
	own     *Clock // the clock the runtime opened (nil when overridden)
	db      *embedded.DB
	farm    *demo.Farm
	outbox  *Outbox

	regions []*Region
	edgeURL string
	edge    *Edge
	// urlsFile is the URLsFile written once every server listens.
	urlsFile string
	// metrics is what the handlers count, served on /metrics, with the
	// engine's own counters.
	metrics       *metrics.Prometheus
	engineMetrics *engineMetrics

	secrets    WebhookSecrets
	devSecrets []string // providers on their development default
	servers    []*http.Server

	ctx    context.Context // executions and streams run until Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // streams

	mu      sync.Mutex
	started []*asl.Execution // executions started or resumed, for Close
	swept   int              // len(started) after the last sweep
	closed  bool
}

// Region is one region of the runtime.
type Region struct {
	// Config is the region as its functions see it (config.ForRegion),
	// with the demo subsystems' URLs when Demo.
	Config config.Region
	// URL is the base URL of the region's API.
	URL         string
	Requests    *embedded.Requests
	Checkpoints *embedded.Checkpoints
	Engine      *asl.Engine
	Wired       Wired
	// Queue holds the webhooks the receiver queued for the product.
	Queue *MemoryQueue

	// Resumed counts the executions resumed at start-up.
	Resumed int
	// Watch is the region's deadline watch, which the runtime runs every
	// hour of Lethe's clock (as EventBridge Scheduler runs it on AWS) when
	// it owns its clock; a test calls Watch.Run itself.
	Watch *watch.Watch

	executions *Executions
	gateway    *Gateway
}

// Start builds and starts every region: the store is opened, unfinished
// executions are resumed before any new request is started, then the
// streams and the HTTP servers start. Close stops it all.
func Start(ctx context.Context, o Options) (_ *Runtime, err error) {
	if o.Config == nil || len(o.Config.Regions) == 0 {
		return nil, errors.New("local: a configuration with at least one region is required")
	}
	for i, r := range o.Config.Regions {
		for j, sub := range r.Subsystems {
			if k := sub.Connector.Kind(); k != "" && sub.Connector.Endpoint() == "" {
				return nil, fmt.Errorf("local: regions[%d].subsystems[%d].connector.%s.endpoint: lethe local runs built-in connectors against local servers only: name one (e.g. DynamoDB Local's http://127.0.0.1:8000)", i, j, k)
			}
		}
	}
	if o.DataDir == "" {
		o.DataDir = DataDir()
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("local: data directory: %w", err)
	}
	rt := &Runtime{log: o.Log, metrics: metrics.NewPrometheus(), dataDir: o.DataDir}
	rt.engineMetrics = newEngineMetrics(rt.metrics.Registry())
	rt.ctx, rt.cancel = context.WithCancel(context.WithoutCancel(ctx))
	defer func() {
		if err != nil {
			rt.Close()
		}
	}()

	rt.clock = o.Clock
	if rt.clock == nil {
		c, err := OpenClock(filepath.Join(o.DataDir, clockFileName), o.Speed)
		if err != nil {
			return nil, err
		}
		rt.own, rt.clock = c, c
	}
	if rt.db, err = embedded.Open(filepath.Join(o.DataDir, dbFile), embedded.Options{NoSync: o.NoSync, Now: rt.clock.Now}); err != nil {
		return nil, err
	}
	if rt.outbox, err = NewOutbox(filepath.Join(o.DataDir, outboxDir), rt.clock.Now); err != nil {
		return nil, err
	}

	// Listen first: the demo subsystems' URLs are on the edge port, and
	// the ports must be known before the configuration is built.
	edgeLn, err := listen(o.EdgePort)
	if err != nil {
		return nil, fmt.Errorf("local: status port: %w", err)
	}
	rt.edgeURL = "http://" + edgeLn.Addr().String()
	regionLns := make([]net.Listener, len(o.Config.Regions))
	for i := range o.Config.Regions {
		port := 0
		if o.FirstRegionPort != 0 {
			port = o.FirstRegionPort + i
		}
		if regionLns[i], err = listen(port); err != nil {
			edgeLn.Close()
			for _, ln := range regionLns[:i] {
				ln.Close()
			}
			return nil, fmt.Errorf("local: API port of region %s: %w", o.Config.Regions[i].Name, err)
		}
	}

	rt.secrets, rt.devSecrets = WebhookSecrets(o.WebhookSecrets), nil
	if o.WebhookSecrets == nil {
		var m map[string]string
		m, rt.devSecrets = WebhookSecretsFromEnv(os.LookupEnv)
		rt.secrets = m
	}

	edgeMux := http.NewServeMux()
	rt.cfg = o.Config
	if o.Demo {
		if rt.farm, err = demo.Open(filepath.Join(o.DataDir, demoFile), rt.clock); err != nil {
			closeAll(edgeLn, regionLns)
			return nil, err
		}
		rt.cfg = withDemoSubsystems(o.Config, rt.edgeURL)
		for _, r := range rt.cfg.Regions {
			for _, s := range r.Subsystems {
				if s.Connector != nil {
					continue
				}
				prefix := demoPath(r.Name, s.Name)
				d := o.Config.Demo(r.Name, s.Name)
				// The demo tenants' customers, whom the banner's example
				// webhook redacts, are held besides alice, bob and carol.
				d.Subjects = append(d.Subjects[:len(d.Subjects):len(d.Subjects)], demoSubjectsOf(r.Name)...)
				edgeMux.Handle(prefix+"/", http.StripPrefix(prefix, rt.farm.Subsystem(r.Name, s, d)))
				edgeMux.Handle(prefix+"/faults", rt.farm.FaultsHandler(r.Name, s.Name))
			}
		}
	}

	tokens := secrets.NewCache(NewEnvSecrets(), NewEnvSecrets(), secrets.DefaultTTL, time.Now)
	for i, r := range rt.cfg.Regions {
		subjects, err := subjectkey.LoadOrCreate(filepath.Join(o.DataDir, SubjectKeyFile(r.Name)))
		if err != nil {
			closeAll(edgeLn, regionLns)
			return nil, err
		}
		reg, err := rt.newRegion(r.Name, "http://"+regionLns[i].Addr().String(), tokens, rt.secrets, subjects)
		if err != nil {
			closeAll(edgeLn, regionLns)
			return nil, err
		}
		reg.URL = "http://" + regionLns[i].Addr().String()
		rt.regions = append(rt.regions, reg)
	}

	// Resume every unfinished execution before any stream can start a new
	// one: a request whose execution was under way is continued, never
	// started again.
	for _, reg := range rt.regions {
		xs, err := reg.Engine.Resume(rt.ctx)
		rt.track(xs...)
		for _, x := range xs {
			rt.engineMetrics.watch(reg.Config.Name, x)
		}
		reg.Resumed = len(xs)
		if err != nil {
			closeAll(edgeLn, regionLns)
			return nil, fmt.Errorf("local: region %s: %w", reg.Config.Name, err)
		}
		if len(xs) > 0 {
			rt.log.Info("executions resumed", "region", reg.Config.Name, "count", len(xs))
		}
	}
	for _, reg := range rt.regions {
		h := starter.New(reg.executions, reg.Requests, reg.Config.Name, rt.log.With("function", FunctionName(reg.Config.Name, registry.FnStarter)))
		rt.wg.Add(1)
		go func() {
			defer rt.wg.Done()
			err := reg.Requests.Stream(rt.ctx, h.Handle, embedded.StreamOptions{AWSRegion: reg.Config.AWSRegion})
			if err != nil && rt.ctx.Err() == nil {
				rt.log.Error("stream stopped", "region", reg.Config.Name, "error", err.Error())
			}
		}()
		rt.wg.Add(1)
		go rt.pruneExecutions(reg)
		if rt.own != nil {
			rt.wg.Add(1)
			go rt.watchDeadlines(reg)
		}
	}
	if rt.farm != nil {
		// The demo subsystems that call back finish their erasures and
		// call Lethe back without being asked.
		rt.wg.Add(1)
		go func() {
			defer rt.wg.Done()
			rt.farm.RunCallbacks(rt.ctx, CallbackRound, &http.Client{Timeout: 10 * time.Second})
		}()
	}

	// The edge, on the status port: its routes are patterns of the same
	// mux as the console's and the demo subsystems', so that a pattern
	// that shadowed another would stop Start (ServeMux panics on
	// conflicting patterns) rather than hide a route.
	if rt.edge, err = rt.openEdge(o.DataDir, rt.secrets, o.NoSync); err != nil {
		closeAll(edgeLn, regionLns)
		return nil, err
	}
	if o.Demo {
		if err := rt.registerDemoTenants(ctx, rt.edge); err != nil {
			closeAll(edgeLn, regionLns)
			return nil, err
		}
	}
	con, err := rt.newConsole(o.Operator)
	if err != nil {
		closeAll(edgeLn, regionLns)
		return nil, err
	}
	con.Register(edgeMux)
	edgeMux.Handle("GET /metrics", rt.metrics.Handler())
	rt.edge.route(edgeMux)
	rt.serve(edgeLn, edgeMux)
	for i, reg := range rt.regions {
		rt.serve(regionLns[i], reg.gateway)
	}
	if err := rt.writeURLs(o.DataDir); err != nil {
		return nil, err
	}
	return rt, nil
}

// listen opens a loopback port (0: any free one).
func listen(port int) (net.Listener, error) {
	return net.Listen("tcp", net.JoinHostPort(config.LocalHost, fmt.Sprint(port)))
}

func closeAll(edge net.Listener, regions []net.Listener) {
	edge.Close()
	for _, ln := range regions {
		if ln != nil {
			ln.Close()
		}
	}
}

func (rt *Runtime) serve(ln net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	rt.servers = append(rt.servers, srv)
	go func() {
		if err := srv.Serve(jsonErrorsListener{ln}); err != nil && !errors.Is(err, http.ErrServerClosed) {
			rt.log.Error("http server stopped", "addr", ln.Addr().String(), "error", err.Error())
		}
	}()
}

// demoPath is where a demo subsystem is served on the status port.
func demoPath(region, subsystem string) string { return "/demo/" + region + "/" + subsystem }

// withDemoSubsystems returns a copy of cfg whose subsystems are the demo
// subsystems served at base: their URL replaces baseUrl, and they take no
// token.
func withDemoSubsystems(cfg *config.Config, base string) *config.Config {
	out := *cfg
	out.Regions = make([]config.Region, len(cfg.Regions))
	for i, r := range cfg.Regions {
		r.Subsystems = append([]config.Subsystem(nil), r.Subsystems...)
		for j := range r.Subsystems {
			s := &r.Subsystems[j]
			if s.Connector != nil {
				continue // erased by its connector, in the local server it names
			}
			s.BaseURL = base + demoPath(r.Name, s.Name)
			s.Token = config.TokenSource{Kind: config.TokenNone}
		}
		out.Regions[i] = r
	}
	return &out
}

// newRegion wires one region as its stack and functions are wired on AWS.
func (rt *Runtime) newRegion(name, url string, tokens *secrets.Cache, hooks WebhookSecrets, subjects *subjectkey.Key) (*Region, error) {
	// What the region's functions are given: LETHE_CONFIG is
	// config.ForRegion, so they know nothing of the other regions.
	own, err := rt.cfg.ForRegion(name)
	if err != nil {
		return nil, err
	}
	r := own.Regions[0]
	reg := &Region{
		Config:      r,
		Requests:    rt.db.Requests(name),
		Checkpoints: rt.db.Checkpoints(name),
		Queue:       NewMemoryQueue(rt.log.With("region", name)),
	}
	reg.Engine = asl.NewEngine(asl.Options{
		Clock: rt.clock, Checkpoints: reg.Checkpoints, Region: r.AWSRegion, Account: Account,
		Publisher: rt.outbox, KeepFinished: KeepFinished,
		OnInvoke: func(fn string, took time.Duration, failed bool) { rt.engineMetrics.task(name, fn, took, failed) },
	})
	fnLog := func(fn string) *slog.Logger { return rt.log.With("function", FunctionName(name, fn)) }
	// One connector serves the three subsystem tasks, as one package does
	// for their three functions; its log lines name the task (op).
	// The region's signing key: KMS's stand-in, a key file in the data
	// directory.
	signer, err := proof.LoadOrCreateLocal(filepath.Join(rt.dataDir, SigningKeyFile(name)))
	if err != nil {
		return nil, fmt.Errorf("local: region %s: %w", name, err)
	}
	issuer := certify.New(reg.Requests, certify.Signing(signer, name, r.AWSRegion), rt.clock.Now, fnLog(registry.FnCertify))
	tasks := EngineTasks{Engine: reg.Engine}
	handlers, err := TaskHandlers(own, r, SubsystemTopics(r), tokens, reg.Requests, rt.outbox.Mailer(), issuer, rt.log.With("region", name), rt.metrics,
		subsystem.WithCallbacks(reg.Requests, tasks, url+CallbackPath))
	if err != nil {
		return nil, fmt.Errorf("local: region %s: %w", name, err)
	}
	if reg.Wired, err = Wire(reg.Engine, r, handlers); err != nil {
		return nil, err
	}
	reg.executions = &Executions{
		engine: reg.Engine, checkpoints: reg.Checkpoints, machine: reg.Wired.Main,
		ctx: rt.ctx, running: make(chan struct{}, MaxRunning),
		track: func(xs ...*asl.Execution) {
			rt.track(xs...)
			for _, x := range xs {
				rt.engineMetrics.watch(name, x)
			}
		},
	}
	apiHandler := api.New(reg.Requests, subjects, own, r, api.WithClock(rt.clock.Now), api.WithLogger(fnLog(registry.FnAPI)), api.WithMetrics(rt.metrics),
		api.WithExecutions(reg.executions), api.WithNotices(rt.outbox.Notices(TopicArn(r, NoticesTopicName(name)))),
		api.WithProof(certify.KeysOf(signer), issuer), api.WithTasks(tasks))
	alerts := &outboxAlerts{outbox: rt.outbox, topic: reg.Wired.OpsTopic}
	reg.Watch = watch.New(reg.Requests, rt.outbox.Mailer(), reg.Wired.OpsTopic, own, name, rt.metrics, rt.clock.Now,
		fnLog(registry.FnDeadlineWatch))
	// The receiver checks signatures against the wall clock: a provider
	// signs with real time, whatever Lethe's clock says.
	// Its webhook secrets are the edge's (WebhookSecrets).
	recv := receiver.New(reg.Requests, subjects, hooks, reg.Queue, alerts, own, r, receiver.WithReceiptClock(rt.clock.Now), receiver.WithMetrics(rt.metrics),
		receiver.WithLogger(fnLog(registry.FnWebhookReceiver)))
	reg.gateway = NewGateway(RegionalRoutes, map[string]ProxyHandler{
		registry.FnAPI:             apiHandler.Handle,
		registry.FnWebhookReceiver: recv.Handle,
	}, rt.log.With("region", name))
	return reg, nil
}

// track remembers executions so that Close can wait for them to stop.
// Finished ones are dropped whenever the list has doubled since the last
// sweep, so that tracking costs O(1) per execution however many run.
func (rt *Runtime) track(xs ...*asl.Execution) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.started = append(rt.started, xs...)
	if len(rt.started) < 2*rt.swept+64 {
		return
	}
	kept := rt.started[:0]
	for _, x := range rt.started {
		select {
		case <-x.Done():
		default:
			kept = append(kept, x)
		}
	}
	clear(rt.started[len(kept):])
	rt.started = kept
	rt.swept = len(kept)
}

// Regions are the running regions, in configuration order.
func (rt *Runtime) Regions() []*Region { return rt.regions }

// Region returns a region by short name.
func (rt *Runtime) Region(name string) (*Region, bool) {
	for _, r := range rt.regions {
		if r.Config.Name == name {
			return r, true
		}
	}
	return nil, false
}

// StatusURL is the console's first page (the requests).
func (rt *Runtime) StatusURL() string { return rt.edgeURL + "/" }

// EdgeURL is the base URL of the edge (and of the console).
func (rt *Runtime) EdgeURL() string { return rt.edgeURL }

// Edge is the local edge.
func (rt *Runtime) Edge() *Edge { return rt.edge }

// WebhookSecret is the provider's webhook signing secret ("" if none), and
// whether it is the development default.
func (rt *Runtime) WebhookSecret(provider string) (secret string, dev bool) {
	return rt.secrets[provider], slices.Contains(rt.devSecrets, provider)
}

// Config is the configuration the regions run with (demo URLs filled).
func (rt *Runtime) Config() *config.Config { return rt.cfg }

// Farm is the demo subsystems (nil without Demo).
func (rt *Runtime) Farm() *demo.Farm { return rt.farm }

// Outbox is the SNS stand-in.
func (rt *Runtime) Outbox() *Outbox { return rt.outbox }

// Clock is Lethe's clock in this process.
func (rt *Runtime) Clock() asl.Clock { return rt.clock }

// closeWait bounds how long Close waits for executions to notice that
// they are stopped (a task handler's HTTP call returns on cancellation).
const closeWait = 10 * time.Second

// Close shuts down as a SIGTERM should: the HTTP servers stop taking
// requests and finish those in flight; the streams stop; every execution
// is stopped where it is, its checkpoint left unfinished for the next
// Start to resume; then the files are closed.
func (rt *Runtime) Close() error {
	rt.mu.Lock()
	if rt.closed {
		rt.mu.Unlock()
		return nil
	}
	rt.closed = true
	rt.mu.Unlock()
	var errs []error
	if rt.urlsFile != "" {
		// First, so that no CLI is sent to a runtime on its way out.
		if err := os.Remove(rt.urlsFile); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	// The APIs first: no new request is filed while the rest stops.
	rt.shutdown(rt.servers[min(1, len(rt.servers)):]...)
	rt.cancel()
	rt.wg.Wait()
	rt.mu.Lock()
	running := rt.started
	rt.started = nil
	rt.mu.Unlock()
	deadline := time.After(closeWait)
wait:
	for _, x := range running {
		select {
		case <-x.Done():
		case <-deadline:
			errs = append(errs, errors.New("local: executions did not stop in time; their checkpoints resume them"))
			break wait
		}
	}
	// Then the console and the demo subsystems, which the stopped
	// executions no longer call.
	rt.shutdown(rt.servers[:min(1, len(rt.servers))]...)
	if rt.farm != nil {
		errs = append(errs, rt.farm.Close())
	}
	if rt.edge != nil {
		errs = append(errs, rt.edge.DB.Close())
	}
	if rt.outbox != nil {
		errs = append(errs, rt.outbox.Close())
	}
	if rt.db != nil {
		errs = append(errs, rt.db.Close())
	}
	if rt.own != nil {
		errs = append(errs, rt.own.Close())
	}
	return errors.Join(errs...)
}

// shutdownGrace is how long Close lets requests in flight finish. An HTTP
// client may hold a connection it dialled but never used, which Shutdown
// counts as active for 5 s; after the grace the server is closed.
const shutdownGrace = time.Second

// shutdown stops servers gracefully, then by force.
func (rt *Runtime) shutdown(servers ...*http.Server) {
	var wg sync.WaitGroup
	for _, s := range servers {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
			defer cancel()
			if err := s.Shutdown(ctx); err != nil {
				s.Close()
			}
		})
	}
	wg.Wait()
}

// Executions is the Step Functions StartExecution the starter calls
// (starter.Executions), over a region's engine.
type Executions struct {
	engine      *asl.Engine
	checkpoints *embedded.Checkpoints
	machine     string
	ctx         context.Context // executions outlive the stream batch that started them
	track       func(...*asl.Execution)
	// running holds one token per execution this adapter started that has
	// not ended: at most MaxRunning run at once. A request beyond waits on
	// the stream, durable, as a throttled StartExecution would be retried.
	running chan struct{}
}

// MaxRunning bounds the executions a region runs at once under lethe
// local. Every running execution is held in memory (its state, history and
// goroutines); without a bound, a burst of 100,000 filed requests would
// hold 100,000 executions at once. The bound does not slow a region down:
// its store's commits are the limit well before it.
const MaxRunning = 1000

var _ starter.Executions = (*Executions)(nil)

// Start starts the main machine unless an execution of that name exists,
// running or finished, in memory or in the store: then it has been
// started, as StartExecution's ExecutionAlreadyExists tells the starter on
// AWS. No request ever gets a second execution.
func (x *Executions) Start(ctx context.Context, name, input string) error {
	arn := ExecutionArn(x.engine, x.machine, name)
	exists, err := x.checkpoints.Exists(ctx, arn)
	if err != nil {
		return fmt.Errorf("start execution %s: %w", name, err)
	}
	if exists {
		return nil
	}
	select {
	case x.running <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("start execution %s: %w", name, ctx.Err())
	}
	ex, err := x.engine.Start(x.ctx, x.machine, name, json.RawMessage(input))
	switch {
	case err != nil && strings.HasPrefix(err.Error(), "ExecutionAlreadyExists"):
		<-x.running
		return nil
	case err != nil:
		<-x.running
		return fmt.Errorf("start execution %s: %w", name, err)
	}
	x.track(ex)
	go func() {
		<-ex.Done()
		<-x.running
	}()
	return nil
}

// ExecutionArn is the ARN an engine gives an execution of a machine.
func ExecutionArn(e *asl.Engine, machine, name string) string {
	m := e.MachineArn(machine)
	return strings.Replace(m, ":stateMachine:", ":execution:", 1) + ":" + name
}
