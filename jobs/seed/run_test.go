package seed_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/loanremind/loanremind/jobs/civil"
	"github.com/loanremind/loanremind/jobs/seed"
	"github.com/loanremind/loanremind/queries/pgtest"
)

var asOf = civil.DateOf(2026, time.March, 16)

// seeded returns a fresh migrated database seeded with n borrowers and seed s.
func seeded(t *testing.T, n int, s uint64) (*sqlx.DB, seed.Stats) {
	t.Helper()
	db := pgtest.DB(t)
	stats, err := seed.Run(context.Background(), db.DB, seed.Options{Borrowers: n, Seed: s, AsOf: asOf})
	if err != nil {
		t.Fatal(err)
	}
	return db, stats
}

// tableHashes hashes each seeded table in SQL, rows in key order.
func tableHashes(t *testing.T, db *sqlx.DB) map[string]string {
	t.Helper()
	out := map[string]string{}
	for table, order := range map[string]string{
		"borrowers": "id", "loans": "id", "installments": "id",
		"borrower_quiet_windows": "id", "holidays": "region, date",
	} {
		var h string
		q := fmt.Sprintf(`SELECT md5(string_agg(t::text, ',' ORDER BY %s)) FROM %s t`, order, table)
		if err := db.QueryRow(q).Scan(&h); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		out[table] = h
	}
	return out
}

// Two databases seeded with the same N and S hold identical rows; another
// S gives other rows.
func TestRunIsDeterministic(t *testing.T) {
	t.Parallel()
	a, statsA := seeded(t, 3000, 99)
	b, statsB := seeded(t, 3000, 99)
	c, _ := seeded(t, 3000, 100)
	ha, hb, hc := tableHashes(t, a), tableHashes(t, b), tableHashes(t, c)
	for table := range ha {
		if ha[table] != hb[table] {
			t.Errorf("%s differs between two runs with the same seed", table)
		}
	}
	for _, table := range []string{"borrowers", "loans", "installments", "borrower_quiet_windows"} {
		if ha[table] == hc[table] {
			t.Errorf("%s is the same with seeds 99 and 100", table)
		}
	}
	if fmt.Sprint(statsA) != fmt.Sprint(statsB) {
		t.Error("stats differ between two runs with the same seed")
	}
}

// The database holds exactly the rows Generate yields, and Stats counts
// them.
func TestRunWritesWhatGenerateYields(t *testing.T) {
	t.Parallel()
	opts := seed.Options{Borrowers: 1500, Seed: 5, AsOf: asOf}
	db, stats := seeded(t, opts.Borrowers, opts.Seed)

	var want []string
	nul := func(s string) string {
		if s == "" {
			return "<nil>"
		}
		return s
	}
	_, err := seed.Generate(opts, seed.Yield{
		Borrower: func(b *seed.Borrower) bool {
			want = append(want, fmt.Sprintf("b %d|%s|%s|%s|%s|%s|%s|%t|%t|%t", b.ID, b.FullName, nul(b.Phone), nul(b.Email),
				b.Locale, nul(b.TimeZone), nul(b.Region), b.SMSOptOut, b.EmailOptOut, b.DoNotContact))
			return true
		},
		Loan: func(l *seed.Loan) bool {
			want = append(want, fmt.Sprintf("l %d|%d|%s|%s|%s", l.ID, l.BorrowerID, l.AccountRef, l.Currency, l.Status))
			return true
		},
		Installment: func(in *seed.Installment) bool {
			want = append(want, fmt.Sprintf("i %d|%d|%d|%s|%d|%d", in.ID, in.LoanID, in.Seq, in.DueDate, in.AmountDueMinor, in.AmountPaidMinor))
			return true
		},
		QuietWindow: func(q *seed.QuietWindow) bool {
			days := "<nil>"
			if q.Weekdays != nil {
				days = strings.Trim(strings.ReplaceAll(fmt.Sprint(q.Weekdays), " ", ","), "[]")
			}
			from, to := "<nil>", "<nil>"
			if q.ValidFrom != 0 {
				from, to = q.ValidFrom.String(), q.ValidTo.String()
			}
			want = append(want, fmt.Sprintf("q %d|%d|%s|%s|%s|%s|%s|%s", q.ID, q.BorrowerID, days, q.StartsAt, q.EndsAt, from, to, q.Note))
			return true
		},
		Holiday: func(h *seed.Holiday) bool {
			want = append(want, fmt.Sprintf("h %s|%s|%s", h.Region, h.Date, h.Name))
			return true
		},
	})
	if err != nil {
		t.Fatal(err)
	}

	var got []string
	for _, q := range []string{
		`SELECT 'b ' || concat_ws('|', id, full_name, coalesce(phone, '<nil>'), coalesce(email, '<nil>'), locale,
		        coalesce(time_zone, '<nil>'), coalesce(region, '<nil>'), sms_opt_out::text, email_opt_out::text, do_not_contact::text)
		 FROM borrowers ORDER BY id`,
		`SELECT 'l ' || concat_ws('|', id, borrower_id, account_ref, currency, status) FROM loans ORDER BY id`,
		`SELECT 'i ' || concat_ws('|', id, loan_id, seq, to_char(due_date, 'YYYY-MM-DD'), amount_due_minor, amount_paid_minor)
		 FROM installments ORDER BY id`,
		`SELECT 'q ' || concat_ws('|', id, borrower_id, coalesce(array_to_string(weekdays, ','), '<nil>'),
		        to_char(starts_at, 'HH24:MI'), CASE WHEN ends_at = '24:00' THEN '24:00' ELSE to_char(ends_at, 'HH24:MI') END,
		        coalesce(to_char(valid_from, 'YYYY-MM-DD'), '<nil>'), coalesce(to_char(valid_to, 'YYYY-MM-DD'), '<nil>'), note)
		 FROM borrower_quiet_windows ORDER BY id`,
		`SELECT 'h ' || concat_ws('|', region, to_char(date, 'YYYY-MM-DD'), name) FROM holidays ORDER BY region, date`,
	} {
		var rows []string
		if err := db.Select(&rows, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		got = append(got, rows...)
	}
	// Generate interleaves the tables per block of borrowers; compare
	// table by table.
	slices.SortStableFunc(want, func(a, b string) int { return strings.Compare(a[:1], b[:1]) })
	slices.SortStableFunc(got, func(a, b string) int { return strings.Compare(a[:1], b[:1]) })
	if len(got) != len(want) {
		t.Fatalf("database holds %d rows, Generate yields %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("row %d:\n database %s\n generate %s", i, got[i], want[i])
		}
	}
	counts := map[string]int64{}
	for _, table := range []string{"borrowers", "loans", "installments", "borrower_quiet_windows", "holidays"} {
		var n int64
		if err := db.Get(&n, `SELECT count(*) FROM `+table); err != nil {
			t.Fatal(err)
		}
		counts[table] = n
	}
	if counts["borrowers"] != stats.Borrowers || counts["loans"] != stats.Loans || counts["installments"] != stats.Installments ||
		counts["borrower_quiet_windows"] != stats.QuietWindows || counts["holidays"] != stats.Holidays {
		t.Errorf("table counts %v, stats %+v", counts, stats)
	}
}

// With N = 5,000, the data holds every case the spec lists; each is proved
// by a query against the loaded tables.
func TestRunCoversEveryCase(t *testing.T) {
	t.Parallel()
	db, stats := seeded(t, 5000, 1)
	day := asOf.String()
	// exists checks, as a subtest named what, that the query finds a row.
	exists := func(what, cond string, args ...any) {
		t.Helper()
		t.Run(what, func(t *testing.T) {
			var n int
			if err := db.Get(&n, `SELECT count(*) FROM (`+cond+`) x`, args...); err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if n == 0 {
				t.Errorf("no %s", what)
			}
		})
	}
	const candidate = `i.amount_paid_minor < i.amount_due_minor AND $1::date - i.due_date BETWEEN -3 AND 59`

	// Every day of every stage window, -3..59 days past due.
	var offsets []int
	if err := db.Select(&offsets, `SELECT DISTINCT $1::date - i.due_date FROM installments i WHERE `+candidate+` ORDER BY 1`, day); err != nil {
		t.Fatal(err)
	}
	if len(offsets) != 63 || offsets[0] != -3 || offsets[62] != 59 {
		t.Errorf("candidate items are %v days past due, want every day from -3 to 59", offsets)
	}
	// Every loan status, each with a candidate item (the policy suppresses
	// all but active).
	for _, status := range []string{"active", "paid_off", "charged_off", "disputed", "bankrupt", "deceased", "restructured"} {
		exists("loan with status "+status, `SELECT 1 FROM loans WHERE status = $1`, status)
	}
	for _, status := range []string{"active", "charged_off", "disputed", "bankrupt", "deceased", "restructured"} {
		exists("candidate of a "+status+" loan", `SELECT 1 FROM installments i JOIN loans l ON l.id = i.loan_id
			WHERE l.status = $2 AND `+candidate, day, status)
	}
	// Contact data.
	for _, phone := range []string{"12345", "+86 000", "call me"} {
		exists("invalid phone "+phone, `SELECT 1 FROM borrowers WHERE phone = $1`, phone)
	}
	exists("null phone", `SELECT 1 FROM borrowers WHERE phone IS NULL`)
	exists("CN national phone", `SELECT 1 FROM borrowers WHERE phone ~ '^1[3-9][0-9] [0-9]{4} [0-9]{4}$'`)
	exists("US national phone", `SELECT 1 FROM borrowers WHERE phone ~ '^\([2-9][0-9]{2}\) [2-9][0-9]{2}-[0-9]{4}$'`)
	for _, zone := range []string{"Mars/Olympus", "EST5", "Asia/Shang hai"} {
		exists("invalid time zone "+zone, `SELECT 1 FROM borrowers WHERE time_zone = $1`, zone)
	}
	exists("null time zone", `SELECT 1 FROM borrowers WHERE time_zone IS NULL`)
	exists("null email", `SELECT 1 FROM borrowers WHERE email IS NULL`)
	exists("invalid email", `SELECT 1 FROM borrowers WHERE email = 'no-at-sign'`)
	exists("family sharing a phone", `SELECT phone FROM borrowers WHERE phone IS NOT NULL GROUP BY phone HAVING count(*) = 2`)
	for _, flag := range []string{"sms_opt_out", "email_opt_out", "do_not_contact"} {
		exists(flag+" with a candidate", `SELECT 1 FROM borrowers b JOIN loans l ON l.borrower_id = b.id
			JOIN installments i ON i.loan_id = l.id WHERE b.`+flag+` AND `+candidate, day)
	}
	// Places.
	exists("Florida borrower", `SELECT 1 FROM borrowers WHERE region = 'US-FL' AND phone LIKE '+1%'`)
	exists("Kolkata borrower", `SELECT 1 FROM borrowers WHERE time_zone = 'Asia/Kolkata' AND region LIKE 'IN-%' AND phone LIKE '+91%'`)
	exists("Kathmandu borrower", `SELECT 1 FROM borrowers WHERE time_zone = 'Asia/Kathmandu' AND region LIKE 'NP-%' AND phone LIKE '+977%'`)
	exists("Europe/Berlin de-DE borrower", `SELECT 1 FROM borrowers WHERE time_zone = 'Europe/Berlin' AND locale = 'de-DE' AND phone LIKE '+49%'`)
	exists("Europe/London borrower", `SELECT 1 FROM borrowers WHERE time_zone = 'Europe/London' AND region LIKE 'GB-%'`)
	// Reg F comment 6(b)(1)(i)-2: conflicting locations.
	const eastern = `'^\+1(212|646|718|917|347|516|305|786|407|813|904|954|561)'`
	exists("Pacific home with an Eastern mobile", `SELECT 1 FROM borrowers WHERE time_zone = 'America/Los_Angeles' AND phone ~ `+eastern)
	exists("Mountain home with an Eastern mobile", `SELECT 1 FROM borrowers WHERE time_zone = 'America/Denver' AND phone ~ `+eastern)
	exists("Shanghai borrower with a New York number", `SELECT 1 FROM borrowers WHERE time_zone = 'Asia/Shanghai' AND phone ~ '^\+1(212|646|718|917|347|516)'`)
	// Loans and money.
	exists("unknown currency XXY", `SELECT 1 FROM loans WHERE currency = 'XXY'`)
	for _, cur := range []string{"CNY", "USD", "EUR", "GBP", "INR", "NPR"} {
		exists("loan in "+cur, `SELECT 1 FROM loans WHERE currency = $1`, cur)
	}
	exists("partly paid candidate", `SELECT 1 FROM installments i WHERE i.amount_paid_minor > 0 AND `+candidate, day)
	exists("fully paid installment", `SELECT 1 FROM installments WHERE amount_paid_minor = amount_due_minor`)
	exists("borrower with several candidates due the same day", `
		SELECT l.borrower_id FROM installments i JOIN loans l ON l.id = i.loan_id WHERE `+candidate+`
		GROUP BY l.borrower_id, i.due_date HAVING count(*) >= 2`, day)
	exists("borrower with candidates in several currencies due the same day", `
		SELECT l.borrower_id FROM installments i JOIN loans l ON l.id = i.loan_id WHERE `+candidate+`
		GROUP BY l.borrower_id, i.due_date HAVING count(DISTINCT l.currency) >= 2`, day)
	// Quiet windows and holidays.
	exists("'not on Tuesdays' window", `SELECT 1 FROM borrower_quiet_windows WHERE weekdays = '{2}' AND starts_at = '00:00' AND ends_at = '24:00'`)
	exists("evening window", `SELECT 1 FROM borrower_quiet_windows WHERE weekdays IS NULL AND starts_at = '18:00' AND ends_at = '21:00'`)
	exists("window across midnight", `SELECT 1 FROM borrower_quiet_windows WHERE starts_at = '20:00' AND ends_at = '09:00'`)
	exists("dated window", `SELECT 1 FROM borrower_quiet_windows WHERE valid_from IS NOT NULL AND valid_to >= valid_from`)
	exists("National Day 2026", `SELECT 1 FROM holidays WHERE region = 'CN' AND date BETWEEN '2026-10-01' AND '2026-10-07' HAVING count(*) = 7`)
	exists("Spring Festival 2026", `SELECT 1 FROM holidays WHERE region = 'CN' AND date BETWEEN '2026-02-15' AND '2026-02-23' HAVING count(*) = 9`)
	exists("US Thanksgiving 2026", `SELECT 1 FROM holidays WHERE region = 'US' AND date = '2026-11-26'`)

	// Proportions.
	var china, loans float64
	if err := db.QueryRow(`SELECT avg((locale = 'zh-CN' AND (region LIKE 'CN-%' OR region IS NULL))::int),
		(SELECT count(*) FROM loans)::float / count(*) FROM borrowers`).Scan(&china, &loans); err != nil {
		t.Fatal(err)
	}
	if china < 0.65 || china > 0.75 {
		t.Errorf("%.3f of borrowers in China, want about 0.7", china)
	}
	if loans < 1.3 || loans > 1.5 {
		t.Errorf("%.2f loans per borrower, want about 1.4", loans)
	}
	var fk int
	if err := db.Get(&fk, `SELECT count(*) FROM installments i LEFT JOIN loans l ON l.id = i.loan_id WHERE l.id IS NULL`); err != nil || fk != 0 {
		t.Errorf("%d installments without a loan (%v)", fk, err)
	}
	for _, name := range []string{"invalid_phone", "null_time_zone", "invalid_time_zone", "shared_phone", "sms_opt_out",
		"do_not_contact", "status:disputed", "stage:overdue_7d", "multi_currency", "quiet_window", "florida", "reg_f_conflict"} {
		if stats.ByCase[name] == 0 {
			t.Errorf("Stats.ByCase[%q] = 0", name)
		}
	}
}

// At N = 20,000 there are at least 0.25 candidate items per borrower, and
// Stats counts the same number the selection's predicate finds.
func TestRunCandidateRatio(t *testing.T) {
	t.Parallel()
	db, stats := seeded(t, 20000, 2)
	var n int64
	if err := db.Get(&n, `SELECT count(*) FROM installments
		WHERE amount_paid_minor < amount_due_minor AND $1::date - due_date BETWEEN -3 AND 59`, asOf.String()); err != nil {
		t.Fatal(err)
	}
	if r := float64(n) / 20000; r < 0.25 {
		t.Errorf("%d candidates for 20,000 borrowers (%.3f), want at least 0.25 each", n, r)
	}
	if n != stats.ByCase["candidates"] {
		t.Errorf("database has %d candidates, Stats says %d", n, stats.ByCase["candidates"])
	}
	// The partial index the selection uses holds them.
	var indexed bool
	if err := db.Get(&indexed, `SELECT EXISTS (SELECT 1 FROM pg_stats WHERE tablename = 'installments' AND attname = 'due_date')`); err != nil || !indexed {
		t.Errorf("installments were not analyzed (%v)", err)
	}
}

// Run refuses a table that has rows, naming it, and writes nothing.
func TestRunRefusesNonEmptyTables(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ table, insert string }{
		{"borrowers", `INSERT INTO borrowers (id, full_name) VALUES (1, 'Existing')`},
		{"holidays", `INSERT INTO holidays (region, date) VALUES ('CN', '2026-10-01')`},
	} {
		t.Run(c.table, func(t *testing.T) {
			db := pgtest.DB(t)
			if _, err := db.Exec(c.insert); err != nil {
				t.Fatal(err)
			}
			_, err := seed.Run(context.Background(), db.DB, seed.Options{Borrowers: 10, Seed: 1, AsOf: asOf})
			if !errors.Is(err, seed.ErrNotEmpty) || !strings.Contains(err.Error(), c.table) {
				t.Errorf("%s has rows: Run returned %v, want an error naming it", c.table, err)
			}
			var loans int
			if err := db.Get(&loans, `SELECT count(*) FROM loans`); err != nil || loans != 0 {
				t.Errorf("Run wrote %d loans after refusing (%v)", loans, err)
			}
		})
	}
}

// Quiet windows keep the ids Run gave them and the sequence moves past them;
// progress is reported per table; a cancelled context stops Run.
func TestRunSequenceProgressAndCancel(t *testing.T) {
	t.Parallel()
	db := pgtest.DB(t)
	last := map[string]int64{}
	calls := 0
	stats, err := seed.Run(context.Background(), db.DB, seed.Options{Borrowers: 2000, Seed: 3, AsOf: asOf,
		Progress: func(table string, rows int64) { last[table] = rows; calls++ }})
	if err != nil {
		t.Fatal(err)
	}
	if last["borrowers"] != 2000 || last["loans"] != stats.Loans || last["installments"] != stats.Installments ||
		last["borrower_quiet_windows"] != stats.QuietWindows || last["holidays"] != stats.Holidays || calls != 5 {
		t.Errorf("progress %v (%d calls), stats %+v", last, calls, stats)
	}
	var id int64
	if err := db.Get(&id, `INSERT INTO borrower_quiet_windows (borrower_id, note) VALUES (1, 'added later') RETURNING id`); err != nil {
		t.Fatalf("insert after seeding: %v", err)
	}
	if id != stats.QuietWindows+1 {
		t.Errorf("new quiet window got id %d, want %d", id, stats.QuietWindows+1)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	other := pgtest.DB(t)
	if _, err := seed.Run(ctx, other.DB, seed.Options{Borrowers: 2000, Seed: 3, AsOf: asOf}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Run returned %v", err)
	}
	var loans int
	if err := other.Get(&loans, `SELECT count(*) FROM loans`); err != nil || loans != 0 {
		t.Errorf("cancelled Run left %d loans (%v)", loans, err)
	}
}

// Run rejects bad options before touching the database.
func TestRunValidatesOptions(t *testing.T) {
	t.Parallel()
	if _, err := seed.Run(context.Background(), (*sql.DB)(nil), seed.Options{Borrowers: -5, AsOf: asOf}); err == nil {
		t.Error("negative borrowers accepted")
	}
}
