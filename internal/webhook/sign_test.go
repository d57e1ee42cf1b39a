package webhook_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/basaltdev/basalt/internal/webhook"
)

// The test vector published with the Standard Webhooks specification: a
// receiver's existing library must verify what Basalt sends.
func TestSignStandardWebhooksVector(t *testing.T) {
	got, err := webhook.Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
		time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}

func TestNewSecret(t *testing.T) {
	a, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := webhook.NewSecret()
	if a == b {
		t.Fatal("two secrets are equal")
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(a, "whsec_"))
	if !strings.HasPrefix(a, "whsec_") || err != nil || len(key) < 24 || len(key) > 64 {
		t.Fatalf("secret %q is not whsec_ + base64 of 24 to 64 bytes", a)
	}
	// The signature is computed here independently of Sign.
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("evt_1.1700000000.{}"))
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if got, err := webhook.Sign(a, "evt_1", time.Unix(1700000000, 0), []byte("{}")); err != nil || got != want {
		t.Fatalf("Sign = %s, %v; want %s", got, err, want)
	}
}

func TestSignRefusesBadSecrets(t *testing.T) {
	for _, s := range []string{"", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_!!!", "whsec_c2hvcnQ="} {
		if _, err := webhook.Sign(s, "id", time.Unix(1, 0), nil); err == nil {
			t.Errorf("Sign with secret %q succeeded", s)
		}
	}
}
