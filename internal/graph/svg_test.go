package graph

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"math/rand"
	"testing"

	"github.com/stacker-go/stacker/internal/config"
)

// TestSVGAt300StacksHasNoOverlaps lays out 300 stacks in six lanes
// (three profiles, two regions) with config targets: the picture is
// well-formed XML, no two boxes overlap, and each box sits inside its lane.
func TestSVGAt300StacksHasNoOverlaps(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	cfg := &config.Config{Path: "x.yaml"}
	profiles := []string{"prod", "stage", "dev"}
	regions := []string{"us-east-1", "eu-west-1"}
	for i := 0; i < 300; i++ {
		st := &config.Stack{Name: fmt.Sprintf("svc%03d-%s", i, []string{"vpc", "db", "app", "queue", "cache", "api-gateway"}[i%6]), Enabled: true,
			Profile: profiles[(i/10)%3], Region: regions[(i/50)%2]}
		if i > 0 {
			for k := 0; k < 1+rng.Intn(2); k++ {
				j := i - 1 - rng.Intn(min(i, 25))
				st.Requires = append(st.Requires, cfg.Stacks[j].Name)
			}
		}
		cfg.Stacks = append(cfg.Stacks, st)
	}
	for k := 0; k < 4; k++ {
		tg := config.Target{Name: fmt.Sprintf("release-%d", k)}
		for j := 0; j < 5; j++ {
			tg.Requires = append(tg.Requires, cfg.Stacks[rng.Intn(300)].Name)
		}
		cfg.Targets = append(cfg.Targets, tg)
	}
	g, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := g.WriteSVG(&buf); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(&buf)
	for {
		if _, err := dec.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("SVG is not well-formed: %v", err)
		}
	}
	l := g.layout()
	seen := map[[2]int]int{}
	for i := range g.nodes {
		k := l.lane[i]
		if l.y[i] < l.laneY[k] || l.y[i]+svgNodeH > l.laneY[k]+l.laneH[k] {
			t.Errorf("%s outside its lane %q", g.nodes[i].name, l.lanes[k].label)
		}
		// Boxes of one column share x; rows are svgRowH apart.
		key := [2]int{l.x[i], l.y[i]}
		if j, dup := seen[key]; dup {
			t.Errorf("%s and %s drawn at the same place", g.nodes[i].name, g.nodes[j].name)
		}
		seen[key] = i
		if l.x[i]+l.w[i] > l.width || l.y[i]+svgNodeH > l.height {
			t.Errorf("%s outside the picture", g.nodes[i].name)
		}
	}
	if len(l.lanes) != 7 || l.lanes[6].label != "config targets" {
		t.Errorf("lanes = %+v, want six profile/region lanes then the config targets", l.lanes)
	}
}
