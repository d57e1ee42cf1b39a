package consumer_test

import (
	"context"
	"testing"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/consumer"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/fault"
)

func TestAdmin(t *testing.T) {
	store := openSQLite(t)
	e := newEnv(t, store)
	bus := e.bus(t)
	all := e.append(t, bus, events(t, 5, "a", "b")) // positions 1..10
	ctx := context.Background()
	if err := store.SetCursor(ctx, "search", 4); err != nil {
		t.Fatal(err)
	}
	if err := store.SetCursor(ctx, eventbus.RelayName, 10); err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for i, c := range []string{"webhooks", "search", "webhooks"} {
		id, err := store.AddDeadLetter(ctx, consumer.DeadLetter{Consumer: c, Event: all[i], Error: "boom", Attempts: 8})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	admin, err := consumer.NewAdmin(consumer.AdminConfig{Log: store, Cursors: store, DeadLetters: store, Names: []string{"cache", "search"}})
	if err != nil {
		t.Fatal(err)
	}
	as := func(p auth.Principal) context.Context { return auth.WithPrincipal(ctx, p) }
	admins := as(auth.Principal{Kind: auth.KindUser, ID: "u1", Roles: []string{auth.RoleAdmin}})

	// Who may: admins (and API keys with the scope); not others.
	for name, c := range map[string]struct {
		ctx  context.Context
		kind fault.Kind
	}{
		"anonymous":         {ctx, fault.Unauthenticated},
		"user":              {as(auth.Principal{Kind: auth.KindUser, ID: "u2"}), fault.Forbidden},
		"key without scope": {as(auth.Principal{Kind: auth.KindAPIKey, ID: "k", Roles: []string{auth.RoleAdmin}, Scopes: []string{auth.ScopeAdminWebhooks}}), fault.Forbidden},
	} {
		checks := map[string]error{}
		_, checks["Consumers"] = admin.Consumers(c.ctx)
		_, checks["Log"] = admin.Log(c.ctx)
		_, _, checks["ListDeadLetters"] = admin.ListDeadLetters(c.ctx, "", 0, 0)
		_, checks["GetDeadLetter"] = admin.GetDeadLetter(c.ctx, ids[0])
		_, checks["RetryDeadLetter"] = admin.RetryDeadLetter(c.ctx, ids[0])
		checks["DeleteDeadLetter"] = admin.DeleteDeadLetter(c.ctx, ids[0])
		for m, err := range checks {
			if !fault.Is(err, c.kind) {
				t.Errorf("%s: %s = %v, want %s", name, m, err, c.kind)
			}
		}
	}
	key := as(auth.Principal{Kind: auth.KindAPIKey, ID: "k", Roles: []string{auth.RoleAdmin}, Scopes: []string{auth.ScopeAdminEvents}})
	if _, err := admin.Consumers(key); err != nil {
		t.Errorf("an API key with %s: %v", auth.ScopeAdminEvents, err)
	}
	if d, err := admin.GetDeadLetter(admins, ids[0]); err != nil || d.Retry {
		t.Fatalf("the dead letter was changed by a refused caller: %+v %v", d, err)
	}

	got, err := admin.Consumers(admins)
	if err != nil {
		t.Fatal(err)
	}
	want := []consumer.Status{
		{Name: "relay", Position: 10, HasPosition: true},
		{Name: "cache", Lag: 10},
		{Name: "search", Position: 4, HasPosition: true, Lag: 6, DeadLetters: 1},
		{Name: "webhooks", Lag: 10, DeadLetters: 2},
	}
	if len(got) != len(want) {
		t.Fatalf("Consumers = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("consumer %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	logStatus, err := admin.Log(admins)
	if err != nil {
		t.Fatal(err)
	}
	if logStatus.Events != 10 || logStatus.Newest != 10 || logStatus.Trimmed != 0 || logStatus.Bytes <= 0 {
		t.Errorf("Log = %+v, want 10 events up to position 10", logStatus)
	}

	// Pages.
	page, next, err := admin.ListDeadLetters(admins, "", 0, 2)
	if err != nil || len(page) != 2 || page[0].ID != ids[0] || next != ids[1] {
		t.Fatalf("first page = %+v next %d (%v), want ids %v next %d", page, next, err, ids[:2], ids[1])
	}
	page, next, err = admin.ListDeadLetters(admins, "", next, 2)
	if err != nil || len(page) != 1 || page[0].ID != ids[2] || next != 0 {
		t.Fatalf("last page = %+v next %d (%v), want id %d and no next", page, next, err, ids[2])
	}
	page, _, err = admin.ListDeadLetters(admins, "webhooks", 0, 0)
	if err != nil || len(page) != 2 || page[0].Consumer != "webhooks" || page[1].Consumer != "webhooks" {
		t.Fatalf("webhooks' dead letters = %+v (%v)", page, err)
	}
	for _, bad := range []struct {
		consumer string
		after    int64
		limit    int
	}{{"Bad", 0, 0}, {"", -1, 0}, {"", 0, consumer.MaxPageSize + 1}, {"", 0, -1}} {
		if _, _, err := admin.ListDeadLetters(admins, bad.consumer, bad.after, bad.limit); !fault.Is(err, fault.Invalid) {
			t.Errorf("ListDeadLetters(%+v) = %v, want Invalid", bad, err)
		}
	}

	// Retry marks; delete removes; both 404 on a missing one.
	d, err := admin.RetryDeadLetter(admins, ids[1])
	if err != nil || !d.Retry || d.ID != ids[1] {
		t.Fatalf("RetryDeadLetter = %+v %v", d, err)
	}
	if d, _ := store.GetDeadLetter(ctx, ids[1]); !d.Retry {
		t.Error("the retry mark was not stored")
	}
	if err := admin.DeleteDeadLetter(admins, ids[1]); err != nil {
		t.Fatal(err)
	}
	if _, err := store.GetDeadLetter(ctx, ids[1]); !fault.Is(err, fault.NotFound) {
		t.Errorf("after delete: %v, want NotFound", err)
	}
	if _, err := admin.RetryDeadLetter(admins, ids[1]); !fault.Is(err, fault.NotFound) {
		t.Errorf("retry of a deleted dead letter: %v, want NotFound", err)
	}
	if err := admin.DeleteDeadLetter(admins, ids[1]); !fault.Is(err, fault.NotFound) {
		t.Errorf("second delete: %v, want NotFound", err)
	}
}

// kafkaLike is a bus that keeps consumers' positions itself: its Lag is
// what the admin view must show for them.
type kafkaLike struct {
	eventbus.Bus
	lags map[string]int64
}

func (b kafkaLike) Lag(_ context.Context, name string) (int64, error) {
	if err := eventbus.CheckConsumerName(name); err != nil {
		return 0, err
	}
	return b.lags[name], nil
}

func TestAdminLagFromTheBus(t *testing.T) {
	store := openSQLite(t)
	e := newEnv(t, store)
	e.append(t, e.bus(t), events(t, 2, "a", "b")) // positions 1..4
	ctx := context.Background()
	if err := store.SetCursor(ctx, eventbus.RelayName, 3); err != nil {
		t.Fatal(err)
	}
	admin, err := consumer.NewAdmin(consumer.AdminConfig{Log: store, Cursors: store, DeadLetters: store,
		Bus: kafkaLike{lags: map[string]int64{"search": 1}}, Names: []string{"search"}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := admin.Consumers(auth.WithPrincipal(ctx, auth.System()))
	if err != nil {
		t.Fatal(err)
	}
	want := []consumer.Status{{Name: "relay", Position: 3, HasPosition: true, Lag: 1}, {Name: "search", Lag: 1}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("Consumers = %+v, want %+v (the relay's lag from the log, search's from the bus)", got, want)
	}
}
