package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/lethe-erasure/lethe/internal/api"
)

func init() {
	commands["list"] = command{summary: "list a region's erasure requests (filters, every page, CSV)", run: defaultOperator.list}
}

const listUsage = `usage:
  lethe list --region NAME [--status S] [--source SRC] [--at-risk] [--from T] [--to T]
             [--limit N] [--all] [--csv] [flags]

list prints the region's erasure requests newest first, a page of --limit
(default 20, at most 100) or --all of them, following the API's cursor:
request id, status, source, received, deadline, extension, closed, and each
subsystem's outcome. --status pending|running|completed|failed, --source
api|webhook:<provider>, --at-risk (open and in the last week before the
deadline, or past it), --from/--to the receipt time (RFC 3339 or a date;
--to is exclusive and a date means its end). --csv writes the same as CSV
(one header, every page) for a spreadsheet or an auditor.

` + operateFlags

func (o *operator) list(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	return runOperate("lethe list", listUsage, stdout, stderr, func() (*regionTarget, []string, error) {
		fs := flag.NewFlagSet("lethe list", flag.ContinueOnError)
		var f operateFlagSet
		var status, source, from, to string
		var atRisk, all, asCSV bool
		var limit int
		f.register(fs)
		fs.StringVar(&f.region, "region", "", "the region `NAME` to list")
		fs.StringVar(&status, "status", "", "only requests in this `STATUS`")
		fs.StringVar(&source, "source", "", "only requests from this `SOURCE`")
		fs.BoolVar(&atRisk, "at-risk", false, "only requests at risk of missing their deadline")
		fs.StringVar(&from, "from", "", "received at or after `TIME`")
		fs.StringVar(&to, "to", "", "received before `TIME`")
		fs.IntVar(&limit, "limit", 20, "requests per page (`N`, 1-100)")
		fs.BoolVar(&all, "all", false, "every page")
		fs.BoolVar(&asCSV, "csv", false, "write CSV")
		t, _, err := o.operate(fs, &f, args, 0, true)
		if err != nil {
			return nil, nil, err
		}
		if limit < 1 || limit > api.MaxListLimit {
			return nil, nil, usagef("--limit must be from 1 to %d", api.MaxListLimit)
		}
		q := url.Values{"limit": {fmt.Sprint(limit)}}
		for k, v := range map[string]string{"status": status, "source": source, "from": from, "to": to} {
			if v != "" {
				q.Set(k, v)
			}
		}
		if atRisk {
			q.Set("atRisk", "true")
		}
		var views []api.RequestView
		var more string
		for {
			var v api.ListView
			if _, err := t.s.expect(ctx, "list", t.to, http.MethodGet, "/erasures?"+q.Encode(), nil, &v, http.StatusOK); err != nil {
				return t, nil, err
			}
			views = append(views, v.Erasures...)
			if !all || v.Next == "" {
				more = v.Next
				break
			}
			q.Set("cursor", v.Next)
		}
		if asCSV {
			return t, []string{csvOf(views)}, nil
		}
		var lines []string
		for _, r := range views {
			lines = append(lines, listLine(r))
		}
		if len(lines) == 0 {
			lines = append(lines, "no erasure requests")
		}
		if more != "" {
			lines = append(lines, "more: add --all, or ask GET /erasures?cursor="+more)
		}
		return t, lines, nil
	})
}

// csvOf is the requests as the API's CSV export writes them: one header,
// a column per subsystem (in the order they first appear).
func csvOf(views []api.RequestView) string {
	var names []string
	seen := map[string]bool{}
	for _, v := range views {
		for _, s := range v.Subsystems {
			if !seen[s.Name] {
				seen[s.Name] = true
				names = append(names, s.Name)
			}
		}
	}
	var buf strings.Builder
	w := csv.NewWriter(&buf)
	_ = w.Write(api.CSVHeader(names))
	for _, v := range views {
		_ = w.Write(api.CSVRow(v, names))
	}
	w.Flush()
	return strings.TrimRight(buf.String(), "\n")
}

// listLine is one request of `lethe list`.
func listLine(r api.RequestView) string {
	closed := "-"
	if r.CompletedAt != nil {
		closed = *r.CompletedAt
	}
	ext := ""
	months := 0
	for _, e := range r.Extensions {
		months += e.Months
	}
	if months > 0 {
		ext = fmt.Sprintf(" +%dm", months)
	}
	var subs []string
	for _, s := range r.Subsystems {
		subs = append(subs, s.Name+"="+string(s.Status))
	}
	raw, _ := json.Marshal(r.Source)
	return fmt.Sprintf("%s  %-9s %s  received %s  due %s%s  closed %s  %s", r.RequestID, r.Status, strings.Trim(string(raw), `"`),
		r.ReceivedAt, r.Deadline, ext, closed, strings.Join(subs, " "))
}
