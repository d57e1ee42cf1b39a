package accounts

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/basaltdev/basalt/internal/auth"
	"github.com/basaltdev/basalt/internal/auth/token"
	"github.com/basaltdev/basalt/internal/fault"
)

// keyring holds the signing keys of access tokens as the database has them,
// reloaded every second so that a rotation made by any process reaches all.
//
// A new key is published (verifies, appears in the JWKS) at once but signs
// only after propagation, by which time every process has loaded it. Keys a
// rotation supersedes keep verifying until their last token has expired
// (NotAfter), then retire.
type keyring struct {
	store       Store
	now         func() time.Time
	propagation time.Duration
	lifetime    time.Duration // access-token TTL plus leeway

	mu   sync.Mutex // serializes loads
	snap atomic.Pointer[keySnapshot]
}

type keySnapshot struct {
	all  []SigningKey // oldest first (by CreatedAt, then ID)
	keys []token.Key  // the same keys; the verifier skips retired ones
	jwks []byte
}

func newKeyring(store Store, now func() time.Time, propagation, lifetime time.Duration) *keyring {
	return &keyring{store: store, now: now, propagation: propagation, lifetime: lifetime}
}

func (k *keyring) loaded() bool { return k.snap.Load() != nil }

// verifying returns the keys that verify tokens now (token.Verifier calls
// it on every verification).
func (k *keyring) verifying() []token.Key {
	if s := k.snap.Load(); s != nil {
		return s.keys
	}
	return nil
}

// load reads the keys; with create, it makes the first key when there is
// none.
func (k *keyring) load(ctx context.Context, create bool) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	stored, err := k.store.SigningKeys(ctx)
	if err != nil {
		return err
	}
	if len(stored) == 0 && create {
		first, err := newSigningKey(k.now())
		if err != nil {
			return err
		}
		err = k.store.AuthWrite(ctx, func(tx Tx) error {
			existing, err := tx.SigningKeys(ctx)
			if err != nil || len(existing) > 0 {
				return err // another process made the first key
			}
			return tx.InsertSigningKey(ctx, first)
		})
		if err != nil {
			return err
		}
		if stored, err = k.store.SigningKeys(ctx); err != nil {
			return err
		}
	}
	slices.SortStableFunc(stored, func(a, b SigningKey) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	snap := &keySnapshot{all: stored}
	for _, sk := range stored {
		if len(sk.Private) != ed25519.PrivateKeySize {
			return fault.Internalf("accounts.keys", fmt.Errorf("signing key %q has %d private key bytes", sk.ID, len(sk.Private)))
		}
		priv := ed25519.PrivateKey(sk.Private)
		snap.keys = append(snap.keys, token.Key{
			ID: sk.ID, Private: priv, Public: priv.Public().(ed25519.PublicKey), NotAfter: sk.NotAfter,
		})
	}
	if snap.jwks, err = token.JWKS(snap.keys); err != nil {
		return err
	}
	k.snap.Store(snap)
	return nil
}

// signing returns the key that signs now: the newest unretired key created
// at least propagation ago (so every process verifies it already), or, when
// none is that old (the very first key), the newest unretired key.
func (k *keyring) signing() (token.Key, error) {
	s := k.snap.Load()
	if s == nil {
		return token.Key{}, fault.New(fault.Unavailable, "accounts.keys", "signing keys are not loaded yet")
	}
	now := k.now()
	best, newest := -1, -1
	for i, sk := range s.all { // oldest first
		if !sk.NotAfter.IsZero() && !now.Before(sk.NotAfter) {
			continue // retired
		}
		newest = i
		if !now.Before(sk.CreatedAt.Add(k.propagation)) {
			best = i
		}
	}
	if best < 0 {
		best = newest
	}
	if best < 0 {
		return token.Key{}, fault.Internalf("accounts.keys", fmt.Errorf("every one of %d signing keys has retired", len(s.all)))
	}
	return s.keys[best], nil
}

// newSigningKey makes a random Ed25519 key with a random kid.
func newSigningKey(now time.Time) (SigningKey, error) {
	var id [12]byte
	if _, err := rand.Read(id[:]); err != nil {
		return SigningKey{}, fault.Internalf("accounts.keys", err)
	}
	tk, err := token.NewKey(base64.RawURLEncoding.EncodeToString(id[:]))
	if err != nil {
		return SigningKey{}, err
	}
	return SigningKey{ID: tk.ID, Private: tk.Private, CreatedAt: now.UTC().Truncate(time.Microsecond)}, nil
}

// RotateKeys adds a signing key. It signs once every process has loaded it
// (after KeyPropagation); the keys it supersedes verify until the last
// token they may sign has expired, then retire. Admins only.
func (s *Service) RotateKeys(ctx context.Context) (SigningKey, error) {
	const op = "accounts.RotateKeys"
	if err := requireAdmin(ctx, op, auth.ScopeAdminSigningKeys); err != nil {
		return SigningKey{}, err
	}
	now := s.timestamp()
	key, err := newSigningKey(now)
	if err != nil {
		return SigningKey{}, err
	}
	// The previous keys may sign until the new one takes over, and their
	// tokens live one lifetime (plus leeway) after that.
	retire := now.Add(s.opts.KeyPropagation + s.opts.AccessTTL + 2*s.opts.Leeway)
	err = s.store.AuthWrite(ctx, func(tx Tx) error {
		old, err := tx.SigningKeys(ctx)
		if err != nil {
			return err
		}
		for _, o := range old {
			if o.NotAfter.IsZero() {
				o.NotAfter = retire
				if err := tx.UpdateSigningKey(ctx, o); err != nil {
					return err
				}
			}
		}
		return tx.InsertSigningKey(ctx, key)
	})
	if err != nil {
		return SigningKey{}, err
	}
	if err := s.keys.load(ctx, false); err != nil {
		s.log.Warn("accounts: reloading signing keys after rotation", "err", err)
	}
	key.Private = nil
	return key, nil
}

// ListSigningKeys returns the signing keys, oldest first, without their
// private halves. Admins only.
func (s *Service) ListSigningKeys(ctx context.Context) ([]SigningKey, error) {
	if err := requireAdmin(ctx, "accounts.ListSigningKeys", auth.ScopeAdminSigningKeys); err != nil {
		return nil, err
	}
	keys, err := s.store.SigningKeys(ctx)
	for i := range keys {
		keys[i].Private = nil
	}
	return keys, err
}

// JWKS returns the JSON Web Key Set of the keys that verify tokens now.
func (s *Service) JWKS(context.Context) ([]byte, error) {
	snap := s.keys.snap.Load()
	if snap == nil {
		return nil, fault.New(fault.Unavailable, "accounts.JWKS", "signing keys are not loaded yet")
	}
	return snap.jwks, nil
}

// requireAdmin admits the caller of ctx to the management area scope (see
// auth.Principal.Manage).
func requireAdmin(ctx context.Context, op, scope string) error {
	return auth.FromContext(ctx).Manage(op, scope)
}

// requireUser returns the calling account's ID and session. Anonymous
// callers are Unauthenticated; other callers who are not a signed-in user
// (API keys) are Forbidden: these routes act on the caller's own account.
func requireUser(ctx context.Context, op string) (auth.Principal, error) {
	p := auth.FromContext(ctx)
	switch {
	case !p.Authenticated():
		return p, fault.New(fault.Unauthenticated, op, "sign in as a user to do this")
	case p.Kind != auth.KindUser || p.ID == "":
		return p, fault.New(fault.Forbidden, op, "only a signed-in user may do this; an API key has no account of its own")
	}
	return p, nil
}
