// Package blueprint is the public API for blueprints: Go code that renders a
// CloudFormation template from typed variables. A team can build its own
// stacker binary with its own blueprints by calling Register from an init
// function and then app.Main.
package blueprint

import "context"

// Blueprint renders a template for one stack.
type Blueprint interface {
	// Variables declares the variables the blueprint takes.
	Variables() []Variable
	// Render builds the template. Variables are validated and defaulted
	// before Render is called.
	Render(ctx context.Context, in *Input) (*Template, error)
}

// Input is what a blueprint renders from.
type Input struct {
	Name        string // the stack's config name
	FQN         string // CloudFormation stack name
	Namespace   string
	Description string         // the stack's description key, "" if unset
	Variables   map[string]any // validated values, defaults applied
	Mappings    map[string]map[string]map[string]any
	Environment map[string]any
	// HookData is what the pre_build hooks stored, by data_key (stacker's
	// context.hook_data); nil outside build (--dump, diff).
	HookData map[string]map[string]any
	Indent   int // JSON indent (template_indent), default 4
}

// Template is a rendered template.
type Template struct {
	Body   []byte
	Format string // "json" or "yaml"
	// Parameters declared by the template, in template order.
	Parameters []Parameter
	// ParameterValues to send to CloudFormation (lists already joined by commas).
	ParameterValues map[string]string
	Outputs         []string
	// RequiresChangeSet is true when the template has a Transform.
	RequiresChangeSet bool
}

// Parameter is one declared CloudFormation parameter.
type Parameter struct {
	Name       string
	Type       string
	HasDefault bool
	Default    string
	NoEcho     bool
	// Constraints CloudFormation checks on a value (raw templates; empty
	// when the template declares none).
	AllowedValues        []string
	AllowedPattern       string
	MinLength, MaxLength *int
	MinValue, MaxValue   *float64
}

// Variable declares one blueprint variable.
type Variable struct {
	Name        string
	Type        VarType
	Default     any // nil means required
	Description string
	// Validator runs before the type check and may transform the value.
	Validator     func(v any) (any, error)
	AllowedValues []string
	// CloudFormation parameter constraints, emitted for CFN types.
	NoEcho                bool
	AllowedPattern        string
	MinLength, MaxLength  *int
	MinValue, MaxValue    *float64
	ConstraintDescription string
}

// VarType is a variable's type: a Go kind ("string", "int", "bool",
// "float", "list", "map", "any") or a CloudFormation parameter type
// ("CFN:String", "CFN:CommaDelimitedList", "CFN:AWS::EC2::VPC::Id", ...).
type VarType string
