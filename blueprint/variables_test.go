package blueprint

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
)

type varsOnly []Variable

func (v varsOnly) Variables() []Variable { return v }
func (varsOnly) Render(context.Context, *Input) (*Template, error) {
	return nil, errors.New("not rendered")
}

func upper(v any) (any, error) {
	s, ok := v.(string)
	if !ok {
		return nil, errors.New("not a string")
	}
	return strings.ToUpper(s), nil
}

func TestResolveVariables(t *testing.T) {
	tests := []struct {
		name     string
		vars     []Variable
		provided map[string]any
		want     map[string]any
		wantErr  string
	}{
		{
			name:    "missing required variable",
			vars:    []Variable{{Name: "V", Type: String}},
			wantErr: `Variable "V" in blueprint "bp" is missing`,
		},
		{
			name:     "nil value counts as missing",
			vars:     []Variable{{Name: "V", Type: String}},
			provided: map[string]any{"V": nil},
			wantErr:  `Variable "V" in blueprint "bp" is missing`,
		},
		{
			name:    "variable without a type",
			vars:    []Variable{{Name: "V", Default: "x"}},
			wantErr: `Variable "V" in blueprint "bp" does not have a type`,
		},
		{
			name: "default applies",
			vars: []Variable{{Name: "V", Type: Int, Default: 2}},
			want: map[string]any{"V": 2},
		},
		{
			name:     "undeclared values are errors with a suggestion",
			vars:     []Variable{{Name: "Roles", Type: String, Default: ""}},
			provided: map[string]any{"Rolez": 1, "Other": 2},
			wantErr:  `Variable "Other" is not a variable of blueprint "bp"; Variable "Rolez" is not a variable of blueprint "bp" (did you mean "Roles"?)`,
		},
		{
			name:     "int from integral float and from string",
			vars:     []Variable{{Name: "A", Type: Int}, {Name: "B", Type: Int}},
			provided: map[string]any{"A": 3.0, "B": " 7 "},
			want:     map[string]any{"A": 3, "B": 7},
		},
		{
			name:     "int rejects a fraction",
			vars:     []Variable{{Name: "A", Type: Int}},
			provided: map[string]any{"A": 2.5},
			wantErr:  "Value for variable A must be of type int. Actual type: float.",
		},
		{
			name:     "int rejects a bool",
			vars:     []Variable{{Name: "A", Type: Int}},
			provided: map[string]any{"A": true},
			wantErr:  "Value for variable A must be of type int. Actual type: bool.",
		},
		{
			name:     "int rejects a word",
			vars:     []Variable{{Name: "A", Type: Int}},
			provided: map[string]any{"A": "two"},
			wantErr:  "Value for variable A must be of type int. Actual type: string.",
		},
		{
			name:     "string accepts numbers and bools",
			vars:     []Variable{{Name: "A", Type: String}, {Name: "B", Type: String}, {Name: "C", Type: String}},
			provided: map[string]any{"A": 5, "B": 1.5, "C": false},
			want:     map[string]any{"A": "5", "B": "1.5", "C": "false"},
		},
		{
			name:     "string rejects a list",
			vars:     []Variable{{Name: "A", Type: String}},
			provided: map[string]any{"A": []any{"x"}},
			wantErr:  "Value for variable A must be of type string. Actual type: list.",
		},
		{
			name:     "bool from string",
			vars:     []Variable{{Name: "A", Type: Bool}, {Name: "B", Type: Bool}},
			provided: map[string]any{"A": "True", "B": "false"},
			want:     map[string]any{"A": true, "B": false},
		},
		{
			name:     "bool rejects other strings and numbers",
			vars:     []Variable{{Name: "A", Type: Bool}},
			provided: map[string]any{"A": 1},
			wantErr:  "Value for variable A must be of type bool. Actual type: int.",
		},
		{
			name:     "list normalises slices",
			vars:     []Variable{{Name: "A", Type: List}},
			provided: map[string]any{"A": []string{"a", "b"}},
			want:     map[string]any{"A": []any{"a", "b"}},
		},
		{
			name:     "list rejects a comma string",
			vars:     []Variable{{Name: "A", Type: List}},
			provided: map[string]any{"A": "a,b"},
			wantErr:  "Value for variable A must be of type list. Actual type: string.",
		},
		{
			name:     "map accepts string-keyed maps",
			vars:     []Variable{{Name: "A", Type: Map}},
			provided: map[string]any{"A": map[string]string{"k": "v"}},
			want:     map[string]any{"A": map[string]any{"k": "v"}},
		},
		{
			name:     "float from int and string",
			vars:     []Variable{{Name: "A", Type: Float}, {Name: "B", Type: Float}},
			provided: map[string]any{"A": 2, "B": "0.5"},
			want:     map[string]any{"A": 2.0, "B": 0.5},
		},
		{
			name:     "validator runs before the type check",
			vars:     []Variable{{Name: "A", Type: Int, Validator: func(v any) (any, error) { return len(v.(string)), nil }}},
			provided: map[string]any{"A": "four"},
			want:     map[string]any{"A": 4},
		},
		{
			name:     "validator error",
			vars:     []Variable{{Name: "A", Type: String, Validator: upper}},
			provided: map[string]any{"A": 3},
			wantErr:  "Validator 'blueprint.upper' failed for variable 'A' with value '3': not a string",
		},
		{
			name:     "validator panic is an error",
			vars:     []Variable{{Name: "A", Type: String, Validator: func(any) (any, error) { panic("boom") }}},
			provided: map[string]any{"A": "x"},
			wantErr:  "panic: boom",
		},
		{
			name:     "validator error masks NoEcho values",
			vars:     []Variable{{Name: "A", Type: CFNString, NoEcho: true, Validator: func(any) (any, error) { return nil, errors.New("bad") }}},
			provided: map[string]any{"A": "hunter2"},
			wantErr:  "with value '****': bad",
		},
		{
			name:     "allowed values for Go types",
			vars:     []Variable{{Name: "A", Type: String, AllowedValues: []string{"x", "y"}}},
			provided: map[string]any{"A": "z"},
			wantErr:  "Invalid value passed to 'A' in blueprint: bp. Got: 'z', expected one of ['x', 'y']",
		},
		{
			name:     "allowed values for CFN types are checked locally",
			vars:     []Variable{{Name: "A", Type: CFNString, AllowedValues: []string{"true", "false"}}},
			provided: map[string]any{"A": "maybe"},
			wantErr:  "Invalid value passed to 'A' in blueprint: bp. Got: 'maybe', expected one of ['true', 'false']",
		},
		{
			name:     "allowed values check each list element",
			vars:     []Variable{{Name: "A", Type: CFNCommaDelimitedList, AllowedValues: []string{"a", "b"}}},
			provided: map[string]any{"A": []any{"a", "c"}},
			wantErr:  "Got: 'c', expected one of ['a', 'b']",
		},
		{
			name:     "CFN bool becomes true/false",
			vars:     []Variable{{Name: "A", Type: CFNString, AllowedValues: []string{"true", "false"}}},
			provided: map[string]any{"A": true},
			want:     map[string]any{"A": "true"},
		},
		{
			name:     "CFN int and list",
			vars:     []Variable{{Name: "N", Type: CFNNumber}, {Name: "L", Type: EC2SubnetIDList}},
			provided: map[string]any{"N": 3, "L": []any{"subnet-1", "subnet-2"}},
			want:     map[string]any{"N": "3", "L": "subnet-1,subnet-2"},
		},
		{
			name:     "CFN rejects maps",
			vars:     []Variable{{Name: "A", Type: CFNString}},
			provided: map[string]any{"A": map[string]any{"k": 1}},
			wantErr:  "CFNParameter (A) value must be one of str, int, bool, or list got: map",
		},
		{
			name:     "allowed pattern matches the whole value",
			vars:     []Variable{{Name: "A", Type: CFNString, AllowedPattern: "[a-z]+"}},
			provided: map[string]any{"A": "abc1"},
			wantErr:  "Got: 'abc1', does not match pattern '[a-z]+'",
		},
		{
			name:     "min length",
			vars:     []Variable{{Name: "A", Type: CFNString, MinLength: IntPtr(3)}},
			provided: map[string]any{"A": "ab"},
			wantErr:  "Got: 'ab', expected at least 3 characters",
		},
		{
			name:     "max length masks NoEcho",
			vars:     []Variable{{Name: "A", Type: CFNString, MaxLength: IntPtr(3), NoEcho: true}},
			provided: map[string]any{"A": "secret"},
			wantErr:  "Got: '****', expected at most 3 characters",
		},
		{
			name:     "min value",
			vars:     []Variable{{Name: "A", Type: CFNNumber, MinValue: FloatPtr(1)}},
			provided: map[string]any{"A": "0"},
			wantErr:  "Got: '0', expected a value of at least 1",
		},
		{
			name:     "max value for Go ints",
			vars:     []Variable{{Name: "A", Type: Int, MaxValue: FloatPtr(10)}},
			provided: map[string]any{"A": 11},
			wantErr:  "Got: '11', expected a value of at most 10",
		},
		{
			name:     "number constraint on a word",
			vars:     []Variable{{Name: "A", Type: CFNNumber, MaxValue: FloatPtr(10)}},
			provided: map[string]any{"A": "ten"},
			wantErr:  "Got: 'ten', expected a number",
		},
		{
			name:     "constraints pass",
			vars:     []Variable{{Name: "A", Type: CFNString, AllowedPattern: "[a-z]+", MinLength: IntPtr(1), MaxLength: IntPtr(5)}},
			provided: map[string]any{"A": "abc"},
			want:     map[string]any{"A": "abc"},
		},
		{
			name:    "unknown type",
			vars:    []Variable{{Name: "A", Type: "str", Default: ""}},
			wantErr: `Variable "A" in blueprint "bp" has an unknown type "str"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ResolveVariables(varsOnly(tt.vars), "bp", tt.provided)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("got %v, want error containing %q", got, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %q, want it to contain %q", err, tt.wantErr)
				}
				var ve *VariableError
				if !errors.As(err, &ve) || ve.Blueprint != "bp" {
					t.Errorf("error %T is not a *VariableError for bp", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestScalar(t *testing.T) {
	for _, c := range []struct {
		in   any
		want string
		ok   bool
	}{
		{"s", "s", true}, {true, "true", true}, {3, "3", true}, {int64(-4), "-4", true},
		{3.0, "3", true}, {2.5, "2.5", true}, {1e6, "1000000", true}, {uint8(7), "7", true},
		{[]any{1}, "", false}, {map[string]any{}, "", false}, {nil, "", false},
	} {
		got, ok := Scalar(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("Scalar(%#v) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}
