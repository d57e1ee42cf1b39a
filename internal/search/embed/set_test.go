package embed

import (
	"context"
	"errors"
	"slices"
	"testing"
)

func TestSetBuiltinOnly(t *testing.T) {
	s, err := NewSet(nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Names(); !slices.Equal(got, []string{"builtin"}) {
		t.Errorf("Names() = %v", got)
	}
	for _, name := range []string{"", "builtin"} {
		e, err := s.Embedder(name, 128)
		if err != nil {
			t.Fatalf("Embedder(%q, 128): %v", name, err)
		}
		if e.Dimensions() != 128 || e.Name() != "builtin-v1/128" {
			t.Errorf("Embedder(%q, 128) = %s of %d dimensions", name, e.Name(), e.Dimensions())
		}
	}
	e1, _ := s.Embedder("builtin", 64)
	e2, _ := s.Embedder("", 64)
	if e1 != e2 {
		t.Error("the builtin embedder of one dimension count is made twice")
	}
	if err := s.Check("builtin", 4); !errors.Is(err, ErrDimensions) {
		t.Errorf("Check(builtin, 4) = %v, want ErrDimensions", err)
	}
	if err := s.Check("openai", 1536); !errors.Is(err, ErrUnknown) {
		t.Errorf("Check(openai) without a server = %v, want ErrUnknown", err)
	}
	if _, err := s.Embedder("bert", 384); !errors.Is(err, ErrUnknown) {
		t.Errorf("Embedder(bert) = %v, want ErrUnknown", err)
	}
}

func TestSetWithOpenAI(t *testing.T) {
	f := newFakeServer(t, 16)
	s, err := NewSet(&OpenAIOptions{BaseURL: f.srv.URL, Model: "m", Dimensions: 16})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Names(); !slices.Equal(got, []string{"builtin", "openai"}) {
		t.Errorf("Names() = %v", got)
	}
	e, err := s.Embedder("openai", 16)
	if err != nil {
		t.Fatal(err)
	}
	if e.Name() != "openai:m" {
		t.Errorf("Name() = %q", e.Name())
	}
	v, err := e.Embed(context.Background(), []string{"hello"})
	if err != nil || !slices.Equal(v[0], f.emb.Vector("hello")) {
		t.Fatalf("Embed: %v, %v", v, err)
	}
	if err := s.Check("openai", 32); !errors.Is(err, ErrDimensions) {
		t.Errorf("Check(openai, 32) = %v, want ErrDimensions", err)
	}
	if _, err := NewSet(&OpenAIOptions{BaseURL: "ftp://x", Model: "m", Dimensions: 16}); err == nil {
		t.Error("NewSet accepted invalid options")
	}
}
