package remote_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/remote"
)

// BenchmarkGetDocument reads a document from the service in the process
// and from the same service as a remote component over cleartext HTTP/2,
// side by side: what the hop between components costs a read.
func BenchmarkGetDocument(b *testing.B) {
	svc := service(b)
	admin := auth.WithPrincipal(b.Context(), principals["admin"])
	open := ""
	if _, err := svc.CreateCollection(admin, docstore.CollectionSpec{Name: "notes",
		Schema: json.RawMessage(`{"type":"object","properties":{"title":{"type":"string"}}}`), Rules: docstore.Rules{Get: &open}}); err != nil {
		b.Fatal(err)
	}
	for i := range 100 {
		if _, err := svc.CreateDocument(admin, docstore.CreateRequest{Collection: "notes", ID: fmt.Sprint(i),
			Data: docstore.Data{"title": "a note of some length, as notes are"}}); err != nil {
			b.Fatal(err)
		}
	}
	rd, err := remote.NewDocuments(remote.Options{URL: component(b, svc), Token: token})
	if err != nil {
		b.Fatal(err)
	}
	for name, docs := range map[string]docstore.Documents{"local": svc, "remote": rd} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(16) // calls in flight, as a gateway under load has
			b.RunParallel(func(pb *testing.PB) {
				ctx := auth.WithPrincipal(b.Context(), auth.Principal{})
				i := 0
				for pb.Next() {
					if _, err := docs.GetDocument(ctx, "notes", fmt.Sprint(i%100)); err != nil {
						b.Error(err)
						return
					}
					i++
				}
			})
		})
	}
}
