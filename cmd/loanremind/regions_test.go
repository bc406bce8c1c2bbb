package main

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

// Issue 14, finding 10: rules must not fail open when the region is
// missing. A borrower's candidate regions are their region, their phone
// number's state or province and country, and their time zone's country;
// every one's rules apply, and the audit and explain say which and why.
func TestRegionsDoNotFailOpen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("a Chinese national holiday defers a borrower with no region", func(t *testing.T) {
		t.Parallel()
		d := newTestDB(t)
		d.exec(t, `INSERT INTO holidays (region, date, name) VALUES ('CN', '2026-11-27', 'national holiday')`)
		d.exec(t, `INSERT INTO borrowers (id, full_name, phone, locale, time_zone, region) VALUES
			(1, 'Shanghai region', '+8613812345601', 'zh-CN', 'Asia/Shanghai', 'CN-31'),
			(2, 'No region', '+8613812345602', 'zh-CN', 'Asia/Shanghai', NULL),
			(3, 'No region, no zone', '+8613812345603', 'zh-CN', NULL, NULL)`)
		d.exec(t, `INSERT INTO loans (id, borrower_id, account_ref, currency, status)
			SELECT id, id, 'LN000000000' || id, 'CNY', 'active' FROM borrowers`)
		d.exec(t, `INSERT INTO installments (id, loan_id, seq, due_date, amount_due_minor, amount_paid_minor)
			SELECT id, id, 1, '2026-11-26', 10000, 0 FROM loans`)
		// 10:00 in Shanghai, on the holiday.
		mustCLI(t, ctx, d.env, "run", "--as-of", "2026-11-27T10:00:00+08:00")
		for _, tc := range []struct {
			name     string
			borrower int64
			regions  string
		}{
			{"region CN-31", 1, `[{"region": "CN-31", "source": "region"}, {"region": "CN", "source": "phone"}]`},
			{"no region: the phone's and the zone's country", 2, `[{"region": "CN", "source": "phone"}]`},
			{"no region, no zone: the phone's country", 3, `[{"region": "CN", "source": "phone"}]`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, at, regions := smsDecision(t, d, tc.borrower)
				if got != "deferred holiday" || !at.Equal(time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)) {
					t.Errorf("borrower %d: %s at %s, want deferred holiday to 08:00 in Shanghai the next day", tc.borrower, got, at.UTC())
				}
				if regions != tc.regions {
					t.Errorf("borrower %d: audit regions %s, want %s", tc.borrower, regions, tc.regions)
				}
			})
		}
		if r := mustCLI(t, ctx, d.env, "audit", "verify"); !strings.Contains(r.stdout, "intact") {
			t.Errorf("audit verify:\n%s", r.stdout)
		}
	})

	t.Run("a Miami number is held to Florida's 20:00", func(t *testing.T) {
		t.Parallel()
		d := newTestDB(t)
		d.exec(t, `INSERT INTO borrowers (id, full_name, phone, locale, time_zone, region) VALUES
			(1, 'Miami number', '+1 305 555 0123', 'en-US', 'America/New_York', NULL),
			(2, 'New York number', '+1 212 555 0123', 'en-US', 'America/New_York', NULL),
			(3, 'Miami number, New York region', '+1 305 555 0124', 'en-US', 'America/New_York', 'US-NY')`)
		d.exec(t, `INSERT INTO loans (id, borrower_id, account_ref, currency, status)
			SELECT id, id, 'LN000000000' || id, 'USD', 'active' FROM borrowers`)
		d.exec(t, `INSERT INTO installments (id, loan_id, seq, due_date, amount_due_minor, amount_paid_minor)
			SELECT id, id, 1, '2026-11-27', 10000, 0 FROM loans`)
		// 20:30 Eastern: inside Reg F's 8 to 9, outside Florida's 8 to 8.
		mustCLI(t, ctx, d.env, "run", "--as-of", "2026-11-27T20:30:00-05:00")
		eightEastern := time.Date(2026, 11, 28, 13, 0, 0, 0, time.UTC)
		for _, tc := range []struct {
			name     string
			borrower int64
			want     string
			at       time.Time
			regions  string
		}{
			{"no region, a Miami number", 1, "deferred quiet_hours", eightEastern,
				`[{"region": "US-FL", "source": "phone"}, {"region": "US", "source": "phone"}]`},
			{"no region, a New York number", 2, "queued", time.Date(2026, 11, 28, 1, 30, 0, 0, time.UTC),
				`[{"region": "US-NY", "source": "phone"}, {"region": "US", "source": "phone"}]`},
			{"a New York region and a Miami number", 3, "deferred quiet_hours", eightEastern,
				`[{"region": "US-NY", "source": "region"}, {"region": "US-FL", "source": "phone"}, {"region": "US", "source": "phone"}]`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, at, regions := smsDecision(t, d, tc.borrower)
				if got != tc.want || !at.Equal(tc.at) {
					t.Errorf("borrower %d: %s at %s, want %s at %s", tc.borrower, got, at.UTC(), tc.want, tc.at)
				}
				if regions != tc.regions {
					t.Errorf("borrower %d: audit regions %s, want %s", tc.borrower, regions, tc.regions)
				}
			})
		}

		t.Run("the phone cache keeps the number's country and state", func(t *testing.T) {
			var country, subdivisions string
			d.scanRow(t, `SELECT country, array_to_string(subdivisions, ',') FROM reminder_phone_cache WHERE borrower_id = 1`, nil, &country, &subdivisions)
			if country != "US" || subdivisions != "US-FL" {
				t.Fatalf("cached country %q, subdivisions %q; want US, US-FL", country, subdivisions)
			}
			// The next run reads them from the cache: the next day's
			// installment is held to Florida's hours as well.
			d.exec(t, `INSERT INTO installments (id, loan_id, seq, due_date, amount_due_minor, amount_paid_minor) VALUES (11, 1, 2, '2026-11-28', 10000, 0)`)
			mustCLI(t, ctx, d.env, "run", "--as-of", "2026-11-28T20:30:00-05:00")
			var decision string
			var at time.Time
			d.scanRow(t, `SELECT decision || ' ' || reason, scheduled_for FROM reminder_audit WHERE installment_id = 11 AND channel = 'sms'`, nil, &decision, &at)
			if decision != "deferred quiet_hours" || !at.Equal(eightEastern.Add(24*time.Hour)) {
				t.Errorf("the next day, from the cache: %s at %s", decision, at.UTC())
			}
		})

		t.Run("explain says which regions and why", func(t *testing.T) {
			out := mustCLI(t, ctx, d.env, "explain", "--installment", "1").stdout
			for _, want := range []string{
				"country US, state or province US-FL",
				"Candidate region US-FL (from the phone number): its rules allow mon-sun 08:00-20:00",
				"Candidate region US (from the phone number): no rules are configured for it, so the default rules apply to it: allowed mon-sun 08:00-21:00",
				"that is mon-sun 08:00-20:00",
				`regions [{"region": "US-FL", "source": "phone"}, {"region": "US", "source": "phone"}]`,
			} {
				if !strings.Contains(out, want) {
					t.Errorf("explain does not say %q:\n%s", want, out)
				}
			}
			outcomes := explainSection(out, "The outcome:")
			if !slices.ContainsFunc(outcomes, func(l string) bool { return strings.Contains(l, "sms: deferred (quiet_hours)") }) {
				t.Errorf("explain's outcome: %q", outcomes)
			}
		})
		if r := mustCLI(t, ctx, d.env, "audit", "verify"); !strings.Contains(r.stdout, "intact") {
			t.Errorf("audit verify:\n%s", r.stdout)
		}
	})
}

// smsDecision reads the audit row of a borrower's first installment on
// sms: its decision and reason, send time and the regions in its details
// (re-encoded as jsonb prints them).
func smsDecision(t *testing.T, d *testDB, borrower int64) (decision string, at time.Time, regions string) {
	t.Helper()
	var scheduled *time.Time
	var raw []byte
	d.scanRow(t, `SELECT trim(a.decision || ' ' || a.reason), a.scheduled_for, coalesce(a.details -> 'regions', '[]')
		FROM reminder_audit a JOIN loans l ON l.id = a.loan_id
		WHERE l.borrower_id = $1 AND a.channel = 'sms' ORDER BY a.installment_id LIMIT 1`, []any{borrower}, &decision, &scheduled, &raw)
	if scheduled != nil {
		at = *scheduled
	}
	var check []map[string]string
	if err := json.Unmarshal(raw, &check); err != nil {
		t.Fatalf("borrower %d: regions %s: %v", borrower, raw, err)
	}
	return decision, at, string(raw)
}
