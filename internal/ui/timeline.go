package ui

import (
	"fmt"
	"html"
	"io"
	"math"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/stacker-go/stacker/internal/event"
)

// TimelineFormat is the format --timeline FILE writes, by FILE's
// extension: "svg" or "html" ("" for any other extension).
func TimelineFormat(path string) string {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".svg":
		return "svg"
	case ".html", ".htm":
		return "html"
	}
	return ""
}

// Timeline is a Sink that records a run for WriteTimeline.
type Timeline struct {
	mu  sync.Mutex
	rec *RunRecord
}

// NewTimeline returns an empty Timeline.
func NewTimeline() *Timeline { return &Timeline{rec: NewRunRecord()} }

// Emit implements event.Sink.
func (t *Timeline) Emit(e event.Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rec.Apply(e)
}

// Write writes the recorded run as format ("svg" or "html") to w.
func (t *Timeline) Write(w io.Writer, format string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return WriteTimeline(w, t.rec, format)
}

// Outcome colours of the timeline's bars.
var outcomeFill = map[event.Outcome]string{
	event.OutcomeCreated:   "#2e9e44",
	event.OutcomeUpdated:   "#2f6fd0",
	event.OutcomeUnchanged: "#9aa5b1",
	event.OutcomeDeleted:   "#8a4fc7",
	event.OutcomeCompared:  "#1f9e9a",
	event.OutcomeSkipped:   "#c9d1d9",
	event.OutcomeFailed:    "#d93f3f",
	event.OutcomeCancelled: "#e39b2d",
	"":                     "#e39b2d",
}

// Timeline layout, in pixels.
const (
	tlLabelW = 300
	tlChartW = 760
	tlRowH   = 22
	tlBarH   = 14
	tlTop    = 64
	tlPad    = 16
)

// WriteTimeline writes a Gantt chart of a run: one row per stack that
// began, grouped by target (profile, account, region), its bar coloured by
// outcome from when work on it began to when it was done, the critical
// path (CriticalPath) outlined in black. It is self-contained: no script,
// font or style is fetched when it is viewed. format is "svg", or "html"
// for the SVG in a page with a table of the same figures.
func WriteTimeline(w io.Writer, r *RunRecord, format string) error {
	svg := timelineSVG(r)
	var s string
	switch format {
	case "svg":
		s = `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + svg
	case "html":
		s = timelineHTML(r, svg)
	default:
		return fmt.Errorf("timeline format %q: want svg or html", format)
	}
	_, err := io.WriteString(w, s)
	return err
}

type tlGroup struct {
	label  string
	stacks []*StackRecord
}

func timelineGroups(r *RunRecord) []tlGroup {
	var groups []tlGroup
	idx := map[string]int{}
	for _, st := range r.Stacks {
		if st.Begun.IsZero() {
			continue
		}
		l := TargetLabel(st.Target)
		i, ok := idx[l]
		if !ok {
			i = len(groups)
			idx[l] = i
			groups = append(groups, tlGroup{label: l})
		}
		groups[i].stacks = append(groups[i].stacks, st)
	}
	return groups
}

// tickStep is a round step giving about 8 ticks over total.
func tickStep(total time.Duration) time.Duration {
	for _, s := range []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second,
		30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour} {
		if total/s <= 8 {
			return s
		}
	}
	return 2 * time.Hour
}

func timelineSVG(r *RunRecord) string {
	groups := timelineGroups(r)
	total := r.Duration(r.Finished)
	if total <= 0 {
		total = time.Second
	}
	crit := map[string]bool{}
	for _, n := range r.CriticalPath() {
		crit[n] = true
	}
	rows := 0
	for _, g := range groups {
		rows += 1 + len(g.stacks)
	}
	width := tlPad + tlLabelW + tlChartW + 70
	height := tlTop + rows*tlRowH + 40
	x := func(t time.Time) float64 {
		d := t.Sub(r.Started)
		return float64(tlPad+tlLabelW) + float64(tlChartW)*float64(d)/float64(total)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	b.WriteString(`<rect width="100%" height="100%" fill="#ffffff"/>` + "\n")
	title := fmt.Sprintf("stacker %s: %d stacks in %s", r.Action, len(r.Stacks), FormatDuration(total))
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", tlPad, esc(title))
	// Legend.
	lx := tlPad
	counts := r.Counts()
	for _, o := range event.Outcomes {
		if counts[o] == 0 {
			continue
		}
		fmt.Fprintf(&b, `<rect x="%d" y="32" width="12" height="12" fill="%s"/><text x="%d" y="42">%s %d</text>`+"\n", lx, outcomeFill[o], lx+16, o, counts[o])
		lx += 30 + 8*len(o)
	}
	fmt.Fprintf(&b, `<rect x="%d" y="32" width="12" height="12" fill="none" stroke="#000" stroke-width="2.5"/><text x="%d" y="42">critical path</text>`+"\n", lx, lx+16)
	// Time grid.
	step := tickStep(total)
	gridBottom := tlTop + rows*tlRowH
	for d := time.Duration(0); d <= total; d += step {
		gx := x(r.Started.Add(d))
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#e5e7eb"/>`, gx, tlTop-6, gx, gridBottom)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" fill="#555">%s</text>`+"\n", gx, gridBottom+16, tickLabel(d))
	}
	y := tlTop
	for _, g := range groups {
		fmt.Fprintf(&b, `<rect x="0" y="%d" width="%d" height="%d" fill="#f3f4f6"/>`, y, width, tlRowH)
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-weight="bold">%s</text>`+"\n", tlPad, y+15, esc(g.label))
		y += tlRowH
		for _, st := range g.stacks {
			label := st.Name
			if st.FQN != "" && st.FQN != st.Name {
				label += " (" + st.FQN + ")"
			}
			fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`, tlPad+12, y+15, esc(clip(label, 40)))
			x0, x1 := x(st.Begun), x(st.end())
			if st.Ended.IsZero() && !r.Finished.IsZero() {
				x1 = x(r.Finished)
			}
			if x1-x0 < 2 {
				x1 = x0 + 2
			}
			stroke := ""
			if crit[st.Name] {
				stroke = ` stroke="#000" stroke-width="2.5"`
			}
			d := st.Duration(r.Finished)
			tip := fmt.Sprintf("%s: %s in %s (%s)", st.Name, outcomeOr(st.Outcome), FormatDuration(d), st.Reason)
			if st.Failure != "" {
				tip += ": " + st.Failure
			}
			fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" rx="2" fill="%s"%s><title>%s</title></rect>`,
				x0, y+(tlRowH-tlBarH)/2, x1-x0, tlBarH, outcomeFill[st.Outcome], stroke, esc(tip))
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" fill="#333">%s</text>`+"\n", x1+4, y+15, FormatDuration(d))
			y += tlRowH
		}
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func outcomeOr(o event.Outcome) string {
	if o == "" {
		return string(event.OutcomeCancelled)
	}
	return string(o)
}

func tickLabel(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	if d < time.Minute {
		return fmt.Sprintf("%ds", int(math.Round(d.Seconds())))
	}
	if d%time.Minute == 0 {
		return fmt.Sprintf("%dm", int(d.Minutes()))
	}
	return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func esc(s string) string { return html.EscapeString(s) }

func timelineHTML(r *RunRecord, svg string) string {
	var b strings.Builder
	title := fmt.Sprintf("stacker %s timeline", r.Action)
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" + esc(title) + "</title>\n")
	b.WriteString("<style>body{font-family:sans-serif;margin:24px}table{border-collapse:collapse;margin-top:16px}" +
		"td,th{border:1px solid #ddd;padding:4px 8px;text-align:left;font-size:13px}th{background:#f3f4f6}td.n{text-align:right}</style>\n")
	b.WriteString("</head>\n<body>\n<h1>" + esc(title) + "</h1>\n")
	b.WriteString("<pre>" + esc(FormatSummary(r)) + "</pre>\n")
	b.WriteString(svg)
	crit := map[string]bool{}
	for _, n := range r.CriticalPath() {
		crit[n] = true
	}
	b.WriteString("<table>\n<tr><th>stack</th><th>CloudFormation name</th><th>target</th><th>outcome</th><th>began</th><th>seconds</th><th>critical path</th><th>reason</th></tr>\n")
	for _, st := range r.Stacks {
		began := ""
		if !st.Begun.IsZero() {
			began = "+" + FormatDuration(st.Begun.Sub(r.Started))
		}
		cp := ""
		if crit[st.Name] {
			cp = "yes"
		}
		reason := st.Reason
		if st.Failure != "" {
			reason += ": " + st.Failure
		}
		fmt.Fprintf(&b, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td class=\"n\">%s</td><td class=\"n\">%.1f</td><td>%s</td><td>%s</td></tr>\n",
			esc(st.Name), esc(st.FQN), esc(TargetLabel(st.Target)), outcomeOr(st.Outcome), began, st.Duration(r.Finished).Seconds(), cp, esc(oneLine(reason)))
	}
	b.WriteString("</table>\n</body>\n</html>\n")
	return b.String()
}
