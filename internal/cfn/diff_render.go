package cfn

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// DiffTextOptions say how WriteDiffText renders a plan.
type DiffTextOptions struct {
	// Colour adds ANSI colours (decided by the caller: a terminal, no
	// NO_COLOR). The textual markers are there either way.
	Colour bool
	// ShowTarget names each stack's config name, account and region (the
	// plan spans more than one target).
	ShowTarget bool
}

// ANSI codes of the text diff.
const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiBoldRd = "\x1b[1;31m"
)

// Markers of replacements in the text diff.
const (
	MarkReplacement = "!! replacement"
	MarkConditional = "!? may be replaced (Conditional)"
)

// DiffLabel is how the text diff names a stack: its CloudFormation name
// (stacker's word), followed by the config name, account and region when
// the plan spans several targets.
func DiffLabel(d *StackDiff, showTarget bool) string {
	if !showTarget {
		return d.FQN
	}
	where := "account " + d.Target.Account
	if d.Target.Account == "" {
		where = "profile " + d.Target.Profile
		if d.Target.Profile == "" {
			where = "default credentials"
		}
	}
	if d.Target.Region != "" {
		where += ", " + d.Target.Region
	}
	return fmt.Sprintf("%s (%s, %s)", d.FQN, d.Name, where)
}

type textWriter struct {
	b      strings.Builder
	colour bool
}

func (t *textWriter) line(colour, format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	if t.colour && colour != "" {
		s = colour + s + ansiReset
	}
	t.b.WriteString(s + "\n")
}

// WriteDiffText writes the plan as text, stacks in plan order, each block
// whole. Stacks that were not compared (skipped, locked, failed,
// cancelled) print nothing here: their status lines say it.
func WriteDiffText(w io.Writer, plan *DiffPlan, o DiffTextOptions) error {
	t := &textWriter{colour: o.Colour}
	for i := range plan.Stacks {
		writeStackText(t, &plan.Stacks[i], o.ShowTarget)
	}
	_, err := io.WriteString(w, t.b.String())
	return err
}

func writeStackText(t *textWriter, d *StackDiff, showTarget bool) {
	label := DiffLabel(d, showTarget)
	switch d.Action {
	case DiffNoChange:
		t.line("", "No changes: %s", label)
		return
	case DiffCreate:
		t.line(ansiBold, "%s changes (new stack):", label)
	case DiffUpdate, DiffReplace:
		t.line(ansiBold, "%s changes:", label)
	default:
		return
	}
	shown := false
	if changedValues(d.Parameters) {
		writeValuesText(t, "Parameters", d.Parameters)
		shown = true
	}
	if changedValues(d.Tags) {
		writeValuesText(t, "Tags", d.Tags)
		shown = true
	}
	if len(d.ResourceChanges) > 0 {
		t.line("", "Changes:")
		for _, c := range d.ResourceChanges {
			writeChangeText(t, c)
		}
		shown = true
	}
	if !shown {
		t.line("", "(no resource, parameter or tag changes)")
	}
	for _, w := range d.Warnings {
		t.line(ansiYellow, "%s: %s", label, w)
	}
}

// writeValuesText is stacker's DictValue block: every value, sorted, once
// one changed (" K = v", "+K = v", "-K = v", "-K = old" then "+K = new").
func writeValuesText(t *textWriter, what string, vs []ValueDiff) {
	t.line("", "--- Old %s", what)
	t.line("", "+++ New %s", what)
	t.line("", "******************")
	for _, v := range vs {
		switch v.Status {
		case ValueUnchanged:
			t.line("", " %s = %s", v.Key, deref(v.New))
		case ValueAdded:
			t.line(ansiGreen, "+%s = %s", v.Key, deref(v.New))
		case ValueRemoved:
			t.line(ansiRed, "-%s = %s", v.Key, deref(v.Old))
		case ValueModified:
			t.line(ansiRed, "-%s = %s", v.Key, deref(v.Old))
			t.line(ansiGreen, "+%s = %s", v.Key, deref(v.New))
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// writeChangeText writes "- <Action> <LogicalId> (<Type>)" (stacker's
// summary item) with the physical id and a replacement marker, then the
// scope and one line per changed attribute or property.
func writeChangeText(t *textWriter, c ResourceChange) {
	head := fmt.Sprintf("- %s %s (%s)", c.Action, c.LogicalResourceID, c.ResourceType)
	if c.PhysicalResourceID != "" {
		head += " " + c.PhysicalResourceID
	}
	colour := ""
	switch c.Action {
	case "Add":
		colour = ansiGreen
	case "Remove":
		colour = ansiRed
	case "Modify":
		colour = ansiYellow
	}
	switch c.Replacement {
	case "True":
		head += "  " + MarkReplacement
		colour = ansiBoldRd
	case "Conditional":
		head += "  " + MarkConditional
		colour = ansiBoldRd
	}
	t.line(colour, "%s", head)
	if len(c.Scope) > 0 {
		t.line("", "    scope: %s", strings.Join(c.Scope, ", "))
	}
	for _, d := range c.Details {
		what := d.Attribute
		if d.Name != "" {
			what += "." + d.Name
		}
		var facts []string
		if d.RequiresRecreation != "" {
			facts = append(facts, "requires recreation: "+d.RequiresRecreation)
		}
		if d.ChangeSource != "" {
			src := "source: " + d.ChangeSource
			if d.CausingEntity != "" {
				src += " " + d.CausingEntity
			}
			facts = append(facts, src)
		}
		line := "    " + what
		if len(facts) > 0 {
			line += " (" + strings.Join(facts, ", ") + ")"
		}
		dc := ""
		if d.RequiresRecreation == "Always" {
			dc = ansiRed
		}
		t.line(dc, "%s", line)
		if d.Before != nil {
			t.line(ansiRed, "      before: %s", *d.Before)
		}
		if d.After != nil {
			t.line(ansiGreen, "      after:  %s", *d.After)
		}
	}
}

// WriteDiffJSON writes the plan as one indented JSON document.
func WriteDiffJSON(w io.Writer, plan *DiffPlan) error {
	if plan.Stacks == nil {
		plan.Stacks = []StackDiff{}
	}
	plan.SchemaVersion = DiffSchemaVersion
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // placeholders are <inferred-change: ...>
	enc.SetIndent("", "  ")
	if err := enc.Encode(plan); err != nil {
		return fmt.Errorf("write the diff as JSON: %w", err)
	}
	return nil
}

// DiffSummary is a compared stack's change-set summary in stacker's shape
// (what `diff -i` prints before "Show full change set? [y/n] "): the
// parameters added, removed and modified by name (never their values),
// the replacements, then the other changes. Conditional replacements are
// listed with the replacements, marked.
func DiffSummary(d *StackDiff, showTarget bool) string {
	var names [3][]string // added, removed, modified
	for _, p := range d.Parameters {
		switch p.Status {
		case ValueAdded:
			names[0] = append(names[0], p.Key)
		case ValueRemoved:
			names[1] = append(names[1], p.Key)
		case ValueModified:
			names[2] = append(names[2], p.Key)
		}
	}
	var repl, other []string
	for _, c := range d.ResourceChanges {
		line := fmt.Sprintf("- %s %s (%s)", c.Action, c.LogicalResourceID, c.ResourceType)
		switch {
		case c.Replacement == "True":
			repl = append(repl, line)
		case c.Replaces():
			repl = append(repl, line+" "+MarkConditional)
		default:
			other = append(other, line)
		}
	}
	return summaryText(DiffLabel(d, showTarget)+" changes", names, repl, other, true)
}

// StackDiffText is one stack's block of the text diff, as WriteDiffText
// writes it.
func StackDiffText(d *StackDiff, o DiffTextOptions) string {
	t := &textWriter{colour: o.Colour}
	writeStackText(t, d, o.ShowTarget)
	return t.b.String()
}
