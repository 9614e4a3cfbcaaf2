package ui

import (
	"bytes"
	"encoding/xml"
	"io"
	"strings"
	"testing"
)

func TestTimelineGolden(t *testing.T) {
	for _, format := range []string{"svg", "html"} {
		t.Run(format, func(t *testing.T) {
			tl := NewTimeline()
			for _, e := range sampleBuild() {
				tl.Emit(e)
			}
			var buf bytes.Buffer
			if err := tl.Write(&buf, format); err != nil {
				t.Fatal(err)
			}
			out := buf.String()
			golden(t, "timeline-build."+format+".golden", buf.Bytes())
			for _, want := range []string{"prod 222222222222 eu-west-1", "stage 333333333333 us-east-1", "prod-vpc (vpc)", "stage-vpc (vpc)", "critical path"} {
				if !strings.Contains(out, want) {
					t.Errorf("no %q", want)
				}
			}
			if strings.Contains(out, "http://") && strings.Count(out, "http://") != 1 || strings.Contains(out, "https://") || strings.Contains(out, "<script") {
				t.Error("the timeline refers to something outside itself")
			}
		})
	}
}

// TestTimelineSVGIsWellFormed parses the SVG as XML.
func TestTimelineSVGIsWellFormed(t *testing.T) {
	r := record(sampleInterrupted())
	var buf bytes.Buffer
	if err := WriteTimeline(&buf, r, "svg"); err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(&buf)
	for {
		_, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
	}
}

func TestTimelineFormat(t *testing.T) {
	for path, want := range map[string]string{"run.svg": "svg", "a/b.HTML": "html", "x.htm": "html", "x.png": "", "x": ""} {
		if got := TimelineFormat(path); got != want {
			t.Errorf("TimelineFormat(%q) = %q, want %q", path, got, want)
		}
	}
}
