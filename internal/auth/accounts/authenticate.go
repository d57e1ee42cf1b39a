package accounts

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/fault"
)

const badAPIKeyMsg = "invalid or expired API key"

// Authenticate turns a bearer credential into a principal: an API key
// (prefix "bsk_") or an access token.
//
// An access token is verified once and then remembered until it expires;
// its session is checked against the revocation set, which answers from
// memory while the feed is fresh and from the database when it may be
// stale. When neither can answer, Authenticate fails closed with
// Unavailable.
func (s *Service) Authenticate(ctx context.Context, credential string) (auth.Principal, error) {
	if strings.HasPrefix(credential, apiKeyPrefix) {
		return s.authenticateAPIKey(ctx, credential)
	}
	c, err := s.cache.Verify(credential)
	if err != nil {
		return auth.Principal{}, err
	}
	revoked, err := s.revoked.Revoked(ctx, c.SessionID)
	if err != nil {
		return auth.Principal{}, err
	}
	if revoked {
		return auth.Principal{}, fault.New(fault.Unauthenticated, "accounts.Authenticate", "invalid or expired access token")
	}
	return auth.Principal{Kind: auth.KindUser, ID: c.Subject, SessionID: c.SessionID, Roles: c.Roles}, nil
}

// Recognize implements auth.Recognizer: the principal of an access token
// verified recently (and not expired), or of an API key read recently (and
// not expired), without a database read or a signature check, unless the
// revocation set knows it revoked or cannot tell without the database.
// So a stolen credential, once revoked, cannot spend its owner's rate
// limits: it is refused by address first, like any unknown credential.
func (s *Service) Recognize(credential string) (auth.Principal, bool) {
	if strings.HasPrefix(credential, apiKeyPrefix) {
		if !wellFormed(credential, apiKeyPrefix) {
			return auth.Principal{}, false
		}
		k, found, ok := s.apiKeys.get(string(hashSecret(credential)))
		if !ok || !found || !k.usableAt(s.now()) {
			return auth.Principal{}, false
		}
		if revoked, known := s.revoked.Known(k.ID); revoked || !known {
			return auth.Principal{}, false
		}
		return auth.Principal{Kind: auth.KindAPIKey, ID: k.ID, Roles: k.Roles, Scopes: k.Scopes, Account: k.CreatedBy}, true
	}
	c, ok := s.cache.Lookup(credential)
	if !ok {
		return auth.Principal{}, false
	}
	if revoked, known := s.revoked.Known(c.SessionID); revoked || !known {
		return auth.Principal{}, false
	}
	return auth.Principal{Kind: auth.KindUser, ID: c.Subject, SessionID: c.SessionID, Roles: c.Roles}, true
}

func (s *Service) authenticateAPIKey(ctx context.Context, credential string) (auth.Principal, error) {
	const op = "accounts.Authenticate"
	rejected := fault.New(fault.Unauthenticated, op, badAPIKeyMsg)
	if !wellFormed(credential, apiKeyPrefix) {
		return auth.Principal{}, rejected
	}
	hash := string(hashSecret(credential))
	k, found, ok := s.apiKeys.get(hash)
	if !ok {
		stored, err := s.store.APIKeyByHash(ctx, []byte(hash))
		switch {
		case fault.Is(err, fault.NotFound):
			found = false
		case err != nil:
			return auth.Principal{}, err
		default:
			k, found = stored, true
		}
		s.apiKeys.put(hash, k, found)
	}
	now := s.now()
	if !found || !k.usableAt(now) {
		return auth.Principal{}, rejected
	}
	revoked, err := s.revoked.Revoked(ctx, k.ID)
	if err != nil {
		return auth.Principal{}, err
	}
	if revoked {
		return auth.Principal{}, rejected
	}
	s.apiKeys.used(k.ID, now)
	return auth.Principal{Kind: auth.KindAPIKey, ID: k.ID, Roles: k.Roles, Scopes: k.Scopes, Account: k.CreatedBy}, nil
}

// usableAt reports whether k may be used at now: not revoked, not expired.
func (k APIKey) usableAt(now time.Time) bool {
	return k.RevokedAt.IsZero() && (k.ExpiresAt.IsZero() || now.Before(k.ExpiresAt))
}

// apiKeyCache remembers API keys (and unknown keys) for a short time, so
// that a service calling at a high rate costs no database read per request,
// and records when keys were last used for FlushAPIKeyUse. Revocation does
// not wait for the cache: it goes through the revocation set.
type apiKeyCache struct {
	now func() time.Time

	mu      sync.Mutex
	entries map[string]apiKeyEntry // by hash
	lastUse map[string]time.Time   // key ID → last use not yet stored
}

type apiKeyEntry struct {
	key     APIKey
	found   bool
	fetched time.Time
}

const (
	apiKeyCacheTTL  = 30 * time.Second
	apiKeyCacheSize = 10_000
	// apiKeyUseGranularity is how precise LastUsedAt is kept.
	apiKeyUseGranularity = time.Minute
)

func newAPIKeyCache(now func() time.Time) *apiKeyCache {
	return &apiKeyCache{now: now, entries: make(map[string]apiKeyEntry), lastUse: make(map[string]time.Time)}
}

func (c *apiKeyCache) get(hash string) (APIKey, bool, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[hash]
	if !ok || c.now().Sub(e.fetched) >= apiKeyCacheTTL {
		return APIKey{}, false, false
	}
	return e.key, e.found, true
}

func (c *apiKeyCache) put(hash string, k APIKey, found bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= apiKeyCacheSize {
		clear(c.entries) // bounded: start over rather than grow
	}
	c.entries[hash] = apiKeyEntry{key: k, found: found, fetched: c.now()}
}

// used notes a use of key id at t if the stored LastUsedAt may be older
// than the granularity.
func (c *apiKeyCache) used(id string, t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.lastUse) < apiKeyCacheSize {
		c.lastUse[id] = t
	}
}

// takeUses returns and forgets the uses noted so far.
func (c *apiKeyCache) takeUses() map[string]time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	uses := c.lastUse
	c.lastUse = make(map[string]time.Time)
	return uses
}

// FlushAPIKeyUse stores the last-used times of API keys used since the
// previous flush, at most once per key per minute. Run calls it.
func (s *Service) FlushAPIKeyUse(ctx context.Context) error {
	uses := s.apiKeys.takeUses()
	if len(uses) == 0 {
		return nil
	}
	return s.store.AuthWrite(ctx, func(tx Tx) error {
		for id, t := range uses {
			k, err := tx.GetAPIKey(ctx, id)
			if fault.Is(err, fault.NotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if t.Sub(k.LastUsedAt) < apiKeyUseGranularity {
				continue
			}
			k.LastUsedAt = t.UTC().Truncate(time.Microsecond)
			if err := tx.UpdateAPIKey(ctx, k); err != nil {
				return err
			}
		}
		return nil
	})
}
