//go:build !unix

package config

import "time"

func cpuTime() time.Duration { return 0 }
