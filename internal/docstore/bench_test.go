package docstore_test

import (
	"fmt"
	"testing"

	"github.com/basaltdev/basalt/internal/docstore"
)

func BenchmarkCreateDocument(b *testing.B) {
	f := newFixtureTB(b)
	f.postsTB(b)
	i := 0
	for b.Loop() {
		i++
		if _, err := f.svc.CreateDocument(adminCtx(b), docstore.CreateRequest{Collection: "posts", Data: dataTB(b, fmt.Sprintf(`{"title":"t%d","score":%d}`, i, i))}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGetDocument(b *testing.B) {
	f := newFixtureTB(b)
	f.postsTB(b)
	d, err := f.svc.CreateDocument(adminCtx(b), docstore.CreateRequest{Collection: "posts", Data: dataTB(b, `{"title":"t","score":1}`)})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := f.svc.GetDocument(adminCtx(b), "posts", d.ID); err != nil {
			b.Fatal(err)
		}
	}
}
