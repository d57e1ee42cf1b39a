package load

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"time"
)

// Account is an email address and its password.
type Account struct {
	Email, Password string
}

// NewAccount returns the account local@bench.invalid (a reserved domain:
// no mail can reach it) with a random 32-character password.
func NewAccount(local string) (Account, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return Account{}, fmt.Errorf("load: random password: %w", err)
	}
	return Account{Email: local + "@bench.invalid", Password: hex.EncodeToString(b[:])}, nil
}

// WrongPassword returns acct with a password that is not its own (and is
// as long as a valid one, so Basalt hashes it like any other).
func (a Account) WrongPassword() Account {
	a.Password = "not-" + a.Password
	return a
}

// Session is a logged-in account.
type Session struct {
	// AccountID is the account's id (GET /v1/auth/me).
	AccountID string
	// Token is the access token, sent as "Authorization: Bearer …".
	Token string
	// Expires is when the access token stops working, measured from the
	// moment the login was sent (so it errs early).
	Expires time.Time
}

// CreateAdmin runs `basalt admin create --email … STORAGE-ARGS` with the
// password in the BASALT_PASSWORD environment variable (so that it does
// not show in the process list). storageArgs name the server's database
// (--data-dir, --db); the command may run while the server runs.
func CreateAdmin(ctx context.Context, basaltPath string, storageArgs []string, acct Account) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	args := append([]string{"admin", "create", "--email", acct.Email}, storageArgs...)
	cmd := exec.CommandContext(ctx, basaltPath, args...)
	cmd.Env = append(os.Environ(), "BASALT_PASSWORD="+acct.Password)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		tail := bytes.TrimSpace(out.Bytes())
		tail = tail[max(len(tail)-500, 0):]
		return fmt.Errorf("load: %s admin create --email %s: %w: %s", basaltPath, acct.Email, err, tail)
	}
	return nil
}

// SignUp registers acct (POST /v1/auth/signup, answered 202 whether or not
// the address is new).
func (c Client) SignUp(ctx context.Context, acct Account) error {
	body, err := json.Marshal(map[string]string{"email": acct.Email, "password": acct.Password})
	if err != nil {
		return fmt.Errorf("load: encode sign-up: %w", err)
	}
	if _, err := c.call(ctx, http.MethodPost, "/v1/auth/signup", "", body); err != nil {
		return fmt.Errorf("load: sign up %s: %w", acct.Email, err)
	}
	return nil
}

// Login logs acct in (POST /v1/auth/login) and asks who it is (GET
// /v1/auth/me).
func (c Client) Login(ctx context.Context, acct Account) (Session, error) {
	body, err := json.Marshal(map[string]string{"email": acct.Email, "password": acct.Password, "device": "basalt-bench"})
	if err != nil {
		return Session{}, fmt.Errorf("load: encode login: %w", err)
	}
	sent := time.Now()
	answer, err := c.call(ctx, http.MethodPost, "/v1/auth/login", "", body)
	if err != nil {
		return Session{}, fmt.Errorf("load: log in %s: %w", acct.Email, err)
	}
	var tokens struct {
		AccessToken string `json:"accessToken"`
		ExpiresIn   int64  `json:"expiresIn"`
	}
	if err := json.Unmarshal(answer, &tokens); err != nil {
		return Session{}, fmt.Errorf("load: log in %s: decode answer: %w", acct.Email, err)
	}
	if tokens.AccessToken == "" || tokens.ExpiresIn <= 0 {
		return Session{}, fmt.Errorf("load: log in %s: answer without an access token or its lifetime", acct.Email)
	}
	s := Session{Token: tokens.AccessToken, Expires: sent.Add(time.Duration(tokens.ExpiresIn) * time.Second)}
	me, err := c.call(ctx, http.MethodGet, "/v1/auth/me", s.Token, nil)
	if err != nil {
		return Session{}, fmt.Errorf("load: account of %s: %w", acct.Email, err)
	}
	var account struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(me, &account); err != nil {
		return Session{}, fmt.Errorf("load: account of %s: decode answer: %w", acct.Email, err)
	}
	if account.ID == "" {
		return Session{}, errors.New("load: account of " + acct.Email + ": answer without an id")
	}
	s.AccountID = account.ID
	return s, nil
}
