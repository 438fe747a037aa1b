// Package embeddedtest gives handler tests a real requests table: the
// embedded store in a temporary directory, holding the requests they need.
package embeddedtest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/lethe-erasure/lethe/internal/erasure"
	"github.com/lethe-erasure/lethe/internal/store/embedded"
	"github.com/lethe-erasure/lethe/internal/subjectkey/subjectkeytest"
)

// Requests opens an embedded requests table of region in a temporary
// directory (closed when the test ends) and creates reqs in it.
func Requests(t testing.TB, region string, reqs ...erasure.Request) *embedded.Requests {
	t.Helper()
	db, err := embedded.Open(filepath.Join(t.TempDir(), "lethe.db"), embedded.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	r := db.Requests(region)
	for _, req := range reqs {
		if _, _, err := r.Create(context.Background(), WithSubject(t, req), ""); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// WithSubject gives a request built by a test the keyed hash and the
// commitment of its subject id, as intake does (under the test key).
func WithSubject(t testing.TB, req erasure.Request) erasure.Request {
	t.Helper()
	if req.SubjectHash == "" && req.SubjectID != "" {
		if err := req.SetSubject(subjectkeytest.Key(), req.SubjectID); err != nil {
			t.Fatal(err)
		}
	}
	return req
}
