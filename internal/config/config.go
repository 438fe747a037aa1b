// Package config is Lethe's one source of configuration: the regions, each
// region's subsystems, the deadline policy and the edge. The CDK app and the
// local runtime both read it from the "lethe" key of cdk.json's context, so
// what is deployed and what runs on a laptop cannot drift apart.
package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/mail"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/lethe-erasure/lethe/internal/strictjson"
)

// ContextKey is the key under cdk.json's "context" that holds Lethe's
// configuration.
const ContextKey = "lethe"

// Mode says how a subsystem erases: in one call, or by submitting a job that
// Lethe then polls.
type Mode string

// The two subsystem modes of the contract in DESIGN.md.
const (
	ModeSync  Mode = "sync"
	ModeAsync Mode = "async"
)

// Config is the whole of Lethe's configuration.
type Config struct {
	Deadline Deadline `json:"deadline"`
	Regions  []Region `json:"regions"`
	Edge     Edge     `json:"edge"`
	// Local tunes the embedded default (`lethe local`); nothing deployed
	// reads it.
	Local Local `json:"local,omitzero"`
}

// Deadline is how long after receipt an erasure must be finished. GDPR
// Art. 12(3) gives one month; a controller may choose a shorter one.
type Deadline struct {
	Months int `json:"months"`
	Days   int `json:"days"`
	// AtRiskBeforeHours marks an open request at risk once its deadline is
	// this close: subsystem admins are mailed once, and the deadline watch
	// counts it. Default 168 (seven days).
	AtRiskBeforeHours int `json:"atRiskBeforeHours,omitempty"`
	// ForgetFailedAfterDays is how long after its deadline a failed request
	// that nobody settled keeps its subject id (for a retry or an
	// attestation); then the deadline watch forgets it. Default 30.
	ForgetFailedAfterDays int `json:"forgetFailedAfterDays,omitempty"`
}

// ForgetFailedAfter is how long after its deadline a failed request keeps
// its subject (the default where the configuration was not parsed).
func (d Deadline) ForgetFailedAfter() time.Duration {
	if d.ForgetFailedAfterDays == 0 {
		return DefaultForgetFailedAfterDays * 24 * time.Hour
	}
	return time.Duration(d.ForgetFailedAfterDays) * 24 * time.Hour
}

// AtRiskBefore is how long before its deadline an open request is at risk
// (the default where the configuration was not parsed).
func (d Deadline) AtRiskBefore() time.Duration {
	if d.AtRiskBeforeHours == 0 {
		return DefaultAtRiskBeforeHours * time.Hour
	}
	return time.Duration(d.AtRiskBeforeHours) * time.Hour
}

// AtRisk reports whether a request with this deadline is at risk at now
// (past-deadline requests are at risk too; callers tell overdue apart).
func (d Deadline) AtRisk(deadline, now time.Time) bool {
	return !now.Before(deadline.Add(-d.AtRiskBefore()))
}

// Region is one independent regional stack, Lethe-<Name>.
type Region struct {
	// Name is the short name that appears in every id (eu, us, ...).
	Name string `json:"name"`
	// AWSRegion is where the stack is deployed (eu-west-1, ...).
	AWSRegion string `json:"awsRegion"`
	// Account optionally pins the AWS account of the stack.
	Account string `json:"account,omitempty"`
	// OpsEmails receive the region's ops alerts: a request that failed in
	// any subsystem, a stream record that could not start an erasure.
	OpsEmails  []string    `json:"opsEmails,omitempty"`
	Subsystems []Subsystem `json:"subsystems"`
	// APIURL is the base URL of the region's deployed API (its stage URL,
	// https). The edge forwards webhooks to it, redirects to it and files
	// global erasures with it. Empty until the region is deployed; the edge
	// routes nothing to a region without one.
	APIURL string `json:"apiUrl,omitempty"`
}

// Subsystem is one system that holds personal data in a region and must
// erase it on request.
type Subsystem struct {
	Name    string `json:"name"`
	Mode    Mode   `json:"mode"`
	BaseURL string `json:"baseUrl,omitempty"`
	// Connector, instead of BaseURL, erases with one of Lethe's built-in
	// connectors in a store Lethe reaches itself (mode sync; no token).
	Connector   *Connector `json:"connector,omitempty"`
	AdminEmails []string   `json:"adminEmails"`
	// TimeoutSeconds bounds one HTTP call to the subsystem.
	TimeoutSeconds int `json:"timeoutSeconds"`
	// Token says where the subsystem's bearer token is kept.
	Token TokenSource `json:"token"`
	// Poll is the polling policy of an async subsystem.
	Poll *PollPolicy `json:"poll,omitempty"`
	// Callback, for an async subsystem, has Lethe's submit carry a
	// callbackUrl and a callbackToken: the subsystem says when it is done
	// (POST /callbacks), and Lethe checks its status only at the sparse
	// intervals of its poll policy (default from one day, doubling) when no
	// callback has come.
	Callback bool `json:"callback,omitempty"`
	// Retry is how Lethe persists while the subsystem is unavailable (429,
	// 5xx, timeouts, refused connections), for sync deletes, async submits
	// and status checks alike.
	Retry *RetryPolicy `json:"retry,omitempty"`
}

// RetryPolicy is the capped back-off of calls to an unavailable subsystem:
// the first retry after InitialSeconds, each wait Multiplier times the last,
// capped at MaxSeconds, until GiveUpBeforeHours before the request's
// deadline. Its admins are mailed once when it has been unavailable for
// AlertAfterHours.
type RetryPolicy struct {
	// PollPolicy is the back-off (initialSeconds, maxSeconds, multiplier),
	// the same shape and rule as an async subsystem's polling.
	PollPolicy
	GiveUpBeforeHours int `json:"giveUpBeforeHours"`
	AlertAfterHours   int `json:"alertAfterHours"`
}

// TokenSource names where a subsystem's bearer token lives. With Kind
// "secretsmanager" and no Name, the regional stack creates the secret
// lethe/<region>/<subsystem>/token for the subsystem's owner to fill.
type TokenSource struct {
	Kind string `json:"kind"`
	Name string `json:"name,omitempty"`
}

// Token source kinds.
const (
	TokenSecretsManager = "secretsmanager"
	TokenSSM            = "ssm"
	TokenNone           = "none"
)

// PollPolicy is the back-off of an async subsystem's status checks: the first
// check after InitialSeconds, each wait Multiplier times the last, capped at
// MaxSeconds, and never past the request's deadline.
type PollPolicy struct {
	InitialSeconds int     `json:"initialSeconds"`
	MaxSeconds     int     `json:"maxSeconds"`
	Multiplier     float64 `json:"multiplier"`
}

// Edge configures the edge stack (webhook fan-out, tenant directory).
type Edge struct {
	AWSRegion string `json:"awsRegion"`
	Account   string `json:"account,omitempty"`
	// OpsEmails receive the edge's alerts: a quarantined delivery, a
	// delivery no region accepted.
	OpsEmails []string `json:"opsEmails,omitempty"`
	// MulticastTopics are webhook topics ("<provider>/<topic>", e.g.
	// "shopify/app/uninstalled") known to carry no personal data. Of a
	// tenant not yet in the directory (but verified at the edge) they go to
	// every region, which acknowledges and drops tenants it does not own,
	// instead of waiting in quarantine; a known tenant's deliveries go to
	// its home region only, whatever their topic.
	MulticastTopics []string `json:"multicastTopics,omitempty"`
	// QuarantineHours is how long an unknown tenant's delivery is kept for
	// release before it expires.
	QuarantineHours int `json:"quarantineHours,omitempty"`
	// SignatureToleranceSeconds is the largest age of a signed webhook
	// timestamp that is still accepted (replay protection).
	SignatureToleranceSeconds int `json:"signatureToleranceSeconds,omitempty"`
	// APIURL is the base URL of the deployed edge API, which the operator
	// CLI calls (tenant registration, quarantine release, global
	// erasures). Empty until the edge is deployed.
	APIURL string `json:"apiUrl,omitempty"`
}

// Defaults applied to fields a configuration leaves out.
const (
	DefaultTimeoutSeconds     = 10
	DefaultPollInitialSeconds = 60
	DefaultPollMaxSeconds     = 6 * 3600
	DefaultPollMultiplier     = 2.0
	// A subsystem that calls back is checked sparsely, as a fallback: a
	// day after submission, then two, four, and a week apart.
	DefaultCallbackPollInitialSeconds = 24 * 3600
	DefaultCallbackPollMaxSeconds     = 7 * 24 * 3600
	// MaxSubsystemsPerRegion keeps a region's subsystem list within what one
	// Lambda environment (4 KB) and one Map state carry comfortably.
	MaxSubsystemsPerRegion = 10
	// DefaultQuarantineHours keeps an unknown tenant's delivery three days:
	// long enough to register the tenant, short for a body held in the
	// edge's region.
	DefaultQuarantineHours = 72
	// DefaultSignatureToleranceSeconds is the replay window of signed
	// webhook timestamps.
	DefaultSignatureToleranceSeconds = 300
	// DefaultAtRiskBeforeHours: a request is at risk in its last week.
	DefaultAtRiskBeforeHours = 7 * 24
	// DefaultForgetFailedAfterDays: a failed request nobody settles keeps
	// its subject for 30 days after its deadline.
	DefaultForgetFailedAfterDays = 30
	// Defaults of RetryPolicy: from one minute doubling to six hours, until
	// one day before the deadline; admins mailed after six hours down.
	DefaultRetryInitialSeconds    = 60
	DefaultRetryMaxSeconds        = 6 * 3600
	DefaultRetryMultiplier        = 2.0
	DefaultRetryGiveUpBeforeHours = 24
	DefaultRetryAlertAfterHours   = 6
)

// Error names the configuration key that is wrong and why.
type Error struct {
	Key     string
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("config %s: %s", e.Key, e.Message) }

var (
	nameRE      = regexp.MustCompile(`^[a-z][a-z0-9]{0,9}$`)
	subsystemRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)
	awsRegionRE = regexp.MustCompile(`^[a-z]{2}(-gov)?-[a-z]+-[0-9]$`)
	accountRE   = regexp.MustCompile(`^[0-9]{12}$`)
	topicRE     = regexp.MustCompile(`^[a-z][a-z0-9-]*/[a-z0-9_./-]+$`)
)

// Parse reads a configuration from JSON (the value of the "lethe" context
// key), fills defaults and validates it. Unknown keys are errors: a typo in
// a deadline must not silently fall back to the default.
func Parse(data []byte) (*Config, error) {
	if path, lone := strictjson.LoneSurrogate(data); lone {
		return nil, &Error{Key: path, Message: "holds an unpaired UTF-16 surrogate escape, which is no character"}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c Config
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c.applyDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Load reads the configuration from a cdk.json file's context.
func Load(cdkJSONPath string) (*Config, error) {
	data, err := os.ReadFile(cdkJSONPath)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	var file struct {
		Context map[string]json.RawMessage `json:"context"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		return nil, fmt.Errorf("config: %s: %w", cdkJSONPath, err)
	}
	raw, ok := file.Context[ContextKey]
	if !ok {
		return nil, &Error{Key: "context." + ContextKey, Message: "missing in " + cdkJSONPath}
	}
	return Parse(raw)
}

func (c *Config) applyDefaults() {
	if c.Deadline.Months == 0 && c.Deadline.Days == 0 {
		c.Deadline.Months = 1
	}
	if c.Deadline.AtRiskBeforeHours == 0 {
		c.Deadline.AtRiskBeforeHours = DefaultAtRiskBeforeHours
	}
	if c.Deadline.ForgetFailedAfterDays == 0 {
		c.Deadline.ForgetFailedAfterDays = DefaultForgetFailedAfterDays
	}
	c.Edge.applyDefaults()
	for r := range c.Regions {
		for s := range c.Regions[r].Subsystems {
			sub := &c.Regions[r].Subsystems[s]
			if sub.Connector != nil {
				if sub.Mode == "" {
					sub.Mode = ModeSync
				}
				if sub.Token.Kind == "" {
					sub.Token.Kind = TokenNone
				}
			}
			if sub.TimeoutSeconds == 0 {
				sub.TimeoutSeconds = DefaultTimeoutSeconds
			}
			if sub.Token.Kind == "" {
				sub.Token.Kind = TokenSecretsManager
			}
			if sub.Retry == nil {
				sub.Retry = &RetryPolicy{}
			}
			sub.Retry.applyDefaults()
			if sub.Mode == ModeAsync && sub.Poll == nil {
				sub.Poll = &PollPolicy{}
			}
			if p := sub.Poll; p != nil && sub.Callback {
				p.fill(DefaultCallbackPollInitialSeconds, DefaultCallbackPollMaxSeconds, DefaultPollMultiplier)
			} else if p != nil {
				p.fill(DefaultPollInitialSeconds, DefaultPollMaxSeconds, DefaultPollMultiplier)
			}
		}
	}
}

// Validate checks every field and returns the first problem, naming its key.
// validateResidency refuses a subsystem of region r whose base URL names
// another configured region's AWS region (a host label such as
// "s3.us-west-2.amazonaws.com" or "s3-us-west-2"): Lethe sends a region's
// subjects only to endpoints of that region, on AWS and under lethe local.
func (c *Config) validateResidency(key string, r Region) error {
	for j, s := range r.Subsystems {
		u, err := url.Parse(s.BaseURL)
		if err != nil {
			continue // validateSubsystems says why
		}
		for _, other := range c.Regions {
			if other.AWSRegion == r.AWSRegion {
				continue
			}
			for _, label := range strings.Split(strings.ToLower(u.Hostname()), ".") {
				if label == other.AWSRegion || strings.HasSuffix(label, "-"+other.AWSRegion) {
					return &Error{fmt.Sprintf("%s.subsystems[%d].baseUrl", key, j), fmt.Sprintf(
						"%q names AWS region %s of Lethe region %s: a subsystem of region %s must be served from %s, so that its subjects' data stays there",
						s.BaseURL, other.AWSRegion, other.Name, r.Name, r.AWSRegion)}
				}
			}
		}
	}
	return nil
}

func (c *Config) Validate() error {
	if c.Deadline.Months < 0 || c.Deadline.Days < 0 {
		return &Error{"deadline", "months and days must not be negative"}
	}
	if c.Deadline.Months*31+c.Deadline.Days > 31 {
		return &Error{"deadline", "must not be later than one month after receipt (GDPR Art. 12(3))"}
	}
	if h := c.Deadline.AtRiskBeforeHours; h < 1 || h > 30*24 {
		return &Error{"deadline.atRiskBeforeHours", "must be between 1 and 720 (30 days)"}
	}
	if d := c.Deadline.ForgetFailedAfterDays; d < 1 || d > 366 {
		return &Error{"deadline.forgetFailedAfterDays", "must be between 1 and 366 days"}
	}
	if len(c.Regions) == 0 {
		return &Error{"regions", "at least one region is required"}
	}
	seen := map[string]bool{}
	seenAWS := map[string]bool{}
	for i, r := range c.Regions {
		key := fmt.Sprintf("regions[%d]", i)
		if !nameRE.MatchString(r.Name) {
			return &Error{key + ".name", fmt.Sprintf("%q must be 1-10 lower-case letters or digits, starting with a letter", r.Name)}
		}
		if r.Name == EdgeScope {
			return &Error{key + ".name", fmt.Sprintf("%q is reserved for the edge", r.Name)}
		}
		if seen[r.Name] {
			return &Error{key + ".name", fmt.Sprintf("%q is used by two regions", r.Name)}
		}
		seen[r.Name] = true
		if !awsRegionRE.MatchString(r.AWSRegion) {
			return &Error{key + ".awsRegion", fmt.Sprintf("%q is not an AWS region name", r.AWSRegion)}
		}
		if seenAWS[r.AWSRegion+"/"+r.Account] {
			return &Error{key + ".awsRegion", fmt.Sprintf("%q holds two Lethe regions", r.AWSRegion)}
		}
		seenAWS[r.AWSRegion+"/"+r.Account] = true
		if r.Account != "" && !accountRE.MatchString(r.Account) {
			return &Error{key + ".account", "must be 12 digits"}
		}
		if err := validateEmails(key+".opsEmails", r.OpsEmails); err != nil {
			return err
		}
		if err := validateSubsystems(key, r.AWSRegion, r.Subsystems); err != nil {
			return err
		}
		if err := c.validateResidency(key, r); err != nil {
			return err
		}
		if err := validateAPIURL(key+".apiUrl", r.APIURL); err != nil {
			return err
		}
	}
	if err := c.Edge.validate(); err != nil {
		return err
	}
	return c.Local.validate(c)
}

func (e *Edge) applyDefaults() {
	if e.QuarantineHours == 0 {
		e.QuarantineHours = DefaultQuarantineHours
	}
	if e.SignatureToleranceSeconds == 0 {
		e.SignatureToleranceSeconds = DefaultSignatureToleranceSeconds
	}
}

func (e Edge) validate() error {
	if e.AWSRegion != "" && !awsRegionRE.MatchString(e.AWSRegion) {
		return &Error{"edge.awsRegion", fmt.Sprintf("%q is not an AWS region name", e.AWSRegion)}
	}
	if e.Account != "" && !accountRE.MatchString(e.Account) {
		return &Error{"edge.account", "must be 12 digits"}
	}
	if err := validateEmails("edge.opsEmails", e.OpsEmails); err != nil {
		return err
	}
	if err := validateAPIURL("edge.apiUrl", e.APIURL); err != nil {
		return err
	}
	for i, t := range e.MulticastTopics {
		if !topicRE.MatchString(t) {
			return &Error{fmt.Sprintf("edge.multicastTopics[%d]", i), fmt.Sprintf("%q must be <provider>/<topic>", t)}
		}
	}
	if e.QuarantineHours < 1 || e.QuarantineHours > 14*24 {
		return &Error{"edge.quarantineHours", "must be between 1 and 336 (two weeks)"}
	}
	if e.SignatureToleranceSeconds < 1 || e.SignatureToleranceSeconds > 3600 {
		return &Error{"edge.signatureToleranceSeconds", "must be between 1 and 3600"}
	}
	return nil
}

// validateAPIURL accepts an empty URL (not deployed yet), an https URL, or
// an http URL on the loopback interface (the embedded default).
func validateAPIURL(key, raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	ok := err == nil && u.Host != "" && u.RawQuery == "" && u.Fragment == "" &&
		(u.Scheme == "https" || (u.Scheme == "http" && (u.Hostname() == "127.0.0.1" || u.Hostname() == "localhost")))
	if !ok {
		return &Error{key, fmt.Sprintf("%q must be an https URL without query or fragment (http only on 127.0.0.1)", raw)}
	}
	return nil
}

func validateSubsystems(regionKey, awsRegion string, subs []Subsystem) error {
	if len(subs) == 0 {
		return &Error{regionKey + ".subsystems", "at least one subsystem is required"}
	}
	if len(subs) > MaxSubsystemsPerRegion {
		return &Error{regionKey + ".subsystems", fmt.Sprintf("at most %d subsystems per region", MaxSubsystemsPerRegion)}
	}
	seen := map[string]bool{}
	for i, s := range subs {
		key := fmt.Sprintf("%s.subsystems[%d]", regionKey, i)
		if !subsystemRE.MatchString(s.Name) {
			return &Error{key + ".name", fmt.Sprintf("%q must be 1-32 lower-case letters, digits or dashes, starting with a letter", s.Name)}
		}
		if seen[s.Name] {
			return &Error{key + ".name", fmt.Sprintf("%q is used twice in the region", s.Name)}
		}
		seen[s.Name] = true
		if s.Mode != ModeSync && s.Mode != ModeAsync {
			return &Error{key + ".mode", fmt.Sprintf("%q must be sync or async", s.Mode)}
		}
		if s.Connector != nil {
			switch {
			case s.BaseURL != "":
				return &Error{key + ".baseUrl", "a subsystem has a baseUrl or a connector, not both"}
			case s.Mode != ModeSync:
				return &Error{key + ".mode", "a built-in connector erases in one call: its mode is sync"}
			case s.Token.Kind != TokenNone:
				return &Error{key + ".token", "a built-in connector uses Lethe's own role, not a bearer token"}
			}
			if err := s.Connector.validate(key+".connector", awsRegion); err != nil {
				return err
			}
		} else if u, err := url.Parse(s.BaseURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return &Error{key + ".baseUrl", fmt.Sprintf("%q must be an absolute http(s) URL without query or fragment", s.BaseURL)}
		}
		if err := validateEmails(key+".adminEmails", s.AdminEmails); err != nil {
			return err
		}
		if s.TimeoutSeconds < 1 || s.TimeoutSeconds > 60 {
			return &Error{key + ".timeoutSeconds", "must be between 1 and 60"}
		}
		switch s.Token.Kind {
		case TokenSecretsManager, TokenNone:
		case TokenSSM:
			if !strings.HasPrefix(s.Token.Name, "/") {
				return &Error{key + ".token.name", "an SSM parameter name must start with /"}
			}
		default:
			return &Error{key + ".token.kind", fmt.Sprintf("%q must be secretsmanager, ssm or none", s.Token.Kind)}
		}
		if err := s.Retry.validate(key + ".retry"); err != nil {
			return err
		}
		if s.Mode == ModeSync && s.Poll != nil {
			return &Error{key + ".poll", "only async subsystems are polled"}
		}
		if s.Mode == ModeSync && s.Callback {
			return &Error{key + ".callback", "only async subsystems call back; a sync subsystem answers its delete at once"}
		}
		if p := s.Poll; p != nil {
			if err := p.validate(key+".poll", 7*24*3600, "one week", func(t time.Time) time.Time { return t }); err != nil {
				return err
			}
		}
	}
	return nil
}

// fill sets the back-off's unset fields to the given defaults.
func (p *PollPolicy) fill(initial, maxSeconds int, multiplier float64) {
	if p.InitialSeconds == 0 {
		p.InitialSeconds = initial
	}
	if p.MaxSeconds == 0 {
		p.MaxSeconds = maxSeconds
	}
	if p.Multiplier == 0 {
		p.Multiplier = multiplier
	}
}

// validate checks a back-off: its waits, and its rounds from a start until
// the longest deadline (or the point until maps it to, e.g. the give-up
// point before it) against MaxChecksPerErasure.
func (p PollPolicy) validate(key string, maxSeconds int, maxText string, until func(time.Time) time.Time) error {
	switch {
	case p.InitialSeconds < 1:
		return &Error{key + ".initialSeconds", "must be at least 1"}
	case p.MaxSeconds < p.InitialSeconds:
		return &Error{key + ".maxSeconds", "must not be less than initialSeconds"}
	case p.MaxSeconds > maxSeconds:
		return &Error{key + ".maxSeconds", "must be at most " + maxText}
	case p.Multiplier < 1 || p.Multiplier > 10:
		return &Error{key + ".multiplier", "must be between 1 and 10"}
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if n := p.Checks(start, until(start.Add(LongestDeadline)), MaxChecksPerErasure); n > MaxChecksPerErasure {
		return &Error{key, fmt.Sprintf("would call more than %d times in three months (a deadline extended to the limit); raise initialSeconds, multiplier or maxSeconds", MaxChecksPerErasure)}
	}
	return nil
}

func (p *RetryPolicy) applyDefaults() {
	p.fill(DefaultRetryInitialSeconds, DefaultRetryMaxSeconds, DefaultRetryMultiplier)
	if p.GiveUpBeforeHours == 0 {
		p.GiveUpBeforeHours = DefaultRetryGiveUpBeforeHours
	}
	if p.AlertAfterHours == 0 {
		p.AlertAfterHours = DefaultRetryAlertAfterHours
	}
}

func (p *RetryPolicy) validate(key string) error {
	if p == nil {
		return nil
	}
	switch {
	case p.GiveUpBeforeHours < 1 || p.GiveUpBeforeHours > 14*24:
		return &Error{key + ".giveUpBeforeHours", "must be between 1 and 336 (two weeks)"}
	case p.AlertAfterHours < 1 || p.AlertAfterHours > 14*24:
		return &Error{key + ".alertAfterHours", "must be between 1 and 336 (two weeks)"}
	}
	// A wait of at most 12 h keeps the last retry before the give-up point
	// comfortably inside the final day.
	return p.PollPolicy.validate(key, 12*3600, "43200 (12 hours)", p.GiveUpAt)
}

// Rounds counts the calls to a subsystem that stays unavailable from start
// until the give-up point before deadline, stopping past limit.
func (p RetryPolicy) Rounds(start, deadline time.Time, limit int) int {
	return p.Checks(start, p.GiveUpAt(deadline), limit)
}

// Wait is the back-off before retry n (0 for the first retry after the
// first unavailable answer), capped at MaxSeconds, and never ending past
// giveUpAt (but at least one second).
func (p RetryPolicy) Wait(n int, now, giveUpAt time.Time) int {
	return p.NextPollSeconds(n, now, giveUpAt)
}

// RetryPolicy is the subsystem's retry policy, defaults filled even where
// the configuration was not parsed (a payload's target, a test's literal).
func (s Subsystem) RetryPolicy() RetryPolicy {
	var p RetryPolicy
	if s.Retry != nil {
		p = *s.Retry
	}
	p.applyDefaults()
	return p
}

// GiveUpAt is when Lethe stops retrying an unavailable subsystem of a
// request with this deadline.
func (p RetryPolicy) GiveUpAt(deadline time.Time) time.Time {
	return deadline.Add(-time.Duration(p.GiveUpBeforeHours) * time.Hour)
}

// AlertAfter is how long a subsystem may be unavailable before its admins
// are mailed.
func (p RetryPolicy) AlertAfter() time.Duration { return time.Duration(p.AlertAfterHours) * time.Hour }

func validateEmails(key string, emails []string) error {
	for j, e := range emails {
		if a, err := mail.ParseAddress(e); err != nil || a.Address != e {
			return &Error{fmt.Sprintf("%s[%d]", key, j), fmt.Sprintf("%q is not a plain e-mail address", e)}
		}
	}
	return nil
}

// Region returns the region with the given short name.
func (c *Config) Region(name string) (Region, bool) {
	for _, r := range c.Regions {
		if r.Name == name {
			return r, true
		}
	}
	return Region{}, false
}

// ForRegion returns a configuration holding only one region: what a
// regional stack or a regional function is allowed to know.
func (c *Config) ForRegion(name string) (*Config, error) {
	r, ok := c.Region(name)
	if !ok {
		return nil, &Error{"regions", fmt.Sprintf("no region named %q", name)}
	}
	// The edge's multicast topics, replay window and quarantine time are
	// what the region's webhook receiver needs of the edge's settings (a
	// released delivery may be as old as the quarantine); nothing else of the
	// edge (its AWS region, its ops e-mails) is the region's business.
	edge := Edge{MulticastTopics: c.Edge.MulticastTopics, SignatureToleranceSeconds: c.Edge.SignatureToleranceSeconds,
		QuarantineHours: c.Edge.QuarantineHours}
	edge.applyDefaults()
	return &Config{Deadline: c.Deadline, Regions: []Region{r}, Edge: edge}, nil
}

// Subsystem returns the named subsystem of the region.
func (r Region) Subsystem(name string) (Subsystem, bool) {
	for _, s := range r.Subsystems {
		if s.Name == name {
			return s, true
		}
	}
	return Subsystem{}, false
}

// After returns the deadline of a request received at t: the same day of
// the month Months later (the 31st maps to the last day of a shorter month,
// as GDPR's calendar month does), then Days more, at the same time of day.
func (d Deadline) After(t time.Time) time.Time {
	y, m, day := t.Date()
	target := time.Date(y, m+time.Month(d.Months), 1, 0, 0, 0, 0, t.Location())
	last := target.AddDate(0, 1, -1).Day()
	if day > last {
		day = last
	}
	h, mi, s := t.Clock()
	due := time.Date(target.Year(), target.Month(), day, h, mi, s, t.Nanosecond(), t.Location())
	return due.AddDate(0, 0, d.Days)
}

// The environment variables the regional stack sets on its functions and
// the functions read: the contract between infra/ and functions/.
const (
	// EnvConfig holds the region's configuration, as JSON written by ForRegion.
	EnvConfig = "LETHE_CONFIG"
	// EnvRegion is the region's short name.
	EnvRegion = "LETHE_REGION"
	// EnvTableName names the region's requests table.
	EnvTableName = "LETHE_TABLE_NAME"
	// EnvStateMachineArn is the main Erasure machine the starter starts (and
	// the api, for an operator's retry).
	EnvStateMachineArn = "LETHE_STATE_MACHINE_ARN"
	// EnvTopicArns maps each subsystem's name to its admins' SNS topic ARN
	// (a JSON object).
	EnvTopicArns = "LETHE_TOPIC_ARNS"
	// EnvNoticesTopicArn is the SNS topic of notices to data subjects (a
	// deadline's extension), which the api publishes.
	EnvNoticesTopicArn = "LETHE_NOTICES_TOPIC_ARN"
	// EnvOpsTopicArn is the SNS topic of ops alerts (a misrouted webhook in a
	// region; a quarantined or undeliverable one at the edge).
	EnvOpsTopicArn = "LETHE_OPS_TOPIC_ARN"
	// EnvWebhookQueueURL is the region's SQS queue of webhooks that are not
	// erasure requests, for the product to consume.
	EnvWebhookQueueURL = "LETHE_WEBHOOK_QUEUE_URL"
	// EnvSubjectKeySecretArn is the region's subject key secret (Secrets
	// Manager), read by the functions that name subjects (api,
	// webhook-receiver).
	EnvSubjectKeySecretArn = "LETHE_SUBJECT_KEY_SECRET_ARN"
	// EnvSigningKeyArn is the region's certificate signing key (KMS), which
	// certify signs with and the api reads the public half of.
	EnvSigningKeyArn = "LETHE_SIGNING_KEY_ARN"
	// EnvCertifyFunction names the certify function, which the api invokes
	// when an attestation completes a request.
	EnvCertifyFunction = "LETHE_CERTIFY_FUNCTION"
	// EnvCallbackURL is the regional API's POST /callbacks, which the
	// async submit offers subsystems that call back.
	EnvCallbackURL = "LETHE_CALLBACK_URL"
	// EnvEdgeConfig holds the edge's view of the configuration, as JSON
	// written by ForEdge.
	EnvEdgeConfig = "LETHE_EDGE_CONFIG"
	// EnvTenantsTable names the edge's tenant directory table.
	EnvTenantsTable = "LETHE_TENANTS_TABLE"
	// EnvDeliveriesTable names the edge's deliveries table (de-duplication
	// and residency receipts).
	EnvDeliveriesTable = "LETHE_DELIVERIES_TABLE"
	// EnvQuarantineTable names the edge's quarantine of unknown tenants'
	// deliveries.
	EnvQuarantineTable = "LETHE_QUARANTINE_TABLE"
	// EnvGlobalTable names the edge's table of global erasures (ids and
	// regional request ids only).
	EnvGlobalTable = "LETHE_GLOBAL_TABLE"
)

// FromEnv parses the one-region configuration a regional function receives
// in LETHE_CONFIG.
func FromEnv(value string) (*Config, Region, error) {
	if value == "" {
		return nil, Region{}, &Error{EnvConfig, "is not set"}
	}
	c, err := Parse([]byte(value))
	if err != nil {
		return nil, Region{}, err
	}
	if len(c.Regions) != 1 {
		return nil, Region{}, &Error{EnvConfig, "must hold exactly one region"}
	}
	return c, c.Regions[0], nil
}

// DefaultTokenName is the Secrets Manager secret that the regional stack
// creates, for its owner to fill, when a subsystem's token source names none.
func DefaultTokenName(region, subsystem string) string {
	return "lethe/" + region + "/" + subsystem + "/token"
}

// TokenOf returns where the subsystem's bearer token is read from, the
// default secret name filled in. Connectors, LoadSubsystems and the CDK app
// all resolve it here.
func (r Region) TokenOf(s Subsystem) TokenSource {
	t := s.Token
	if t.Kind == "" {
		t.Kind = TokenSecretsManager
	}
	if t.Kind == TokenSecretsManager && t.Name == "" {
		t.Name = DefaultTokenName(r.Name, s.Name)
	}
	return t
}

// EdgeView is what the edge's functions may know: the edge settings and each
// region's name, AWS region and API URL, but no subsystem.
type EdgeView struct {
	Edge    Edge             `json:"edge"`
	Regions []RegionEndpoint `json:"regions"`
}

// RegionEndpoint is a region as the edge sees it.
type RegionEndpoint struct {
	Name      string `json:"name"`
	AWSRegion string `json:"awsRegion"`
	APIURL    string `json:"apiUrl,omitempty"`
}

// ForEdge returns the edge's view of the configuration.
func (c *Config) ForEdge() EdgeView {
	v := EdgeView{Edge: c.Edge}
	for _, r := range c.Regions {
		v.Regions = append(v.Regions, RegionEndpoint{Name: r.Name, AWSRegion: r.AWSRegion, APIURL: r.APIURL})
	}
	return v
}

// Region returns the named region's endpoint.
func (v EdgeView) Region(name string) (RegionEndpoint, bool) {
	for _, r := range v.Regions {
		if r.Name == name {
			return r, true
		}
	}
	return RegionEndpoint{}, false
}

// EdgeFromEnv parses the edge view an edge function receives in
// LETHE_EDGE_CONFIG.
func EdgeFromEnv(value string) (EdgeView, error) {
	if value == "" {
		return EdgeView{}, &Error{EnvEdgeConfig, "is not set"}
	}
	dec := json.NewDecoder(strings.NewReader(value))
	dec.DisallowUnknownFields()
	var v EdgeView
	if err := dec.Decode(&v); err != nil {
		return EdgeView{}, fmt.Errorf("config: %s: %w", EnvEdgeConfig, err)
	}
	v.Edge.applyDefaults()
	if err := v.Edge.validate(); err != nil {
		return EdgeView{}, err
	}
	if len(v.Regions) == 0 {
		return EdgeView{}, &Error{EnvEdgeConfig + ".regions", "at least one region is required"}
	}
	for i, r := range v.Regions {
		key := fmt.Sprintf("%s.regions[%d]", EnvEdgeConfig, i)
		if !nameRE.MatchString(r.Name) {
			return EdgeView{}, &Error{key + ".name", fmt.Sprintf("%q is not a region name", r.Name)}
		}
		if err := validateAPIURL(key+".apiUrl", r.APIURL); err != nil {
			return EdgeView{}, err
		}
	}
	return v, nil
}

// WebhookSecretName is the Secrets Manager secret holding a tenant's webhook
// signing secret for a provider. Scope is "edge" for the edge stack or the
// region's short name for a regional receiver: each stack keeps its own copy
// in its own AWS region.
func WebhookSecretName(scope, provider, tenant string) string {
	return "lethe/" + scope + "/webhooks/" + provider + "/" + tenant
}

// EdgeScope is the WebhookSecretName scope of the edge stack.
const EdgeScope = "edge"
