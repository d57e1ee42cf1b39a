package rpcapi_test

import (
	"context"
	"testing"

	"google.golang.org/protobuf/proto"

	basaltv1 "github.com/basaltdev/basalt/gen/basalt/v1"
	"github.com/basaltdev/basalt/gen/basalt/v1/basaltv1connect"
	"github.com/basaltdev/basalt/internal/fault"
)

func TestCollections(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	admin := basaltv1connect.NewCollectionServiceClient(f.connection("admin"))
	user := basaltv1connect.NewCollectionServiceClient(f.connection("user"))
	open, owner := "", "owner = @auth.id"
	spec := &basaltv1.CollectionSpec{
		Name:         "notes",
		Schema:       []byte(`{"type":"object","properties":{"body":{"type":"string"},"owner":{"type":"string"},"embedding":{"type":"array","items":{"type":"number"}}}}`),
		Indexes:      []*basaltv1.Index{{Fields: []string{"owner"}}},
		Rules:        &basaltv1.Rules{List: &owner, Get: &owner, Create: &open}, // update and delete: administrators only
		HiddenFields: []string{"owner"},
		Search: &basaltv1.Search{
			Text:    &basaltv1.TextSearch{Fields: map[string]int32{"body": 2}, Language: "english"},
			Vectors: map[string]*basaltv1.VectorField{"embedding": {Dimensions: 3, Metric: "cosine", Source: "client"}},
		},
	}
	_, err := user.CreateCollection(ctx, &basaltv1.CreateCollectionRequest{Spec: spec})
	wantFault(t, "a user creating a collection", err, fault.Forbidden, "")
	created, err := admin.CreateCollection(ctx, &basaltv1.CreateCollectionRequest{Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	c := created.GetCollection()
	if c.GetName() != "notes" || c.GetVersion() != 1 || !c.GetCreatedAt().IsValid() {
		t.Fatalf("created %v", c)
	}
	// What was asked for comes back: unset rules stay unset, empty ones
	// empty.
	for what, pair := range map[string][2]proto.Message{
		"rules":   {spec.GetRules(), c.GetRules()},
		"search":  {spec.GetSearch(), c.GetSearch()},
		"indexes": {spec.GetIndexes()[0], c.GetIndexes()[0]},
	} {
		if !proto.Equal(pair[0], pair[1]) {
			t.Errorf("%s: sent %v, got %v", what, pair[0], pair[1])
		}
	}
	if c.GetRules().Update != nil || c.GetRules().GetCreate() != "" || c.GetRules().Create == nil {
		t.Errorf("rules %v", c.GetRules())
	}
	got, err := admin.GetCollection(ctx, &basaltv1.GetCollectionRequest{Name: "notes"})
	if err != nil || !proto.Equal(got.GetCollection(), c) {
		t.Fatalf("get: %v, %v; want %v", got, err, c)
	}
	patched, err := admin.PatchCollection(ctx, &basaltv1.PatchCollectionRequest{Name: "notes", Patch: []byte(`{"hiddenFields":[]}`), ExpectedVersion: 1})
	if err != nil || patched.GetCollection().GetVersion() != 2 || len(patched.GetCollection().GetHiddenFields()) != 0 {
		t.Fatalf("patch: %v, %v", patched, err)
	}
	_, err = admin.ReplaceCollection(ctx, &basaltv1.ReplaceCollectionRequest{Name: "notes", Spec: spec, ExpectedVersion: 1})
	wantFault(t, "a replace at an old version", err, fault.PreconditionFailed, "")
	_, err = admin.PatchCollection(ctx, &basaltv1.PatchCollectionRequest{Name: "notes", Patch: []byte(`[]`)})
	wantFault(t, "a patch that is not an object", err, fault.Invalid, "/patch")
	list, err := admin.ListCollections(ctx, &basaltv1.ListCollectionsRequest{})
	if err != nil || len(list.GetCollections()) != 2 {
		t.Fatalf("list: %v, %v", list, err)
	}
	if _, err := admin.DeleteCollection(ctx, &basaltv1.DeleteCollectionRequest{Name: "notes", ExpectedVersion: 2}); err != nil {
		t.Fatal(err)
	}
	_, err = admin.GetCollection(ctx, &basaltv1.GetCollectionRequest{Name: "notes"})
	wantFault(t, "a deleted collection", err, fault.NotFound, "")
}
