package e2e

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/redistest"
	"github.com/basaltdev/basalt/internal/storage/pgtest"
)

// TestRedisSharesLoginThrottles runs two processes on one PostgreSQL
// database and one Redis: the per-account login budget spent on one is
// spent on the other. With Redis stopped, logins are still throttled (each
// process counts on its own) and otherwise answered as usual, and a
// process started while Redis is down serves too.
func TestRedisSharesLoginThrottles(t *testing.T) {
	db := pgtest.URL(t)
	rs := redistest.Start(t) // stopped below: a server of this test's own
	basaltBinary(t)
	flags := []string{"--db", db, "--redis", rs.URL(),
		"--login-email-burst", "3", "--login-email-interval", "1h", "--login-ip-burst", "1000"}
	waitA := launch(t, filepath.Join(t.TempDir(), "a"), flags...)
	waitB := launch(t, filepath.Join(t.TempDir(), "b"), flags...)
	a, b := waitA(), waitB()
	ca, cb := a.client(t).anonymous(), b.client(t).anonymous()

	const user, password = "user@basalt.test", "a password of the user"
	ca.must(202, "POST", "/v1/auth/signup", credentials(t, user, password))

	// Wrong passwords for one account: three on A spend its burst, so B
	// refuses the fourth, though B never saw the first three.
	wrong := func(c *client, email string, status int) {
		t.Helper()
		c.must(status, "POST", "/v1/auth/login", credentials(t, email, "not the password"))
	}
	const victim = "victim@basalt.test"
	for range 3 {
		wrong(ca, victim, 401)
	}
	r := cb.must(429, "POST", "/v1/auth/login", credentials(t, victim, "not the password"))
	if r.Header.Get("Retry-After") == "" {
		t.Fatalf("429 without Retry-After: %v", r.Header)
	}
	wrong(ca, victim, 429)
	// Other accounts are not affected.
	tk := cb.login(user, password)

	// Both processes listen for revocations on Redis, and a logout on B
	// is refused on A at once.
	rc := redistest.Client(t, rs.URL())
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for deadline := time.Now().Add(10 * time.Second); ; {
		m, err := rc.Do(t.Context(), rc.B().PubsubNumsub().Channel("basalt:revocations").Build()).AsIntMap()
		if err == nil && m["basalt:revocations"] == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("subscribers of basalt:revocations: %v (%v), want 2", m, err)
		}
		<-tick.C
	}
	onA := ca.as(tk.AccessToken)
	onA.must(200, "GET", "/v1/auth/me", "")
	cb.as(tk.AccessToken).must(204, "POST", "/v1/auth/logout", "")
	awaitRefusal(t, "logout on B", time.Now(), func() response { return onA.do("GET", "/v1/auth/me", "") })

	// Redis goes away: each process throttles on its own counts.
	rs.Stop(t)
	const other = "other@basalt.test"
	for range 3 {
		wrong(cb, other, 401)
	}
	wrong(cb, other, 429)
	cb.login(user, password)
	ca.login(user, password)
	cb.must(200, "GET", "/readyz", "")
	a.waitForLog(t, "redis unavailable: rate limits decided in-process")

	// A process started while Redis is down serves and throttles.
	c := startProcess(t, filepath.Join(t.TempDir(), "c"), flags...)
	cc := c.client(t).anonymous()
	c.waitForLog(t, "redis does not answer; login throttles count in-process until it does")
	cc.login(user, password)
	for range 3 {
		wrong(cc, other, 401)
	}
	wrong(cc, other, 429)
}
