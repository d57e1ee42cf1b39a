package sqlite

import (
	"container/list"
	"context"
	"database/sql"
	"errors"
	"sync"
)

// stmtCache keeps prepared statements by SQL text, least recently used
// first out, so the hot queries (get by id, list pages, inserts) are parsed
// and planned once per connection instead of on every call. Statements are
// never prepared for DDL.
type stmtCache struct {
	db  preparer
	max int

	mu  sync.Mutex
	m   map[string]*list.Element // of *cachedStmt
	lru *list.List
}

// preparer is a pool (*sql.DB) or one pinned connection (*sql.Conn).
type preparer interface {
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

type cachedStmt struct {
	query string
	stmt  *sql.Stmt
}

func newStmtCache(db preparer, max int) *stmtCache {
	return &stmtCache{db: db, max: max, m: make(map[string]*list.Element), lru: list.New()}
}

// get returns the prepared statement for query, preparing it on first use.
func (c *stmtCache) get(ctx context.Context, query string) (*sql.Stmt, error) {
	c.mu.Lock()
	if e, ok := c.m[query]; ok {
		c.lru.MoveToFront(e)
		st := e.Value.(*cachedStmt).stmt
		c.mu.Unlock()
		return st, nil
	}
	c.mu.Unlock()
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[query]; ok { // prepared concurrently
		_ = st.Close()
		c.lru.MoveToFront(e)
		return e.Value.(*cachedStmt).stmt, nil
	}
	c.m[query] = c.lru.PushFront(&cachedStmt{query: query, stmt: st})
	for c.lru.Len() > c.max {
		old := c.lru.Remove(c.lru.Back()).(*cachedStmt)
		delete(c.m, old.query)
		// database/sql closes the statement once no query uses it.
		_ = old.stmt.Close()
	}
	return st, nil
}

// close closes every cached statement.
func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for e := c.lru.Front(); e != nil; e = e.Next() {
		errs = append(errs, e.Value.(*cachedStmt).stmt.Close())
	}
	c.m = map[string]*list.Element{}
	c.lru.Init()
	return errors.Join(errs...)
}

// cachedDB runs queries on the pool through the cache.
type cachedDB struct{ c *stmtCache }

func (d cachedDB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := d.c.get(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

func (d cachedDB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := d.c.get(ctx, query)
	if err != nil {
		return d.c.db.QueryRowContext(ctx, query, args...) // reports the same error
	}
	return st.QueryRowContext(ctx, args...)
}

func (d cachedDB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := d.c.get(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// pinnedTx runs the statements of a write transaction on the pinned write
// connection, where BEGIN IMMEDIATE … COMMIT is issued as plain SQL (so
// several callers' transactions can share one commit, see commit.go).
// Cancellation of the caller's context is ignored once a statement is
// issued: interrupting SQLite in the middle of a write would roll back the
// whole shared transaction.
type pinnedTx struct {
	conn *sql.Conn
	c    *stmtCache // prepared on conn
}

func (t pinnedTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return cachedDB{t.c}.QueryContext(context.WithoutCancel(ctx), query, args...)
}

func (t pinnedTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return cachedDB{t.c}.QueryRowContext(context.WithoutCancel(ctx), query, args...)
}

func (t pinnedTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return cachedDB{t.c}.ExecContext(context.WithoutCancel(ctx), query, args...)
}

// ddl runs a statement that is not worth caching (schema changes).
func (t pinnedTx) ddl(ctx context.Context, query string) error {
	_, err := t.conn.ExecContext(context.WithoutCancel(ctx), query)
	return err
}

// queryOnce runs a query that is not worth caching.
func (t pinnedTx) queryOnce(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return t.conn.QueryContext(context.WithoutCancel(ctx), query, args...)
}
