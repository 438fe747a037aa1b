// Package subjectkeytest gives tests a region's subject key.
package subjectkeytest

import (
	"strings"

	"github.com/lethe-erasure/lethe/internal/subjectkey"
)

// Key is a fixed subject key for tests.
func Key() *subjectkey.Key {
	k, err := subjectkey.New([]byte(strings.Repeat("lethe-test-key.", 3)))
	if err != nil {
		panic(err)
	}
	return k
}
