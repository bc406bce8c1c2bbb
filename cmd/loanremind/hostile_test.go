package main

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"
)

// Lender data is data: what a careless feed or an insider puts in the
// lender's tables is cleaned before it reaches a message, bad items are
// skipped on their own, and no number of rows grows a message.
func TestHostileLenderRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := newTestDB(t)
	d.exec(t, `INSERT INTO borrowers (id, full_name, phone, email, locale, time_zone, region) VALUES
		(1, 'Two loans', '+8613812345601', NULL, 'zh-CN', 'Asia/Shanghai', 'CN-31'),
		(2, 'Escapes', '+8613812345602', NULL, 'zh-CN', 'Asia/Shanghai', 'CN-31'),
		(3, E'evil.ru \u200b\u200f\u061c\ufeff\u202e' || repeat('张', 3000), NULL, 'dear@example.com', 'zh-CN', 'Asia/Shanghai', 'CN-31'),
		(4, 'Many', '+8613812345604', NULL, 'zh-CN', 'Asia/Shanghai', 'CN-31'),
		(5, 'Many by email', NULL, 'many@example.com', 'en-US', 'America/New_York', 'US-NY'),
		(6, 'Overflow', '+8613812345606', NULL, 'zh-CN', 'Asia/Shanghai', 'CN-31'),
		(7, 'Bidi email', NULL, E'bob\u202e@example.com', 'en-US', 'America/New_York', 'US-NY'),
		(8, 'Status', '+8613812345608', NULL, 'zh-CN', 'Asia/Shanghai', 'CN-31')`)
	d.exec(t, `INSERT INTO loans (id, borrower_id, account_ref, currency, status) VALUES
		(1, 1, 'LNx.co', 'CNY', 'active'), (2, 1, 'LNGOOD5678', 'CNY', 'active'),
		(3, 2, E'LN00\u001b[31m12\r\n34\u202e56\u200b', 'CNY', 'active'),
		(4, 3, 'LN-3', 'CNY', 'active'), (5, 4, 'LN-4444', 'CNY', 'active'), (6, 5, 'LN-5555', 'USD', 'active'),
		(7, 6, 'LN-6661', 'CNY', 'active'), (8, 6, 'LN-6662', 'CNY', 'active'), (9, 7, 'LN-7777', 'USD', 'active'),
		(10, 8, 'LN-8888', 'CNY', E'disputed\nby Zhang San 13812345678 zhang@example.com')`)
	d.exec(t, `INSERT INTO installments (id, loan_id, seq, due_date, amount_due_minor, amount_paid_minor) VALUES
		(1, 1, 1, '2026-11-21', 10000, 0), (2, 2, 1, '2026-11-21', 20000, 0), (3, 3, 1, '2026-11-21', 30000, 0),
		(4, 4, 1, '2026-11-21', 40000, 0),
		(6, 7, 1, '2026-11-21', 9000000000000000000, 0), (7, 8, 1, '2026-11-21', 9000000000000000000, 0),
		(8, 9, 1, '2026-11-21', 5000, 0), (9, 10, 1, '2026-11-21', 5000, 0)`)
	d.exec(t, `INSERT INTO installments (id, loan_id, seq, due_date, amount_due_minor, amount_paid_minor)
		SELECT 1000 + g, 5, g, DATE '2026-11-21', 100 + g, 0 FROM generate_series(1, 10000) g
		UNION ALL SELECT 20000 + g, 6, g, DATE '2026-11-21', 100 + g, 0 FROM generate_series(1, 10000) g`)
	if r := mustCLI(t, ctx, d.env, "run", "--as-of", testAsOf); !strings.Contains(r.stdout, "succeeded") {
		t.Fatalf("run:\n%s", r.stdout)
	}
	decision := func(installment int64) string {
		var got string
		d.scanRow(t, `SELECT string_agg(trim(decision || ' ' || reason), ', ') FROM reminder_audit WHERE installment_id = $1`, []any{installment}, &got)
		return got
	}
	body := func(borrower int64) (string, int64) {
		var b string
		var segments int64
		d.scanRow(t, `SELECT coalesce(subject, '') || body, segments FROM reminder_sends WHERE borrower_id = $1`, []any{borrower}, &b, &segments)
		return b, segments
	}
	clean := func(t *testing.T, s string) {
		t.Helper()
		for _, r := range s {
			if r < ' ' && r != '\n' || r == 0x7f || r == '\u202e' || r == '\u200b' || r == '\u200f' || r == '\u061c' || r == '\ufeff' {
				t.Errorf("the message keeps %U:\n%q", r, s)
			}
		}
	}

	t.Run("one bad account reference does not poison the message", func(t *testing.T) {
		if got1, got2 := decision(1), decision(2); got1 != "queued" || got2 != "queued" {
			t.Errorf("installments 1 and 2: %q and %q, want both queued", got1, got2)
		}
		if n := d.count(t, `SELECT count(DISTINCT send_id) FROM reminder_send_items WHERE installment_id IN (1, 2)`); n != 1 {
			t.Errorf("%d messages for borrower 1, want 1", n)
		}
	})
	t.Run("control and bidi characters of an account reference stay out", func(t *testing.T) {
		b, _ := body(2)
		clean(t, b)
		if !strings.Contains(b, "尾号3456") {
			t.Errorf("the masked reference is not its last four letters or digits:\n%s", b)
		}
	})
	t.Run("a name is cleaned and capped, and never a link", func(t *testing.T) {
		b, _ := body(3)
		clean(t, b)
		if strings.Contains(b, "evil.ru") || strings.Contains(b, strings.Repeat("张", 65)) {
			t.Errorf("the name went out as it was:\n%.300s", b)
		}
	})
	t.Run("10,000 installments make one short SMS", func(t *testing.T) {
		b, segments := body(4)
		if segments > 2 || utf8.RuneCountInString(b) > 134 {
			t.Errorf("%d segments, %d characters:\n%s", segments, utf8.RuneCountInString(b), b)
		}
	})
	t.Run("10,000 installments make a bounded email", func(t *testing.T) {
		b, _ := body(5)
		if len(b) > 32<<10 || !strings.Contains(b, "and 9950 more") {
			t.Errorf("an email of %d bytes:\n%.400s", len(b), b)
		}
	})
	t.Run("an item whose amount overflows the total is skipped on its own", func(t *testing.T) {
		if got6, got7 := decision(6), decision(7); got6 != "queued" || got7 != "skipped render_error" {
			t.Errorf("installments 6 and 7: %q and %q, want queued and skipped render_error", got6, got7)
		}
	})
	t.Run("an email address with a bidi override is invalid", func(t *testing.T) {
		if got := decision(8); !strings.Contains(got, "skipped invalid_email") {
			t.Errorf("installment 8: %q", got)
		}
	})
	t.Run("free text never becomes a reason", func(t *testing.T) {
		if got := decision(9); got != "suppressed loan_status:other" {
			t.Errorf("installment 9: %q", got)
		}
		var status string
		d.scanRow(t, `SELECT details->>'loan_status' FROM reminder_audit WHERE installment_id = 9`, nil, &status)
		if strings.ContainsAny(status, "\n\r") || len(status) > 3*40 {
			t.Errorf("details keep the status as %q", status)
		}
		if n := d.count(t, `SELECT count(*) FROM reminder_decisions WHERE reason LIKE '%Zhang%'`); n != 0 {
			t.Errorf("%d decisions carry the status's text", n)
		}
	})
	if r := mustCLI(t, ctx, d.env, "audit", "verify"); !strings.Contains(r.stdout, "intact") {
		t.Errorf("verify: %s", r.stdout)
	}
}

// A borrower's quiet window with no day ('{}') never applies, where it used
// to count as every day; one whose start and end are equal is bad data (a
// lender's view may hold what our table forbids): the borrower is skipped
// with the reason.
func TestQuietWindowsThatAreNoWindow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := newTestDB(t)
	d.exec(t, `ALTER TABLE borrower_quiet_windows DROP CONSTRAINT borrower_quiet_windows_opens`)
	d.exec(t, `INSERT INTO borrowers (id, full_name, phone, email, locale, time_zone, region) VALUES
		(1, 'No day', '+8613812345601', NULL, 'zh-CN', 'Asia/Shanghai', 'CN-31'),
		(2, 'Equal times', '+8613812345602', NULL, 'zh-CN', 'Asia/Shanghai', 'CN-31')`)
	d.exec(t, `INSERT INTO loans (id, borrower_id, account_ref, currency, status) VALUES
		(1, 1, 'LN0000000001', 'CNY', 'active'), (2, 2, 'LN0000000002', 'CNY', 'active')`)
	d.exec(t, `INSERT INTO installments (id, loan_id, seq, due_date, amount_due_minor, amount_paid_minor) VALUES
		(1, 1, 1, '2026-11-21', 10000, 0), (2, 2, 1, '2026-11-21', 10000, 0)`)
	d.exec(t, `INSERT INTO borrower_quiet_windows (borrower_id, weekdays, starts_at, ends_at) VALUES
		(1, '{}', '08:00', '07:59'), (2, NULL, '09:00', '09:00')`)
	mustCLI(t, ctx, d.env, "run", "--as-of", testAsOf)
	for id, want := range map[int64]string{1: "queued", 2: "skipped invalid_quiet_window"} {
		var got string
		d.scanRow(t, `SELECT decision || ' ' || reason FROM reminder_audit WHERE installment_id = $1`, []any{id}, &got)
		if strings.TrimSpace(got) != want {
			t.Errorf("installment %d: %q, want %q", id, got, want)
		}
	}
	var sent string
	d.scanRow(t, `SELECT to_char(scheduled_for AT TIME ZONE 'Asia/Shanghai', 'HH24:MI') FROM reminder_sends WHERE borrower_id = 1`, nil, &sent)
	if sent != "10:00" {
		t.Errorf("the borrower whose window has no day is texted at %s, want at once (10:00)", sent)
	}
	r := mustCLI(t, ctx, d.env, "explain", "--installment", "2")
	if !strings.Contains(r.stdout, "invalid_quiet_window") {
		t.Errorf("explain does not say why:\n%s", r.stdout)
	}
}
