package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/lethe-erasure/lethe/internal/api"
	"github.com/lethe-erasure/lethe/internal/erasure"
)

// lethe erase files one erasure request with a region's API. The subject id
// goes into the request body and nowhere else: it is never printed, and no
// error message quotes it.

func init() {
	commands["erase"] = command{summary: "file an erasure request for a data subject in a region (--watch to follow it)", run: defaultOperator.erase}
}

const eraseUsage = `usage:
  lethe erase --region NAME [--idempotency-key KEY] [--url URL] [--watch] [flags] SUBJECT

erase files an erasure request for SUBJECT (the data subject's id in your
systems) with region NAME's API (POST /erasures) and prints the request
id, its status and its deadline. SUBJECT - reads the id from the first
line of stdin, which keeps it out of the shell's history.

A subject with an open request gets that request back (200) instead of a
second one; so does a repeated --idempotency-key (a key once used for
another subject is refused). --watch then follows the request as lethe
status --watch does.

The API is --url, else regions[].apiUrl of the configuration, else the
region's address under lethe local (http://127.0.0.1:8081 for the first).

flags:
  --region NAME          the subject's home region (required)
  --idempotency-key KEY  1-255 printable ASCII characters, sent as Idempotency-Key
  --url URL              regional API base URL
  --watch                follow the request until it is completed or failed
  --interval D           time between polls with --watch (default 1s)
  --config FILE          configuration: context.lethe of a cdk.json (default cdk.json)
  --no-sign              unsigned requests (always so for an API on 127.0.0.1)
  --json                 print the API's raw answer; with --watch, one compact
                         JSON object per line
Requests to a non-loopback URL are SigV4-signed (execute-api) with the
default AWS credentials.
Exit status: 0 filed (with --watch: completed), 1 refused or failed, 2 usage
error, 130 interrupted.`

// maxIdempotencyKey is the API's bound on an Idempotency-Key
// (api.MaxIdempotencyKeyBytes), checked here so that a bad key is a usage
// error that sends nothing.
const maxIdempotencyKey = 255

func (o *operator) erase(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("lethe erase", flag.ContinueOnError)
	var f regionFlags
	f.register(fs)
	fs.StringVar(&f.region, "region", "", "the subject's home region `NAME` (required)")
	key := fs.String("idempotency-key", "", "Idempotency-Key `KEY` of the request")
	subject, err := eraseArgs(fs, &f, args, stdin)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(stdout, eraseUsage)
		return 0
	}
	if err == nil {
		err = checkKey(*key)
	}
	if err != nil {
		return exitCode(stderr, "lethe erase", eraseUsage, err)
	}
	t, err := o.openRegion(&f, f.region)
	if err != nil {
		return exitCode(stderr, "lethe erase", eraseUsage, err)
	}
	v, lines, err := t.file(ctx, subject, *key)
	if f.json {
		if f.watch {
			b, _ := json.Marshal(map[string]rawAnswer{"erasure": t.s.calls["erasure"]})
			fmt.Fprintln(stdout, string(b))
		} else {
			t.s.printJSON(stdout, nil)
		}
	} else {
		for _, l := range lines {
			fmt.Fprintln(stdout, l)
		}
	}
	if err != nil {
		return exitCode(stderr, "lethe erase", eraseUsage, t.hint(err))
	}
	if !f.watch {
		return 0
	}
	if !f.json {
		fmt.Fprintln(stdout)
	}
	return t.watchExit(ctx, v.RequestID, &f, stdout, stderr, "lethe erase")
}

// eraseArgs parses the command line and returns the subject id: the one
// positional argument, or stdin's first line for "-".
func eraseArgs(fs *flag.FlagSet, f *regionFlags, args []string, stdin io.Reader) (string, error) {
	pos, err := parseArgs(fs, args)
	if err != nil {
		return "", err
	}
	if err := f.check(fs); err != nil {
		return "", err
	}
	if f.region == "" {
		return "", usagef("--region is required (the subject's home region)")
	}
	if len(pos) != 1 {
		return "", usagef("want exactly one SUBJECT, got %d arguments", len(pos))
	}
	subject := pos[0]
	if subject == "-" {
		line, err := bufio.NewReader(io.LimitReader(stdin, 64<<10)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read SUBJECT from stdin: %w", err)
		}
		subject = strings.TrimRight(line, "\r\n")
	}
	// The message never quotes the subject (ValidateSubjectID's do not).
	if err := erasure.ValidateSubjectID(subject); err != nil {
		return "", usagef("SUBJECT %v", err)
	}
	return subject, nil
}

// checkKey applies the API's rule for an Idempotency-Key.
func checkKey(k string) error {
	if k == "" {
		return nil
	}
	bad := usagef("--idempotency-key must be 1-%d printable ASCII characters", maxIdempotencyKey)
	if len(k) > maxIdempotencyKey {
		return bad
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return bad
		}
	}
	return nil
}

// file sends POST /erasures and returns the request and the lines that
// report it. The answer is recorded under "erasure" for --json.
func (t *regionTarget) file(ctx context.Context, subject, key string) (api.IntakeView, []string, error) {
	s := t.s
	if err := s.connect(ctx); err != nil {
		return api.IntakeView{}, nil, err
	}
	body, err := json.Marshal(map[string]string{"subjectId": subject})
	if err != nil {
		return api.IntakeView{}, nil, err
	}
	h := http.Header{"Content-Type": {"application/json"}}
	if key != "" {
		h.Set("Idempotency-Key", key)
	}
	const path = "/erasures"
	status, answer, err := s.client.Call(ctx, t.to, http.MethodPost, path, h, body)
	if err != nil {
		// edge's errors never quote a body; the subject is only in ours.
		return api.IntakeView{}, nil, fmt.Errorf("%s POST %s: no answer: %w", apiName(t.to), path, err)
	}
	s.record("erasure", status, answer)
	if status != http.StatusAccepted && status != http.StatusOK {
		return api.IntakeView{}, nil, refusal(t.to, http.MethodPost, path, status, answer)
	}
	var v api.IntakeView
	if err := json.Unmarshal(answer, &v); err != nil || v.RequestID == "" {
		return v, nil, fmt.Errorf("%s POST %s: HTTP %d, but the answer is not an erasure request", apiName(t.to), path, status)
	}
	var lines []string
	if status == http.StatusAccepted {
		lines = append(lines, fmt.Sprintf("filed erasure request %s in region %s (202)", v.RequestID, t.to.Name))
	} else {
		lines = append(lines, fmt.Sprintf("already filed: %s (200; the subject's open request, or the one this Idempotency-Key filed)", v.RequestID))
	}
	lines = append(lines,
		"status    "+string(v.Status),
		"received  "+v.ReceivedAt,
		"deadline  "+v.Deadline,
		"follow    lethe status --watch "+v.RequestID)
	if region, err := erasure.ParseID(v.RequestID); err == nil && region != t.to.Name {
		return v, lines, fmt.Errorf("the API at %s answered as region %s, not %s: its URL is another region's, and the request was filed there",
			t.to.APIURL, region, t.to.Name)
	}
	return v, lines, nil
}
