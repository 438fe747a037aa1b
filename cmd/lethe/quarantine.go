package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/lethe-erasure/lethe/internal/edge"
	"github.com/lethe-erasure/lethe/internal/webhook"
)

func init() {
	commands["quarantine"] = command{summary: "list the edge's held deliveries of unknown tenants, or release one", run: defaultOperator.quarantine}
}

const quarantineUsage = `usage:
  lethe quarantine list [--tenant TENANT] [--limit N] [flags]
  lethe quarantine release ID [flags]

The edge holds a webhook whose tenant no region has registered (no body is
ever sent to a region then) until it expires (edge.quarantineHours).
list shows the held deliveries, newest first, without bodies; --tenant
shows only that tenant's. Register the tenant (lethe tenants register),
then release sends a held delivery to its home region and drops it from
the quarantine.

flags:
  --config FILE     configuration: context.lethe of a cdk.json (default cdk.json)
  --edge-url URL    edge API base URL instead of edge.apiUrl
  --no-sign         unsigned requests, for a local API on 127.0.0.1
  --json            print the API's raw answer as a JSON object
Requests are SigV4-signed (execute-api) with the default AWS credentials.
Exit status: 0 done, 1 failed or refused, 2 usage error.`

func (o *operator) quarantine(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	return dispatch(ctx, "lethe quarantine", quarantineUsage, map[string]subcommand{"list": o.quarantineList, "release": o.quarantineRelease},
		args, stdout, stderr)
}

func (o *operator) quarantineList(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("lethe quarantine list", flag.ContinueOnError)
	var f opsFlags
	f.register(fs, false)
	tenant := fs.String("tenant", "", "only the deliveries of `TENANT`")
	limit := fs.Int("limit", 0, "at most `N` deliveries (1-200; the edge's default 50)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("list takes no arguments, got %q", pos)
	}
	q := url.Values{}
	if *tenant != "" {
		if err := webhook.ValidateTenant("--tenant", *tenant); err != nil {
			return &usageError{err.Error()}
		}
		q.Set("tenant", *tenant)
	}
	if *limit != 0 {
		q.Set("limit", strconv.Itoa(*limit))
	}
	s, err := o.open(&f, o.policy)
	if err != nil {
		return err
	}
	path := "/quarantine"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out struct {
		Held []edge.HeldView `json:"held"`
	}
	if _, err := s.expect(ctx, "edge", s.edge, http.MethodGet, path, nil, &out, http.StatusOK); err != nil || f.json {
		return s.finish(stdout, nil, nil, err)
	}
	if len(out.Held) == 0 {
		return s.finish(stdout, []string{"no held deliveries"}, nil, nil)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPROVIDER\tTOPIC\tDELIVERY\tSIGNED\tRECEIVED\tEXPIRES\tTENANT SHA-256")
	for _, h := range out.Held {
		signed := "no"
		if h.Verified {
			signed = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", h.ID, h.Provider, orUnset(h.Topic, "-"), h.DeliveryID, signed,
			h.ReceivedAt, h.ExpiresAt, h.TenantHash)
	}
	return tw.Flush()
}

func (o *operator) quarantineRelease(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("lethe quarantine release", flag.ContinueOnError)
	var f opsFlags
	f.register(fs, false)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || pos[0] == "" {
		return usagef("want exactly one quarantine ID (from lethe quarantine list), got %d arguments", len(pos))
	}
	// One attempt: the edge itself retries the region, and its answer
	// (released, or why not) is what the operator needs to see at once.
	policy := o.policy
	policy.Attempts = 1
	s, err := o.open(&f, policy)
	if err != nil {
		return err
	}
	var out struct {
		ID      string   `json:"id"`
		Status  string   `json:"status"`
		Regions []string `json:"regions"`
	}
	path := "/quarantine/" + url.PathEscape(pos[0]) + "/release"
	if _, err := s.expect(ctx, "edge", s.edge, http.MethodPost, path, nil, &out, http.StatusOK); err != nil || f.json {
		return s.finish(stdout, nil, nil, err)
	}
	return s.finish(stdout, []string{fmt.Sprintf("%s: %s to %s", out.ID, out.Status, strings.Join(out.Regions, ", "))}, nil, nil)
}
