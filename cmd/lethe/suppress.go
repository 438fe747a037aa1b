package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/lethe-erasure/lethe/internal/api"
	"github.com/lethe-erasure/lethe/internal/erasure"
)

func init() {
	commands["suppressions"] = command{summary: "check which subject ids were erased in a region (before a restore or a re-import)", run: defaultOperator.suppressions}
}

const suppressionsUsage = `usage:
  lethe suppressions check --region NAME [flags] FILE

check reads subject ids from FILE (one per line; - for standard input) and
prints those that were erased in the region, with the requests that erased
them: a backup restore or a pipeline that re-imports data must erase them
again. Lethe keeps no list of whom it erased, only keyed hashes, so it can
only answer about ids you give it. Ids are sent 1,000 per call.

` + operateFlags

func (o *operator) suppressions(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runOperate("lethe suppressions", suppressionsUsage, stdout, stderr, func() (*regionTarget, []string, error) {
		if len(args) == 0 || args[0] != "check" {
			if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
				return nil, nil, flag.ErrHelp
			}
			return nil, nil, usagef("the subcommand is check")
		}
		fs := flag.NewFlagSet("lethe suppressions check", flag.ContinueOnError)
		var f operateFlagSet
		f.register(fs)
		fs.StringVar(&f.region, "region", "", "the region `NAME` to ask")
		pos, err := parseArgs(fs, args[1:])
		if err != nil {
			return nil, nil, err
		}
		if err := f.check(fs); err != nil {
			return nil, nil, err
		}
		if len(pos) != 1 {
			return nil, nil, usagef("give one FILE of subject ids (- for standard input)")
		}
		if f.region == "" {
			return nil, nil, usagef("--region is required: suppressions are kept per region")
		}
		ids, err := readIDs(pos[0], stdin)
		if err != nil {
			return nil, nil, err
		}
		t, err := o.openRegion(&f.regionFlags, f.region)
		if err != nil {
			return nil, nil, err
		}
		if isLoopback(t.to.APIURL) {
			t.s.headers = http.Header{"X-Lethe-Operator": {f.operator}}
		}
		var lines []string
		erased := 0
		for start := 0; start < len(ids); start += api.MaxSuppressionCheck {
			batch := ids[start:min(len(ids), start+api.MaxSuppressionCheck)]
			var v api.SuppressionView
			if _, err := t.s.expect(ctx, "suppressions", t.to, http.MethodPost, "/suppressions/check",
				map[string]any{"subjectIds": batch}, &v, http.StatusOK); err != nil {
				return t, nil, err
			}
			for _, s := range v.Erased {
				erased++
				for _, r := range s.Requests {
					closed := "-"
					if r.ClosedAt != nil {
						closed = r.ClosedAt.Format("2006-01-02")
					}
					l := fmt.Sprintf("%s\t%s\t%s\tclosed %s", printable(s.SubjectID), r.RequestID, r.Status, closed)
					if len(r.Failed) > 0 {
						l += "\tnot erased in " + strings.Join(r.Failed, ",")
					}
					lines = append(lines, l)
				}
			}
		}
		lines = append(lines, fmt.Sprintf("%d of %d ids were erased in region %s", erased, len(ids), f.region))
		return t, lines, nil
	})
}

// readIDs reads subject ids, one per line, from path or standard input;
// blank lines are skipped, each id is checked as the API would.
func readIDs(path string, stdin io.Reader) ([]string, error) {
	var r io.Reader = stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, usagef("%v", err)
		}
		defer f.Close()
		r = f
	}
	var ids []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		id := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(id) == "" {
			continue
		}
		if err := erasure.ValidateSubjectID(id); err != nil {
			return nil, usagef("%s line %d: the subject id %s", path, n, err)
		}
		ids = append(ids, id)
	}
	if err := sc.Err(); err != nil {
		return nil, usagef("%s: %v", path, err)
	}
	if len(ids) == 0 {
		return nil, usagef("%s holds no subject ids", path)
	}
	return ids, nil
}
