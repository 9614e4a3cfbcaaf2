package policy

import (
	"testing"
)

func TestEvaluate(t *testing.T) {
	user := Caller{Account: "111111111111", ARNs: []string{"arn:aws:iam::111111111111:user/admin"}}
	roleSession := Caller{Account: "111111111111", ARNs: []string{"arn:aws:sts::111111111111:assumed-role/Stacker/s", "arn:aws:iam::111111111111:role/Stacker"}}
	mfa := map[string][]string{"aws:multifactorauthpresent": {"true"}, "aws:multifactorauthage": {"30"}}
	tests := []struct {
		name     string
		doc      string
		resource bool
		req      Request
		want     Result
	}{
		{"wildcard action allows", `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`, false,
			Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k"}, Allowed},
		{"action match is case-insensitive", `{"Statement":[{"Effect":"Allow","Action":"S3:get*","Resource":"*"}]}`, false,
			Request{Action: "s3:GetObject", Resource: "x"}, Allowed},
		{"resource wildcard scopes", `{"Statement":[{"Effect":"Allow","Action":"cloudformation:*","Resource":"arn:aws:cloudformation:*:*:stack/allowed-*/*"}]}`, false,
			Request{Action: "cloudformation:CreateStack", Resource: "arn:aws:cloudformation:us-east-1:1:stack/other/x"}, NoMatch},
		{"explicit deny wins", `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"cloudformation:DeleteStack","Resource":"*"}]}`, false,
			Request{Action: "cloudformation:DeleteStack", Resource: "x"}, Denied},
		{"NotAction excludes", `{"Statement":[{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}]}`, false,
			Request{Action: "iam:CreateRole", Resource: "*"}, NoMatch},
		{"NotResource excludes", `{"Statement":[{"Effect":"Allow","Action":"s3:*","NotResource":"arn:aws:s3:::secret/*"}]}`, false,
			Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::secret/k"}, NoMatch},
		{"trust: account root admits users", `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"sts:AssumeRole"}]}`, true,
			Request{Action: "sts:AssumeRole", Caller: user}, Allowed},
		{"trust: bare account id admits", `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"111111111111"},"Action":"sts:AssumeRole"}]}`, true,
			Request{Action: "sts:AssumeRole", Caller: user}, Allowed},
		{"trust: other account refused", `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:root"},"Action":"sts:AssumeRole"}]}`, true,
			Request{Action: "sts:AssumeRole", Caller: user}, NoMatch},
		{"trust: role ARN matches its sessions", `{"Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111111111111:role/Stacker"]},"Action":"sts:AssumeRole"}]}`, true,
			Request{Action: "sts:AssumeRole", Caller: roleSession}, Allowed},
		{"trust: star", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}]}`, true,
			Request{Action: "sts:AssumeRole", Caller: user}, Allowed},
		{"Null MFA age false needs MFA", `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"111111111111"},"Action":"sts:AssumeRole","Condition":{"Null":{"aws:MultiFactorAuthAge":false}}}]}`, true,
			Request{Action: "sts:AssumeRole", Caller: user}, NoMatch},
		{"Null MFA age false with MFA", `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"111111111111"},"Action":"sts:AssumeRole","Condition":{"Null":{"aws:MultiFactorAuthAge":"false"}}}]}`, true,
			Request{Action: "sts:AssumeRole", Caller: user, Context: mfa}, Allowed},
		{"Bool MFA present", `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"111111111111"},"Action":"sts:AssumeRole","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}]}`, true,
			Request{Action: "sts:AssumeRole", Caller: user, Context: mfa}, Allowed},
		{"Bool MFA absent fails", `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"111111111111"},"Action":"sts:AssumeRole","Condition":{"Bool":{"aws:MultiFactorAuthPresent":true}}}]}`, true,
			Request{Action: "sts:AssumeRole", Caller: user}, NoMatch},
		{"MFA age limit", `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"111111111111"},"Action":"sts:AssumeRole","Condition":{"NumericLessThan":{"aws:MultiFactorAuthAge":"10"}}}]}`, true,
			Request{Action: "sts:AssumeRole", Caller: user, Context: mfa}, NoMatch},
		{"ExternalId required", `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"111111111111"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"x-1"}}}]}`, true,
			Request{Action: "sts:AssumeRole", Caller: user}, NoMatch},
		{"ExternalId given", `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"111111111111"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"x-1"}}}]}`, true,
			Request{Action: "sts:AssumeRole", Caller: user, Context: map[string][]string{"sts:externalid": {"x-1"}}}, Allowed},
		{"resource policy without principal ignored", `{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`, true,
			Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k", Caller: user}, NoMatch},
		{"StringLike on principal arn", `{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringNotLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/Stacker"}}}]}`, false,
			Request{Action: "s3:GetObject", Resource: "x", Context: map[string][]string{"aws:principalarn": {"arn:aws:iam::1:user/admin"}}}, Denied},
		{"unknown operator fails closed", `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Bogus":{"k":"v"}}}]}`, false,
			Request{Action: "s3:GetObject", Resource: "x", Context: map[string][]string{"k": {"v"}}}, NoMatch},
		{"IfExists tolerates absence", `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEqualsIfExists":{"aws:RequestedRegion":"us-east-1"}}}]}`, false,
			Request{Action: "s3:GetObject", Resource: "x"}, Allowed},
		{"ForAnyValue", `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"aws:TagKeys":["a","b"]}}}]}`, false,
			Request{Action: "s3:GetObject", Resource: "x", Context: map[string][]string{"aws:tagkeys": {"c", "b"}}}, Allowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Parse(tt.doc)
			if err != nil {
				t.Fatal(err)
			}
			if got := d.Evaluate(tt.req, tt.resource); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, doc := range []string{
		``, `[]`, `{"Statement":[]}`, `{"Statement":[{"Effect":"Maybe","Action":"*","Resource":"*"}]}`,
		`{"Statement":[{"Effect":"Allow","Resource":"*"}]}`, `{"Statement":[{"Effect":"Allow","Action":"*","Bogus":1}]}`,
		`{"Statement":[{"Effect":"Allow","Action":"*","Principal":"someone"}]}`,
	} {
		if _, err := Parse(doc); err == nil {
			t.Errorf("Parse(%q) succeeded", doc)
		}
	}
}

func TestGlob(t *testing.T) {
	for _, tt := range []struct {
		p, s string
		want bool
	}{
		{"*", "", true}, {"a*c", "abbbc", true}, {"a?c", "abc", true}, {"a?c", "abbc", false},
		{"arn:aws:s3:::b/*", "arn:aws:s3:::b/x/y", true}, {"*a*b", "xxaxxb", true}, {"*a*b", "xxbxxa", false},
	} {
		if got := Glob(tt.p, tt.s); got != tt.want {
			t.Errorf("Glob(%q, %q) = %v", tt.p, tt.s, got)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)
	f.Add(`{"Statement":{"Effect":"Deny","NotAction":["s3:*"],"NotResource":"x","Condition":{"Null":{"a":true}}}}`)
	f.Add(`{"Statement":[{"Effect":"Allow","Principal":{"AWS":["1","*"]},"Action":"sts:AssumeRole"}]}`)
	f.Fuzz(func(t *testing.T, doc string) {
		d, err := Parse(doc)
		if err != nil {
			return
		}
		_ = d.Evaluate(Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k", Caller: Caller{Account: "1", ARNs: []string{"a"}},
			Context: map[string][]string{"a": {"1"}}}, true)
		_ = d.Evaluate(Request{Action: "x:Y", Resource: "*"}, false)
	})
}
