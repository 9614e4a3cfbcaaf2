// Command custom-lookup is a team's own stacker binary: stacker plus a
// lookup type of its own. Build it with `go build`, then map a lookup type
// to the handler in a config:
//
//	lookups:
//	  subnet: mycompany.Subnet
//	stacks:
//	  - name: network
//	    template_path: network.yaml.j2
//	    variables:
//	      AppCidr: ${subnet 10.0.0.0/16::24::3}   # 10.0.3.0/24
package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"github.com/stacker-go/stacker/app"
	_ "github.com/stacker-go/stacker/blueprints/all" // keep the built-in blueprints
	"github.com/stacker-go/stacker/lookup"
)

func init() {
	// Register panics on a duplicate name: that is a bug in the binary,
	// found as soon as it starts.
	lookup.Register("mycompany.Subnet", subnet)
}

// subnet is ${subnet BLOCK::BITS::INDEX}: the INDEX-th /BITS network inside
// the CIDR BLOCK, so stacks can carve one VPC block without arithmetic in
// the config. It needs no AWS, so it works offline (build --dump) too.
func subnet(_ context.Context, value string, _ *lookup.Env) (any, error) {
	parts := strings.Split(value, "::")
	if len(parts) != 3 {
		return nil, fmt.Errorf("want BLOCK::BITS::INDEX (like 10.0.0.0/16::24::3), got %q", value)
	}
	block, err := netip.ParsePrefix(strings.TrimSpace(parts[0]))
	if err != nil {
		return nil, fmt.Errorf("block: %w", err)
	}
	bits, err := strconv.Atoi(strings.TrimSpace(parts[1]))
	if err != nil || bits < block.Bits() || bits > block.Addr().BitLen() {
		return nil, fmt.Errorf("bits %q: want a prefix length from %d to %d", parts[1], block.Bits(), block.Addr().BitLen())
	}
	index, err := strconv.Atoi(strings.TrimSpace(parts[2]))
	if err != nil || index < 0 || bits-block.Bits() < 31 && index >= 1<<(bits-block.Bits()) {
		return nil, fmt.Errorf("index %q: %s has %d /%d networks, counted from 0", parts[2], block, 1<<min(bits-block.Bits(), 30), bits)
	}
	if !block.Addr().Is4() {
		return nil, fmt.Errorf("block %s: only IPv4 blocks are supported", block)
	}
	base := block.Masked().Addr().As4()
	n := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])
	n += uint32(index) << (32 - bits)
	addr := netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
	return netip.PrefixFrom(addr, bits).String(), nil
}

func main() { os.Exit(app.Main(os.Args[1:])) }
