package main

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loanremind/loanremind/jobs/deliver/httpgw"
)

// The long-running sender serves the receipt endpoints of its providers
// beside /metrics and /healthz: a receipt signed with the gateway's
// secret is taken, an unsigned or wrongly signed one gets 403 and shows
// only in loanremind_receipts_rejected_total.
func TestDeliverServesReceipts(t *testing.T) {
	t.Parallel()
	d := newTestDB(t)
	cfgPath := filepath.Join(t.TempDir(), "deliver.yaml")
	cfg := `delivery:
  providers:
    - name: gateway
      type: http
      url: http://127.0.0.1:1/v1/messages
      secret_env: GW_SECRET
    - name: carrier
      type: twilio
      secret_env: TWILIO_TOKEN
      twilio:
        account_sid: AC0123456789abcdef0123456789abcdef
        from: "+15557122661"
        status_callback: https://loanremind.lender.example/receipts/twilio
  routes: {sms: gateway}
`
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	env := d.with("LOANREMIND_CONFIG", cfgPath, "GW_SECRET", "gateway-secret", "TWILIO_TOKEN", "f0e1d2c3b4a5968778695a4b3c2d1e0f")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan result, 1)
	go func() { done <- cli(t, ctx, env, "deliver", "--listen", addr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(time.Minute):
			t.Error("deliver did not stop within a minute")
		}
	})
	waitFor(t, time.Minute, "/healthz", func() bool {
		code, _, _, err := get("http://" + addr + "/healthz")
		return err == nil && code == http.StatusOK
	})

	post := func(path, body string, header map[string]string) int {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, "http://"+addr+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := httpClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	body := `{"id": "gw-1", "send_id": 987654321, "status": "delivered", "at": "2026-11-21T08:02:20Z", "code": ""}`
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	if code := post("/receipts/http", body, map[string]string{
		"X-Loanremind-Timestamp": ts, "X-Loanremind-Signature": httpgw.Sign([]byte("not-the-secret"), ts, []byte(body)),
	}); code != http.StatusForbidden {
		t.Errorf("a receipt signed with another secret: %d, want 403", code)
	}
	if code := post("/receipts/twilio", url.Values{"MessageSid": {"SM1"}, "MessageStatus": {"delivered"}}.Encode(),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"}); code != http.StatusForbidden {
		t.Errorf("an unsigned Twilio callback: %d, want 403", code)
	}
	// Until the dispatcher has opened its session, a signed receipt gets
	// 503 (the provider retries); then one of a message the outbox does
	// not hold gets 404.
	waitFor(t, 30*time.Second, "a signed receipt to be answered 404", func() bool {
		code := post("/receipts/http", body, map[string]string{
			"X-Loanremind-Timestamp": ts, "X-Loanremind-Signature": httpgw.Sign([]byte("gateway-secret"), ts, []byte(body)),
		})
		if code != http.StatusServiceUnavailable && code != http.StatusNotFound {
			t.Fatalf("a signed receipt: %d, want 503 while starting, then 404", code)
		}
		return code == http.StatusNotFound
	})
	_, _, metrics, err := get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`loanremind_receipts_rejected_total{provider="http"} 1`,
		`loanremind_receipts_rejected_total{provider="twilio"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
