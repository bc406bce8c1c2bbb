package queries_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/loanremind/loanremind/queries"
	"github.com/loanremind/loanremind/queries/pgtest"
)

// ReadAuditChain hands over each row of a chain segment as the database
// holds it, in id order, stops when asked, and leaves its connection as it
// found it: outside a transaction, with the planner settings it had.
func TestReadAuditChain(t *testing.T) {
	t.Parallel()
	db := pgtest.DB(t)
	ctx := context.Background()
	mustExec(t, db.DB, `INSERT INTO reminder_audit (id, run_id, at, borrower_id, loan_id, installment_id, stage, channel,
		decision, reason, send_id, scheduled_for, valid_until, time_zones, policy_sha256, details, prev_hash, hash)
		SELECT n, 7, timestamptz '2026-11-28 02:00:00.123456+00', 100 + n, 200 + n, 300 + n, 'due_today', 'sms',
		       CASE WHEN n % 2 = 0 THEN 'queued' ELSE 'suppressed' END, CASE WHEN n % 2 = 0 THEN '' ELSE 'opted_out' END,
		       CASE WHEN n % 2 = 0 THEN 900 + n END,
		       CASE WHEN n % 2 = 0 THEN timestamptz '2026-11-28 03:00:00+00' END,
		       CASE WHEN n % 2 = 0 THEN timestamptz '2026-11-28 13:00:00+00' END,
		       '[{"zone": "Asia/Shanghai", "source": "phone"}]', CASE WHEN n = 3 THEN 'other' ELSE 'policy' END,
		       jsonb_build_object('seq', n), 'prev' || n, 'hash' || n
		FROM generate_series(1, 5) AS n`)
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	var got []string
	read := func(r *queries.RawChainRow) error {
		sched := "-"
		if r.ScheduledFor.Valid {
			sched = r.ScheduledFor.Time.UTC().Format("15:04") + "/" + r.ValidUntil.Time.UTC().Format("15:04")
		}
		got = append(got, fmt.Sprintf("%d %s %d %d %d %s %s %s %q %d %s %s %q %s %s %s",
			r.ID, r.At.UTC().Format("15:04:05.000000"), r.BorrowerID, r.LoanID, r.InstallmentID, r.Stage, r.Channel,
			r.Decision, r.Reason, r.SendID, sched, r.TimeZones, r.PolicySHA256, r.Details, r.PrevHash, r.Hash))
		return nil
	}
	if err := queries.ReadAuditChain(ctx, conn, 7, "policy", 2, 5, read); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`2 02:00:00.123456 102 202 302 due_today sms queued "" 902 03:00/13:00 [{"zone": "Asia/Shanghai", "source": "phone"}] "" {"seq": 2} prev2 hash2`,
		`3 02:00:00.123456 103 203 303 due_today sms suppressed "opted_out" 0 - [{"zone": "Asia/Shanghai", "source": "phone"}] "other" {"seq": 3} prev3 hash3`,
		`4 02:00:00.123456 104 204 304 due_today sms queued "" 904 03:00/13:00 [{"zone": "Asia/Shanghai", "source": "phone"}] "" {"seq": 4} prev4 hash4`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows 2 to 4:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	got = nil
	stopAfter := func(r *queries.RawChainRow) error {
		if err := read(r); err != nil {
			return err
		}
		if len(got) == 2 {
			return queries.ErrStopChain
		}
		return nil
	}
	if err := queries.ReadAuditChain(ctx, conn, 7, "policy", 0, 0, stopAfter); err != nil || len(got) != 2 {
		t.Fatalf("stopped after 2 rows: read %d (%v)", len(got), err)
	}
	var readOnly, sort string
	if err := conn.QueryRowContext(ctx, `SELECT current_setting('transaction_read_only'), current_setting('enable_sort')`).Scan(&readOnly, &sort); err != nil {
		t.Fatal(err)
	}
	if readOnly != "off" || sort != "on" {
		t.Errorf("after a stopped walk: transaction_read_only %s, enable_sort %s: the read-only transaction is still open", readOnly, sort)
	}

	boom := errors.New("boom")
	err = queries.ReadAuditChain(ctx, conn, 7, "policy", 0, 0, func(*queries.RawChainRow) error { return boom })
	if !errors.Is(err, boom) {
		t.Errorf("fn's error: got %v", err)
	}

	// A long walk whose server goes away, or whose context ends, midway:
	// an error, not a hang.
	mustExec(t, db.DB, `INSERT INTO reminder_audit (id, run_id, at, borrower_id, loan_id, installment_id, stage, channel,
		decision, reason, time_zones, policy_sha256, details, prev_hash, hash)
		SELECT n, 8, now(), n, n, n, 'due_today', 'sms', 'suppressed', 'opted_out', '[]', 'policy',
		       jsonb_build_object('seq', n, 'padding', repeat('x', 200)), 'prev' || n, 'hash' || n
		FROM generate_series(10, 100009) AS n`)
	for _, how := range []string{"server gone", "canceled"} {
		t.Run(how, func(t *testing.T) {
			conn, err := db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			var pid int
			if err := conn.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			done := make(chan error, 1)
			rows := 0
			go func() {
				done <- queries.ReadAuditChain(ctx, conn, 8, "policy", 0, 0, func(*queries.RawChainRow) error {
					if rows++; rows == 100 {
						if how == "canceled" {
							cancel()
						} else if _, err := db.Exec(`SELECT pg_terminate_backend($1)`, pid); err != nil {
							return err
						}
					}
					return nil
				})
			}()
			select {
			case err := <-done:
				if err == nil {
					t.Errorf("%s: no error after %d of 100000 rows", how, rows)
				} else if rows == 100000 {
					t.Errorf("%s: the walk went on to the end (%v)", how, err)
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("%s: the walk hangs", how)
			}
		})
	}
	// The pool still serves queries.
	if err := db.QueryRowContext(ctx, `SELECT 1`).Err(); err != nil {
		t.Errorf("after the broken walks: %v", err)
	}
}

// The chain's timestamps, which the reader decodes from their binary form,
// are the instants the database holds, to the microsecond, whatever their
// fraction, year or era.
func TestReadAuditChainTimestamps(t *testing.T) {
	t.Parallel()
	db := pgtest.DB(t)
	ctx := context.Background()
	stamps := []string{
		"2026-11-28 02:00:00+00", "2026-11-28 02:00:00.1+00", "2026-11-28 02:00:00.120000+08",
		"2026-11-28 23:59:59.999999+00", "2024-02-29 12:34:56.000001-05", "1970-01-01 00:00:00+00",
		"1969-12-31 23:59:59.5+00", "0900-03-01 00:00:00+00", "12026-01-01 00:00:00+00",
		"0044-03-15 12:00:00+00 BC", "2038-01-19 03:14:08.654321+00",
	}
	for i, s := range stamps {
		mustExec(t, db.DB, `INSERT INTO reminder_audit (id, run_id, at, borrower_id, loan_id, installment_id, stage, channel,
			decision, reason, send_id, scheduled_for, valid_until, time_zones, policy_sha256, details, prev_hash, hash)
			VALUES ($1, 9, $2::timestamptz, 1, 1, 1, 'due_today', 'sms', 'queued', '', 1, $2::timestamptz,
			        $2::timestamptz + interval '1 hour', '[]', 'p', '{}', 'a', 'b')`, i+1, s)
	}
	want := map[int64]int64{}
	rows, err := db.Query(`SELECT id, (extract(epoch FROM at) * 1000000)::bigint FROM reminder_audit WHERE run_id = 9`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, us int64
		if err := rows.Scan(&id, &us); err != nil {
			t.Fatal(err)
		}
		want[id] = us
	}
	rows.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Whatever the session's zone.
	if _, err := conn.ExecContext(ctx, `SET TimeZone = 'Asia/Kathmandu'`); err != nil {
		t.Fatal(err)
	}
	n := 0
	err = queries.ReadAuditChain(ctx, conn, 9, "", 0, 0, func(r *queries.RawChainRow) error {
		n++
		s := stamps[r.ID-1]
		if got := r.At.UnixMicro(); got != want[r.ID] {
			t.Errorf("%s: read %s (%d µs), the database holds %d µs", s, r.At, got, want[r.ID])
		}
		if !r.ScheduledFor.Valid || !r.ScheduledFor.Time.Equal(r.At) || r.ValidUntil.Time.Sub(r.At) != time.Hour {
			t.Errorf("%s: scheduled %v, valid until %v", s, r.ScheduledFor, r.ValidUntil)
		}
		return nil
	})
	if err != nil || n != len(stamps) {
		t.Fatalf("read %d of %d rows: %v", n, len(stamps), err)
	}
}
