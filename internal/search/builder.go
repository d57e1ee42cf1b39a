package search

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
	"github.com/basaltdev/basalt/internal/fault"
)

// BuildLockName is the cursor lock under which one process of a database
// at a time builds text indexes.
const BuildLockName = "search-build"

// Defaults of BuilderConfig.
const (
	DefaultBuildBatch = 500
	DefaultBuildPoll  = time.Minute
)

// TextBuilds is what the builder uses of an engine: searchdb.Store.
type TextBuilds interface {
	BuildText(ctx context.Context, collection string, limit int) (done bool, err error)
}

// CollectionLister lists the collections: docstore.Store.
type CollectionLister interface {
	ListCollections(ctx context.Context) ([]docstore.Collection, error)
}

// BuilderConfig configures a Builder. Collections, Text and Cursors are
// required.
type BuilderConfig struct {
	Collections CollectionLister
	Text        TextBuilds
	Cursors     eventbus.Cursors
	// Batch is how many documents one BuildText call indexes (default
	// 500).
	Batch int
	// Poll is how often the builder looks for work when not told of any
	// (default 1 min): a change made by another process is also told by
	// its event, which Indexes passes on (Kick).
	Poll   time.Duration
	Logger *slog.Logger
}

// Builder indexes again, in the background, the documents of collections
// whose text configuration changed: at start, when kicked (after a
// collection event) and every Poll, it calls BuildText in batches until
// each collection's build is done. It works under the "search-build"
// cursor lock, so one process of a database builds at a time; the build's
// state is the engine's, so another process goes on where one stopped.
type Builder struct {
	cfg  BuilderConfig
	log  *slog.Logger
	kick chan struct{}
}

// NewBuilder checks cfg and returns the builder; Run starts it.
func NewBuilder(cfg BuilderConfig) (*Builder, error) {
	if cfg.Collections == nil || cfg.Text == nil || cfg.Cursors == nil {
		return nil, fault.Internalf("search.NewBuilder", errors.New("the collections, the text builds and the cursors are required"))
	}
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBuildBatch
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultBuildPoll
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Builder{cfg: cfg, log: log.With("component", "search text builder"), kick: make(chan struct{}, 1)}, nil
}

// Kick tells the builder a collection's definition may have changed. It
// never blocks. Its argument (the collection's name) lets it serve as
// IndexesConfig.OnCollection.
func (b *Builder) Kick(string) {
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

// Run builds until ctx ends, then returns nil once the batch in progress
// is done.
func (b *Builder) Run(ctx context.Context) error {
	failures := 0
	for {
		err := b.buildAll(ctx)
		if ctx.Err() != nil {
			return nil
		}
		wait := b.cfg.Poll
		if err != nil {
			failures++
			wait = min(retryDelay(failures), b.cfg.Poll)
			b.log.WarnContext(ctx, "building text indexes failed; retrying", "err", err, "attempt", failures, "retryIn", wait)
		} else {
			failures = 0
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-b.kick:
		case <-t.C:
		}
		t.Stop()
	}
}

// buildAll builds every collection with a text configuration until done,
// under the build lock.
func (b *Builder) buildAll(ctx context.Context) error {
	cols, err := b.cfg.Collections.ListCollections(ctx)
	if err != nil {
		return fmt.Errorf("listing collections: %w", err)
	}
	var names []string
	for _, c := range cols {
		if c.Search.Text != nil {
			names = append(names, c.Name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	lock, err := b.cfg.Cursors.LockCursor(ctx, BuildLockName)
	if err != nil {
		return fmt.Errorf("taking the build lock: %w", err)
	}
	defer lock.Unlock()
	held := lock.Held()
	for _, name := range names {
		batches := 0
		for {
			done, err := b.cfg.Text.BuildText(held, name, b.cfg.Batch)
			if fault.Is(err, fault.NotFound) || fault.Is(err, fault.Invalid) {
				break // deleted, or no longer searchable, meanwhile
			}
			if err != nil {
				return fmt.Errorf("building the text index of %q: %w", name, err)
			}
			if done {
				break
			}
			batches++
		}
		if batches > 0 {
			b.log.InfoContext(ctx, "text index built", "collection", name, "batches", batches)
		}
	}
	return nil
}
