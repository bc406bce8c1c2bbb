package audit_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loanremind/loanremind/jobs/audit"
	"github.com/loanremind/loanremind/queries"
	"github.com/loanremind/loanremind/queries/pgtest"
)

// tamper runs statements as a superuser who lifted the append-only trigger
// for the length of one transaction.
func tamper(tb testing.TB, db *sql.DB, statements ...string) {
	tb.Helper()
	tx, err := db.Begin()
	if err != nil {
		tb.Fatal(err)
	}
	defer tx.Rollback()
	all := append(append([]string{`ALTER TABLE reminder_audit DISABLE TRIGGER reminder_audit_append_only`,
		`ALTER TABLE reminder_runs DISABLE TRIGGER reminder_runs_final`}, statements...),
		`ALTER TABLE reminder_audit ENABLE TRIGGER reminder_audit_append_only`, `ALTER TABLE reminder_runs ENABLE TRIGGER reminder_runs_final`)
	for _, q := range all {
		if _, err := tx.Exec(q); err != nil {
			tb.Fatalf("%s: %v", q, err)
		}
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
}

func mustVerify(tb testing.TB, db *sql.DB, f audit.VerifyFilter) *audit.Report {
	tb.Helper()
	rep, err := audit.Verify(context.Background(), db, f)
	if err != nil {
		tb.Fatalf("verify: %v", err)
	}
	return rep
}

func problems(rep *audit.Report) string {
	var b strings.Builder
	for _, p := range rep.Problems {
		fmt.Fprintf(&b, "\n  %s", p)
	}
	return b.String()
}

func TestVerifyPassesARealChain(t *testing.T) {
	t.Parallel()
	db := pgtest.DB(t).DB
	runs := buildChain(t, db, chainSpec{runs: 3, rowsPerRun: 1500, batch: 400})
	rep := mustVerify(t, db, audit.VerifyFilter{})
	if !rep.OK() || rep.Runs != 3 || rep.Rows != 4500 {
		t.Fatalf("verify: %d runs, %d rows, problems:%s", rep.Runs, rep.Rows, problems(rep))
	}
	if rep := mustVerify(t, db, audit.VerifyFilter{RunID: runs[1].id}); !rep.OK() || rep.Runs != 1 || rep.Rows != 1500 {
		t.Errorf("verify one run: %d runs, %d rows:%s", rep.Runs, rep.Rows, problems(rep))
	}
	day := fixtureAt.Format(time.DateOnly)
	if rep := mustVerify(t, db, audit.VerifyFilter{From: day, To: day}); !rep.OK() || rep.Runs != 3 {
		t.Errorf("verify %s: %d runs:%s", day, rep.Runs, problems(rep))
	}
	if rep := mustVerify(t, db, audit.VerifyFilter{From: "2030-01-01"}); !rep.OK() || rep.Runs != 0 {
		t.Errorf("verify from 2030: %d runs:%s", rep.Runs, problems(rep))
	}
	if rep := mustVerify(t, db, audit.VerifyFilter{RunID: 999999}); rep.OK() {
		t.Error("verifying a run that does not exist passes")
	}
}

// TestVerifyNamesWhatWasChanged tampers with a fresh chain in each case, as
// a superuser who bypassed the trigger would, and checks that Verify names
// the row or run.
func TestVerifyNamesWhatWasChanged(t *testing.T) {
	t.Parallel()
	type want struct {
		run, row int64 // the problem to find; row 0: about the run record
		what     string
	}
	// deletedRow deletes the row offset rows into the second run: the
	// next row no longer links to the one before it.
	deletedRow := func(offset int64) func(r []builtRun) ([]string, []want) {
		return func(r []builtRun) ([]string, []want) {
			id := r[1].first + offset
			return []string{fmt.Sprintf(`DELETE FROM reminder_audit WHERE id = %d`, id)},
				[]want{{r[1].id, id + 1, fmt.Sprintf("does not link to row %d", id-1)}, {r[1].id, 0, "rows were deleted"}}
		}
	}
	for _, c := range []struct {
		name   string
		change func(runs []builtRun) ([]string, []want)
	}{
		{"edited row", func(r []builtRun) ([]string, []want) {
			id := r[1].first + 17
			return []string{fmt.Sprintf(`UPDATE reminder_audit SET reason = 'edited' WHERE id = %d`, id)},
				[]want{{r[1].id, id, "was edited"}}
		}},
		{"edited jsonb", func(r []builtRun) ([]string, []want) {
			id := r[1].first + 3
			return []string{fmt.Sprintf(`UPDATE reminder_audit SET details = details || '{"amount_due_minor": 1}' WHERE id = %d`, id)},
				[]want{{r[1].id, id, "was edited"}}
		}},
		{"no time turned into the zero time", func(r []builtRun) ([]string, []want) {
			// Row 3 is suppressed: it has no send time, which the writer
			// stores as NULL, and the zero time must not pass for it.
			id := r[1].first + 3
			return []string{fmt.Sprintf(`UPDATE reminder_audit SET scheduled_for = '0001-01-01 00:00:00+00' WHERE id = %d AND scheduled_for IS NULL`, id)},
				[]want{{r[1].id, id, "was edited"}}
		}},
		{"infinite validity", func(r []builtRun) ([]string, []want) {
			id := r[1].first + 1
			return []string{fmt.Sprintf(`UPDATE reminder_audit SET valid_until = 'infinity' WHERE id = %d AND valid_until IS NOT NULL`, id)},
				[]want{{r[1].id, id, "was edited"}}
		}},
		{"emptied policy", func(r []builtRun) ([]string, []want) {
			// Read back, an empty policy must not pass for the run's own.
			id := r[1].first + 5
			return []string{fmt.Sprintf(`UPDATE reminder_audit SET policy_sha256 = '' WHERE id = %d`, id)},
				[]want{{r[1].id, id, "was edited"}}
		}},
		{"deleted row", deletedRow(17)},
		// The rows on either side of where a segmented walk splits a run
		// (runs of 60 rows, in segments of 20).
		{"deleted row that starts a segment", deletedRow(20)},
		{"deleted row that ends a segment", deletedRow(39)},
		{"edited row that starts a segment", func(r []builtRun) ([]string, []want) {
			id := r[1].first + 40
			return []string{fmt.Sprintf(`UPDATE reminder_audit SET borrower_id = borrower_id + 1 WHERE id = %d`, id)},
				[]want{{r[1].id, id, "was edited"}}
		}},
		{"inserted row that ends a segment", func(r []builtRun) ([]string, []want) {
			// Room made at row 19 (every later row's id moves up one), and
			// a forged row put there that links to row 18 as the one it
			// displaces did: with 61 rows, the walk in segments splits
			// the run right after it.
			id := r[1].first + 19
			return []string{
					fmt.Sprintf(`UPDATE reminder_audit SET id = -id WHERE run_id = %d AND id >= %d`, r[1].id, id),
					fmt.Sprintf(`UPDATE reminder_audit SET id = -id + 1 WHERE run_id = %d AND id < 0`, r[1].id),
					fmt.Sprintf(`INSERT INTO reminder_audit (id, run_id, at, borrower_id, loan_id, installment_id, stage,
						channel, decision, reason, send_id, scheduled_for, valid_until, time_zones, policy_sha256, details, prev_hash, hash)
						SELECT %d, run_id, at, borrower_id, loan_id, installment_id + 1, stage, channel, decision, reason, send_id,
						       scheduled_for, valid_until, time_zones, policy_sha256, details, prev_hash, hash
						FROM reminder_audit WHERE run_id = %d AND id = %d`, id, r[1].id, id+1),
				},
				[]want{{r[1].id, id, "the row was inserted"}, {r[1].id, 0, "rows were inserted"}}
		}},
		{"deleted first row", func(r []builtRun) ([]string, []want) {
			return []string{fmt.Sprintf(`DELETE FROM reminder_audit WHERE id = %d`, r[1].first)},
				[]want{{r[1].id, r[1].first + 1, "does not link to the run's header"}}
		}},
		{"deleted last row", func(r []builtRun) ([]string, []want) {
			return []string{fmt.Sprintf(`DELETE FROM reminder_audit WHERE id = %d`, r[1].first+r[1].rows-1)},
				[]want{{r[1].id, 0, "rows were deleted"}}
		}},
		{"inserted copy", func(r []builtRun) ([]string, []want) {
			// A copy of a row with another installment gets the next id:
			// it is the last row of the last run.
			return []string{fmt.Sprintf(`INSERT INTO reminder_audit (run_id, at, borrower_id, loan_id, installment_id, stage,
				channel, decision, reason, send_id, scheduled_for, valid_until, time_zones, policy_sha256, details, prev_hash, hash)
				SELECT run_id, at, borrower_id, loan_id, installment_id + 1, stage, channel, decision, reason, send_id,
				       scheduled_for, valid_until, time_zones, policy_sha256, details, prev_hash, hash
				FROM reminder_audit WHERE id = %d`, r[2].first+5)},
				[]want{{r[2].id, r[2].first + r[2].rows, "was edited"}, {r[2].id, 0, "rows were inserted"}}
		}},
		{"edited run actor", func(r []builtRun) ([]string, []want) {
			return []string{fmt.Sprintf(`UPDATE reminder_runs SET actor = 'someone else' WHERE id = %d`, r[1].id)},
				[]want{{r[1].id, r[1].first, "does not link to the run's header"}, {r[1].id, 0, "does not match its seal"}}
		}},
		{"edited run count", func(r []builtRun) ([]string, []want) {
			return []string{fmt.Sprintf(`UPDATE reminder_runs SET queued = queued - 1 WHERE id = %d`, r[1].id)},
				[]want{{r[1].id, 0, "queued decisions"}, {r[1].id, 0, "does not match its seal"}}
		}},
		{"deleted run", func(r []builtRun) ([]string, []want) {
			return []string{
					fmt.Sprintf(`DELETE FROM reminder_audit WHERE run_id = %d`, r[1].id),
					fmt.Sprintf(`DELETE FROM reminder_runs WHERE id = %d`, r[1].id),
				},
				[]want{{r[2].id, 0, fmt.Sprintf("links to run %d, which is missing", r[1].id)}}
		}},
		{"deleted run record only", func(r []builtRun) ([]string, []want) {
			return []string{fmt.Sprintf(`DELETE FROM reminder_runs WHERE id = %d`, r[1].id)},
				[]want{{r[1].id, 0, "has no run record"}, {r[2].id, 0, fmt.Sprintf("links to run %d, which is missing", r[1].id)}}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			db := pgtest.DB(t).DB
			runs := buildChain(t, db, chainSpec{runs: 3, rowsPerRun: 60, batch: 25})
			// Each run walked whole by one worker, and in three segments
			// by three workers, as Verify walks a large run with more cores.
			walks := []struct {
				name             string
				workers, segment int
			}{{"whole", 1, 1}, {"segments", 3, 20}}
			verify := func(t *testing.T, workers, segment int) *audit.Report {
				rep, err := audit.VerifyWith(context.Background(), db, audit.VerifyFilter{}, workers, int64(segment))
				if err != nil {
					t.Fatalf("verify: %v", err)
				}
				return rep
			}
			for _, w := range walks {
				if rep := verify(t, w.workers, w.segment); !rep.OK() {
					t.Fatalf("untouched chain does not verify (%s):%s", w.name, problems(rep))
				}
			}
			stmts, wants := c.change(runs)
			tamper(t, db, stmts...)
			for _, walk := range walks {
				t.Run(walk.name, func(t *testing.T) {
					rep := verify(t, walk.workers, walk.segment)
					if rep.OK() {
						t.Fatalf("verify (%s) passes after the change", walk.name)
					}
					for _, w := range wants {
						found := false
						for _, p := range rep.Problems {
							if p.RunID == w.run && p.RowID == w.row && strings.Contains(p.What, w.what) {
								found = true
							}
						}
						if !found {
							t.Errorf("%s: no problem for run %d, row %d saying %q; got:%s", walk.name, w.run, w.row, w.what, problems(rep))
						}
					}
				})
			}
		})
	}
}

// TestVerifyWhileARunWrites verifies while a run is writing batches, as
// when compliance staff verify during the hourly job: the rows the run
// commits after Verify read its record are not tampering.
func TestVerifyWhileARunWrites(t *testing.T) {
	t.Parallel()
	db := pgtest.DB(t).DB
	ctx := context.Background()
	// Finished runs first, so that Verify reads the running run's record
	// well before it reaches its rows.
	buildChain(t, db, chainSpec{runs: 8, rowsPerRun: 4000, batch: 4000})
	w, err := startRun(ctx, db, 100)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.append(ctx, 50); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			if err := w.append(ctx, 20); err != nil {
				done <- err
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	count := func() int64 {
		var n int64
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM reminder_audit WHERE run_id = $1`, w.header.ID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	raced := 0
	for i := 0; i < 3; i++ {
		before := count()
		rep, err := audit.Verify(ctx, db, audit.VerifyFilter{})
		after := count()
		if err != nil {
			t.Fatal(err)
		}
		if after > before {
			raced++
		}
		if !rep.OK() {
			t.Errorf("verify %d, while the run went from %d to %d rows:%s", i+1, before, after, problems(rep))
		}
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if raced == 0 {
		t.Error("the run wrote nothing while Verify ran: the test did not test anything")
	}
	if err := w.finish(ctx); err != nil {
		t.Fatal(err)
	}
	if rep := mustVerify(t, db, audit.VerifyFilter{}); !rep.OK() || rep.Rows != 8*4000+int64(w.written) {
		t.Errorf("after the run: %d rows:%s", rep.Rows, problems(rep))
	}
}

// BenchmarkVerify measures audit.Verify over a real chain of 500,000 rows
// in four runs (target: 200,000 rows/s), and, to show where the time goes,
// its parts on the same rows: the server producing the text of the rows
// alone (no client), the client reading and scanning them without hashing,
// and the hashing alone.
//
//	go test ./jobs/audit -run '^$' -bench BenchmarkVerify -benchtime 1x
func BenchmarkVerify(b *testing.B) {
	db := pgtest.DB(b).DB
	ctx := context.Background()
	const runs, perRun = 4, 125_000
	start := time.Now()
	built := buildChain(b, db, chainSpec{runs: runs, rowsPerRun: perRun, batch: 10_000})
	if _, err := db.ExecContext(ctx, `VACUUM ANALYZE reminder_audit`); err != nil {
		b.Fatal(err)
	}
	b.Logf("built a chain of %d rows in %s", runs*perRun, time.Since(start).Round(time.Millisecond))
	report := func(b *testing.B, rows int64) {
		b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(rows), "ns/row")
		b.ReportMetric(0, "ns/op")
	}

	b.Run("verify", func(b *testing.B) {
		var rows int64
		for b.Loop() {
			rep, err := audit.Verify(ctx, db, audit.VerifyFilter{})
			if err != nil {
				b.Fatal(err)
			}
			if !rep.OK() || rep.Rows != runs*perRun {
				b.Fatalf("verify: %d rows:%s", rep.Rows, problems(rep))
			}
			rows += rep.Rows
		}
		report(b, rows)
	})

	b.Run("runs-in-parallel", func(b *testing.B) {
		// The runs' chains are independent: verifying them on several
		// connections at once shows what parallel verification would gain.
		var rows atomic.Int64
		for b.Loop() {
			var wg sync.WaitGroup
			errs := make(chan error, len(built))
			for _, r := range built {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rep, err := audit.Verify(ctx, db, audit.VerifyFilter{RunID: r.id})
					if err == nil && (!rep.OK() || rep.Rows != perRun) {
						err = fmt.Errorf("run %d: %d rows:%s", r.id, rep.Rows, problems(rep))
					}
					if err != nil {
						errs <- err
					}
					rows.Add(rep.Rows)
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				b.Fatal(err)
			}
		}
		report(b, rows.Load())
	})

	b.Run("server-text-only", func(b *testing.B) {
		// What the server does for AuditChain, every column turned into
		// text, without sending it: the floor for one connection.
		var rows int64
		for b.Loop() {
			for _, r := range built {
				var n, size int64
				err := db.QueryRowContext(ctx, `
					SELECT count(*), sum(octet_length(concat_ws('|', id, at, borrower_id, loan_id, installment_id, stage,
					       channel, decision, reason, coalesce(send_id, 0), scheduled_for, valid_until, time_zones::text,
					       policy_sha256, details::text, prev_hash, hash)))
					FROM (SELECT * FROM reminder_audit WHERE run_id = $1 ORDER BY id) a`, r.id).Scan(&n, &size)
				if err != nil {
					b.Fatal(err)
				}
				rows += n
			}
		}
		report(b, rows)
	})

	readChain := func(b *testing.B, runID int64, fn func(*queries.RawChainRow) error) {
		conn, err := db.Conn(ctx)
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		if err := queries.ReadAuditChain(ctx, conn, runID, "", 0, 0, fn); err != nil {
			b.Fatal(err)
		}
	}

	b.Run("read-and-scan-only", func(b *testing.B) {
		var rows int64
		for b.Loop() {
			for _, r := range built {
				readChain(b, r.id, func(*queries.RawChainRow) error {
					rows++
					return nil
				})
			}
		}
		report(b, rows)
	})

	b.Run("hash-only", func(b *testing.B) {
		var chain []audit.Row
		readChain(b, built[0].id, func(r *queries.RawChainRow) error {
			chain = append(chain, audit.Row{
				RunID: built[0].id, At: r.At, BorrowerID: r.BorrowerID, LoanID: r.LoanID, InstallmentID: r.InstallmentID,
				Stage: string(r.Stage), Channel: string(r.Channel), Decision: string(r.Decision), Reason: string(r.Reason),
				SendID: r.SendID, ScheduledFor: r.ScheduledFor.Time, ValidUntil: r.ValidUntil.Time,
				TimeZones: string(r.TimeZones), PolicySHA256: string(r.PolicySHA256), Details: string(r.Details),
				PrevHash: string(r.PrevHash),
			})
			return nil
		})
		var rows int64
		for b.Loop() {
			for i := range chain {
				_ = chain[i].Hash()
			}
			rows += int64(len(chain))
		}
		report(b, rows)
	})
}
