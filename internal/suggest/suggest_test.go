package suggest

import "testing"

func TestDistance(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		want int
	}{
		{"equal", "output", "output", 0},
		{"case is not an edit", "Output", "output", 0},
		{"one substitution", "vpx", "vpc", 1},
		{"adjacent swap is one edit", "outptu", "output", 1},
		{"insertion", "vpcc", "vpc", 1},
		{"deletion", "vc", "vpc", 1},
		{"empty", "", "abc", 3},
		{"runes, not bytes", "café", "cafe", 1},
		{"unrelated", "kms", "dynamodb", 7},
		{"classic", "kitten", "sitting", 3},
		{"both empty", "", "", 0},
		{"accented rune", "héllo", "hello", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Distance(tt.a, tt.b); got != tt.want {
				t.Errorf("Distance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
			}
			if got := Distance(tt.b, tt.a); got != tt.want {
				t.Errorf("Distance(%q, %q) = %d, want %d (symmetric)", tt.b, tt.a, got, tt.want)
			}
		})
	}
}

func TestFind(t *testing.T) {
	names := []string{"bastion1", "bastion2", "network", "vpc", "app"}
	tests := []struct {
		name string
		word string
		o    Options
		want []string
	}{
		{"nearest only", "vpcc", Options{Max: 3}, []string{"vpc"}},
		{"ties in name order", "bastion3", Options{Max: 3}, []string{"bastion1", "bastion2"}},
		{"max caps ties", "bastion3", Options{Max: 1}, []string{"bastion1"}},
		{"nothing within the limit", "zzzzzz", Options{Max: 3}, nil},
		{"exact name is not offered", "vpc", Options{Max: 3, Limit: Within(0)}, nil},
		{"fraction of the longer name", "netwrok", Options{Max: 3, Limit: Fraction(3, 2)}, []string{"network"}},
		{"ranked offers farther names after nearer", "vpcx", Options{Max: 3, Ranked: true, Limit: Within(3)}, []string{"vpc", "app"}},
		{"alike counts as one edit", "other.Network", Options{Max: 3, Limit: Within(1),
			Alike: func(w, c string) bool { return c == "network" }}, []string{"network"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Find(tt.word, names, tt.o)
			if len(got) != len(tt.want) {
				t.Fatalf("Find(%q) = %q, want %q", tt.word, got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("Find(%q) = %q, want %q", tt.word, got, tt.want)
				}
			}
		})
	}
}

func TestOneAndPhrases(t *testing.T) {
	if got := One("outptu", []string{"default", "output", "xref"}, 2); got != "output" {
		t.Errorf("One = %q, want output", got)
	}
	if got := One("zzz", []string{"output"}, 2); got != "" {
		t.Errorf("One = %q, want none", got)
	}
	for _, tt := range []struct {
		names []string
		want  string
	}{
		{nil, ""},
		{[]string{"a"}, ` (did you mean "a"?)`},
		{[]string{"a", "b"}, ` (did you mean "a" or "b"?)`},
		{[]string{"a", "b", "c"}, ` (did you mean "a", "b" or "c"?)`},
	} {
		if got := DidYouMean(tt.names); got != tt.want {
			t.Errorf("DidYouMean(%q) = %q, want %q", tt.names, got, tt.want)
		}
	}
}
