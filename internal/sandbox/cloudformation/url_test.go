package cloudformation

import "testing"

func TestParseS3URL(t *testing.T) {
	s := New(nil)
	cases := []struct{ url, bucket, key, version string }{
		{"https://s3.amazonaws.com/b/k/x.yaml", "b", "k/x.yaml", ""},
		{"https://b.s3.amazonaws.com/k", "b", "k", ""},
		{"https://b.s3.eu-west-1.amazonaws.com/k?versionId=v1", "b", "k", "v1"},
		{"https://b.s3-eu-west-1.amazonaws.com/k", "b", "k", ""},
		{"https://s3.us-east-1.amazonaws.com/b/k", "b", "k", ""},
		{"https://s3-us-west-2.amazonaws.com/b/k", "b", "k", ""},
		{"https://my.dotted.bucket.s3.amazonaws.com/k", "my.dotted.bucket", "k", ""},
		{"http://127.0.0.1:4566/b/k", "b", "k", ""},
		{"http://localhost:4566/b/k", "b", "k", ""},
		{"https://example.com/b/k", "", "", ""},
		{"https://s3.amazonaws.com/b", "", "", ""},
	}
	for _, c := range cases {
		b, k, v, ok := s.parseS3URL(c.url)
		if b != c.bucket || k != c.key || v != c.version || ok != (c.bucket != "") {
			t.Errorf("%s: %q %q %q %v", c.url, b, k, v, ok)
		}
	}
}

func FuzzParseS3URL(f *testing.F) {
	s := New(nil)
	f.Add("https://s3.amazonaws.com/b/k")
	f.Fuzz(func(t *testing.T, u string) {
		b, k, _, ok := s.parseS3URL(u)
		if ok && (b == "" || k == "") {
			t.Fatalf("%q: ok with empty bucket or key", u)
		}
	})
}
