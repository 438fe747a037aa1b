package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/lethe-erasure/lethe/internal/config"
	"github.com/lethe-erasure/lethe/internal/webhook"
)

func init() {
	commands["tenants"] = command{summary: "register a tenant in its home region and the edge directory, or show it", run: defaultOperator.tenants}
}

const tenantsUsage = `usage:
  lethe tenants register --region NAME [--move] TENANT [flags]
  lethe tenants show TENANT [flags]

register sends TENANT's webhooks to region NAME. It is idempotent and goes
in this order, so that the edge never forwards a webhook to a region that
would refuse it (409):
  1. PUT <regions[].apiUrl>/tenants/TENANT  the region owns the tenant
  2. PUT <edge.apiUrl>/tenants/TENANT       the edge routes it to the region
A tenant the edge routes to another region is refused unless --move. It
then prints the Secrets Manager names under which the edge and the region
each need the tenant's webhook signing secret.

show prints where the edge routes TENANT and whether that region owns it;
it exits 0 only when the two agree.

flags:
  --config FILE     configuration: context.lethe of a cdk.json (default cdk.json)
  --edge-url URL    edge API base URL instead of edge.apiUrl
  --region-url URL  regional API base URL instead of regions[].apiUrl
  --no-sign         unsigned requests, for a local API on 127.0.0.1
  --json            print the APIs' raw answers as one JSON object
Requests are SigV4-signed (execute-api) with the default AWS credentials.
Exit status: 0 done, 1 failed or refused, 2 usage error.`

func (o *operator) tenants(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	return dispatch(ctx, "lethe tenants", tenantsUsage, map[string]subcommand{"register": o.tenantsRegister, "show": o.tenantsShow},
		args, stdout, stderr)
}

// tenantArgs parses the command line, whose one positional argument is a
// tenant key.
func tenantArgs(fs *flag.FlagSet, args []string) (string, error) {
	pos, err := parseArgs(fs, args)
	if err != nil {
		return "", err
	}
	if len(pos) != 1 {
		return "", usagef("want exactly one TENANT, got %d arguments", len(pos))
	}
	if err := webhook.ValidateTenant("TENANT", pos[0]); err != nil {
		return "", &usageError{err.Error()}
	}
	return pos[0], nil
}

// tenantAnswer is what both APIs answer on /tenants/{tenant}.
type tenantAnswer struct {
	Tenant       string `json:"tenant"`
	Region       string `json:"region"`
	RegisteredAt string `json:"registeredAt"`
	UpdatedAt    string `json:"updatedAt"`
}

func tenantPath(tenant string) string { return "/tenants/" + url.PathEscape(tenant) }

func (o *operator) tenantsRegister(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("lethe tenants register", flag.ContinueOnError)
	var f opsFlags
	f.register(fs, true)
	regionName := fs.String("region", "", "home region `NAME` (required)")
	move := fs.Bool("move", false, "move the tenant if the edge routes it to another region")
	tenant, err := tenantArgs(fs, args)
	if err != nil {
		return err
	}
	if *regionName == "" {
		return usagef("--region is required")
	}
	s, err := o.open(&f, o.policy)
	if err != nil {
		return err
	}
	// Both URLs are resolved before anything is sent: a missing one
	// changes nothing anywhere.
	home, err := s.regionAPI(*regionName)
	if err != nil {
		return err
	}
	done, err := s.register(ctx, home, tenant, *move)
	if err != nil {
		return s.finish(stdout, done, nil, err)
	}
	secrets := secretsOf(s.cfg, home, tenant)
	return s.finish(stdout, append(done, secretLines(secrets)...), map[string]any{"secrets": secrets}, nil)
}

// register is the two PUTs, region first; it returns a line per step done.
func (s *session) register(ctx context.Context, home config.RegionEndpoint, tenant string, move bool) ([]string, error) {
	path := tenantPath(tenant)
	var done []string
	var before tenantAnswer
	if move {
		// Where the edge routes it now, for the report of a move. Read
		// first, so that a refusal here changes nothing.
		if _, err := s.expect(ctx, "edgeBefore", s.edge, http.MethodGet, path, nil, &before, http.StatusOK, http.StatusNotFound); err != nil {
			return done, err
		}
	}

	var owned tenantAnswer
	status, err := s.expect(ctx, "region", home, http.MethodPut, path, nil, &owned, http.StatusCreated, http.StatusOK)
	if err != nil {
		return done, err
	}
	if owned.Region != home.Name {
		// A --region-url or apiUrl pointing at another region's API.
		return done, fmt.Errorf("region %s API answered as region %q: its URL is another region's; nothing was registered at the edge, and region %q now lists the tenant",
			home.Name, owned.Region, owned.Region)
	}
	if status == http.StatusCreated {
		done = append(done, fmt.Sprintf("region %s: registered tenant %s (201)", home.Name, tenant))
	} else {
		done = append(done, fmt.Sprintf("region %s: tenant %s was already registered (200)", home.Name, tenant))
	}

	in := map[string]any{"region": home.Name}
	if move {
		in["move"] = true
	}
	status, err = s.expect(ctx, "edge", s.edge, http.MethodPut, path, in, nil, http.StatusCreated, http.StatusOK)
	var refused *apiError
	switch {
	case errors.As(err, &refused) && refused.status == http.StatusConflict:
		return done, fmt.Errorf("%w\nregion %s owns the tenant too now, but the edge still routes it to the other region: pass --move to move it", err, home.Name)
	case errors.As(err, &refused):
		return done, err
	case err != nil:
		return done, fmt.Errorf("%w\nregion %s owns the tenant now; run the same command again to register it at the edge", err, home.Name)
	case status == http.StatusCreated:
		done = append(done, fmt.Sprintf("edge: routes tenant %s to %s (new in the directory, 201)", tenant, home.Name))
	case before.Region != "" && before.Region != home.Name:
		done = append(done, fmt.Sprintf("edge: moved tenant %s from %s to %s (200)", tenant, before.Region, home.Name),
			fmt.Sprintf("note: region %s still lists the tenant as its own (the regional API has no deregistration) but gets none of its webhooks now; "+
				"delete its copies of the webhook secrets (lethe/%s/webhooks/<provider>/%s)", before.Region, before.Region, tenant))
	default:
		done = append(done, fmt.Sprintf("edge: tenant %s already routes to %s (200)", tenant, home.Name))
	}
	return done, nil
}

// secretNames is where one provider's webhook secret of a tenant is kept:
// the edge verifies with its copy, the region re-verifies with its own.
type secretNames struct {
	Provider        string `json:"provider"`
	EdgeSecret      string `json:"edgeSecret"`
	EdgeAWSRegion   string `json:"edgeAwsRegion"`
	RegionSecret    string `json:"regionSecret"`
	RegionAWSRegion string `json:"regionAwsRegion"`
}

func secretsOf(cfg *config.Config, home config.RegionEndpoint, tenant string) []secretNames {
	var out []secretNames
	for _, p := range webhook.Names() {
		out = append(out, secretNames{
			Provider:   p,
			EdgeSecret: config.WebhookSecretName(config.EdgeScope, p, tenant), EdgeAWSRegion: cfg.Edge.AWSRegion,
			RegionSecret: config.WebhookSecretName(home.Name, p, tenant), RegionAWSRegion: home.AWSRegion,
		})
	}
	return out
}

func secretLines(secrets []secretNames) []string {
	lines := []string{"webhook secrets: for each provider the tenant uses, put its signing secret in Secrets Manager under both names"}
	for _, s := range secrets {
		lines = append(lines, "  "+s.Provider,
			fmt.Sprintf("    edge (%s): %s", orUnset(s.EdgeAWSRegion, "edge.awsRegion unset"), s.EdgeSecret),
			fmt.Sprintf("    region (%s): %s", s.RegionAWSRegion, s.RegionSecret))
	}
	return lines
}

func orUnset(v, unset string) string {
	if v == "" {
		return unset
	}
	return v
}

// errNotAgreed is show's failure when the directory and the region differ
// or the tenant is unknown; the lines printed say which.
var errNotAgreed = errors.New("the edge and the home region do not agree on the tenant")

func (o *operator) tenantsShow(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("lethe tenants show", flag.ContinueOnError)
	var f opsFlags
	f.register(fs, true)
	tenant, err := tenantArgs(fs, args)
	if err != nil {
		return err
	}
	s, err := o.open(&f, o.policy)
	if err != nil {
		return err
	}
	lines, err := s.show(ctx, tenant)
	return s.finish(stdout, lines, nil, err)
}

func (s *session) show(ctx context.Context, tenant string) ([]string, error) {
	path := tenantPath(tenant)
	lines := []string{"tenant " + tenant}
	var routed tenantAnswer
	status, err := s.expect(ctx, "edge", s.edge, http.MethodGet, path, nil, &routed, http.StatusOK, http.StatusNotFound)
	if err != nil {
		return lines, err
	}
	if status == http.StatusNotFound {
		return append(lines, "  edge: not in the directory (webhooks for it are quarantined); lethe tenants register --region NAME "+tenant), errNotAgreed
	}
	lines = append(lines, fmt.Sprintf("  edge: routes to %s (registered %s, updated %s)", routed.Region, routed.RegisteredAt, routed.UpdatedAt))
	home, err := s.regionAPI(routed.Region)
	var ue *usageError
	if errors.As(err, &ue) {
		return lines, fmt.Errorf("the edge routes the tenant to region %q, which %s does not name", routed.Region, s.flags.configPath)
	}
	if err != nil {
		return lines, err
	}
	var owned tenantAnswer
	status, err = s.expect(ctx, "region", home, http.MethodGet, path, nil, &owned, http.StatusOK, http.StatusNotFound)
	if err != nil {
		return lines, err
	}
	if status == http.StatusNotFound {
		return append(lines, fmt.Sprintf("  region %s: has NOT registered the tenant and would refuse its webhooks (409); lethe tenants register --region %s %s",
			home.Name, home.Name, tenant)), errNotAgreed
	}
	if owned.Region != home.Name {
		return lines, fmt.Errorf("region %s API answered as region %q: its URL is another region's", home.Name, owned.Region)
	}
	return append(lines, fmt.Sprintf("  region %s: owns it (registered %s)", home.Name, owned.RegisteredAt)), nil
}
