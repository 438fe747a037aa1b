package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/lethe-erasure/lethe/internal/api"
	"github.com/lethe-erasure/lethe/internal/audit"
	"github.com/lethe-erasure/lethe/internal/erasure"
)

// The operator commands of a request that went wrong: retry, attest,
// extend, subject and audit. Each calls one route of the request's region
// (the id names it) and prints what the API answered.

func init() {
	commands["retry"] = command{summary: "run the failed subsystems of a failed erasure request again", run: defaultOperator.retry}
	commands["attest"] = command{summary: "record that a subsystem's data was erased by hand (or was not held)", run: defaultOperator.attest}
	commands["extend"] = command{summary: "extend an erasure request's deadline by 1 or 2 months (GDPR Art. 12(3))", run: defaultOperator.extend}
	commands["subject"] = command{summary: "read the subject id of an open or failed request (the read is recorded)", run: defaultOperator.subject}
	commands["audit"] = command{summary: "list the audit records of a request, or of a region", run: defaultOperator.audit}
}

const operateFlags = `flags:
  --url URL          regional API base URL (default: regions[].apiUrl, else lethe local's address)
  --operator NAME    who you are, under lethe local (default $USER); a deployed API
                     records your IAM identity instead
  --config FILE      configuration: context.lethe of a cdk.json (default cdk.json)
  --no-sign          unsigned requests (always so for an API on 127.0.0.1)
  --json             print the API's raw answer
Requests to a non-loopback URL are SigV4-signed (execute-api) with the
default AWS credentials. Exit status: 0 done, 1 refused, 2 usage error.`

const retryUsage = `usage:
  lethe retry [--subsystem NAME]... [flags] REQUEST_ID

retry runs the failed subsystems of a failed request again, in a new
execution; subsystems that succeeded are not called again. --subsystem
limits the retry to the named ones. Allowed until the request's deadline.
A retry while one runs answers the running one.

` + operateFlags

const attestUsage = `usage:
  lethe attest --outcome deleted|not_held --note TEXT [flags] REQUEST_ID SUBSYSTEM

attest records that SUBSYSTEM's data of the request was erased by hand
(deleted) or that it held none (not_held), with who, when and why; the
subsystem is settled, and a failed request whose subsystems are all settled
closes as completed. While Lethe still retries an unavailable subsystem,
its loop ends at the next call.

` + operateFlags

const extendUsage = `usage:
  lethe extend --months 1|2 --reason TEXT [flags] REQUEST_ID

extend moves the request's deadline by 1 or 2 months (GDPR Art. 12(3)):
allowed within one month of receipt, and up to two months in total. A
notice {requestId, newDeadline, reason} goes to the region's
subject-notices topic for the product that tells the person.

` + operateFlags

const subjectUsage = `usage:
  lethe subject [flags] REQUEST_ID

subject prints the subject id of an open or failed request, for an
operator who must erase by hand. The read is recorded in the audit
records. Keep the id out of tickets and chat.

` + operateFlags

const auditUsage = `usage:
  lethe audit [--region NAME] [--limit N] [flags] [REQUEST_ID]
  lethe audit verify --region NAME [flags]

audit lists the audit records (retries, attestations, subject reads,
extensions, certificates, forgotten subjects, tenant registrations,
quarantine releases, suppression checks) of REQUEST_ID oldest first, or of
--region newest first. verify walks the region's whole hash chain from its
first entry and names the first entry that was altered, deleted or moved
(exit 1), or prints how many entries verify and the head's hash.

` + operateFlags

// operateFlags are the flags of the operator commands.
type operateFlagSet struct {
	regionFlags
	operator string
}

func (f *operateFlagSet) register(fs *flag.FlagSet) {
	fs.StringVar(&f.configPath, "config", "cdk.json", "`file` holding the configuration in its context.lethe")
	fs.StringVar(&f.url, "url", "", "regional API base `URL`")
	fs.BoolVar(&f.noSign, "no-sign", false, "send unsigned requests")
	fs.BoolVar(&f.json, "json", false, "print the API's raw answer as JSON")
	fs.StringVar(&f.operator, "operator", os.Getenv("USER"), "your `NAME`, under lethe local")
	f.interval = time.Second
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// operate parses an operator command's flags and positional arguments,
// checks the request id (the first argument) and opens its region.
func (o *operator) operate(fs *flag.FlagSet, f *operateFlagSet, args []string, want int, idOptional bool) (*regionTarget, []string, error) {
	pos, err := parseArgs(fs, args)
	if err != nil {
		return nil, nil, err
	}
	if err := f.check(fs); err != nil {
		return nil, nil, err
	}
	if len(pos) != want && !(idOptional && len(pos) == 0) {
		return nil, nil, usagef("want %d arguments, got %d", want, len(pos))
	}
	region := f.region
	if len(pos) > 0 {
		r, err := erasure.ParseID(pos[0])
		if err != nil {
			// Not quoted back: a mistyped argument may be a subject id.
			return nil, nil, usagef("REQUEST_ID must look like er_<region>_<uuidv7> (lethe erase prints it)")
		}
		region = r
	}
	if region == "" {
		return nil, nil, usagef("give a REQUEST_ID or --region")
	}
	t, err := o.openRegion(&f.regionFlags, region)
	if err != nil {
		return nil, nil, err
	}
	if isLoopback(t.to.APIURL) {
		t.s.headers = http.Header{"X-Lethe-Operator": {f.operator}}
	}
	return t, pos, nil
}

// runOperate runs one operator command and turns its outcome into an exit
// status.
func runOperate(name, usage string, stdout, stderr io.Writer, fn func() (*regionTarget, []string, error)) int {
	t, lines, err := fn()
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(stdout, usage)
		return 0
	}
	if t != nil {
		err = t.s.finish(stdout, lines, nil, t.hint(err))
	}
	return exitCode(stderr, name, usage, err)
}

func (o *operator) retry(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	return runOperate("lethe retry", retryUsage, stdout, stderr, func() (*regionTarget, []string, error) {
		fs := flag.NewFlagSet("lethe retry", flag.ContinueOnError)
		var f operateFlagSet
		var subs multiFlag
		f.register(fs)
		fs.Var(&subs, "subsystem", "retry only this subsystem `NAME` (repeatable)")
		t, pos, err := o.operate(fs, &f, args, 1, false)
		if err != nil {
			return nil, nil, err
		}
		body := map[string]any{}
		if len(subs) > 0 {
			body["subsystems"] = []string(subs)
		}
		var v api.RequestView
		_, err = t.s.expect(ctx, "retry", t.to, http.MethodPost, "/erasures/"+url.PathEscape(pos[0])+"/retry", body, &v, http.StatusAccepted)
		if err != nil {
			return t, nil, err
		}
		lines := append([]string{fmt.Sprintf("retry %d of %s started", v.Run, v.RequestID)}, frame(v, t.now())...)
		return t, append(lines, "follow    lethe status --watch "+v.RequestID), nil
	})
}

func (o *operator) attest(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	return runOperate("lethe attest", attestUsage, stdout, stderr, func() (*regionTarget, []string, error) {
		fs := flag.NewFlagSet("lethe attest", flag.ContinueOnError)
		var f operateFlagSet
		var outcome, note string
		f.register(fs)
		fs.StringVar(&outcome, "outcome", "", "`deleted` (erased by hand) or not_held (held nothing)")
		fs.StringVar(&note, "note", "", "what was done, and where it is recorded (`TEXT`)")
		t, pos, err := o.operate(fs, &f, args, 2, false)
		if err != nil {
			return nil, nil, err
		}
		if outcome != "deleted" && outcome != "not_held" {
			return nil, nil, usagef("--outcome must be deleted or not_held")
		}
		if strings.TrimSpace(note) == "" {
			return nil, nil, usagef("--note is required: say what was done")
		}
		var v api.RequestView
		path := "/erasures/" + url.PathEscape(pos[0]) + "/subsystems/" + url.PathEscape(pos[1]) + "/attestation"
		if _, err = t.s.expect(ctx, "attestation", t.to, http.MethodPost, path, map[string]string{"outcome": outcome, "note": note}, &v, http.StatusOK); err != nil {
			return t, nil, err
		}
		return t, append([]string{fmt.Sprintf("%s of %s attested %s", pos[1], v.RequestID, outcome)}, frame(v, t.now())...), nil
	})
}

func (o *operator) extend(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	return runOperate("lethe extend", extendUsage, stdout, stderr, func() (*regionTarget, []string, error) {
		fs := flag.NewFlagSet("lethe extend", flag.ContinueOnError)
		var f operateFlagSet
		var months int
		var reason string
		f.register(fs)
		fs.IntVar(&months, "months", 0, "extend by `N` months: 1 or 2")
		fs.StringVar(&reason, "reason", "", "why the erasure needs longer (`TEXT`; the person is told)")
		t, pos, err := o.operate(fs, &f, args, 1, false)
		if err != nil {
			return nil, nil, err
		}
		if months != 1 && months != 2 {
			return nil, nil, usagef("--months must be 1 or 2")
		}
		if strings.TrimSpace(reason) == "" {
			return nil, nil, usagef("--reason is required")
		}
		var v api.RequestView
		if _, err = t.s.expect(ctx, "extension", t.to, http.MethodPost, "/erasures/"+url.PathEscape(pos[0])+"/extension",
			map[string]any{"months": months, "reason": reason}, &v, http.StatusOK); err != nil {
			return t, nil, err
		}
		return t, append([]string{fmt.Sprintf("deadline of %s extended to %s; the notice is published", v.RequestID, v.Deadline)}, frame(v, t.now())...), nil
	})
}

func (o *operator) subject(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	return runOperate("lethe subject", subjectUsage, stdout, stderr, func() (*regionTarget, []string, error) {
		fs := flag.NewFlagSet("lethe subject", flag.ContinueOnError)
		var f operateFlagSet
		f.register(fs)
		t, pos, err := o.operate(fs, &f, args, 1, false)
		if err != nil {
			return nil, nil, err
		}
		var v api.SubjectView
		if _, err = t.s.expect(ctx, "subject", t.to, http.MethodGet, "/erasures/"+url.PathEscape(pos[0])+"/subject", nil, &v, http.StatusOK); err != nil {
			return t, nil, err
		}
		return t, []string{v.SubjectID}, nil
	})
}

func (o *operator) audit(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "verify" {
		return o.auditVerify(ctx, args[1:], stdout, stderr)
	}
	return runOperate("lethe audit", auditUsage, stdout, stderr, func() (*regionTarget, []string, error) {
		fs := flag.NewFlagSet("lethe audit", flag.ContinueOnError)
		var f operateFlagSet
		var limit int
		f.register(fs)
		fs.StringVar(&f.region, "region", "", "list the audit records of region `NAME`")
		fs.IntVar(&limit, "limit", 100, "at most `N` records (1-100)")
		t, pos, err := o.operate(fs, &f, args, 1, true)
		if err != nil {
			return nil, nil, err
		}
		if limit < 1 || limit > 100 {
			return nil, nil, usagef("--limit must be from 1 to 100")
		}
		q := url.Values{"limit": {fmt.Sprint(limit)}}
		if len(pos) == 1 {
			q.Set("requestId", pos[0])
		}
		var v api.AuditView
		if _, err = t.s.expect(ctx, "audit", t.to, http.MethodGet, "/audit?"+q.Encode(), nil, &v, http.StatusOK); err != nil {
			return t, nil, err
		}
		lines := []string{}
		for _, r := range v.Records {
			l := fmt.Sprintf("%s  %-12s %s  %s", r.At, r.Action, r.RequestID, r.Actor)
			for _, k := range slices.Sorted(maps.Keys(r.Detail)) {
				l += fmt.Sprintf("  %s=%s", k, printable(r.Detail[k]))
			}
			lines = append(lines, l)
		}
		if len(lines) == 0 {
			lines = append(lines, "no audit records")
		}
		return t, lines, nil
	})
}

// auditVerify is `lethe audit verify`: it pages the region's chain from
// its first entry (GET /audit?from=N) and checks every link.
func (o *operator) auditVerify(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runOperate("lethe audit verify", auditUsage, stdout, stderr, func() (*regionTarget, []string, error) {
		fs := flag.NewFlagSet("lethe audit verify", flag.ContinueOnError)
		var f operateFlagSet
		f.register(fs)
		fs.StringVar(&f.region, "region", "", "verify the audit chain of region `NAME`")
		t, _, err := o.operate(fs, &f, args, 0, true)
		if err != nil {
			return nil, nil, err
		}
		var v audit.Verifier
		for {
			q := url.Values{"from": {fmt.Sprint(v.Head().Seq + 1)}, "limit": {fmt.Sprint(audit.MaxList)}}
			var page api.AuditView
			if _, err := t.s.expect(ctx, "audit", t.to, http.MethodGet, "/audit?"+q.Encode(), nil, &page, http.StatusOK); err != nil {
				return t, nil, err
			}
			for _, r := range page.Records {
				at, err := time.Parse(time.RFC3339Nano, r.At)
				if err != nil {
					return t, nil, fmt.Errorf("entry %d: at %q is not a time", r.Seq, r.At)
				}
				rec := audit.Record{Seq: r.Seq, ID: r.ID, RequestID: r.RequestID, At: at, Actor: r.Actor, Action: r.Action, Detail: r.Detail, Prev: r.Prev, Hash: r.Hash}
				if err := v.Add(rec); err != nil {
					return nil, nil, fmt.Errorf("the audit chain of region %s is BROKEN: %w (entries 1 to %d verify)", f.region, err, v.Head().Seq)
				}
			}
			if len(page.Records) < audit.MaxList {
				break
			}
		}
		head := v.Head()
		return t, []string{fmt.Sprintf("the audit chain of region %s verifies: %d entries, head %s", f.region, head.Seq, head.Hash)}, nil
	})
}
