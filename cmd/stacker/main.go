// Command stacker builds, diffs and destroys CloudFormation stacks described
// by one YAML config, across accounts and regions.
package main

import (
	"os"

	"github.com/stacker-go/stacker/app"
)

func main() { os.Exit(app.Main(os.Args[1:])) }
