package target

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeSTS is an httptest STS speaking the query protocol: enough of
// GetSessionToken, AssumeRole and GetCallerIdentity to test the chains.
type fakeSTS struct {
	srv *httptest.Server

	mu    sync.Mutex
	calls []stsCall
	n     int
	// keys maps an issued access key id to its account and whether it
	// carries MFA context.
	keys map[string]fakeKey
	// code is the valid MFA code; ttl the lifetime of issued credentials.
	code string
	ttl  time.Duration
}

type fakeKey struct {
	account string
	mfa     bool
	secret  string
}

type stsCall struct {
	Action   string
	KeyID    string // who signed
	RoleARN  string
	Serial   string
	Code     string
	Session  string
	External string
	Duration string
}

var credRE = regexp.MustCompile(`Credential=([A-Z0-9]+)/`)

func newFakeSTS(t *testing.T) *fakeSTS {
	t.Helper()
	f := &fakeSTS{keys: map[string]fakeKey{"AKIAROOT": {account: "111111111111", secret: "rootsecret"}}, code: "123456", ttl: time.Hour}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeSTS) count(action string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if c.Action == action {
			n++
		}
	}
	return n
}

func (f *fakeSTS) callsOf(action string) []stsCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []stsCall
	for _, c := range f.calls {
		if c.Action == action {
			out = append(out, c)
		}
	}
	return out
}

func (f *fakeSTS) fail(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<ErrorResponse><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>r</RequestId></ErrorResponse>`, code, msg)
}

func (f *fakeSTS) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/federation/credentials" { // SSO portal GetRoleCredentials
		f.mu.Lock()
		f.calls = append(f.calls, stsCall{Action: "sso:GetRoleCredentials", RoleARN: r.URL.Query().Get("role_name")})
		f.keys["ASIASSO"] = fakeKey{account: r.URL.Query().Get("account_id"), secret: "ssosecret"}
		f.mu.Unlock()
		if r.Header.Get("x-amz-sso_bearer_token") != "sso-token" {
			w.WriteHeader(401)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"roleCredentials":{"accessKeyId":"ASIASSO","secretAccessKey":"ssosecret","sessionToken":"ssotok","expiration":%d}}`, time.Now().Add(time.Hour).UnixMilli())
		return
	}
	if err := r.ParseForm(); err != nil {
		f.fail(w, 400, "InvalidRequest", err.Error())
		return
	}
	m := credRE.FindStringSubmatch(r.Header.Get("Authorization"))
	key := ""
	if m != nil {
		key = m[1]
	}
	c := stsCall{Action: r.Form.Get("Action"), KeyID: key, RoleARN: r.Form.Get("RoleArn"), Serial: r.Form.Get("SerialNumber"),
		Code: r.Form.Get("TokenCode"), Session: r.Form.Get("RoleSessionName"), External: r.Form.Get("ExternalId"), Duration: r.Form.Get("DurationSeconds")}
	f.mu.Lock()
	f.calls = append(f.calls, c)
	caller, ok := f.keys[key]
	f.mu.Unlock()
	if !ok {
		f.fail(w, 403, "InvalidClientTokenId", "The security token included in the request is invalid.")
		return
	}
	issue := func(account string, mfa bool) (string, string) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.n++
		id := fmt.Sprintf("ASIAFAKE%04d", f.n)
		secret := fmt.Sprintf("secret%04dxyz", f.n)
		f.keys[id] = fakeKey{account: account, mfa: mfa, secret: secret}
		return id, secret
	}
	exp := time.Now().Add(f.ttl).UTC().Format(time.RFC3339)
	w.Header().Set("Content-Type", "text/xml")
	switch c.Action {
	case "GetSessionToken":
		if c.Serial != "" && c.Code != f.code {
			f.fail(w, 403, "AccessDenied", "MultiFactorAuthentication failed with invalid MFA one time pass code.")
			return
		}
		id, secret := issue(caller.account, c.Serial != "")
		fmt.Fprintf(w, `<GetSessionTokenResponse><GetSessionTokenResult><Credentials><AccessKeyId>%s</AccessKeyId><SecretAccessKey>%s</SecretAccessKey><SessionToken>tok-%s</SessionToken><Expiration>%s</Expiration></Credentials></GetSessionTokenResult></GetSessionTokenResponse>`, id, secret, id, exp)
	case "AssumeRole":
		parts := strings.Split(c.RoleARN, ":")
		if len(parts) < 5 {
			f.fail(w, 400, "ValidationError", "bad role arn")
			return
		}
		mfa := caller.mfa
		if c.Serial != "" {
			if c.Code != f.code {
				f.fail(w, 403, "AccessDenied", "MultiFactorAuthentication failed with invalid MFA one time pass code.")
				return
			}
			mfa = true
		}
		if strings.Contains(c.RoleARN, "MFARequired") && !mfa {
			f.fail(w, 403, "AccessDenied", "User is not authorized to perform: sts:AssumeRole on resource: "+c.RoleARN)
			return
		}
		id, secret := issue(parts[4], mfa)
		role := parts[5][len("role/"):]
		fmt.Fprintf(w, `<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>%s</AccessKeyId><SecretAccessKey>%s</SecretAccessKey><SessionToken>tok-%s</SessionToken><Expiration>%s</Expiration></Credentials><AssumedRoleUser><Arn>arn:aws:sts::%s:assumed-role/%s/%s</Arn><AssumedRoleId>AROA:%s</AssumedRoleId></AssumedRoleUser></AssumeRoleResult></AssumeRoleResponse>`,
			id, secret, id, exp, parts[4], role, c.Session, c.Session)
	case "GetCallerIdentity":
		fmt.Fprintf(w, `<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>arn:aws:sts::%s:assumed-role/x/y</Arn><UserId>AROA:y</UserId><Account>%s</Account></GetCallerIdentityResult></GetCallerIdentityResponse>`, caller.account, caller.account)
	default:
		f.fail(w, 400, "InvalidAction", c.Action)
	}
}
