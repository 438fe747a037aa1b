// Command regions prints the short name of every configured region, one a
// line, from cdk.json, and then "edge" when the configuration places the
// edge: each is a stack Lethe-<name>. `make bench` times `cdk synth` per
// stack with it. It does not import the CDK, so it runs in a moment.
package main

import (
	"fmt"
	"os"

	"github.com/lethe-erasure/lethe/internal/config"
)

func main() {
	path := "cdk.json"
	if len(os.Args) > 1 {
		path = os.Args[1]
	}
	cfg, err := config.Load(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "regions:", err)
		os.Exit(1)
	}
	for _, r := range cfg.Regions {
		fmt.Println(r.Name)
	}
	if cfg.Edge.AWSRegion != "" {
		fmt.Println(config.EdgeScope)
	}
}
