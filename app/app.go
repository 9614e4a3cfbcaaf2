// Package app is the public entry point of the stacker command. A team that
// registers its own blueprints (package blueprint) builds its own binary with
//
//	func main() { os.Exit(app.Main(os.Args[1:])) }
package app

import "github.com/stacker-go/stacker/internal/cli"

// Main runs the stacker command line with args (without the program name)
// and returns the process exit code.
func Main(args []string) int { return cli.Main(args) }
