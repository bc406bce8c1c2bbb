package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// deliverConfig writes a configuration whose messages go to a file.
func deliverConfig(t *testing.T, extra string) (cfg, out string) {
	t.Helper()
	dir := t.TempDir()
	out = filepath.Join(dir, "messages.jsonl")
	cfg = filepath.Join(dir, "loanremind.yaml")
	text := fmt.Sprintf("delivery:\n  providers:\n    - name: outbox-file\n      type: file\n      path: %s\n%s  routes:\n    sms: outbox-file\n    email: outbox-file\n", out, extra)
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg, out
}

// A bad delivery configuration is exit 2, and nothing is written.
func TestDeliverBadConfiguration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := newTestDB(t)
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name, config, want string
	}{
		{"no route", "", "delivery.routes"},
		{"route to nothing", "delivery:\n  routes:\n    sms: gateway\n", `no provider named "gateway"`},
		{"unknown type", "delivery:\n  providers:\n    - name: x\n      type: pigeon\n  routes:\n    sms: x\n", "not a provider type"},
		{"http without url", "delivery:\n  providers:\n    - name: gw\n      type: http\n      secret_env: GW_SECRET\n  routes:\n    sms: gw\n", "is not an http(s) URL"},
		{"http without secret", "delivery:\n  providers:\n    - name: gw\n      type: http\n      url: https://gw.example/v1\n  routes:\n    sms: gw\n", "needs secret_env or secret_file"},
		{"secret not set", "delivery:\n  providers:\n    - name: gw\n      type: http\n      url: https://gw.example/v1\n      secret_env: GW_SECRET_UNSET\n  routes:\n    sms: gw\n", "GW_SECRET_UNSET is not set"},
		{"bad channel", "delivery:\n  providers:\n    - name: f\n      type: file\n      path: /tmp/x\n  routes:\n    fax: f\n", `unknown channel "fax"`},
		{"bad lease", "delivery:\n  lease: -1s\n  providers:\n    - name: f\n      type: file\n      path: /tmp/x\n  routes:\n    sms: f\n", "delivery.lease"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := write(strings.ReplaceAll(tc.name, " ", "_")+".yaml", tc.config)
			r := cli(t, ctx, d.env, "deliver", "--once", "--config", cfg)
			if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, stderr %s; want 2 naming %q", r.code, tail(r.stderr, 600), tc.want)
			}
		})
	}
	if n := d.count(t, `SELECT count(*) FROM reminder_delivery_sessions`); n != 0 {
		t.Errorf("%d delivery sessions recorded by bad configurations", n)
	}
	r := cli(t, ctx, d.with("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=1"), "deliver", "--once",
		"--config", write("ok.yaml", "delivery:\n  providers:\n    - name: f\n      type: file\n      path: "+filepath.Join(dir, "m.jsonl")+"\n  routes:\n    sms: f\n"))
	if r.code != 1 {
		t.Errorf("no database: exit %d (%s), want 1", r.code, tail(r.stderr, 300))
	}
}

// The exception to "once": messages whose window passed while the sender
// was down expire; their items are planned again by the next run, once;
// when those expire too, the run after plans nothing; the audit shows
// both messages; the trails verify.
func TestDeliverExpiredThenReplannedOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := seeded(t, 400)
	cfg, out := deliverConfig(t, "")
	mustCLI(t, ctx, d.env, "run", "--as-of", testAsOf)
	first := d.count(t, `SELECT count(*) FROM reminder_sends`)
	if first == 0 {
		t.Fatal("no messages")
	}
	// Now is days after the windows of 2026-11-28: nothing is sent, every
	// message expires, and its items are given back.
	r := mustCLI(t, ctx, d.env, "deliver", "--once", "--config", cfg)
	if !strings.Contains(r.stdout, "sent 0") {
		t.Errorf("deliver: %s", r.stdout)
	}
	if b, _ := os.ReadFile(out); len(b) != 0 {
		t.Errorf("messages written after their windows: %s", b)
	}
	expired := d.count(t, `SELECT count(*) FROM reminder_sends WHERE status = 'expired'`)
	released := d.count(t, `SELECT count(*) FROM reminder_released_items`)
	if released == 0 || expired == 0 {
		t.Fatalf("expired %d, released %d", expired, released)
	}
	// The next run, an hour and a half later the same day, plans them
	// again: the new messages cover released items.
	mustCLI(t, ctx, d.env, "run", "--as-of", "2026-11-28T11:30:00+08:00")
	replanned := d.count(t, `SELECT count(*) FROM reminder_send_items i JOIN reminder_released_items r USING (installment_id, stage, channel)`)
	if replanned == 0 {
		t.Fatal("nothing planned again")
	}
	var inst int64
	if err := d.db.QueryRow(`SELECT installment_id FROM reminder_send_items i JOIN reminder_released_items r USING (installment_id, stage, channel) ORDER BY 1 LIMIT 1`).Scan(&inst); err != nil {
		t.Fatal(err)
	}
	if n := d.count(t, `SELECT count(DISTINCT send_id) FROM reminder_audit WHERE installment_id = $1 AND decision IN ('queued', 'deferred')`, inst); n != 2 {
		t.Errorf("installment %d: the audit shows %d messages, want both", inst, n)
	}
	// They expire too; this time their items stay in the ledger, and the
	// run after plans nothing for them.
	mustCLI(t, ctx, d.env, "deliver", "--once", "--config", cfg)
	if n := d.count(t, `SELECT count(*) FROM reminder_released_items`); n != released {
		t.Errorf("released %d items after the second expiry, want still %d", n, released)
	}
	mustCLI(t, ctx, d.env, "run", "--as-of", "2026-11-28T13:00:00+08:00")
	if n := d.count(t, `SELECT count(*) FROM reminder_send_items i JOIN reminder_released_items r USING (installment_id, stage, channel)
		JOIN reminder_sends s ON s.id = i.send_id WHERE s.status = 'pending'`); n != 0 {
		t.Errorf("%d items planned a third time", n)
	}
	// explain tells the installment's story: two messages, each expired.
	r = mustCLI(t, ctx, d.env, "explain", "--installment", fmt.Sprint(inst))
	if n := strings.Count(r.stdout, "expired "); n != 2 || !strings.Contains(r.stdout, "may be planned once more") ||
		!strings.Contains(r.stdout, "What became of the messages") {
		t.Errorf("explain shows %d expiries:\n%s", n, r.stdout)
	}
	// audit export says what became of each message.
	r = mustCLI(t, ctx, d.env, "audit", "export", "--from", "2026-11-01", "--to", "2027-12-31", "--installment", fmt.Sprint(inst), "--format", "csv")
	if !strings.Contains(r.stdout, "sent_at,provider,provider_message_id,delivery_status") || strings.Count(r.stdout, ",expired") != 2 {
		t.Errorf("export:\n%s", r.stdout)
	}
	d.exec(t, "ANALYZE")
	r = mustCLI(t, ctx, d.env, "audit", "verify")
	if !strings.Contains(r.stdout, "audit trail intact") || !strings.Contains(r.stdout, "delivery trail intact") {
		t.Errorf("verify: %s", r.stdout)
	}
}

// Without --once the dispatcher serves /healthz and /metrics, with every
// delivery series, until it is stopped; a stop is exit 0.
func TestDeliverServes(t *testing.T) {
	t.Parallel()
	d := newTestDB(t)
	cfg, _ := deliverConfig(t, "")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan result, 1)
	go func() { done <- cli(t, ctx, d.env, "deliver", "--config", cfg, "--listen", addr) }()
	var body string
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("/healthz never answered 200: %v\n%s", err, tail((<-done).stderr, 2000))
		}
		time.Sleep(20 * time.Millisecond)
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	body = string(b)
	for _, want := range []string{
		`loanremind_deliveries_total{channel="sms",outcome="sent",provider="outbox-file"} 0`,
		`loanremind_delivery_lag_seconds_count 0`,
		`loanremind_outbox_due 0`,
		`loanremind_outbox_oldest_due_seconds 0`,
		`loanremind_provider_circuit_open{provider="outbox-file"} 0`,
		`loanremind_delivery_refused_total 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	cancel()
	if r := <-done; r.code != 0 {
		t.Errorf("stopped: exit %d\n%s", r.code, tail(r.stderr, 2000))
	}
	if n := d.count(t, `SELECT count(*) FROM reminder_delivery_sessions WHERE ended_at IS NULL`); n != 0 {
		t.Errorf("%d sessions not ended after the stop", n)
	}
}

// The exception to "once" for a fallback: a borrower's sms is finally
// decided (an invalid phone, an sms opt-out), its email fallback queued;
// the email expires unsent and is given back; the next run plans the email
// again, once, and leaves the sms alone: no new decision, no second audit
// row, no sms message with the item. The run after plans nothing more.
func TestDeliverExpiredFallbackReplannedOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := newTestDB(t)
	d.exec(t, `INSERT INTO borrowers (id, full_name, phone, email, locale, time_zone, region, sms_opt_out) VALUES
		(1, 'Invalid phone', '12345', 'one@example.com', 'en-US', 'Asia/Shanghai', 'CN-31', false),
		(2, 'Opted out of sms', '+8613812345602', 'two@example.com', 'en-US', 'Asia/Shanghai', 'CN-31', true),
		(3, 'Sms', '+8613812345603', 'three@example.com', 'en-US', 'Asia/Shanghai', 'CN-31', false)`)
	d.exec(t, `INSERT INTO loans (id, borrower_id, account_ref, currency, status) VALUES
		(1, 1, 'LN-1111', 'CNY', 'active'), (2, 2, 'LN-2222', 'CNY', 'active'), (3, 3, 'LN-3333', 'CNY', 'active')`)
	d.exec(t, `INSERT INTO installments (id, loan_id, seq, due_date, amount_due_minor, amount_paid_minor) VALUES
		(1, 1, 1, '2026-11-21', 10000, 0), (2, 2, 1, '2026-11-21', 20000, 0), (3, 3, 1, '2026-11-21', 30000, 0)`)
	cfg, _ := deliverConfig(t, "")
	mustCLI(t, ctx, d.env, "run", "--as-of", testAsOf)
	decisions := func(inst int64) string {
		var got string
		d.scanRow(t, `SELECT coalesce(string_agg(channel || ' ' || decision || ' ' || reason, ', ' ORDER BY channel), '')
			FROM reminder_decisions WHERE installment_id = $1`, []any{inst}, &got)
		return got
	}
	audit := func(inst int64) string {
		var got string
		d.scanRow(t, `SELECT coalesce(string_agg(channel || ' ' || decision, ', ' ORDER BY id), '')
			FROM reminder_audit WHERE installment_id = $1`, []any{inst}, &got)
		return got
	}
	wantDecided := map[int64]string{1: "sms skipped invalid_phone", 2: "sms suppressed opted_out", 3: ""}
	for inst, want := range wantDecided {
		if got := decisions(inst); got != want {
			t.Fatalf("installment %d: decisions %q, want %q", inst, got, want)
		}
	}
	if n := d.count(t, `SELECT count(*) FROM reminder_send_items WHERE installment_id IN (1, 2) AND channel = 'email'`); n != 2 {
		t.Fatalf("%d email items for installments 1 and 2, want 2", n)
	}
	firstAudit := map[int64]string{1: audit(1), 2: audit(2)}

	// The sender, days after the windows, expires every message and gives
	// the items back.
	mustCLI(t, ctx, d.env, "deliver", "--once", "--config", cfg)
	if n := d.count(t, `SELECT count(*) FROM reminder_released_items`); n != 3 {
		t.Fatalf("%d items released, want 3", n)
	}

	mustCLI(t, ctx, d.env, "run", "--as-of", "2026-11-28T11:30:00+08:00")
	for inst, want := range wantDecided {
		if got := decisions(inst); got != want {
			t.Errorf("installment %d after the re-plan: decisions %q, want still %q", inst, got, want)
		}
	}
	for inst := int64(1); inst <= 3; inst++ {
		if n := d.count(t, `SELECT count(DISTINCT send_id) FROM reminder_audit WHERE installment_id = $1 AND decision IN ('queued', 'deferred')`, inst); n != 2 {
			t.Errorf("installment %d: the audit shows %d messages, want both (audit: %s)", inst, n, audit(inst))
		}
		if n := d.count(t, `SELECT count(*) FROM reminder_send_items i JOIN reminder_released_items r USING (installment_id, stage, channel)
			WHERE i.installment_id = $1`, inst); n != 1 {
			t.Errorf("installment %d: %d items planned again, want 1", inst, n)
		}
	}
	for inst := int64(1); inst <= 2; inst++ {
		if n := d.count(t, `SELECT count(*) FROM reminder_audit WHERE installment_id = $1 AND channel = 'sms'`, inst); n != 1 {
			t.Errorf("installment %d: %d sms audit rows, want the first alone (audit: %s)", inst, n, audit(inst))
		}
		if got, want := audit(inst), firstAudit[inst]+", email "; !strings.HasPrefix(got, want) {
			t.Errorf("installment %d: audit %q, want %q and the email again", inst, got, firstAudit[inst])
		}
	}
	if n := d.count(t, `SELECT count(*) FROM reminder_sends WHERE borrower_id IN (1, 2) AND channel = 'sms'`); n != 0 {
		t.Errorf("%d sms messages for borrowers 1 and 2", n)
	}

	// The second messages expire too: nothing is given back, and the run
	// after plans nothing.
	mustCLI(t, ctx, d.env, "deliver", "--once", "--config", cfg)
	if n := d.count(t, `SELECT count(*) FROM reminder_released_items`); n != 3 {
		t.Errorf("%d items released after the second expiry, want still 3", n)
	}
	rows := d.count(t, `SELECT count(*) FROM reminder_audit`)
	sends := d.count(t, `SELECT count(*) FROM reminder_sends`)
	mustCLI(t, ctx, d.env, "run", "--as-of", "2026-11-28T13:00:00+08:00")
	if n := d.count(t, `SELECT count(*) FROM reminder_audit`); n != rows {
		t.Errorf("the third run wrote %d audit rows, want none", n-rows)
	}
	if n := d.count(t, `SELECT count(*) FROM reminder_sends`); n != sends {
		t.Errorf("the third run wrote %d messages, want none", n-sends)
	}
	r := mustCLI(t, ctx, d.env, "audit", "verify")
	if !strings.Contains(r.stdout, "audit trail intact") || !strings.Contains(r.stdout, "delivery trail intact") {
		t.Errorf("verify: %s", r.stdout)
	}
}
