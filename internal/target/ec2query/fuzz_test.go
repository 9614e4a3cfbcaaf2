package ec2query

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to every response decoder and to the
// error decoder: none may panic, and a decoded answer must decode the
// same way twice. Seeds: testdata/*.xml and testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.xml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, newOut := range []func() any{
			func() any { return new(DescribeImagesOutput) },
			func() any { return new(DescribeKeyPairsOutput) },
			func() any { return new(ImportKeyPairOutput) },
			func() any { return new(CreateKeyPairOutput) },
			func() any { return new(DeleteKeyPairOutput) },
		} {
			a, b := newOut(), newOut()
			errA := Decode(bytes.NewReader(data), a)
			errB := Decode(bytes.NewReader(data), b)
			if (errA == nil) != (errB == nil) {
				t.Fatalf("decoding twice disagrees: %v vs %v", errA, errB)
			}
		}
		for _, status := range []int{400, 503, 599} {
			e, _ := decodeError(bytes.NewReader(data), status)
			if e == nil || e.Code == "" {
				t.Fatalf("status %d: error without a code: %#v", status, e)
			}
		}
	})
}
