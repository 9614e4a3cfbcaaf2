package cfntemplate

import (
	"encoding/json"
	"strings"
	"testing"
)

type fakeRes struct{}

func (fakeRes) Ref(l string) (any, error)         { return "phys-" + l, nil }
func (fakeRes) GetAtt(l, a string) (any, error)   { return l + "." + a, nil }
func (fakeRes) ImportValue(n string) (any, error) { return "imported-" + n, nil }

func TestEval(t *testing.T) {
	body := `
Parameters:
  Env: {Type: String, Default: prod}
  Nets: {Type: CommaDelimitedList, Default: "a,b"}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  NotProd: !Not [!Condition IsProd]
  Both: !And [!Condition IsProd, !Equals [x, x]]
  Either: !Or [!Condition NotProd, !Equals [x, y]]
Resources:
  R:
    Type: AWS::SNS::Topic
`
	tp, err := Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	params, err := ResolveParams(tp, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := &Evaluator{T: tp, Params: params, Pseudo: Pseudo{AccountID: "123456789012", Region: "eu-west-1", StackName: "s", StackID: "id"}, R: fakeRes{}}
	if err := e.EvalConditions(); err != nil {
		t.Fatal(err)
	}
	if !e.Conds["IsProd"] || e.Conds["NotProd"] || !e.Conds["Both"] || e.Conds["Either"] {
		t.Fatalf("conditions %v", e.Conds)
	}
	cases := []struct{ expr, want string }{
		{`!Sub "${AWS::Region}-${Env}-${!Literal}-${R}-${R.Arn}"`, `"eu-west-1-prod-${Literal}-phys-R-R.Arn"`},
		{`!Sub ["${a}-${Env}", {a: !Ref AWS::AccountId}]`, `"123456789012-prod"`},
		{`!Join [",", !Ref Nets]`, `"a,b"`},
		{`!Select [1, !Split [",", "x,y,z"]]`, `"y"`},
		{`!GetAZs ""`, `["eu-west-1a","eu-west-1b","eu-west-1c"]`},
		{`!Base64 abc`, `"YWJj"`},
		{`!If [IsProd, yes, !Ref AWS::NoValue]`, `"yes"`},
		{`{a: !If [NotProd, yes, !Ref AWS::NoValue], b: 1}`, `{"b":"1"}`},
		{`!Cidr ["10.0.0.0/16", 3, 8]`, `["10.0.0.0/24","10.0.1.0/24","10.0.2.0/24"]`},
		{`!GetAtt R.Arn`, `"R.Arn"`},
		{`!ImportValue x`, `"imported-x"`},
		{`!Length [a, b, c]`, `"3"`},
		{`!ToJsonString {a: [1, 2]}`, `"{\"a\":[1,2]}"`},
	}
	for _, c := range cases {
		v, err := Decode("x: " + c.expr)
		if err != nil {
			t.Fatalf("%s: %v", c.expr, err)
		}
		got, err := e.Eval(v.(map[string]any)["x"])
		if err != nil {
			t.Errorf("%s: %v", c.expr, err)
			continue
		}
		b, _ := json.Marshal(normalizeForTest(got))
		if string(b) != c.want {
			t.Errorf("%s = %s, want %s", c.expr, b, c.want)
		}
	}
}

func normalizeForTest(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, y := range x {
			x[k] = normalizeForTest(y)
		}
		return x
	case []any:
		for i, y := range x {
			x[i] = normalizeForTest(y)
		}
		return x
	}
	if s, ok := Scalar(v); ok {
		return s
	}
	return v
}

func TestResolveParams(t *testing.T) {
	tp, err := Parse(`{"Parameters":{"A":{"Type":"String"},"B":{"Type":"Number","Default":"2","MinValue":1},"L":{"Type":"List<Number>","Default":"1,2"}},"Resources":{"R":{"Type":"AWS::SNS::Topic"}}}`)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		in   []ParamInput
		prev map[string]string
		err  string
	}{
		{nil, nil, "Parameters: [A] must have values"},
		{[]ParamInput{{Key: "A", Value: "x", HasValue: true}, {Key: "Z", Value: "1", HasValue: true}}, nil, "Parameters: [Z] do not exist in the template"},
		{[]ParamInput{{Key: "A", Value: "x", HasValue: true}, {Key: "B", Value: "0", HasValue: true}}, nil, "Parameter 'B' must be a number not less than 1"},
		{[]ParamInput{{Key: "A", Value: "x", HasValue: true}, {Key: "L", Value: "1,x", HasValue: true}}, nil, "Parameter 'L' must be a number"},
		{[]ParamInput{{Key: "A", UsePrevious: true}}, map[string]string{"A": "old"}, ""},
	}
	for _, c := range cases {
		out, err := ResolveParams(tp, c.in, c.prev)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != c.err {
			t.Errorf("%+v: got %q want %q", c.in, got, c.err)
		}
		if err == nil && out["B"] != "2" {
			t.Errorf("default not applied: %v", out)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add("Resources:\n  A:\n    Type: AWS::SNS::Topic\n")
	f.Add(`{"Resources":{"A":{"Type":"AWS::SNS::Topic","Properties":{"TopicName":{"Fn::Sub":"${AWS::StackName}"}}}}}`)
	f.Fuzz(func(t *testing.T, body string) {
		tp, err := Parse(body)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "Template") && !strings.Contains(err.Error(), "must") {
				t.Logf("error %v", err)
			}
			return
		}
		if err := tp.Validate(); err != nil {
			return
		}
		params := map[string]string{}
		for k, p := range tp.Parameters {
			params[k] = p.Default
		}
		e := &Evaluator{T: tp, Params: params, R: fakeRes{}}
		if err := e.EvalConditions(); err != nil {
			return
		}
		for _, r := range tp.Resources {
			_, _ = e.Eval(r.Properties)
		}
	})
}
