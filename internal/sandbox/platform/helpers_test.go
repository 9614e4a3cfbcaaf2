package platform

import (
	"errors"
	"net/http/httptest"
	"sync"
	"testing"
)

func TestJSONHelpers(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
		wantErr          string
	}{
		{"empty body keeps the value", "", "keep", ""},
		{"object", `{"Name":"x"}`, "x", ""},
		{"not JSON", `{`, "keep", "SerializationException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := struct{ Name string }{"keep"}
			err := DecodeJSON(&Call{Body: []byte(tc.body)}, &v)
			var ae *APIError
			if tc.wantErr != "" {
				if !errors.As(err, &ae) || ae.Code != tc.wantErr || ae.Status != 400 || !ae.Sender {
					t.Fatalf("err = %#v", err)
				}
				return
			}
			if err != nil || v.Name != tc.want {
				t.Fatalf("v = %+v, err = %v", v, err)
			}
		})
	}
	rec := httptest.NewRecorder()
	if err := WriteJSON(rec, &Call{Action: "Get", RequestID: "req-1"}, map[string]int{"N": 1}); err != nil {
		t.Fatal(err)
	}
	if rec.Body.String() != `{"N":1}` || rec.Header().Get("Content-Type") != "application/x-amz-json-1.1" || rec.Header().Get("X-Amzn-RequestId") != "req-1" {
		t.Errorf("response %q %v", rec.Body.String(), rec.Header())
	}
	if e := Errorf(503, "SlowDown", "Please reduce your request rate %d", 1); e.Sender || e.Message != "Please reduce your request rate 1" {
		t.Errorf("Errorf = %+v", e)
	}
}

func TestStateHelpersRoundTrip(t *testing.T) {
	var mu sync.Mutex
	state := map[string]map[string]int{"111111111111": {"a": 1}}
	data, err := SnapshotState(&mu, state)
	if err != nil {
		t.Fatal(err)
	}
	var restored map[string]map[string]int
	if err := RestoreState(&mu, &restored, data, "things"); err != nil || restored["111111111111"]["a"] != 1 {
		t.Fatalf("restored %v, err %v", restored, err)
	}
	if err := RestoreState(&mu, &restored, []byte("nope"), "things"); err == nil || err.Error()[:15] != "restore things:" {
		t.Errorf("bad data: %v", err)
	}
	ResetState(&mu, &restored, map[string]map[string]int{})
	if len(restored) != 0 || restored == nil {
		t.Errorf("reset %v", restored)
	}
}

type fixedAuth Decision

func (a fixedAuth) Authorize(Principal, string, string, map[string][]string) Decision {
	return Decision(a)
}

func TestAuthorize(t *testing.T) {
	c := &Call{Principal: Principal{ARN: "arn:aws:iam::111111111111:user/dev"}, Region: "eu-west-1"}
	deny := func(reason string) error { return Errorf(403, "AccessDenied", "%s", reason) }
	for _, tc := range []struct {
		name string
		p    *Platform
		want string
	}{
		{"no platform allows", nil, ""},
		{"no authorizer allows", &Platform{}, ""},
		{"allowed", &Platform{Auth: fixedAuth{Allowed: true}}, ""},
		{"denied with AWS's reason", &Platform{Auth: fixedAuth{Reason: "because no identity-based policy allows it"}},
			"AccessDenied: because no identity-based policy allows it"},
		{"denied without a reason names principal, action and resource", &Platform{Auth: fixedAuth{}},
			"AccessDenied: User: arn:aws:iam::111111111111:user/dev is not authorized to perform: ssm:GetParameter on resource: " +
				"arn:aws:ssm:eu-west-1:111111111111:parameter/x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.Authorize(c, "ssm:GetParameter", ARN(c, "ssm", "111111111111", "parameter/x"), deny)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}
