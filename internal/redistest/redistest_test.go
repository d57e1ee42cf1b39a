package redistest

import (
	"context"
	"os"
	"testing"
	"time"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func TestPrefixKeysAreDeletedAfterTheTest(t *testing.T) {
	u := URL(t)
	var prefix string
	t.Run("use", func(t *testing.T) {
		prefix = Prefix(t)
		if other := Prefix(t); other == prefix {
			t.Fatalf("two calls gave the same prefix %q", prefix)
		}
		c := Client(t, u)
		for _, k := range []string{"a", "b*", "c?[x]"} {
			if err := c.Do(t.Context(), c.B().Set().Key(prefix+k).Value("v").Build()).Error(); err != nil {
				t.Fatal(err)
			}
		}
		keys, err := Keys(t.Context(), u, prefix)
		if err != nil || len(keys) != 3 {
			t.Fatalf("keys under %q = %v (%v), want 3", prefix, keys, err)
		}
	})
	keys, err := Keys(t.Context(), u, prefix)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 0 {
		t.Fatalf("keys %v still exist after their test", keys)
	}
}

// TestEscapeGlob: a prefix's pattern characters match only themselves, so
// cleaning one prefix never deletes another test's keys.
func TestEscapeGlob(t *testing.T) {
	u := URL(t)
	c := Client(t, u)
	base := Prefix(t)
	mine, theirs := base+"a*", base+"ab"
	if err := c.Do(t.Context(), c.B().Set().Key(theirs+"k").Value("v").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	if err := deletePrefix(t.Context(), u, mine); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Do(t.Context(), c.B().Exists().Key(theirs+"k").Build()).AsInt64(); err != nil || n != 1 {
		t.Fatalf("cleaning %q deleted %q (%d, %v)", mine, theirs+"k", n, err)
	}
}

// TestThrowawayServer starts a server from the installed redis-server, as
// redistest does on machines without a running one, and stops and restarts
// it.
func TestThrowawayServer(t *testing.T) {
	s := Start(t)
	if err := ping(s.URL()); err != nil {
		t.Fatal(err)
	}
	c := Client(t, s.URL())
	ctx := t.Context()
	if err := c.Do(ctx, c.B().Set().Key("k").Value("v").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	s.Stop(t)
	if err := ping(s.URL()); err == nil {
		t.Fatal("server answers after Stop")
	}
	s.Restart(t)
	if err := ping(s.URL()); err != nil {
		t.Fatalf("server does not answer after Restart: %v", err)
	}
	// The client that saw the server go away reconnects, and the data is
	// gone: the server keeps nothing on disk.
	deadline := time.Now().Add(10 * time.Second)
	for {
		sctx, cancel := context.WithTimeout(ctx, time.Second)
		n, err := c.Do(sctx, c.B().Exists().Key("k").Build()).AsInt64()
		cancel()
		if err == nil {
			if n != 0 {
				t.Fatal("key survived a restart")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("client did not reconnect after Restart: %v", err)
		}
	}
}
