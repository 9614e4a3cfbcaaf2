package blueprint

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/stacker-go/stacker/internal/suggest"
)

// Go kinds a variable can have. See ResolveVariables for the coercions.
const (
	String VarType = "string"
	Int    VarType = "int"
	Float  VarType = "float"
	Bool   VarType = "bool"
	List   VarType = "list"
	Map    VarType = "map"
	Any    VarType = "any"
)

// CloudFormation parameter types (stacker's CFNType instances). A variable
// of one of these types becomes a template Parameter; its value is sent to
// CloudFormation as a string.
const (
	CFNString                VarType = "CFN:String"
	CFNNumber                VarType = "CFN:Number"
	CFNNumberList            VarType = "CFN:List<Number>"
	CFNCommaDelimitedList    VarType = "CFN:CommaDelimitedList"
	EC2AvailabilityZoneName  VarType = "CFN:AWS::EC2::AvailabilityZone::Name"
	EC2ImageID               VarType = "CFN:AWS::EC2::Image::Id"
	EC2InstanceID            VarType = "CFN:AWS::EC2::Instance::Id"
	EC2KeyPairKeyName        VarType = "CFN:AWS::EC2::KeyPair::KeyName"
	EC2SecurityGroupName     VarType = "CFN:AWS::EC2::SecurityGroup::GroupName"
	EC2SecurityGroupID       VarType = "CFN:AWS::EC2::SecurityGroup::Id"
	EC2SubnetID              VarType = "CFN:AWS::EC2::Subnet::Id"
	EC2VolumeID              VarType = "CFN:AWS::EC2::Volume::Id"
	EC2VPCID                 VarType = "CFN:AWS::EC2::VPC::Id"
	Route53HostedZoneID      VarType = "CFN:AWS::Route53::HostedZone::Id"
	EC2AvailabilityZoneNames VarType = "CFN:List<AWS::EC2::AvailabilityZone::Name>"
	EC2ImageIDList           VarType = "CFN:List<AWS::EC2::Image::Id>"
	EC2InstanceIDList        VarType = "CFN:List<AWS::EC2::Instance::Id>"
	EC2SecurityGroupNameList VarType = "CFN:List<AWS::EC2::SecurityGroup::GroupName>"
	EC2SecurityGroupIDList   VarType = "CFN:List<AWS::EC2::SecurityGroup::Id>"
	EC2SubnetIDList          VarType = "CFN:List<AWS::EC2::Subnet::Id>"
	EC2VolumeIDList          VarType = "CFN:List<AWS::EC2::Volume::Id>"
	EC2VPCIDList             VarType = "CFN:List<AWS::EC2::VPC::Id>"
	Route53HostedZoneIDList  VarType = "CFN:List<AWS::Route53::HostedZone::Id>"
	SSMParameterName         VarType = "CFN:AWS::SSM::Parameter::Name"
	SSMParameterValueString  VarType = "CFN:AWS::SSM::Parameter::Value<String>"
	SSMParameterValueList    VarType = "CFN:AWS::SSM::Parameter::Value<List<String>>"
	SSMParameterValueCDL     VarType = "CFN:AWS::SSM::Parameter::Value<CommaDelimitedList>"
)

// CFN returns the variable type for any CloudFormation parameter type
// string, e.g. CFN("AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>").
func CFN(parameterType string) VarType { return VarType("CFN:" + parameterType) }

// IsCFN reports whether t is a CloudFormation parameter type.
func (t VarType) IsCFN() bool { return strings.HasPrefix(string(t), "CFN:") }

// CFNType is the CloudFormation parameter type ("" for Go kinds).
func (t VarType) CFNType() string {
	if !t.IsCFN() {
		return ""
	}
	return strings.TrimPrefix(string(t), "CFN:")
}

// isListCFN reports whether values of the CFN type are lists.
func (t VarType) isListCFN() bool {
	c := t.CFNType()
	return strings.HasPrefix(c, "List<") || c == "CommaDelimitedList"
}

func (t VarType) isNumberCFN() bool {
	c := t.CFNType()
	return c == "Number" || c == "List<Number>"
}

func (t VarType) valid() bool {
	switch t {
	case String, Int, Float, Bool, List, Map, Any:
		return true
	}
	return t.IsCFN() && t.CFNType() != ""
}

// VariableError is a variable that failed resolution. Error() is the
// message stacker prints for the same problem.
type VariableError struct {
	Blueprint string // the stack (blueprint) name
	Variable  string
	Msg       string
}

func (e *VariableError) Error() string { return e.Msg }

// Int and Float pointer helpers for Variable constraints.
func IntPtr(v int) *int            { return &v }
func FloatPtr(v float64) *float64  { return &v }
func boolStr(b bool) string        { return strconv.FormatBool(b) }
func fmtFloat(f float64) string    { return strconv.FormatFloat(f, 'f', -1, 64) }
func isIntegral(f float64) bool    { return f == math.Trunc(f) && !math.IsInf(f, 0) }
func masked(v Variable, s any) any { return ifElse(v.NoEcho, any("****"), s) }
func ifElse[T any](c bool, a, b T) T {
	if c {
		return a
	}
	return b
}

// ResolveVariables validates the provided values of the blueprint's
// variables and returns them with defaults applied. name is the stack name
// (stacker's blueprint name) used in messages. Provided values that the
// blueprint does not declare are ignored (logged at debug level), as in
// stacker.
//
// For each declared variable, in order:
//  1. the provided value, else Default; neither is an error
//     (Variable "V" in blueprint "B" is missing);
//  2. the Validator, if any (it may transform the value);
//  3. the type check with coercion:
//     - String accepts strings, and numbers or bools (formatted);
//     - Int accepts integers, integral floats and strings holding an integer;
//     - Float accepts numbers and numeric strings;
//     - Bool accepts bools and the strings "true"/"false" (any case);
//     - List accepts any slice (returned as []any); Map accepts string-keyed
//     maps (returned as map[string]any); Any accepts everything;
//     - CFN types accept a string, an integer or integral float, a bool
//     ("true"/"false") or a list (elements formatted, joined by commas), and
//     resolve to that string, which is the parameter value;
//  4. AllowedValues (every element for lists), AllowedPattern (whole
//     match), Min/MaxLength (strings, each element for lists) and
//     Min/MaxValue (numbers, each element for number lists), for every type.
//
// Values of NoEcho variables are shown as **** in errors.
func ResolveVariables(bp Blueprint, name string, provided map[string]any) (map[string]any, error) {
	defs := bp.Variables()
	out := make(map[string]any, len(defs))
	declared := make(map[string]bool, len(defs))
	for _, v := range defs {
		declared[v.Name] = true
	}
	var extra []string
	for k := range provided {
		if !declared[k] {
			extra = append(extra, k)
		}
	}
	if len(extra) > 0 {
		// A misspelt variable (Rolez for Roles) would otherwise be
		// dropped silently; stacker ignored it.
		sort.Strings(extra)
		names := make([]string, len(defs))
		for i, v := range defs {
			names[i] = v.Name
		}
		msgs := make([]string, len(extra))
		for i, k := range extra {
			msgs[i] = fmt.Sprintf("Variable %q is not a variable of blueprint %q%s", k, name,
				suggest.DidYouMean(suggest.Find(k, names, suggest.Options{Limit: suggest.Fraction(2, 2), Max: 3})))
		}
		return nil, &VariableError{Blueprint: name, Variable: extra[0], Msg: strings.Join(msgs, "; ")}
	}
	for _, v := range defs {
		val, err := resolveOne(v, name, provided)
		if err != nil {
			return nil, err
		}
		out[v.Name] = val
	}
	return out, nil
}

func resolveOne(v Variable, bpName string, provided map[string]any) (any, error) {
	verr := func(format string, args ...any) error {
		return &VariableError{Blueprint: bpName, Variable: v.Name, Msg: fmt.Sprintf(format, args...)}
	}
	if v.Type == "" {
		return nil, verr("Variable %q in blueprint %q does not have a type", v.Name, bpName)
	}
	if !v.Type.valid() {
		return nil, verr("Variable %q in blueprint %q has an unknown type %q", v.Name, bpName, v.Type)
	}
	val, ok := provided[v.Name]
	if !ok || val == nil {
		if v.Default == nil {
			return nil, verr("Variable %q in blueprint %q is missing", v.Name, bpName)
		}
		val = v.Default
	}
	if v.Validator != nil {
		nv, err := callValidator(v.Validator, val)
		if err != nil {
			return nil, verr("Validator '%s' failed for variable '%s' with value '%v': %v",
				funcName(v.Validator), v.Name, masked(v, val), err)
		}
		val = nv
	}
	val, err := coerce(v, bpName, val)
	if err != nil {
		return nil, err
	}
	if err := checkConstraints(v, bpName, val); err != nil {
		return nil, err
	}
	return val, nil
}

// callValidator turns a validator panic into an error: validators are user
// code and we run many stacks concurrently.
func callValidator(fn func(any) (any, error), v any) (out any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return fn(v)
}

func funcName(fn any) string {
	f := runtime.FuncForPC(reflect.ValueOf(fn).Pointer())
	if f == nil {
		return "validator"
	}
	n := f.Name()
	if i := strings.LastIndex(n, "/"); i >= 0 {
		n = n[i+1:]
	}
	return n
}

// typeName is the Go-ish name of a value's type for messages.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "bool"
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return "int"
	case float32, float64:
		return "float"
	}
	switch reflect.ValueOf(v).Kind() {
	case reflect.Slice, reflect.Array:
		return "list"
	case reflect.Map:
		return "map"
	}
	return fmt.Sprintf("%T", v)
}

func asInt64(v any) (int64, bool) {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int(), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		u := rv.Uint()
		if u > math.MaxInt64 {
			return 0, false
		}
		return int64(u), true
	case reflect.Float32, reflect.Float64:
		f := rv.Float()
		if isIntegral(f) && math.Abs(f) < 1<<53 {
			return int64(f), true
		}
	}
	return 0, false
}

func asFloat(v any) (float64, bool) {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(rv.Int()), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return float64(rv.Uint()), true
	case reflect.Float32, reflect.Float64:
		return rv.Float(), true
	}
	return 0, false
}

func asList(v any) ([]any, bool) {
	if l, ok := v.([]any); ok {
		return l, true
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return nil, false
	}
	if rv.Type().Elem().Kind() == reflect.Uint8 { // []byte is not a list
		return nil, false
	}
	out := make([]any, rv.Len())
	for i := range out {
		out[i] = rv.Index(i).Interface()
	}
	return out, true
}

func asMap(v any) (map[string]any, bool) {
	if m, ok := v.(map[string]any); ok {
		return m, true
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Map {
		return nil, false
	}
	out := make(map[string]any, rv.Len())
	it := rv.MapRange()
	for it.Next() {
		k, ok := it.Key().Interface().(string)
		if !ok {
			if it.Key().Kind() != reflect.Interface && it.Key().Kind() != reflect.String {
				return nil, false
			}
			k = fmt.Sprint(it.Key().Interface())
		}
		out[k] = it.Value().Interface()
	}
	return out, true
}

// Scalar formats a scalar as CloudFormation expects it: strings as is,
// bools as "true"/"false", numbers without exponent or trailing ".0".
// ok is false for lists, maps and other values.
func Scalar(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case bool:
		return boolStr(x), true
	case json.Number:
		return x.String(), true
	}
	if i, ok := asInt64(v); ok {
		if _, isF := v.(float64); !isF {
			return strconv.FormatInt(i, 10), true
		}
	}
	if f, ok := asFloat(v); ok {
		return fmtFloat(f), true
	}
	return "", false
}

func coerce(v Variable, bpName string, val any) (any, error) {
	typeErr := func() error {
		return &VariableError{Blueprint: bpName, Variable: v.Name, Msg: fmt.Sprintf(
			"Value for variable %s must be of type %s. Actual type: %s.", v.Name, v.Type, typeName(val))}
	}
	switch v.Type {
	case Any:
		return val, nil
	case String:
		switch val.(type) {
		case string:
			return val, nil
		}
		if _, isList := asList(val); isList {
			return nil, typeErr()
		}
		if s, ok := Scalar(val); ok {
			return s, nil
		}
		return nil, typeErr()
	case Int:
		if s, ok := val.(string); ok {
			i, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
			if err != nil {
				return nil, typeErr()
			}
			return int(i), nil
		}
		if _, isBool := val.(bool); isBool {
			return nil, typeErr()
		}
		if i, ok := asInt64(val); ok {
			return int(i), nil
		}
		return nil, typeErr()
	case Float:
		if s, ok := val.(string); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil {
				return nil, typeErr()
			}
			return f, nil
		}
		if f, ok := asFloat(val); ok {
			return f, nil
		}
		return nil, typeErr()
	case Bool:
		switch x := val.(type) {
		case bool:
			return x, nil
		case string:
			switch strings.ToLower(strings.TrimSpace(x)) {
			case "true":
				return true, nil
			case "false":
				return false, nil
			}
		}
		return nil, typeErr()
	case List:
		if l, ok := asList(val); ok {
			return l, nil
		}
		return nil, typeErr()
	case Map:
		if m, ok := asMap(val); ok {
			return m, nil
		}
		return nil, typeErr()
	}
	// CloudFormation types: stacker's CFNParameter rules.
	if s, ok := Scalar(val); ok {
		return s, nil
	}
	if l, ok := asList(val); ok {
		parts := make([]string, len(l))
		for i, e := range l {
			s, ok := Scalar(e)
			if !ok {
				return nil, &VariableError{Blueprint: bpName, Variable: v.Name, Msg: fmt.Sprintf(
					"CFNParameter (%s) list elements must be str, int, bool or float, got: %s", v.Name, typeName(e))}
			}
			parts[i] = s
		}
		return strings.Join(parts, ","), nil
	}
	return nil, &VariableError{Blueprint: bpName, Variable: v.Name, Msg: fmt.Sprintf(
		"CFNParameter (%s) value must be one of str, int, bool, or list got: %v", v.Name, masked(v, typeName(val)))}
}

// elements returns the values a constraint applies to: each element of a
// list (or of a comma-joined CFN list), else the value itself.
func elements(v Variable, val any) []any {
	if l, ok := asList(val); ok {
		return l
	}
	if s, ok := val.(string); ok && v.Type.isListCFN() {
		if s == "" {
			return nil
		}
		parts := strings.Split(s, ",")
		out := make([]any, len(parts))
		for i, p := range parts {
			out[i] = p
		}
		return out
	}
	return []any{val}
}

func checkConstraints(v Variable, bpName string, val any) error {
	invalid := func(got any, format string, args ...any) error {
		return &VariableError{Blueprint: bpName, Variable: v.Name, Msg: fmt.Sprintf(
			"Invalid value passed to '%s' in blueprint: %s. Got: '%v', ", v.Name, bpName, masked(v, got)) +
			fmt.Sprintf(format, args...)}
	}
	needs := len(v.AllowedValues) > 0 || v.AllowedPattern != "" || v.MinLength != nil ||
		v.MaxLength != nil || v.MinValue != nil || v.MaxValue != nil
	if !needs {
		return nil
	}
	var re *regexp.Regexp
	if v.AllowedPattern != "" {
		var err error
		// CloudFormation matches the whole value (Java regex semantics).
		re, err = regexp.Compile(`^(?:` + v.AllowedPattern + `)$`)
		if err != nil {
			slog.Debug("AllowedPattern is not a Go regexp; left to CloudFormation",
				"blueprint", bpName, "variable", v.Name, "error", err)
			re = nil
		}
	}
	for _, e := range elements(v, val) {
		s, isScalar := Scalar(e)
		if len(v.AllowedValues) > 0 && (!isScalar || !slices.Contains(v.AllowedValues, s)) {
			return invalid(e, "expected one of %s", pyList(v.AllowedValues))
		}
		if re != nil && isScalar && !re.MatchString(s) {
			return invalid(e, "does not match pattern '%s'", v.AllowedPattern)
		}
		if isScalar && (v.MinLength != nil || v.MaxLength != nil) && !v.Type.isNumberCFN() {
			n := utf8.RuneCountInString(s)
			if v.MinLength != nil && n < *v.MinLength {
				return invalid(e, "expected at least %d characters", *v.MinLength)
			}
			if v.MaxLength != nil && n > *v.MaxLength {
				return invalid(e, "expected at most %d characters", *v.MaxLength)
			}
		}
		if v.MinValue != nil || v.MaxValue != nil {
			f, ok := asFloat(e)
			if !ok && isScalar {
				var err error
				f, err = strconv.ParseFloat(strings.TrimSpace(s), 64)
				ok = err == nil
			}
			if !ok {
				return invalid(e, "expected a number")
			}
			if v.MinValue != nil && f < *v.MinValue {
				return invalid(e, "expected a value of at least %s", fmtFloat(*v.MinValue))
			}
			if v.MaxValue != nil && f > *v.MaxValue {
				return invalid(e, "expected a value of at most %s", fmtFloat(*v.MaxValue))
			}
		}
	}
	return nil
}

func pyList(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = "'" + v + "'"
	}
	return "[" + strings.Join(q, ", ") + "]"
}
