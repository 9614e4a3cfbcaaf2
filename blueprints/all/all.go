// Package all registers every built-in blueprint. Import it for its side
// effects:
//
//	import _ "github.com/stacker-go/stacker/blueprints/all"
package all

import (
	_ "github.com/stacker-go/stacker/blueprints/vpc" // stacker_blueprints.vpc.VPC
)
