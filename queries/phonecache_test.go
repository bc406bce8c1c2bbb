package queries_test

import (
	"context"
	"testing"
	"time"

	"github.com/loanremind/loanremind/queries"
	"github.com/loanremind/loanremind/queries/pgtest"
)

// The candidate query tells a parse cached for the borrower's current
// number (to use) from one of an older number or region (to replace), and
// CachePhonesTx adds new parses, replaces stale ones, and stores parses a
// concurrent run cached first.
func TestPhoneCacheFollowsTheNumber(t *testing.T) {
	t.Parallel()
	db := pgtest.DB(t)
	ctx := context.Background()
	mustExec(t, db.DB, `INSERT INTO borrowers (id, full_name, phone, region) VALUES
		(1, 'A', '13800138000', NULL), (2, 'B', '+12125550123', 'US-NY')`)
	mustExec(t, db.DB, `INSERT INTO loans (id, borrower_id, account_ref, currency, status) VALUES
		(10, 1, 'ACC-0001', 'CNY', 'active'), (20, 2, 'ACC-0002', 'USD', 'active')`)
	mustExec(t, db.DB, `INSERT INTO installments (id, loan_id, seq, due_date, amount_due_minor, amount_paid_minor) VALUES
		(100, 10, 1, '2026-11-28', 1000, 0), (200, 20, 1, '2026-11-28', 1000, 0)`)

	type state struct {
		cached, row, valid bool
		zones              string
		regions            string // country|subdivisions
	}
	read := func(when string) map[int64]state {
		t.Helper()
		day := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
		rows, err := queries.StreamCandidates(ctx, db, queries.CandidateParams{
			DueDates: []time.Time{day}, Stages: []string{"due_today"}, ShardCount: 1, DefaultPhoneRegion: "CN",
		})
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		defer rows.Close()
		got := map[int64]state{}
		var c queries.Candidate
		for rows.Next(&c) {
			// The parse's values mean something only when it is current.
			// The parse's values are those of the current number or none.
			got[c.BorrowerID] = state{c.PhoneCached, c.PhoneCacheRow, c.PhoneValid, c.PhoneZones, c.PhoneCountry + "|" + c.PhoneSubdivisions}
			if !c.PhoneCached && (c.PhoneValid || c.PhoneE164 != "" || c.PhoneZones != "" || c.PhoneCountry != "" || c.PhoneSubdivisions != "") {
				t.Errorf("%s: borrower %d: a stale parse comes through: %+v", when, c.BorrowerID, c)
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		return got
	}
	expect := func(when string, want map[int64]state) {
		t.Helper()
		got := read(when)
		for id, w := range want {
			if got[id] != w {
				t.Errorf("%s: borrower %d: cached, row, valid = %+v, want %+v", when, id, got[id], w)
			}
		}
	}

	expect("empty cache", map[int64]state{1: {regions: "|"}, 2: {regions: "|"}})
	err := queries.CachePhonesTx(ctx, db.DB, []queries.PhoneParse{
		{BorrowerID: 1, Raw: "13800138000", Region: "CN", E164: "+8613800138000", Valid: true, Zones: "Asia/Shanghai", Country: "CN"},
		{BorrowerID: 2, Raw: "+12125550123", Region: "US", E164: "+12125550123", Valid: true, Zones: "America/New_York",
			Country: "US", Subdivisions: "US-NY"},
	})
	if err != nil {
		t.Fatal(err)
	}
	expect("both cached", map[int64]state{1: {true, true, true, "Asia/Shanghai", "CN|"}, 2: {true, true, true, "America/New_York", "US|US-NY"}})
	var zones string
	if err := db.QueryRow(`SELECT array_to_string(time_zones, '|') FROM reminder_phone_cache WHERE borrower_id = 2`).Scan(&zones); err != nil || zones != "America/New_York" {
		t.Fatalf("cached zones %q (%v), want America/New_York", zones, err)
	}

	// A new number, and a new region (so another default country).
	mustExec(t, db.DB, `UPDATE borrowers SET phone = '12345' WHERE id = 1`)
	mustExec(t, db.DB, `UPDATE borrowers SET region = 'GB' WHERE id = 2`)
	expect("after the changes", map[int64]state{1: {false, true, false, "", "|"}, 2: {false, true, false, "", "|"}})
	err = queries.CachePhonesTx(ctx, db.DB, []queries.PhoneParse{
		{BorrowerID: 1, Raw: "12345", Region: "CN", Replace: true},
		{BorrowerID: 2, Raw: "+12125550123", Region: "GB", E164: "+12125550123", Valid: true, Zones: "America/New_York", Replace: true,
			Country: "US", Subdivisions: "US-NY,US-NJ"},
	})
	if err != nil {
		t.Fatal(err)
	}
	expect("replaced", map[int64]state{1: {true, true, false, "", "|"}, 2: {true, true, true, "America/New_York", "US|US-NY,US-NJ"}})

	// Another run cached borrower 1 first: a "new" parse still lands.
	mustExec(t, db.DB, `UPDATE borrowers SET phone = '13900139000' WHERE id = 1`)
	err = queries.CachePhonesTx(ctx, db.DB, []queries.PhoneParse{
		{BorrowerID: 1, Raw: "13900139000", Region: "CN", E164: "+8613900139000", Valid: true, Zones: "Asia/Shanghai"},
	})
	if err != nil {
		t.Fatalf("a parse the cache already has a row for: %v", err)
	}
	expect("cached over a concurrent run's", map[int64]state{1: {true, true, true, "Asia/Shanghai", "|"}})

	// The number removed: the old parse is not the borrower's any more.
	mustExec(t, db.DB, `UPDATE borrowers SET phone = NULL WHERE id = 2`)
	expect("number removed", map[int64]state{2: {false, true, false, "", "|"}})
}
