package storagetest

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/basaltdev/basalt/internal/docstore"
)

// testSecrets checks that the first stored candidate of a secret wins, for
// sequential and concurrent callers alike.
func testSecrets(t *testing.T, s docstore.Store) {
	k, ok := s.(docstore.SecretKeeper)
	if !ok {
		t.Fatalf("%T does not implement docstore.SecretKeeper", s)
	}
	ctx := context.Background()
	first, err := k.Secret(ctx, "cursor", []byte("first-candidate"))
	if err != nil || string(first) != "first-candidate" {
		t.Fatalf("first Secret = %q, %v", first, err)
	}
	again, err := k.Secret(ctx, "cursor", []byte("second-candidate"))
	if err != nil || string(again) != "first-candidate" {
		t.Fatalf("second Secret = %q, %v; the first value must win", again, err)
	}
	var wg sync.WaitGroup
	got := make([][]byte, 8)
	errs := make([]error, len(got))
	for i := range got {
		wg.Go(func() { got[i], errs[i] = k.Secret(ctx, "shared", fmt.Appendf(nil, "candidate-%d", i)) })
	}
	wg.Wait()
	for i := range got {
		if errs[i] != nil || !bytes.Equal(got[i], got[0]) {
			t.Fatalf("concurrent Secret %d = %q, %v; want everyone to get %q", i, got[i], errs[i], got[0])
		}
	}
	other, err := k.Secret(ctx, "other", []byte{0, 1, 2, 255})
	if err != nil || !bytes.Equal(other, []byte{0, 1, 2, 255}) {
		t.Fatalf("binary secret = %v, %v", other, err)
	}
}
