package cfntemplate

import (
	"regexp"
	"strconv"
	"strings"
)

// ParamInput is one Parameters.member of a request.
type ParamInput struct {
	Key         string
	Value       string
	HasValue    bool
	UsePrevious bool
}

// ResolveParams validates the request's parameters against the template
// and returns every declared parameter's value (defaults applied,
// UsePreviousValue taken from prev, which holds resolved values).
func ResolveParams(t *Template, in []ParamInput, prev map[string]string) (map[string]string, error) {
	var undeclared []string
	given := map[string]ParamInput{}
	for _, p := range in {
		if _, ok := t.Parameters[p.Key]; !ok {
			undeclared = append(undeclared, p.Key)
			continue
		}
		given[p.Key] = p
	}
	if len(undeclared) > 0 {
		return nil, errf("Parameters: [%s] do not exist in the template", strings.Join(undeclared, ", "))
	}
	out := make(map[string]string, len(t.Parameters))
	var missing []string
	for _, name := range t.ParamOrder {
		p := t.Parameters[name]
		g, ok := given[name]
		switch {
		case ok && g.UsePrevious && g.HasValue && g.Value != "":
			return nil, errf("Invalid input for parameter key %s. Cannot specify usePreviousValue as true and non empty value for a parameter", name)
		case ok && g.UsePrevious:
			v, had := prev[name]
			if !had {
				return nil, errf("Invalid input for parameter key %s. Cannot specify usePreviousValue as true for a parameter key not in the previous template", name)
			}
			out[name] = v
		case ok && g.HasValue:
			out[name] = g.Value
		case p.HasDefault:
			out[name] = p.Default
		default:
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return nil, errf("Parameters: [%s] must have values", strings.Join(missing, ", "))
	}
	for _, name := range t.ParamOrder {
		if err := checkConstraints(t.Parameters[name], out[name]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func checkConstraints(p *Parameter, v string) error {
	fail := func(reason string) error {
		if p.ConstraintDescription != "" {
			return errf("Parameter %s failed to satisfy constraint: %s", p.Name, p.ConstraintDescription)
		}
		return errf("Parameter '%s' %s", p.Name, reason)
	}
	values := []string{v}
	if p.IsList() {
		values = SplitList(v)
	}
	isNum := p.Type == "Number" || p.Type == "List<Number>"
	for _, x := range values {
		if isNum {
			f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
			if err != nil {
				return errf("Parameter '%s' must be a number", p.Name)
			}
			if p.MinValue != nil && f < *p.MinValue {
				return fail("must be a number not less than " + fmtNum(*p.MinValue))
			}
			if p.MaxValue != nil && f > *p.MaxValue {
				return fail("must be a number not greater than " + fmtNum(*p.MaxValue))
			}
		}
		if len(p.AllowedValues) > 0 {
			found := false
			for _, a := range p.AllowedValues {
				if a == x {
					found = true
					break
				}
			}
			if !found {
				return fail("must be one of AllowedValues")
			}
		}
		if p.AllowedPattern != "" {
			if re, err := regexp.Compile("^(?:" + p.AllowedPattern + ")$"); err == nil && !re.MatchString(x) {
				return fail("must match pattern " + p.AllowedPattern)
			}
		}
		if !isNum {
			if p.MinLength != nil && len([]rune(x)) < *p.MinLength {
				return fail("must contain at least " + strconv.Itoa(*p.MinLength) + " characters")
			}
			if p.MaxLength != nil && len([]rune(x)) > *p.MaxLength {
				return fail("must contain at most " + strconv.Itoa(*p.MaxLength) + " characters")
			}
		}
	}
	return nil
}

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// SplitList splits a CommaDelimitedList value.
func SplitList(v string) []string {
	if v == "" {
		return []string{}
	}
	parts := strings.Split(v, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}
