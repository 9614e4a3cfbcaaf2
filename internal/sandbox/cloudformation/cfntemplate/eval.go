package cfntemplate

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/big"
	"net/netip"
	"sort"
	"strconv"
	"strings"
)

// Pseudo holds the pseudo parameters of a stack.
type Pseudo struct {
	AccountID, Region, StackName, StackID, Partition, URLSuffix string
	NotificationARNs                                            []string
}

// Resolver answers references to resources and exports.
type Resolver interface {
	Ref(logical string) (any, error)
	GetAtt(logical, attr string) (any, error)
	ImportValue(name string) (any, error)
}

// Unknown is a value not known yet (a resource that does not exist yet,
// while computing a change set).
type Unknown struct{ Source string }

type noValue struct{}

// NoValue is the value of Ref AWS::NoValue; maps and lists drop it.
var NoValue any = noValue{}

// Evaluator evaluates template expressions.
type Evaluator struct {
	T      *Template
	Params map[string]string
	Pseudo Pseudo
	Conds  map[string]bool
	R      Resolver
}

// IsPseudo reports whether name is a pseudo parameter.
func IsPseudo(name string) bool {
	switch name {
	case "AWS::AccountId", "AWS::Region", "AWS::StackName", "AWS::StackId", "AWS::Partition",
		"AWS::URLSuffix", "AWS::NoValue", "AWS::NotificationARNs":
		return true
	}
	return false
}

func (e *Evaluator) pseudo(name string) any {
	switch name {
	case "AWS::AccountId":
		return e.Pseudo.AccountID
	case "AWS::Region":
		return e.Pseudo.Region
	case "AWS::StackName":
		return e.Pseudo.StackName
	case "AWS::StackId":
		return e.Pseudo.StackID
	case "AWS::Partition":
		return "aws"
	case "AWS::URLSuffix":
		return "amazonaws.com"
	case "AWS::NoValue":
		return NoValue
	case "AWS::NotificationARNs":
		l := make([]any, 0, len(e.Pseudo.NotificationARNs))
		for _, a := range e.Pseudo.NotificationARNs {
			l = append(l, a)
		}
		return l
	}
	return nil
}

// EvalConditions evaluates every condition of the template.
func (e *Evaluator) EvalConditions() error {
	e.Conds = make(map[string]bool, len(e.T.Conditions))
	visiting := map[string]bool{}
	var eval func(name string) (bool, error)
	var evalExpr func(v any) (bool, error)
	eval = func(name string) (bool, error) {
		if v, ok := e.Conds[name]; ok {
			return v, nil
		}
		expr, ok := e.T.Conditions[name]
		if !ok {
			return false, errf("Template format error: Unresolved dependencies [%s]. Cannot reference resources in the Conditions block of the template", name)
		}
		if visiting[name] {
			return false, errf("Template error: circular condition dependency %s", name)
		}
		visiting[name] = true
		b, err := evalExpr(expr)
		if err != nil {
			return false, err
		}
		e.Conds[name] = b
		return b, nil
	}
	evalExpr = func(v any) (bool, error) {
		m, ok := v.(map[string]any)
		if !ok || len(m) != 1 {
			if s, ok := v.(bool); ok {
				return s, nil
			}
			return false, errf("Template format error: Conditions can only be boolean operations on parameters and other conditions")
		}
		for fn, arg := range m {
			switch fn {
			case "Condition":
				s, _ := arg.(string)
				return eval(s)
			case "Fn::Equals":
				l, ok := arg.([]any)
				if !ok || len(l) != 2 {
					return false, errf("Template error: every Fn::Equals object requires a list of 2 string parameters.")
				}
				a, err := e.Eval(l[0])
				if err != nil {
					return false, err
				}
				b, err := e.Eval(l[1])
				if err != nil {
					return false, err
				}
				return canon(a) == canon(b), nil
			case "Fn::Not":
				l, ok := arg.([]any)
				if !ok || len(l) != 1 {
					return false, errf("Template error: Fn::Not requires a list argument with one function token")
				}
				b, err := evalExpr(l[0])
				return !b, err
			case "Fn::And", "Fn::Or":
				l, ok := arg.([]any)
				if !ok || len(l) < 2 || len(l) > 10 {
					return false, errf("Template error: %s requires a list argument with between 2 and 10 function tokens", fn)
				}
				and := fn == "Fn::And"
				res := and
				for _, x := range l {
					b, err := evalExpr(x)
					if err != nil {
						return false, err
					}
					if and {
						res = res && b
					} else {
						res = res || b
					}
				}
				return res, nil
			}
		}
		return false, errf("Template format error: Conditions can only be boolean operations on parameters and other conditions")
	}
	for _, name := range e.T.CondOrder {
		if _, err := eval(name); err != nil {
			return err
		}
	}
	return nil
}

func canon(v any) string {
	if s, ok := Scalar(v); ok {
		return s
	}
	return JSON(v)
}

// Condition returns the value of a named condition ("" is true).
func (e *Evaluator) Condition(name string) (bool, error) {
	if name == "" {
		return true, nil
	}
	v, ok := e.Conds[name]
	if !ok {
		return false, errf("Template format error: Unresolved condition dependency %s", name)
	}
	return v, nil
}

// Eval evaluates an expression.
func (e *Evaluator) Eval(v any) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 1 {
			for k, arg := range x {
				if k == "Ref" || strings.HasPrefix(k, "Fn::") || (k == "Condition" && isString(arg) && false) {
					return e.fn(k, arg)
				}
			}
		}
		out := make(map[string]any, len(x))
		for k, val := range x {
			r, err := e.Eval(val)
			if err != nil {
				return nil, err
			}
			if r == NoValue {
				continue
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, 0, len(x))
		for _, val := range x {
			r, err := e.Eval(val)
			if err != nil {
				return nil, err
			}
			if r == NoValue {
				continue
			}
			out = append(out, r)
		}
		return out, nil
	}
	return v, nil
}

func isString(v any) bool { _, ok := v.(string); return ok }

// HasUnknown reports whether v contains an Unknown.
func HasUnknown(v any) bool {
	switch x := v.(type) {
	case Unknown:
		return true
	case map[string]any:
		for _, y := range x {
			if HasUnknown(y) {
				return true
			}
		}
	case []any:
		for _, y := range x {
			if HasUnknown(y) {
				return true
			}
		}
	}
	return false
}

func (e *Evaluator) ref(name string) (any, error) {
	if IsPseudo(name) {
		return e.pseudo(name), nil
	}
	if p, ok := e.T.Parameters[name]; ok {
		v := e.Params[name]
		if p.IsList() {
			parts := SplitList(v)
			l := make([]any, len(parts))
			for i, s := range parts {
				l[i] = s
			}
			return l, nil
		}
		return v, nil
	}
	if _, ok := e.T.Resources[name]; ok && e.R != nil {
		return e.R.Ref(name)
	}
	return nil, errf("Template format error: Unresolved resource dependencies [%s] in the Resources block of the template", name)
}

func (e *Evaluator) str(v any, fn string) (string, error) {
	if u, ok := v.(Unknown); ok {
		return "", u
	}
	s, ok := Scalar(v)
	if !ok {
		return "", errf("Template error: every %s object requires string values", fn)
	}
	return s, nil
}

func (u Unknown) Error() string { return "unknown value " + u.Source }

func (e *Evaluator) list(v any, fn string) ([]any, error) {
	switch x := v.(type) {
	case []any:
		return x, nil
	case Unknown:
		return nil, x
	}
	return nil, errf("Template error: %s requires a list", fn)
}

func (e *Evaluator) fn(name string, arg any) (res any, err error) {
	defer func() {
		if u, ok := err.(Unknown); ok {
			res, err = u, nil
		}
	}()
	switch name {
	case "Ref":
		s, ok := arg.(string)
		if !ok {
			return nil, errf("Template format error: Every Ref object must have a single String value.")
		}
		return e.ref(s)
	case "Fn::GetAtt":
		var res, attr string
		switch a := arg.(type) {
		case string:
			res, attr, _ = strings.Cut(a, ".")
		case []any:
			if len(a) != 2 {
				return nil, errf("Template error: every Fn::GetAtt object requires two non-empty parameters, the resource name and the resource attribute")
			}
			res, _ = a[0].(string)
			av, err := e.Eval(a[1])
			if err != nil {
				return nil, err
			}
			attr, _ = Scalar(av)
		}
		if res == "" || attr == "" {
			return nil, errf("Template error: every Fn::GetAtt object requires two non-empty parameters, the resource name and the resource attribute")
		}
		if _, ok := e.T.Resources[res]; !ok || e.R == nil {
			return nil, errf("Template error: instance of Fn::GetAtt references undefined resource %s", res)
		}
		return e.R.GetAtt(res, attr)
	case "Fn::Join":
		l, ok := arg.([]any)
		if !ok || len(l) != 2 {
			return nil, errf("Template error: every Fn::Join object requires two parameters, (1) a string delimiter and (2) a list of strings to be joined or a function that returns a list of strings (such as Fn::GetAZs) to be joined.")
		}
		d, err := e.Eval(l[0])
		if err != nil {
			return nil, err
		}
		delim, err := e.str(d, "Fn::Join")
		if err != nil {
			return nil, err
		}
		lv, err := e.Eval(l[1])
		if err != nil {
			return nil, err
		}
		items, err := e.list(lv, "Fn::Join")
		if err != nil {
			return nil, errf("Template error: every Fn::Join object requires two parameters, (1) a string delimiter and (2) a list of strings to be joined or a function that returns a list of strings (such as Fn::GetAZs) to be joined.")
		}
		parts := make([]string, 0, len(items))
		for _, it := range items {
			s, err := e.str(it, "Fn::Join")
			if err != nil {
				return nil, err
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, delim), nil
	case "Fn::Sub":
		return e.sub(arg)
	case "Fn::Select":
		l, ok := arg.([]any)
		if !ok || len(l) != 2 {
			return nil, errf("Template error: Fn::Select requires a list argument with two elements: an integer index and a list")
		}
		iv, err := e.Eval(l[0])
		if err != nil {
			return nil, err
		}
		is, err := e.str(iv, "Fn::Select")
		if err != nil {
			return nil, err
		}
		idx, err := strconv.Atoi(is)
		if err != nil {
			return nil, errf("Template error: Fn::Select requires a list argument with two elements: an integer index and a list")
		}
		lv, err := e.Eval(l[1])
		if err != nil {
			return nil, err
		}
		items, err := e.list(lv, "Fn::Select")
		if err != nil {
			return nil, err
		}
		if idx < 0 || idx >= len(items) {
			return nil, errf("Template error: Fn::Select cannot select nonexistent value at index %d", idx)
		}
		return items[idx], nil
	case "Fn::Split":
		l, ok := arg.([]any)
		if !ok || len(l) != 2 {
			return nil, errf("Template error: every Fn::Split object requires two parameters, (1) a string delimiter and (2) a string to be split or a function that returns a string to be split.")
		}
		dv, err := e.Eval(l[0])
		if err != nil {
			return nil, err
		}
		d, err := e.str(dv, "Fn::Split")
		if err != nil {
			return nil, err
		}
		sv, err := e.Eval(l[1])
		if err != nil {
			return nil, err
		}
		s, err := e.str(sv, "Fn::Split")
		if err != nil {
			return nil, err
		}
		parts := strings.Split(s, d)
		out := make([]any, len(parts))
		for i, p := range parts {
			out[i] = p
		}
		return out, nil
	case "Fn::If":
		l, ok := arg.([]any)
		if !ok || len(l) != 3 {
			return nil, errf("Template error: Fn::If requires a list argument with three elements")
		}
		cn, _ := l[0].(string)
		b, ok := e.Conds[cn]
		if !ok {
			return nil, errf("Template error: unresolved condition dependency %s in Fn::If", cn)
		}
		if b {
			return e.Eval(l[1])
		}
		return e.Eval(l[2])
	case "Fn::FindInMap":
		l, ok := arg.([]any)
		if !ok || len(l) < 3 {
			return nil, errf("Template error: every Fn::FindInMap object requires three parameters, the map name, map key and the attribute for return value")
		}
		keys := make([]string, 3)
		for i := 0; i < 3; i++ {
			v, err := e.Eval(l[i])
			if err != nil {
				return nil, err
			}
			if keys[i], err = e.str(v, "Fn::FindInMap"); err != nil {
				return nil, err
			}
		}
		mp, ok := e.T.Mappings[keys[0]].(map[string]any)
		if !ok {
			return nil, errf("Template error: Unable to get mapping for %s::%s::%s", keys[0], keys[1], keys[2])
		}
		top, ok := mp[keys[1]].(map[string]any)
		if !ok {
			if len(l) == 4 {
				return defaultValue(e, l[3])
			}
			return nil, errf("Template error: Unable to get mapping for %s::%s::%s", keys[0], keys[1], keys[2])
		}
		v, ok := top[keys[2]]
		if !ok {
			if len(l) == 4 {
				return defaultValue(e, l[3])
			}
			return nil, errf("Template error: Unable to get mapping for %s::%s::%s", keys[0], keys[1], keys[2])
		}
		return v, nil
	case "Fn::Base64":
		v, err := e.Eval(arg)
		if err != nil {
			return nil, err
		}
		s, err := e.str(v, "Fn::Base64")
		if err != nil {
			return nil, err
		}
		return base64.StdEncoding.EncodeToString([]byte(s)), nil
	case "Fn::GetAZs":
		v, err := e.Eval(arg)
		if err != nil {
			return nil, err
		}
		region, _ := Scalar(v)
		if region == "" {
			region = e.Pseudo.Region
		}
		return []any{region + "a", region + "b", region + "c"}, nil
	case "Fn::ImportValue":
		v, err := e.Eval(arg)
		if err != nil {
			return nil, err
		}
		s, err := e.str(v, "Fn::ImportValue")
		if err != nil {
			return nil, err
		}
		if e.R == nil {
			return nil, errf("No export named %s found.", s)
		}
		return e.R.ImportValue(s)
	case "Fn::Cidr":
		return e.cidr(arg)
	case "Fn::Length":
		v, err := e.Eval(arg)
		if err != nil {
			return nil, err
		}
		l, err := e.list(v, "Fn::Length")
		if err != nil {
			return nil, err
		}
		return json.Number(strconv.Itoa(len(l))), nil
	case "Fn::ToJsonString":
		v, err := e.Eval(arg)
		if err != nil {
			return nil, err
		}
		if HasUnknown(v) {
			return Unknown{Source: "Fn::ToJsonString"}, nil
		}
		return JSON(v), nil
	case "Fn::Equals", "Fn::And", "Fn::Or", "Fn::Not":
		return nil, errf("Template error: %s is only supported in the Conditions block and in Fn::If", name)
	}
	return nil, errf("Template error: encountered unsupported function: %s Supported functions are: [Fn::Base64, Fn::GetAtt, Fn::GetAZs, Fn::ImportValue, Fn::Join, Fn::Split, Fn::FindInMap, Fn::Select, Ref, Fn::Equals, Fn::If, Fn::Not, Condition, Fn::And, Fn::Or, Fn::Contains, Fn::EachMemberEquals, Fn::EachMemberIn, Fn::ValueOf, Fn::ValueOfAll, Fn::RefAll, Fn::Sub, Fn::Cidr]", name)
}

func defaultValue(e *Evaluator, v any) (any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errf("Template error: Fn::FindInMap options must be a map with a DefaultValue")
	}
	return e.Eval(m["DefaultValue"])
}

// SubRefs returns the ${} variables of a Fn::Sub string (excluding ${!...}).
func SubRefs(s string) []string {
	var out []string
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			return out
		}
		j := strings.Index(s[i:], "}")
		if j < 0 {
			return out
		}
		name := s[i+2 : i+j]
		if !strings.HasPrefix(name, "!") {
			out = append(out, strings.TrimSpace(name))
		}
		s = s[i+j+1:]
	}
}

func (e *Evaluator) sub(arg any) (any, error) {
	var tpl string
	vars := map[string]any{}
	switch a := arg.(type) {
	case string:
		tpl = a
	case []any:
		if len(a) != 2 {
			return nil, errf("Template error: One or more Fn::Sub intrinsic functions don't specify expected arguments. Specify a string as first argument, and an optional second argument to specify a mapping of values to replace in the string")
		}
		s, ok := a[0].(string)
		m, ok2 := a[1].(map[string]any)
		if !ok || !ok2 {
			return nil, errf("Template error: One or more Fn::Sub intrinsic functions don't specify expected arguments. Specify a string as first argument, and an optional second argument to specify a mapping of values to replace in the string")
		}
		tpl = s
		for k, v := range m {
			r, err := e.Eval(v)
			if err != nil {
				return nil, err
			}
			vars[k] = r
		}
	default:
		return nil, errf("Template error: One or more Fn::Sub intrinsic functions don't specify expected arguments. Specify a string as first argument, and an optional second argument to specify a mapping of values to replace in the string")
	}
	var b strings.Builder
	s := tpl
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			break
		}
		j := strings.Index(s[i:], "}")
		if j < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		name := s[i+2 : i+j]
		s = s[i+j+1:]
		if strings.HasPrefix(name, "!") {
			b.WriteString("${" + name[1:] + "}")
			continue
		}
		name = strings.TrimSpace(name)
		var v any
		var err error
		if vv, ok := vars[name]; ok {
			v = vv
		} else if res, attr, ok := strings.Cut(name, "."); ok && !IsPseudo(name) {
			if _, ok := e.T.Resources[res]; !ok || e.R == nil {
				return nil, errf("Template format error: Unresolved resource dependencies [%s] in the Resources block of the template", res)
			}
			v, err = e.R.GetAtt(res, attr)
		} else {
			v, err = e.ref(name)
		}
		if err != nil {
			return nil, err
		}
		if u, ok := v.(Unknown); ok {
			return u, nil
		}
		str, ok := Scalar(v)
		if !ok {
			if l, isList := v.([]any); isList && name == "AWS::NotificationARNs" {
				parts := make([]string, 0, len(l))
				for _, x := range l {
					ps, _ := Scalar(x)
					parts = append(parts, ps)
				}
				str = strings.Join(parts, ",")
			} else {
				return nil, errf("Template error: variable %s in Fn::Sub expression does not resolve to a string", name)
			}
		}
		b.WriteString(str)
	}
	return b.String(), nil
}

func (e *Evaluator) cidr(arg any) (any, error) {
	l, ok := arg.([]any)
	if !ok || len(l) != 3 {
		return nil, errf("Template error: Fn::Cidr requires a list argument with three elements: ipBlock, count and cidrBits")
	}
	vals := make([]string, 3)
	for i := range l {
		v, err := e.Eval(l[i])
		if err != nil {
			return nil, err
		}
		if vals[i], err = e.str(v, "Fn::Cidr"); err != nil {
			return nil, err
		}
	}
	pfx, err := netip.ParsePrefix(vals[0])
	count, err2 := strconv.Atoi(vals[1])
	bits, err3 := strconv.Atoi(vals[2])
	if err != nil || err2 != nil || err3 != nil || count < 1 || count > 256 || bits < 1 {
		return nil, errf("Template error: Fn::Cidr requires a list argument with three elements: ipBlock, count and cidrBits")
	}
	total := pfx.Addr().BitLen()
	newLen := total - bits
	if newLen < pfx.Bits() {
		return nil, errf("Template error: Fn::Cidr cidrBits %d is too large for %s", bits, vals[0])
	}
	if newLen-pfx.Bits() < 31 && count > 1<<(newLen-pfx.Bits()) {
		return nil, errf("Template error: Fn::Cidr count %d is too large for %s", count, vals[0])
	}
	base := new(big.Int).SetBytes(pfx.Masked().Addr().AsSlice())
	step := new(big.Int).Lsh(big.NewInt(1), uint(bits))
	out := make([]any, 0, count)
	for i := 0; i < count; i++ {
		n := new(big.Int).Add(base, new(big.Int).Mul(step, big.NewInt(int64(i))))
		buf := make([]byte, total/8)
		nb := n.Bytes()
		copy(buf[len(buf)-len(nb):], nb)
		var addr netip.Addr
		if total == 32 {
			addr = netip.AddrFrom4([4]byte(buf))
		} else {
			addr = netip.AddrFrom16([16]byte(buf))
		}
		out = append(out, netip.PrefixFrom(addr, newLen).String())
	}
	_ = binary.BigEndian
	return out, nil
}

// Refs lists what an expression references: Ref targets, GetAtt
// resources and Fn::Sub variables (resource part before the dot), plus
// the conditions named by Fn::If.
func Refs(v any, refs map[string]bool, getatts map[string]bool, conds map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 1 {
			for k, arg := range x {
				switch k {
				case "Ref":
					if s, ok := arg.(string); ok {
						refs[s] = true
					}
					return
				case "Fn::GetAtt":
					switch a := arg.(type) {
					case string:
						r, _, _ := strings.Cut(a, ".")
						getatts[r] = true
					case []any:
						if len(a) > 0 {
							if s, ok := a[0].(string); ok {
								getatts[s] = true
							}
						}
						if len(a) > 1 {
							Refs(a[1], refs, getatts, conds)
						}
					}
					return
				case "Fn::Sub":
					var s string
					local := map[string]bool{}
					switch a := arg.(type) {
					case string:
						s = a
					case []any:
						if len(a) > 0 {
							s, _ = a[0].(string)
						}
						if len(a) > 1 {
							if m, ok := a[1].(map[string]any); ok {
								for k, vv := range m {
									local[k] = true
									Refs(vv, refs, getatts, conds)
								}
							}
						}
					}
					for _, name := range SubRefs(s) {
						if local[name] {
							continue
						}
						if r, _, ok := strings.Cut(name, "."); ok && !IsPseudo(name) {
							getatts[r] = true
						} else {
							refs[name] = true
						}
					}
					return
				case "Fn::If":
					if a, ok := arg.([]any); ok && len(a) > 0 {
						if s, ok := a[0].(string); ok && conds != nil {
							conds[s] = true
						}
						for _, y := range a[1:] {
							Refs(y, refs, getatts, conds)
						}
						return
					}
				}
			}
		}
		for _, y := range x {
			Refs(y, refs, getatts, conds)
		}
	case []any:
		for _, y := range x {
			Refs(y, refs, getatts, conds)
		}
	}
}

// Validate checks the template's references: every Ref, GetAtt and Sub
// variable names a parameter, pseudo parameter or resource; DependsOn
// names resources; conditions exist; no cycles.
func (t *Template) Validate() error {
	for _, name := range t.ResourceOrder {
		r := t.Resources[name]
		if r.Condition != "" {
			if _, ok := t.Conditions[r.Condition]; !ok {
				return errf("Template format error: Unresolved dependencies [%s]. Cannot reference resources in the Conditions block of the template", r.Condition)
			}
		}
	}
	check := func(v any, block string) error {
		refs, gas, conds := map[string]bool{}, map[string]bool{}, map[string]bool{}
		Refs(v, refs, gas, conds)
		var bad []string
		for _, r := range sortedSet(refs) {
			if _, ok := t.Resources[r]; ok {
				continue
			}
			if _, ok := t.Parameters[r]; ok || IsPseudo(r) {
				continue
			}
			bad = append(bad, r)
		}
		if len(bad) > 0 {
			return errf("Template format error: Unresolved resource dependencies [%s] in the %s block of the template", strings.Join(bad, ", "), block)
		}
		for _, g := range sortedSet(gas) {
			if _, ok := t.Resources[g]; !ok {
				return errf("Template error: instance of Fn::GetAtt references undefined resource %s", g)
			}
		}
		for _, c := range sortedSet(conds) {
			if _, ok := t.Conditions[c]; !ok {
				return errf("Template error: unresolved condition dependency %s in Fn::If", c)
			}
		}
		return nil
	}
	for _, name := range t.ResourceOrder {
		r := t.Resources[name]
		if err := check(r.Properties, "Resources"); err != nil {
			return err
		}
		var bad []string
		for _, d := range r.DependsOn {
			if _, ok := t.Resources[d]; !ok {
				bad = append(bad, d)
			}
		}
		if len(bad) > 0 {
			return errf("Template format error: Unresolved resource dependencies [%s] in the Resources block of the template", strings.Join(bad, ", "))
		}
	}
	for _, name := range t.OutputOrder {
		o := t.Outputs[name]
		if o.Condition != "" {
			if _, ok := t.Conditions[o.Condition]; !ok {
				return errf("Template format error: Unresolved dependencies [%s]. Cannot reference resources in the Conditions block of the template", o.Condition)
			}
		}
		if err := check([]any{o.Value, o.Export, o.Description}, "Outputs"); err != nil {
			return err
		}
	}
	for _, name := range t.CondOrder {
		refs, gas := map[string]bool{}, map[string]bool{}
		Refs(t.Conditions[name], refs, gas, nil)
		for _, r := range sortedSet(refs) {
			if _, ok := t.Parameters[r]; !ok && !IsPseudo(r) {
				return errf("Template format error: Unresolved dependencies [%s]. Cannot reference resources in the Conditions block of the template", r)
			}
		}
		if len(gas) > 0 {
			return errf("Template format error: Unresolved dependencies [%s]. Cannot reference resources in the Conditions block of the template", sortedSet(gas)[0])
		}
	}
	_, err := t.Order(nil)
	return err
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Deps returns the resources a resource depends on (Ref, GetAtt, Sub,
// DependsOn), restricted to the active set when active is non-nil.
func (t *Template) Deps(name string, active map[string]bool) []string {
	r := t.Resources[name]
	refs, gas := map[string]bool{}, map[string]bool{}
	Refs(r.Properties, refs, gas, nil)
	for g := range gas {
		refs[g] = true
	}
	for _, d := range r.DependsOn {
		refs[d] = true
	}
	var out []string
	for _, x := range sortedSet(refs) {
		if _, ok := t.Resources[x]; !ok || x == name {
			continue
		}
		if active != nil && !active[x] {
			continue
		}
		out = append(out, x)
	}
	return out
}

// Order returns the active resources in a dependency order, or a
// circular-dependency error.
func (t *Template) Order(active map[string]bool) ([]string, error) {
	state := map[string]int{}
	var out []string
	var stack []string
	var visit func(n string) error
	visit = func(n string) error {
		switch state[n] {
		case 1:
			i := len(stack) - 1
			for i >= 0 && stack[i] != n {
				i--
			}
			cyc := append([]string(nil), stack[max(i, 0):]...)
			sort.Strings(cyc)
			return errf("Circular dependency between resources: [%s]", strings.Join(cyc, ", "))
		case 2:
			return nil
		}
		state[n] = 1
		stack = append(stack, n)
		for _, d := range t.Deps(n, active) {
			if err := visit(d); err != nil {
				return err
			}
		}
		stack = stack[:len(stack)-1]
		state[n] = 2
		out = append(out, n)
		return nil
	}
	for _, n := range t.ResourceOrder {
		if active != nil && !active[n] {
			continue
		}
		if err := visit(n); err != nil {
			return nil, err
		}
	}
	return out, nil
}

var _ = fmt.Sprintf
