package client_test

import (
	"context"
	"fmt"
	"log"

	"github.com/basaltdev/basalt/client"
)

func Example() {
	base, stop := exampleServer() // a Basalt on 127.0.0.1 with an admin account
	defer stop()
	ctx := context.Background()

	c, err := client.New(base, client.Options{})
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Login(ctx, "admin@example.com", "a long admin password"); err != nil {
		log.Fatal(err)
	}
	err = c.CreateCollection(ctx, client.CollectionSpec{Name: "posts",
		Schema: map[string]any{"type": "object", "properties": map[string]any{"title": map[string]any{"type": "string"}}},
		Rules:  client.Rules{List: client.Rule(""), Get: client.Rule("")}, // everyone reads; admins write
	})
	if err != nil {
		log.Fatal(err)
	}

	posts := c.Documents("posts")
	doc, err := posts.Create(ctx, map[string]any{"title": "Hello, Basalt"})
	if err != nil {
		log.Fatal(err)
	}
	var post struct {
		Title string `json:"title"`
	}
	if err := doc.Decode(&post); err != nil {
		log.Fatal(err)
	}
	fmt.Println(doc.Version, post.Title)

	// A write that expects another version changes nothing.
	_, err = posts.Patch(ctx, doc.ID, map[string]any{"title": "Hello again"}, client.WriteOptions{ExpectedVersion: 7})
	fmt.Println(client.IsPreconditionFailed(err))

	page, err := posts.List(ctx, client.ListOptions{Filter: `title = "Hello, Basalt"`})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(page.Items), page.Items[0].ID == doc.ID)
	// Output:
	// 1 Hello, Basalt
	// true
	// 1 true
}
