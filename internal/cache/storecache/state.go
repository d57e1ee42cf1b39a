package storecache

import (
	"context"
	"time"

	"github.com/basaltdev/basalt/internal/docstore"
	"github.com/basaltdev/basalt/internal/eventbus"
)

// state is what decides whether an entry may be served: the event log as
// far as this process has read it, and the writes of this process whose
// events it has not read yet. Its methods are called with Store.mu held.
type state struct {
	// pos is the tailer's position: every event at or below it has been
	// applied to the floors.
	pos int64
	// base: entries read before it are never served (the log's newest
	// position when the tailer started, or when events it had not read
	// were trimmed, or when floors were dropped for room).
	base int64
	// doc is the position of the latest event of each document (key
	// collection/id); coll of each collection (any of its documents or
	// its definition); wide of each collection's latest definition event
	// (a deleted collection takes its documents with it).
	doc        map[string]floor
	coll, wide map[string]int64
	maxFloors  int
	// recent are versions this process read from the database that may be
	// newer than the tailer knows (it has not read their events yet), by
	// document key, kept for recentWindow: an entry holding an older
	// version is refused meanwhile, so that a process never answers with
	// a version older than one it answered before.
	recent       map[string]recentVersion
	recentQ      []recentItem
	recentWindow time.Duration
	// pending are this process's committed writes whose events the
	// tailer has not read yet, by event id; pendingDoc and pendingColl
	// count them by document key and by collection (collection events
	// count as pending for every document of the collection: pendingWide).
	pending                             map[string]pendingWrite
	pendingDoc, pendingColl, pendingWid map[string]int
	maxPending                          int
	// synced is the start of the last read of the log that reached its
	// end; the zero time until the first.
	synced time.Time
}

// floor is what the tailer read of one document: the position and the
// version of its latest event.
type floor struct{ pos, ver int64 }

type recentVersion struct {
	ver int64
	at  time.Time
}

type recentItem struct {
	key string
	at  time.Time
}

type pendingWrite struct {
	coll, doc string // doc is "" for a collection event
}

func newState(maxFloors, maxPending int, recentWindow time.Duration) *state {
	return &state{
		doc: map[string]floor{}, coll: map[string]int64{}, wide: map[string]int64{},
		maxFloors: maxFloors, maxPending: maxPending,
		recent: map[string]recentVersion{}, recentWindow: recentWindow,
		pending: map[string]pendingWrite{}, pendingDoc: map[string]int{},
		pendingColl: map[string]int{}, pendingWid: map[string]int{},
	}
}

func docKey(coll, id string) string { return coll + "/" + id }

// docFloor is the lowest position an entry of the document may have been
// read at to be served; ok is false while a write of this process to it
// (or to its collection's definition) awaits its event.
func (s *state) docFloor(coll, id string) (pos int64, ok bool) {
	k := docKey(coll, id)
	if s.pendingDoc[k] > 0 || s.pendingWid[coll] > 0 || len(s.pending) >= s.maxPending {
		return 0, false
	}
	return max(s.base, s.doc[k].pos, s.wide[coll]), true
}

// listFloor is docFloor for a result that reads the whole collection.
func (s *state) listFloor(coll string) (pos int64, ok bool) {
	if s.pendingColl[coll] > 0 || len(s.pending) >= s.maxPending {
		return 0, false
	}
	return max(s.base, s.coll[coll]), true
}

// servable reports whether every document of an entry is at least the
// version this process knows of: from the log, or from its own recent
// reads of the database.
func (s *state) servable(docs []docstore.Document, now time.Time) bool {
	s.prune(now)
	for i := range docs {
		k := docKey(docs[i].Collection, docs[i].ID)
		if docs[i].Version < s.doc[k].ver || docs[i].Version < s.recent[k].ver {
			return false
		}
	}
	return true
}

// loaded records the versions of documents read from the database.
func (s *state) loaded(docs []docstore.Document, now time.Time) {
	s.prune(now)
	for i := range docs {
		k := docKey(docs[i].Collection, docs[i].ID)
		v := docs[i].Version
		if v <= s.doc[k].ver || v <= s.recent[k].ver {
			continue
		}
		s.recent[k] = recentVersion{ver: v, at: now}
		s.recentQ = append(s.recentQ, recentItem{key: k, at: now})
	}
}

// prune forgets recent versions older than the window.
func (s *state) prune(now time.Time) {
	cut := now.Add(-s.recentWindow)
	i := 0
	for ; i < len(s.recentQ) && s.recentQ[i].at.Before(cut); i++ {
		it := s.recentQ[i]
		if r, ok := s.recent[it.key]; ok && r.at.Equal(it.at) {
			delete(s.recent, it.key)
		}
	}
	if i > 0 {
		s.recentQ = append(s.recentQ[:0], s.recentQ[i:]...)
	}
}

// fresh reports whether the log has been read to its end recently enough
// (within maxStale) for the floors to be trusted.
func (s *state) fresh(now time.Time, maxStale time.Duration) bool {
	return !s.synced.IsZero() && now.Sub(s.synced) <= maxStale
}

// pend records an event of this process's write, before the write
// commits: the event's document (or collection) is read from the database
// until the tailer reads the event.
func (s *state) pend(e eventbus.Event) {
	if e.Type.Internal() || e.ID == "" {
		return
	}
	if _, dup := s.pending[e.ID]; dup {
		return
	}
	w := pendingWrite{coll: e.Collection, doc: e.DocumentID}
	s.pending[e.ID] = w
	s.pendingColl[w.coll]++
	if w.doc == "" {
		s.pendingWid[w.coll]++
	} else {
		s.pendingDoc[docKey(w.coll, w.doc)]++
	}
}

// unpend forgets a pending event: its transaction did not commit, or the
// tailer read it.
func (s *state) unpend(id string) {
	w, ok := s.pending[id]
	if !ok {
		return
	}
	delete(s.pending, id)
	decr(s.pendingColl, w.coll)
	if w.doc == "" {
		decr(s.pendingWid, w.coll)
	} else {
		decr(s.pendingDoc, docKey(w.coll, w.doc))
	}
}

// apply moves the floors past events read from the log, in position
// order, and resolves this process's pending writes among them.
func (s *state) apply(evs []eventbus.Event) {
	for _, e := range evs {
		if e.Position > s.pos {
			s.pos = e.Position
		}
		if e.Type.Internal() {
			continue
		}
		s.unpend(e.ID)
		s.coll[e.Collection] = e.Position
		if e.DocumentID == "" {
			s.wide[e.Collection] = e.Position
			continue
		}
		s.doc[docKey(e.Collection, e.DocumentID)] = floor{pos: e.Position, ver: e.Version}
	}
	if len(s.doc) > s.maxFloors {
		// Forget every document floor at once: entries read before now
		// are no longer served. Rare (maxFloors documents written since
		// the last time), and cheaper than an ordered structure on every
		// event.
		s.doc = map[string]floor{}
		s.base = s.pos
	}
	if len(s.coll) > s.maxFloors {
		s.coll, s.wide = map[string]int64{}, map[string]int64{}
		s.base = s.pos
	}
}

// reset makes every entry read so far unservable: the tailer lost events
// (they were trimmed before it read them) and continues from newest.
func (s *state) reset(newest int64) {
	s.pos = max(s.pos, newest)
	s.base = s.pos
	s.doc, s.coll, s.wide = map[string]floor{}, map[string]int64{}, map[string]int64{}
}

func decr(m map[string]int, k string) {
	if m[k] <= 1 {
		delete(m, k)
		return
	}
	m[k]--
}

// tail follows the log until ctx ends: it reads new events when news
// tells of them and at least every poll, and checks every check interval
// that the events it has not read are still in the log.
func (s *Store) tail(ctx context.Context) error {
	for {
		_, newest, err := s.log.LogBounds(ctx)
		if err == nil {
			s.mu.Lock()
			s.st.reset(newest)
			s.mu.Unlock()
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		s.logger.WarnContext(ctx, "cache: reading the event log's position failed; documents are read from the database", "err", err)
		if !s.wait(ctx, nil) {
			return nil
		}
	}
	lastCheck := s.now()
	for {
		var news <-chan struct{}
		if s.news != nil {
			news = s.news.C() // before the read: a notice during it is not lost
		}
		n, err := s.readOnce(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			s.logger.WarnContext(ctx, "cache: reading the event log failed", "err", err)
		case n == s.batch:
			continue // more may be waiting
		}
		if now := s.now(); now.Sub(lastCheck) >= s.check {
			lastCheck = now
			s.checkTrimmed(ctx)
		}
		if !s.wait(ctx, news) {
			return nil
		}
	}
}

func (s *Store) wait(ctx context.Context, news <-chan struct{}) bool {
	t := time.NewTimer(s.poll)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-news:
	case <-t.C:
	}
	return true
}

// readOnce reads the events after the tailer's position and applies them;
// it returns how many it read.
func (s *Store) readOnce(ctx context.Context) (int, error) {
	start := s.now()
	s.mu.Lock()
	after := s.st.pos
	s.mu.Unlock()
	evs, err := s.log.ReadEvents(ctx, after, s.batch)
	if err != nil {
		return 0, err
	}
	now := s.now()
	s.mu.Lock()
	if s.st.pos == after { // a reset in between moved it: read again
		s.st.apply(evs)
		if len(evs) < s.batch {
			s.st.synced = start
		}
	}
	s.mu.Unlock()
	for i := range evs {
		if !evs[i].Type.Internal() && !evs[i].Time.IsZero() {
			s.metrics.lag.Observe(max(0, now.Sub(evs[i].Time).Seconds()))
		}
	}
	return len(evs), nil
}

// checkTrimmed resets the floors when events after the tailer's position
// were trimmed before it read them.
func (s *Store) checkTrimmed(ctx context.Context) {
	trimmed, newest, err := s.log.LogBounds(ctx)
	if err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if trimmed > s.st.pos {
		s.logger.WarnContext(ctx, "cache: events were trimmed from the log before they were read; cached entries are dropped",
			"position", s.st.pos, "trimmed", trimmed)
		s.st.reset(newest)
	}
}
