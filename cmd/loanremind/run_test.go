package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The instant the end-to-end tests run as: Saturday 10:00 in Shanghai,
// 21:00 on Friday in New York.
const (
	testAsOf = "2026-11-28T10:00:00+08:00"
	testDay  = "2026-11-28"
)

func seeded(t *testing.T, borrowers int) *testDB {
	t.Helper()
	d := newTestDB(t)
	mustCLI(t, context.Background(), d.env, "seed", "--borrowers", fmt.Sprint(borrowers), "--seed", "7", "--as-of", testDay)
	return d
}

func TestRunEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := seeded(t, 3000)
	r := mustCLI(t, ctx, d.with("LOANREMIND_BATCH_SIZE", "400"), "run", "--as-of", testAsOf)
	if !strings.Contains(r.stdout, "succeeded") {
		t.Fatalf("report does not say the run succeeded:\n%s", r.stdout)
	}
	if n := d.count(t, `SELECT count(*) FROM reminder_sends`); n < 100 {
		t.Fatalf("only %d messages for 3000 borrowers", n)
	}

	t.Run("every reminded item is unpaid and in its stage", func(t *testing.T) {
		// The stage of an item is the last whose start (due date + days)
		// is on or before the business date; overdue_30d lasts 30 days.
		bad := d.count(t, `
			SELECT count(*) FROM reminder_send_items si
			JOIN installments i ON i.id = si.installment_id
			WHERE i.amount_paid_minor >= i.amount_due_minor
			   OR si.amount_minor <> i.amount_due_minor - i.amount_paid_minor
			   OR si.stage <> CASE
			        WHEN DATE '`+testDay+`' - i.due_date BETWEEN -3 AND -1 THEN 'upcoming_3d'
			        WHEN DATE '`+testDay+`' - i.due_date = 0 THEN 'due_today'
			        WHEN DATE '`+testDay+`' - i.due_date BETWEEN 1 AND 6 THEN 'overdue_1d'
			        WHEN DATE '`+testDay+`' - i.due_date BETWEEN 7 AND 29 THEN 'overdue_7d'
			        WHEN DATE '`+testDay+`' - i.due_date BETWEEN 30 AND 59 THEN 'overdue_30d'
			      END`)
		if bad != 0 {
			t.Errorf("%d reminded items are paid, mis-staged or mis-stated", bad)
		}
	})

	t.Run("opted out, do-not-contact and inactive loans get no message and an audit reason", func(t *testing.T) {
		for _, q := range []string{
			`SELECT count(*) FROM reminder_sends s JOIN borrowers b ON b.id = s.borrower_id WHERE s.channel = 'sms' AND b.sms_opt_out`,
			`SELECT count(*) FROM reminder_sends s JOIN borrowers b ON b.id = s.borrower_id WHERE s.channel = 'email' AND b.email_opt_out`,
			`SELECT count(*) FROM reminder_sends s JOIN borrowers b ON b.id = s.borrower_id WHERE b.do_not_contact`,
			`SELECT count(*) FROM reminder_send_items si JOIN loans l ON l.id = si.loan_id WHERE l.status <> 'active'`,
		} {
			if n := d.count(t, q); n != 0 {
				t.Errorf("%d rows: %s", n, q)
			}
		}
		for reason, q := range map[string]string{
			"opted_out":      `SELECT count(*) FROM reminder_audit a JOIN borrowers b ON b.id = a.borrower_id WHERE b.sms_opt_out AND a.channel = 'sms' AND a.reason = 'opted_out' AND a.decision = 'suppressed'`,
			"do_not_contact": `SELECT count(*) FROM reminder_audit a JOIN borrowers b ON b.id = a.borrower_id WHERE b.do_not_contact AND a.reason = 'do_not_contact' AND a.decision = 'suppressed'`,
			"loan_status":    `SELECT count(*) FROM reminder_audit a JOIN loans l ON l.id = a.loan_id WHERE l.status <> 'active' AND a.reason = 'loan_status:' || l.status AND a.decision = 'suppressed'`,
		} {
			t.Run(reason, func(t *testing.T) {
				if n := d.count(t, q); n == 0 {
					t.Errorf("no audit row with reason %s", reason)
				}
			})
		}
		// Every candidate of an inactive loan has exactly its audit row.
		if n := d.count(t, `
			SELECT count(*) FROM installments i JOIN loans l ON l.id = i.loan_id
			WHERE l.status <> 'active' AND i.amount_paid_minor < i.amount_due_minor
			  AND DATE '`+testDay+`' - i.due_date BETWEEN -3 AND 59
			  AND NOT EXISTS (SELECT 1 FROM reminder_audit a WHERE a.installment_id = i.id)`); n != 0 {
			t.Errorf("%d candidates of inactive loans have no audit row", n)
		}
	})

	t.Run("one message per borrower and channel", func(t *testing.T) {
		if n := d.count(t, `SELECT count(*) FROM (SELECT 1 FROM reminder_sends GROUP BY run_id, borrower_id, channel HAVING count(*) > 1) x`); n != 0 {
			t.Errorf("%d borrowers got two messages on one channel in one run", n)
		}
		// Borrowers sharing a phone number get a message each.
		if n := d.count(t, `SELECT count(*) FROM reminder_sends s1 JOIN reminder_sends s2 ON s1.recipient = s2.recipient AND s1.borrower_id < s2.borrower_id AND s1.channel = 'sms' AND s2.channel = 'sms'`); n == 0 {
			t.Error("no two borrowers sharing a phone number were reminded separately: the seed should have some")
		}
		if n := d.count(t, `SELECT count(*) FROM reminder_send_items si JOIN reminder_sends s ON s.id = si.send_id JOIN loans l ON l.id = si.loan_id WHERE l.borrower_id <> s.borrower_id`); n != 0 {
			t.Errorf("%d items are in another borrower's message", n)
		}
	})

	t.Run("totals equal the sum of unpaid amounts", func(t *testing.T) {
		if n := d.count(t, `
			SELECT count(*) FROM reminder_sends s
			WHERE s.total_due_minor IS DISTINCT FROM (
			    SELECT CASE WHEN count(DISTINCT l.currency) = 1 THEN sum(si.amount_minor) END
			    FROM reminder_send_items si JOIN loans l ON l.id = si.loan_id WHERE si.send_id = s.id)
			   OR s.currency IS DISTINCT FROM (
			    SELECT CASE WHEN count(DISTINCT l.currency) = 1 THEN min(l.currency) END
			    FROM reminder_send_items si JOIN loans l ON l.id = si.loan_id WHERE si.send_id = s.id)`); n != 0 {
			t.Errorf("%d messages state a total that is not the sum of their items", n)
		}
		if d.count(t, `SELECT count(*) FROM reminder_sends WHERE currency IS NULL`) == 0 {
			t.Error("no multi-currency message: the seed should have some")
		}
	})

	t.Run("every send time is inside the window in all the borrower's zones", func(t *testing.T) {
		checkSendWindows(t, d)
	})

	t.Run("the run record counts what the audit holds", func(t *testing.T) {
		var status string
		var audited, queued int64
		d.scanRow(t, `SELECT status, audit_rows, queued FROM reminder_runs WHERE id = 1`, nil, &status, &audited, &queued)
		if status != "succeeded" || audited != d.count(t, `SELECT count(*) FROM reminder_audit`) ||
			queued != d.count(t, `SELECT count(*) FROM reminder_audit WHERE decision = 'queued'`) {
			t.Errorf("run record: status %s, %d audit rows, %d queued", status, audited, queued)
		}
	})
}

// checkSendWindows checks each message's send time and validity against the
// rules, independently of the policy code: inside [08:00, 21:00) (US-FL
// [08:00, 20:00)) in every zone the audit lists, outside borrower quiet
// windows.
func checkSendWindows(t *testing.T, d *testDB) {
	t.Helper()
	rows, err := d.db.Query(`
		SELECT s.id, s.scheduled_for, s.valid_until, coalesce(b.region, ''),
		       (SELECT a.time_zones::text FROM reminder_audit a WHERE a.send_id = s.id LIMIT 1)
		FROM reminder_sends s JOIN borrowers b ON b.id = s.borrower_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id int64
		var at, until time.Time
		var region, zonesJSON string
		if err := rows.Scan(&id, &at, &until, &region, &zonesJSON); err != nil {
			t.Fatal(err)
		}
		var zones []struct{ Zone string }
		if err := json.Unmarshal([]byte(zonesJSON), &zones); err != nil || len(zones) == 0 {
			t.Fatalf("send %d: zones %q: %v", id, zonesJSON, err)
		}
		end := 21
		if region == "US-FL" {
			end = 20
		}
		for _, z := range zones {
			loc, err := time.LoadLocation(z.Zone)
			if err != nil {
				t.Fatalf("send %d: zone %s: %v", id, z.Zone, err)
			}
			for _, inst := range []time.Time{at, until.Add(-time.Second)} {
				h := inst.In(loc).Hour()
				if h < 8 || h >= end {
					t.Errorf("send %d at %s (valid until %s) is %s in %s, outside 08:00-%02d:00",
						id, at.UTC().Format(time.RFC3339), until.UTC().Format(time.RFC3339), inst.In(loc).Format("Mon 15:04"), z.Zone, end)
				}
			}
		}
		if !until.After(at) {
			t.Errorf("send %d: valid until %s is not after %s", id, until, at)
		}
		n++
	}
	if n == 0 {
		t.Fatal("no sends to check")
	}
	if q := d.count(t, `
		SELECT count(*) FROM reminder_sends s JOIN borrower_quiet_windows w ON w.borrower_id = s.borrower_id
		JOIN LATERAL (SELECT (s.scheduled_for AT TIME ZONE z.zone) AS local
		              FROM reminder_audit a, jsonb_to_recordset(a.time_zones) AS z(zone text)
		              WHERE a.send_id = s.id) l ON true
		WHERE (w.weekdays IS NULL OR extract(dow FROM l.local)::smallint = ANY(w.weekdays))
		  AND (w.valid_from IS NULL OR l.local::date >= w.valid_from)
		  AND (w.valid_to IS NULL OR l.local::date <= w.valid_to)
		  AND w.starts_at < w.ends_at AND l.local::time >= w.starts_at AND l.local::time < w.ends_at`); q != 0 {
		t.Errorf("%d sends are inside a borrower's quiet window", q)
	}
}

func TestRerunAndDryRunWriteNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := seeded(t, 1500)
	fingerprint := func() string {
		var s string
		err := d.db.QueryRow(`SELECT concat_ws('|',
			(SELECT count(*) FROM reminder_runs), (SELECT md5(coalesce(string_agg(x::text, ',' ORDER BY id), '')) FROM reminder_sends x),
			(SELECT md5(coalesce(string_agg(x::text, ',' ORDER BY installment_id, stage, channel), '')) FROM reminder_send_items x),
			(SELECT md5(coalesce(string_agg(x::text, ',' ORDER BY installment_id, stage, channel), '')) FROM reminder_decisions x),
			(SELECT count(*) FROM reminder_audit), (SELECT count(*) FROM reminder_phone_cache))`).Scan(&s)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	empty := fingerprint()
	dry := mustCLI(t, ctx, d.env, "run", "--as-of", testAsOf, "--dry-run")
	if got := fingerprint(); got != empty {
		t.Fatalf("--dry-run changed the tables: %s → %s", empty, got)
	}
	for _, want := range []string{"Dry run (nothing written)", "STAGE", "queued", "Sample 1:"} {
		if !strings.Contains(dry.stdout, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, dry.stdout)
		}
	}
	mustCLI(t, ctx, d.env, "run", "--as-of", testAsOf)
	sends := d.count(t, `SELECT count(*) FROM reminder_sends`)
	items := d.count(t, `SELECT count(*) FROM reminder_send_items`)
	audit := d.count(t, `SELECT count(*) FROM reminder_audit`)
	if sends == 0 {
		t.Fatal("the run sent nothing")
	}
	// The dry run predicted the real run.
	if !strings.Contains(dry.stdout, fmt.Sprintf("messages=%d ", sends)) {
		t.Errorf("dry run predicted another number of messages than the %d written:\n%s", sends, dry.stdout)
	}
	mustCLI(t, ctx, d.env, "run", "--as-of", testAsOf)
	mustCLI(t, ctx, d.env, "run", "--as-of", "2026-11-28T15:00:00+08:00")
	if s, i, a := d.count(t, `SELECT count(*) FROM reminder_sends`), d.count(t, `SELECT count(*) FROM reminder_send_items`),
		d.count(t, `SELECT count(*) FROM reminder_audit`); s != sends || i != items || a != audit {
		t.Errorf("re-runs in the same stage added rows: sends %d→%d, items %d→%d, audit %d→%d", sends, s, items, i, audit, a)
	}
}

func TestBadConfigExits2BeforeAnyWrite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := seeded(t, 200)
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{
		"zone.yaml":     "default_time_zone: Mars/Olympus\n",
		"cap.yaml":      "frequency_caps:\n  - {max: 0, per: 24h}\n",
		"stages.yaml":   "stages:\n  - {name: b, days_from_due: 3, channels: [sms]}\n  - {name: a, days_from_due: 1, channels: [sms], expires_after: 3d}\n",
		"template.yaml": "templates:\n  dir: " + dir + "/empty\n",
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			r := cli(t, ctx, d.env, "run", "--config", path, "--as-of", testAsOf)
			if r.code != 2 {
				t.Errorf("%s: exit %d, want 2\n%s", name, r.code, r.stderr)
			}
			if !strings.Contains(r.stderr, "config") {
				t.Errorf("%s: error does not say it is the configuration: %s", name, r.stderr)
			}
		})
	}
	if n := d.count(t, `SELECT count(*) FROM reminder_runs`); n != 0 {
		t.Errorf("bad configs wrote %d run records", n)
	}
	if r := cli(t, ctx, d.env, "run", "--shard", "3/2"); r.code != 2 {
		t.Errorf("--shard 3/2: exit %d, want 2", r.code)
	}
	if r := cli(t, ctx, d.env, "frobnicate"); r.code != 2 {
		t.Errorf("unknown command: exit %d, want 2", r.code)
	}
	if r := cli(t, ctx, d.env, "run", "--as-of", "yesterday"); r.code != 2 || !strings.Contains(r.stderr, "--as-of") {
		t.Errorf("bad --as-of: exit %d: %s", r.code, r.stderr)
	}
}
