package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go/logging"

	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/edge"
)

// The operator commands (lethe tenants, lethe quarantine) call the edge's and
// the regions' IAM-authorised routes with the operator's own AWS
// credentials, signed as the edge signs its calls to the regions.

// operator holds what the operator commands need from outside: the AWS
// credentials, the HTTP client and the retry policy. Tests build one with a
// static credential provider and a fast policy.
type operator struct {
	credentials func(ctx context.Context) (aws.CredentialsProvider, error)
	client      edge.Doer
	policy      edge.RetryPolicy
}

// defaultOperator signs with the AWS SDK's default credential chain
// (environment, shared profile, SSO, instance role).
var defaultOperator = &operator{
	credentials: func(ctx context.Context) (aws.CredentialsProvider, error) {
		// The SDK's own log (an IMDS fallback warning) is no operator's
		// business; a failure comes back as the error.
		cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithLogger(logging.Nop{}))
		if err != nil {
			return nil, err
		}
		return cfg.Credentials, nil
	},
	client: edge.NewHTTPClient(),
	// API Gateway cuts a call off after 29 s; every operator route is
	// idempotent, so an attempt that timed out may be repeated.
	policy: edge.RetryPolicy{Attempts: 3, Timeout: 30 * time.Second, Backoff: []time.Duration{time.Second, 2 * time.Second}},
}

// usageError is a mistake in the command line: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// exitCode prints err (if any) as "<prefix>: <err>" and returns the
// command's exit status: 0, 2 for a usage error, 1 for any other failure.
func exitCode(stderr io.Writer, prefix, usage string, err error) int {
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "%s: %v\n", prefix, err)
	var ue *usageError
	if errors.As(err, &ue) {
		synopsis, _, _ := strings.Cut(usage, "\n\n")
		fmt.Fprintln(stderr, synopsis)
		return 2
	}
	return 1
}

// subcommand runs one operator subcommand; its error decides the exit
// status (exitCode).
type subcommand func(ctx context.Context, args []string, stdout io.Writer) error

// dispatch runs the subcommand args[0] of the command name.
func dispatch(ctx context.Context, name, usage string, subs map[string]subcommand, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stdout, usage)
		return 0
	}
	sub, ok := subs[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "%s: unknown subcommand %q\n%s\n", name, args[0], usage)
		return 2
	}
	err := sub(ctx, args[1:], stdout)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(stdout, usage)
		return 0
	}
	return exitCode(stderr, name+" "+args[0], usage, err)
}

// opsFlags are the flags every operator command shares.
type opsFlags struct {
	configPath string
	edgeURL    string
	regionURL  string
	noSign     bool
	json       bool
}

func (f *opsFlags) register(fs *flag.FlagSet, withRegionURL bool) {
	fs.StringVar(&f.configPath, "config", "cdk.json", "`file` holding the configuration in its context.lethe")
	fs.StringVar(&f.edgeURL, "edge-url", "", "edge API base `URL` (default: edge.apiUrl of the configuration)")
	if withRegionURL {
		fs.StringVar(&f.regionURL, "region-url", "", "regional API base `URL` (default: regions[].apiUrl of the configuration)")
	}
	fs.BoolVar(&f.noSign, "no-sign", false, "send unsigned requests (a local API on 127.0.0.1)")
	fs.BoolVar(&f.json, "json", false, "print the APIs' raw answers as one JSON object")
}

// parseArgs parses flags given before, between or after the positional
// arguments (Go's flag package stops at the first positional one) and
// returns the positional arguments.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
			return nil, err
		} else if err != nil {
			return nil, &usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// session is one operator command's view of the APIs: the configuration,
// the endpoints and a client that signs (or not).
type session struct {
	op    *operator
	cfg   *config.Config
	flags *opsFlags
	// edge is the edge API, which every operator command calls.
	edge   config.RegionEndpoint
	client *edge.RegionalClient
	policy edge.RetryPolicy
	// calls collects every answer, for --json.
	calls map[string]rawAnswer
	// headers go with every call (the operator's name to lethe local).
	headers http.Header
}

// rawAnswer is one API answer as --json prints it.
type rawAnswer struct {
	Status int             `json:"status"`
	Body   json.RawMessage `json:"body"`
}

// open loads the configuration, checks the URL overrides and resolves the
// edge API's endpoint. Nothing is sent yet.
func (o *operator) open(f *opsFlags, policy edge.RetryPolicy) (*session, error) {
	for _, u := range []struct{ flag, value string }{{"--edge-url", f.edgeURL}, {"--region-url", f.regionURL}} {
		if err := checkURL(u.value); err != nil {
			return nil, usagef("%s: %v", u.flag, err)
		}
	}
	cfg, err := config.Load(f.configPath)
	if err != nil {
		return nil, fmt.Errorf("%w (pass --config FILE to read another cdk.json)", err)
	}
	s := &session{op: o, cfg: cfg, flags: f, policy: policy, calls: map[string]rawAnswer{}}
	if s.edge, err = s.edgeAPI(); err != nil {
		return nil, err
	}
	return s, nil
}

// connect builds the client at the first call, once every endpoint the
// command needs is resolved: unless --no-sign, it fetches the operator's
// AWS credentials first, so that a missing profile is one clear error
// rather than a failed call.
func (s *session) connect(ctx context.Context) error {
	if s.client != nil {
		return nil
	}
	var creds aws.CredentialsProvider
	if !s.flags.noSign {
		var err error
		creds, err = s.op.credentials(ctx)
		if err == nil {
			_, err = creds.Retrieve(ctx)
		}
		if err != nil {
			return fmt.Errorf("AWS credentials: %w (configure a profile or the AWS_* variables; --no-sign for a local API)", err)
		}
	}
	s.client = edge.NewRegionalClient(s.op.client, creds, s.policy)
	return nil
}

// checkURL accepts what config accepts for an apiUrl: https, or http on
// the loopback interface, without query or fragment.
func checkURL(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	local := u != nil && u.Scheme == "http" && (u.Hostname() == "127.0.0.1" || u.Hostname() == "localhost")
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || (u.Scheme != "https" && !local) {
		return fmt.Errorf("%q must be an https URL without query or fragment (http only on 127.0.0.1)", raw)
	}
	return nil
}

// edgeAPI is the edge API's endpoint: --edge-url or edge.apiUrl.
func (s *session) edgeAPI() (config.RegionEndpoint, error) {
	e := config.RegionEndpoint{Name: "edge", AWSRegion: s.cfg.Edge.AWSRegion, APIURL: s.cfg.Edge.APIURL}
	if s.flags.edgeURL != "" {
		e.APIURL = s.flags.edgeURL
	}
	if e.APIURL == "" {
		return e, fmt.Errorf("edge.apiUrl is empty in %s (the edge is not deployed, or its URL is not recorded): set it or pass --edge-url", s.flags.configPath)
	}
	if e.AWSRegion == "" && !s.flags.noSign {
		return e, fmt.Errorf("edge.awsRegion is empty in %s: the edge API's AWS region is needed to sign; set it, or pass --no-sign for a local API", s.flags.configPath)
	}
	return e, nil
}

// regionAPI is the named region's API endpoint: --region-url or
// regions[i].apiUrl. An unknown region is a usage error.
func (s *session) regionAPI(name string) (config.RegionEndpoint, error) {
	for i, r := range s.cfg.Regions {
		if r.Name != name {
			continue
		}
		e := config.RegionEndpoint{Name: r.Name, AWSRegion: r.AWSRegion, APIURL: r.APIURL}
		if s.flags.regionURL != "" {
			e.APIURL = s.flags.regionURL
		}
		if e.APIURL == "" {
			return e, fmt.Errorf("regions[%d].apiUrl (region %s) is empty in %s (the region is not deployed, or its URL is not recorded): set it or pass --region-url",
				i, name, s.flags.configPath)
		}
		return e, nil
	}
	return config.RegionEndpoint{}, usagef("no region %q in %s; regions: %s", name, s.flags.configPath, strings.Join(s.regionNames(), ", "))
}

func (s *session) regionNames() []string {
	names := make([]string, len(s.cfg.Regions))
	for i, r := range s.cfg.Regions {
		names[i] = r.Name
	}
	return names
}

// call sends one request and records its answer under key for --json. A
// transport failure or exhausted retries is an error; any HTTP answer is
// returned for the caller to judge.
func (s *session) call(ctx context.Context, key string, to config.RegionEndpoint, method, escapedPath string, body any) (int, []byte, error) {
	if err := s.connect(ctx); err != nil {
		return 0, nil, err
	}
	h := s.headers.Clone()
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			return 0, nil, err
		}
		if h == nil {
			h = http.Header{}
		}
		h.Set("Content-Type", "application/json")
	}
	status, answer, err := s.client.Call(ctx, to, method, escapedPath, h, b)
	if err != nil {
		var ru *edge.RegionUnavailable
		if errors.As(err, &ru) {
			if ru.Err != nil {
				return 0, nil, fmt.Errorf("%s %s %s: no answer: %w", apiName(to), method, pathOnly(escapedPath), ru.Err)
			}
			s.record(key, ru.Status, nil)
			return 0, nil, fmt.Errorf("%s %s %s: HTTP %d after %d attempts", apiName(to), method, pathOnly(escapedPath), ru.Status, s.policy.Attempts)
		}
		return 0, nil, fmt.Errorf("%s %s %s: %w", apiName(to), method, pathOnly(escapedPath), err)
	}
	s.record(key, status, answer)
	return status, answer, nil
}

func (s *session) record(key string, status int, body []byte) {
	raw := json.RawMessage(body)
	if !json.Valid(body) {
		raw, _ = json.Marshal(string(body))
	}
	s.calls[key] = rawAnswer{Status: status, Body: raw}
}

// apiName names an endpoint in messages: "edge API" or "region eu API".
func apiName(e config.RegionEndpoint) string {
	if e.Name == "edge" {
		return "edge API"
	}
	return "region " + e.Name + " API"
}

func pathOnly(escapedPath string) string {
	p, _, _ := strings.Cut(escapedPath, "?")
	return p
}

// apiError is an API's refusal, shown with the house error's code, message
// and field (or API Gateway's own {"message"} for an IAM denial).
type apiError struct {
	api, method, path string
	status            int
	code, message     string
	field             string
}

func (e *apiError) Error() string {
	msg := fmt.Sprintf("%s %s %s: HTTP %d", e.api, e.method, e.path, e.status)
	if e.code != "" {
		msg += " " + e.code
	}
	if e.message != "" {
		msg += ": " + e.message
	}
	if e.field != "" {
		msg += " (field " + e.field + ")"
	}
	return msg
}

// refusal builds the apiError of an answer the caller did not expect.
func refusal(to config.RegionEndpoint, method, escapedPath string, status int, body []byte) *apiError {
	var house struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Field   string `json:"field"`
		} `json:"error"`
		Message  string `json:"message"` // API Gateway: {"message":"Forbidden"}
		MessageU string `json:"Message"` // IAM: {"Message":"User: ... is not authorized ..."}
	}
	e := &apiError{api: apiName(to), method: method, path: pathOnly(escapedPath), status: status}
	if json.Unmarshal(body, &house) == nil {
		e.code, e.message, e.field = house.Error.Code, house.Error.Message, house.Error.Field
		if e.message == "" {
			e.message = house.Message + house.MessageU
		}
	}
	return e
}

// printJSON writes the recorded answers as one indented JSON object.
func (s *session) printJSON(w io.Writer, extra map[string]any) {
	out := map[string]any{}
	for k, v := range s.calls {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	b, _ := json.MarshalIndent(out, "", "  ")
	fmt.Fprintln(w, string(b))
}

// expect sends one request (recorded under key for --json) and returns
// the answer's status when it is one of ok, having decoded a 2xx body into
// out (when not nil); any other answer is the API's refusal (*apiError).
func (s *session) expect(ctx context.Context, key string, to config.RegionEndpoint, method, escapedPath string, in, out any, ok ...int) (int, error) {
	status, body, err := s.call(ctx, key, to, method, escapedPath, in)
	if err != nil {
		return 0, err
	}
	if !slices.Contains(ok, status) {
		return status, refusal(to, method, escapedPath, status, body)
	}
	if out != nil && status >= 200 && status < 300 {
		if err := json.Unmarshal(body, out); err != nil {
			return status, fmt.Errorf("%s %s %s: the answer is not the expected JSON: %v", apiName(to), method, pathOnly(escapedPath), err)
		}
	}
	return status, nil
}

// finish ends a command: with --json the answers (and extra) on stdout,
// whatever the outcome; else the lines, then err.
func (s *session) finish(stdout io.Writer, lines []string, extra map[string]any, err error) error {
	if s.flags.json {
		s.printJSON(stdout, extra)
		return err
	}
	for _, l := range lines {
		fmt.Fprintln(stdout, l)
	}
	return err
}
