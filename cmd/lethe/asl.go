package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/lethe-erasure/lethe/internal/asl"
)

func init() {
	commands["asl"] = command{summary: "validate or run an Amazon States Language definition", run: aslCmd}
}

const aslUsage = `usage:
  lethe asl validate FILE...
  lethe asl run --definition FILE [--input FILE|-] [--history] [--speed N]

run prints the execution's output JSON on stdout and exits 0; on failure it
prints {"error": "...", "cause": "..."} on stdout and exits 1. --history
writes the execution history (as GetExecutionHistory shows it) and the billed
state transitions on stderr. --speed N runs Waits and retry intervals N times
faster than real time.`

func aslCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, aslUsage)
		return 2
	}
	switch args[0] {
	case "validate":
		return aslValidate(args[1:], stdout, stderr)
	case "run":
		return aslRun(ctx, args[1:], stdin, stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, aslUsage)
		return 0
	}
	fmt.Fprintf(stderr, "lethe asl: unknown subcommand %q\n%s\n", args[0], aslUsage)
	return 2
}

// aslValidate parses each file and reports every problem found.
func aslValidate(files []string, stdout, stderr io.Writer) int {
	if len(files) == 0 {
		fmt.Fprintln(stderr, "lethe asl validate: no file given")
		return 2
	}
	code := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err == nil {
			_, err = asl.Parse(b)
		}
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", f, err)
			code = 1
			continue
		}
		fmt.Fprintf(stdout, "%s: valid\n", f)
	}
	return code
}

func aslRun(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("lethe asl run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	defPath := fs.String("definition", "", "state machine definition `file` (required)")
	inPath := fs.String("input", "", "execution input JSON `file`, - for stdin (default {})")
	history := fs.Bool("history", false, "write the execution history on stderr")
	speed := fs.Float64("speed", 1, "run waits and retry intervals `N` times faster than real time")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *defPath == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, aslUsage)
		return 2
	}
	def, err := os.ReadFile(*defPath)
	if err != nil {
		fmt.Fprintf(stderr, "lethe asl run: %v\n", err)
		return 2
	}
	m, err := asl.Parse(def)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", *defPath, err)
		return 2
	}
	input := []byte("{}")
	switch *inPath {
	case "":
	case "-":
		input, err = io.ReadAll(stdin)
	default:
		input, err = os.ReadFile(*inPath)
	}
	if err != nil {
		fmt.Fprintf(stderr, "lethe asl run: read input: %v\n", err)
		return 2
	}
	if !json.Valid(input) {
		fmt.Fprintln(stderr, "lethe asl run: the input is not valid JSON")
		return 2
	}
	if *speed <= 0 {
		fmt.Fprintln(stderr, "lethe asl run: --speed must be positive")
		return 2
	}
	e := asl.NewEngine(asl.Options{Clock: asl.NewRealClock(*speed)})
	res, err := e.Run(ctx, m, json.RawMessage(input))
	if err != nil && res == nil {
		fmt.Fprintf(stderr, "lethe asl run: %v\n", err)
		return 2
	}
	if *history {
		enc := json.NewEncoder(stderr)
		enc.SetIndent("", "  ")
		if herr := enc.Encode(map[string]any{"events": res.History, "billedStateTransitions": res.BilledTransitions}); herr != nil {
			fmt.Fprintf(stderr, "lethe asl run: %v\n", herr)
		}
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(stderr, "lethe asl run: %v\n", err)
	}
	if res.Status == asl.StatusSucceeded {
		return writeJSON(stdout, stderr, res.Output, 0)
	}
	return writeJSON(stdout, stderr, map[string]string{"error": res.Error, "cause": res.Cause}, 1)
}

func writeJSON(stdout, stderr io.Writer, v any, code int) int {
	b, err := json.Marshal(v)
	if err != nil {
		fmt.Fprintf(stderr, "lethe asl run: %v\n", err)
		return 2
	}
	fmt.Fprintln(stdout, string(b))
	return code
}
