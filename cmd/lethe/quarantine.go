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
	if len(args) == 0 {
		fmt.Fprintln(stderr, quarantineUsage)
		return 2
	}
	switch args[0] {
	case "list":
		return exitCode(stderr, "lethe quarantine list", quarantineUsage, o.quarantineList(ctx, args[1:], stdout))
	case "release":
		return exitCode(stderr, "lethe quarantine release", quarantineUsage, o.quarantineRelease(ctx, args[1:], stdout))
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, quarantineUsage)
		return 0
	}
	fmt.Fprintf(stderr, "lethe quarantine: unknown subcommand %q\n%s\n", args[0], quarantineUsage)
	return 2
}

// heldAnswer is one held delivery of GET /quarantine.
type heldAnswer struct {
	ID         string `json:"id"`
	Provider   string `json:"provider"`
	DeliveryID string `json:"deliveryId"`
	Topic      string `json:"topic"`
	TenantHash string `json:"tenantKeySha256"`
	Verified   bool   `json:"signatureVerified"`
	ReceivedAt string `json:"receivedAt"`
	ExpiresAt  string `json:"expiresAt"`
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
	edgeAPI, err := s.edgeAPI()
	if err != nil {
		return err
	}
	if err := s.connect(ctx); err != nil {
		return err
	}
	path := "/quarantine"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	status, body, err := s.call(ctx, "edge", edgeAPI, http.MethodGet, path, nil)
	if err == nil && status != http.StatusOK {
		err = refusal(edgeAPI, http.MethodGet, path, status, body)
	}
	var out struct {
		Held []heldAnswer `json:"held"`
	}
	if err == nil {
		err = decode(edgeAPI, http.MethodGet, path, body, &out)
	}
	if f.json {
		s.printJSON(stdout, nil)
		return err
	}
	if err != nil {
		return err
	}
	if len(out.Held) == 0 {
		fmt.Fprintln(stdout, "no held deliveries")
		return nil
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
	id := pos[0]
	// One attempt: the edge itself retries the region, and its answer
	// (released, or why not) is what the operator needs to see at once.
	policy := o.policy
	policy.Attempts = 1
	s, err := o.open(&f, policy)
	if err != nil {
		return err
	}
	edgeAPI, err := s.edgeAPI()
	if err != nil {
		return err
	}
	if err := s.connect(ctx); err != nil {
		return err
	}
	path := "/quarantine/" + url.PathEscape(id) + "/release"
	status, body, err := s.call(ctx, "edge", edgeAPI, http.MethodPost, path, nil)
	if err == nil && status != http.StatusOK {
		err = refusal(edgeAPI, http.MethodPost, path, status, body)
	}
	var out struct {
		ID      string   `json:"id"`
		Status  string   `json:"status"`
		Regions []string `json:"regions"`
	}
	if err == nil {
		err = decode(edgeAPI, http.MethodPost, path, body, &out)
	}
	if f.json {
		s.printJSON(stdout, nil)
		return err
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %s to %s\n", out.ID, out.Status, strings.Join(out.Regions, ", "))
	return nil
}
