package docstore_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
)

// TestSharedEventKeepsCallersApart delivers one shared event to the
// subscriptions of several callers, in both orders: what the first
// computes (the decoded document, the payload without hidden fields, an
// encoding) is shared, but an admin's whole payload never reaches a
// caller who is not an admin, nor a caller's verdict another caller.
func TestSharedEventKeepsCallersApart(t *testing.T) {
	onEngines(t, func(t *testing.T, f *accessFixture) {
		f.createNotes(t, "notes", docstore.Rules{List: rule(""),
			Get: rule(`owner = @auth.id || @auth.roles ?= "moderator"`)})
		f.seedNotes(t, "notes")
		c1 := docEvent(t, eventbus.DocumentCreated, "notes", "d1", bodyD1)
		stripped1 := `{"author":{"name":"Ann"},"owner":"u1","title":"one"}`
		moderator := auth.WithPrincipal(t.Context(), auth.Principal{Kind: auth.KindUser, ID: "u9", Roles: []string{"moderator"}})
		subscribe := func(ctx context.Context) *docstore.Delivery {
			t.Helper()
			d, err := f.svc.Subscribe(ctx, docstore.SubscribeRequest{Collection: "notes"})
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
		type who struct {
			name string
			ctx  context.Context
			want string // the data received; "" nothing
		}
		callers := []who{
			{"admin", as(t, "admin"), bodyD1},
			{"owner", as(t, "owner"), stripped1},
			{"other", as(t, "other"), ""},
			{"moderator", moderator, stripped1},
			{"owner again", as(t, "owner"), stripped1},
		}
		for _, order := range [][]int{{0, 1, 2, 3, 4}, {4, 3, 2, 1, 0}, {2, 0, 1, 3, 4}} {
			sh := docstore.NewSharedEvent(c1)
			views := map[string]*docstore.View{}
			for _, i := range order {
				c := callers[i]
				dec, err := subscribe(c.ctx).DeliverShared(c.ctx, sh)
				if err != nil {
					t.Fatal(err)
				}
				if got := deliveredData(t, dec); got != c.want {
					t.Errorf("order %v: %s received %q, want %q", order, c.name, got, c.want)
				}
				if dec.Deliver {
					if dec.View == nil || string(dec.View.Event().Payload) != string(dec.Event.Payload) {
						t.Errorf("%s: the decision's view is not its event", c.name)
					}
					if v, ok := views[c.want]; ok && v != dec.View {
						t.Errorf("%s: the same payload in another view: not shared", c.name)
					}
					views[c.want] = dec.View
				}
			}
			if views[bodyD1] == views[stripped1] {
				t.Errorf("order %v: admins and other callers share a view", order)
			}
		}
		if got := string(c1.Payload); !strings.Contains(got, "ann@example.com") {
			t.Errorf("the event was changed: %s", got)
		}
	})
}

// TestDeliveryVerdictFollowsTheCaller gives one subscription's events to
// different callers (as the stream's credential check may change the
// principal it runs under): each event is decided for the caller of its
// own call, never under the verdict kept for the previous one.
func TestDeliveryVerdictFollowsTheCaller(t *testing.T) {
	onEngines(t, func(t *testing.T, f *accessFixture) {
		f.createNotes(t, "notes", docstore.Rules{List: rule(""),
			Get: rule(`owner = @auth.id || @auth.roles ?= "moderator"`)})
		f.seedNotes(t, "notes")
		d, err := f.svc.Subscribe(as(t, "owner"), docstore.SubscribeRequest{Collection: "notes"})
		if err != nil {
			t.Fatal(err)
		}
		c1 := docEvent(t, eventbus.DocumentCreated, "notes", "d1", bodyD1)
		u2 := func(roles ...string) context.Context {
			return auth.WithPrincipal(t.Context(), auth.Principal{Kind: auth.KindUser, ID: "u2", Roles: roles})
		}
		for i, step := range []struct {
			ctx  context.Context
			want bool
		}{
			{as(t, "owner"), true}, {as(t, "other"), false}, {as(t, "owner"), true},
			{u2(), false}, {u2("moderator"), true}, {u2(), false}, {u2("moderator"), true},
			{as(t, ""), false},
		} {
			dec, err := d.DeliverShared(step.ctx, docstore.NewSharedEvent(c1))
			if err != nil {
				t.Fatal(err)
			}
			if dec.Deliver != step.want {
				t.Errorf("step %d (%+v): delivered %v, want %v", i, auth.FromContext(step.ctx), dec.Deliver, step.want)
			}
		}
	})
}

// TestViewEncodedOnce: a view's encoding is made once and shared; each
// view has its own.
func TestViewEncodedOnce(t *testing.T) {
	sh := docstore.NewSharedEvent(docEvent(t, eventbus.DocumentCreated, "notes", "d1", bodyD1))
	calls := 0
	enc := func(e eventbus.Event) ([]byte, error) {
		calls++
		return json.Marshal(e)
	}
	v := sh.AsWritten()
	if sh.AsWritten() != v {
		t.Fatal("two views of the event as written")
	}
	a, err := v.Encoded("json", enc)
	if err != nil {
		t.Fatal(err)
	}
	b, err := v.Encoded("json", enc)
	if err != nil || string(a) != string(b) || calls != 1 {
		t.Fatalf("second encoding: %d calls, %v", calls, err)
	}
	if _, err := v.Encoded("other", enc); err != nil || calls != 2 {
		t.Fatalf("another format: %d calls, %v", calls, err)
	}
}

// deliveredData is the data of the document a decision delivers, "" when
// it delivers nothing.
func deliveredData(t *testing.T, dec docstore.Decision) string {
	t.Helper()
	if !dec.Deliver {
		return ""
	}
	var doc docstore.Document
	if err := json.Unmarshal(dec.Event.Payload, &doc); err != nil {
		t.Fatal(err)
	}
	return string(doc.Data)
}
