package storagetest

import (
	"context"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/docstore"
)

// testInstances checks the registry of processes: a heartbeat records an
// instance or renews it, Leave forgets it, and Instances lists those seen
// since a time, the earliest started first.
func testInstances(t *testing.T, s docstore.Store) {
	r, ok := s.(docstore.InstanceRegistry)
	if !ok {
		t.Fatalf("%T does not implement docstore.InstanceRegistry", s)
	}
	ctx := context.Background()
	before := time.Now().Add(-time.Second)
	a := docstore.Instance{ID: "a", Version: "v1.0.0", Migration: 12, Host: "node-1", Targets: "all", StartedAt: at(1)}
	b := docstore.Instance{ID: "b", Version: "v1.1.0", Migration: 13, Host: "node-2", Targets: "gateway,documents", StartedAt: at(0)}
	for _, in := range []docstore.Instance{a, b, a} {
		if err := r.Heartbeat(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	got, err := r.Instances(ctx, before)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != "b" || got[1].ID != "a" {
		t.Fatalf("Instances = %+v; want b then a (by start)", got)
	}
	g := got[1]
	if g.Version != a.Version || g.Migration != a.Migration || g.Host != a.Host || g.Targets != a.Targets || !g.StartedAt.Equal(a.StartedAt) ||
		g.SeenAt.Before(before) || g.SeenAt.After(time.Now().Add(time.Second)) {
		t.Fatalf("instance a read back as %+v", g)
	}
	if later, err := r.Instances(ctx, time.Now().Add(time.Minute)); err != nil || len(later) != 0 {
		t.Fatalf("Instances seen after a minute from now = %+v, %v; want none", later, err)
	}
	if err := r.Leave(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := r.Leave(ctx, "never-was"); err != nil {
		t.Fatalf("Leave of an unknown instance: %v", err)
	}
	got, err = r.Instances(ctx, before)
	if err != nil || len(got) != 1 || got[0].ID != "b" {
		t.Fatalf("after a left: %+v, %v; want b alone", got, err)
	}
}
