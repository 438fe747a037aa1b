// Command lethe-load measures a regional API's intake (figure P3): it
// files erasure requests for fresh made-up subjects from many connections
// and prints requests/s, latency percentiles and the answers by status.
//
//	lethe-load -url http://127.0.0.1:8081 -n 20000 -c 32 [-duration 30s] [-json] [-ids FILE] [-verify]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/lethe-erasure/lethe/internal/loadgen"
)

func main() {
	var o loadgen.Options
	fs := flag.NewFlagSet("lethe-load", flag.ExitOnError)
	fs.StringVar(&o.URL, "url", "http://127.0.0.1:8081", "regional API base `URL` (lethe local's first region by default)")
	fs.IntVar(&o.Requests, "n", 20000, "requests to send (0: until -duration)")
	fs.IntVar(&o.Concurrency, "c", 32, "requests in flight at once (one kept-alive connection each)")
	fs.DurationVar(&o.Duration, "duration", 0, "stop sending after this long (0: until -n)")
	fs.DurationVar(&o.Timeout, "timeout", 0, "bound on one request (default 30s)")
	fs.BoolVar(&o.Verify, "verify", false, "after the run, GET every accepted request to count those the store holds")
	asJSON := fs.Bool("json", false, "print the summary as one JSON object")
	ids := fs.String("ids", "", "write the accepted request ids to `FILE`, one a line")
	_ = fs.Parse(os.Args[1:])
	if err := o.Check(); err != nil || fs.NArg() != 0 {
		fmt.Fprintf(os.Stderr, "lethe-load: %v\nusage: lethe-load [-url URL] [-n N] [-c C] [-duration D] [-json] [-ids FILE] [-verify]\n", orArgs(err, fs.Args()))
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := loadgen.Run(ctx, o)
	if err == nil && *ids != "" {
		err = os.WriteFile(*ids, []byte(strings.Join(append(res.IDs, ""), "\n")), 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "lethe-load:", err)
		os.Exit(1)
	}
	s := res.Summary()
	if *asJSON {
		b, _ := json.MarshalIndent(s, "", "  ")
		fmt.Println(string(b))
	} else {
		s.WriteText(os.Stdout)
	}
	if s.Answered == 0 {
		os.Exit(1) // nothing answered: no figure to report
	}
}

func orArgs(err error, args []string) error {
	if err != nil {
		return err
	}
	return fmt.Errorf("unexpected arguments %q (flags only)", args)
}
