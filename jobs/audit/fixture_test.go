package audit_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/loanremind/loanremind/jobs/audit"
	"github.com/loanremind/loanremind/queries"
)

// fixtureAt is the instant the fixtures' runs happen.
var fixtureAt = time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC)

// chainSpec describes audit trails to write as the job writes them.
type chainSpec struct {
	runs       int
	rowsPerRun int
	batch      int // rows per transaction
}

// builtRun is a run written by buildChain.
type builtRun struct {
	id    int64
	rows  int64
	first int64 // the id of its first audit row
}

var fixtureDecisions = []struct{ decision, reason string }{
	{"queued", ""}, {"deferred", "quiet_hours"}, {"queued", ""}, {"suppressed", "opted_out"},
	{"skipped", "invalid_phone"}, {"expired", "no_permissible_time:quiet_hours"}, {"suppressed", "loan_status:disputed"},
	{"queued", ""},
}

// buildChain writes correctly chained runs the way the pipeline does, with
// the same queries: the run record starts with its header's hash as head;
// each batch of rows is hashed onto the head, COPYed, and moves the run's
// counters and head in one transaction; the run ends with its seal. Runs
// link to the previous run of the lane, as real runs do.
func buildChain(tb testing.TB, db *sql.DB, spec chainSpec) []builtRun {
	tb.Helper()
	ctx := context.Background()
	var out []builtRun
	for r := 0; r < spec.runs; r++ {
		w, err := startRun(ctx, db, r)
		if err != nil {
			tb.Fatal(err)
		}
		for w.written < spec.rowsPerRun {
			if err := w.append(ctx, min(spec.batch, spec.rowsPerRun-w.written)); err != nil {
				tb.Fatal(err)
			}
		}
		if err := w.finish(ctx); err != nil {
			tb.Fatal(err)
		}
		var first int64
		if err := db.QueryRowContext(ctx, `SELECT coalesce(min(id), 0) FROM reminder_audit WHERE run_id = $1`, w.header.ID).Scan(&first); err != nil {
			tb.Fatal(err)
		}
		out = append(out, builtRun{id: w.header.ID, rows: w.total.AuditRows, first: first})
	}
	return out
}

// runWriter writes one run as the pipeline does.
// fixtureLane is the lane the fixture's runs hold while they run.
var fixtureLane = queries.LaneOf(0, false, 0, 1)

type runWriter struct {
	db      *sql.DB
	lock    *sql.Conn // holds the lane's lock while the run runs, as a real run's does
	r       int       // which run of the fixture: installment ids are unique per run
	header  audit.RunHeader
	head    string
	total   queries.BatchCounts
	written int
	zones   string
	rows    queries.CopyRows
	links   []queries.AuditLink
}

// startRun records a new running run of lane 0/1, linked to the previous
// one.
func startRun(ctx context.Context, db *sql.DB, r int) (*runWriter, error) {
	id, err := queries.NextRunID(ctx, db)
	if err != nil {
		return nil, err
	}
	prevID, prevHead, err := queries.PreviousRun(ctx, db, 0, 1, false, id)
	if err != nil {
		return nil, err
	}
	lock, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	if ok, err := queries.TryLaneLock(ctx, lock, fixtureLane); err != nil || !ok {
		lock.Close()
		return nil, fmt.Errorf("lane lock: %v, %v", ok, err)
	}
	asOf := fixtureAt.Add(time.Duration(r) * time.Hour)
	w := &runWriter{db: db, lock: lock, r: r, header: audit.RunHeader{
		ID: id, Mode: "scheduled", AsOf: asOf, BusinessDate: asOf.Format(time.DateOnly), ShardIndex: 0,
		ShardCount: 1, Actor: "system:test", Host: "fixture", StartedAt: asOf.Add(123456 * time.Microsecond),
		ConfigSHA256: sha("config"), PolicySHA256: sha("policy"), TemplatesSHA256: sha("templates"),
		Version: "test", PrevRunID: prevID, PrevRunHead: prevHead,
	}}
	w.zones = string(audit.AppendArray(nil, []*audit.Object{
		(&audit.Object{}).String("zone", "Asia/Shanghai").String("source", "time_zone"),
		(&audit.Object{}).String("zone", "America/New_York").String("source", "phone"),
	}))
	h := &w.header
	w.head = h.Hash()
	err = queries.InsertRun(ctx, db, &queries.Run{
		ID: id, Mode: h.Mode, AsOf: h.AsOf, BusinessDate: h.BusinessDate, ShardIndex: 0,
		ShardCount: 1, Actor: h.Actor, Host: h.Host, StartedAt: h.StartedAt, Status: "running",
		ConfigSHA256: h.ConfigSHA256, PolicySHA256: h.PolicySHA256,
		TemplatesSHA256: h.TemplatesSHA256, Version: h.Version, AuditHead: w.head,
		PrevRunID: prevID, PrevRunHead: prevHead,
	})
	return w, err
}

// append writes one batch of n rows in one transaction.
func (w *runWriter) append(ctx context.Context, n int) error {
	w.rows, w.links = queries.CopyRows{}, w.links[:0]
	var counts queries.BatchCounts
	batchHead, head := w.head, w.head
	asOf := w.header.AsOf
	at := asOf.Add(time.Duration(w.written) * time.Millisecond)
	ids, err := queries.ReserveIDs(ctx, w.db, "reminder_audit_id_seq", n)
	if err != nil {
		return err
	}
	for i := w.written; i < w.written+n; i++ {
		d := fixtureDecisions[i%len(fixtureDecisions)]
		borrower := int64(i/3 + 1)
		a := queries.AuditRow{
			ID: ids[i-w.written], RunID: w.header.ID, At: at, BorrowerID: borrower, LoanID: borrower*10 + 1,
			InstallmentID: int64(w.r)*1_000_000 + int64(i) + 1, Stage: []string{"upcoming_3d", "due_today", "overdue_1d"}[i%3],
			Channel: []string{"sms", "email"}[i%2], Decision: d.decision, Reason: d.reason,
			TimeZones: w.zones, PolicySHA256: w.header.PolicySHA256, PrevHash: head,
			Details: (&audit.Object{}).Int("seq", int64(i%12+1)).String("due_date", "2026-11-30").
				Int("days_past_due", -2).Int("amount_due_minor", int64(i)*37%200000).Int("amount_paid_minor", 0).
				String("currency", "CNY").String("contact_hmac", sha(fmt.Sprint(borrower))).Text(),
		}
		if d.decision == "queued" || d.decision == "deferred" {
			a.SendID = int64(w.r)*1_000_000 + int64(i) + 1
			a.ScheduledFor = asOf.Add(time.Duration(i%600) * time.Minute)
			a.ValidUntil = a.ScheduledFor.Add(11 * time.Hour)
		}
		hr := audit.Row{
			RunID: a.RunID, At: a.At, BorrowerID: a.BorrowerID, LoanID: a.LoanID, InstallmentID: a.InstallmentID,
			Stage: a.Stage, Channel: a.Channel, Decision: a.Decision, Reason: a.Reason, SendID: a.SendID,
			ScheduledFor: a.ScheduledFor, ValidUntil: a.ValidUntil, TimeZones: a.TimeZones,
			PolicySHA256: a.PolicySHA256, Details: a.Details, PrevHash: a.PrevHash,
		}
		a.Hash = hr.Hash()
		head = a.Hash
		w.rows.AddAudit(&a)
		l := queries.AuditLink{ID: a.ID, SendID: a.SendID}
		copy(l.Hash[:], a.Hash)
		w.links = append(w.links, l)
		counts.Candidates++
		counts.AuditRows++
		switch d.decision {
		case "queued":
			counts.Queued++
			counts.Messages++
		case "deferred":
			counts.Deferred++
			counts.Messages++
		case "suppressed":
			counts.Suppressed++
		case "skipped":
			counts.Skipped++
		case "expired":
			counts.Expired++
		}
	}
	conn, err := w.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := queries.CopyAudit(ctx, conn, &w.rows, w.links, at, batchHead); err != nil {
		return err
	}
	if err := queries.AddBatchToRun(ctx, tx, w.header.ID, counts, batchHead, head); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	w.head = head
	w.total.Add(counts)
	w.written += n
	return nil
}

// finish ends the run with its seal.
func (w *runWriter) finish(ctx context.Context) error {
	t := w.total
	totals := audit.RunTotals{
		Status: "succeeded", FinishedAt: w.header.AsOf.Add(time.Minute), Candidates: t.Candidates,
		Messages: t.Messages, Queued: t.Queued, Deferred: t.Deferred, Suppressed: t.Suppressed,
		Skipped: t.Skipped, Expired: t.Expired, AuditRows: t.AuditRows, AuditHead: w.head,
	}
	ok, err := queries.FinishRun(ctx, w.db, w.header.ID, "succeeded", totals.FinishedAt, "", totals.Seal(w.header.Hash()))
	if err == nil && !ok {
		err = fmt.Errorf("finish run %d: it was not running", w.header.ID)
	}
	// The connection goes back to the pool, its session with it: unlock.
	if uerr := queries.LaneUnlock(ctx, w.lock, fixtureLane); err == nil {
		err = uerr
	}
	w.lock.Close()
	return err
}

func sha(s string) string {
	r := audit.Row{Reason: s}
	return r.Hash()
}

// insertPeople writes n borrowers, each with one loan (id borrower*10+1),
// with the phone numbers, emails and account references an export masks.
func insertPeople(tb testing.TB, db *sql.DB, n int) {
	tb.Helper()
	for _, q := range []string{
		`INSERT INTO borrowers (id, full_name, phone, email, locale, time_zone, region, sms_opt_out, email_opt_out, do_not_contact)
		 SELECT g, 'Borrower ' || g, '+8613' || lpad(g::text, 9, '0'), 'person' || g || '@example.com', 'zh-CN',
		        'Asia/Shanghai', 'CN-31', false, false, false
		 FROM generate_series(1, $1::int) g`,
		`INSERT INTO loans (id, borrower_id, account_ref, currency, status)
		 SELECT g * 10 + 1, g, 'LN-2024-' || lpad(g::text, 8, '0'), 'CNY', 'active'
		 FROM generate_series(1, $1::int) g`,
	} {
		if _, err := db.Exec(q, n); err != nil {
			tb.Fatal(err)
		}
	}
}

// insertBulkRun writes a run record and n audit rows with INSERT … SELECT:
// realistic rows, fast, not chained (export does not check the chain).
// Their decision times spread over days days from fixtureAt; borrowers
// cycle over people.
func insertBulkRun(tb testing.TB, db *sql.DB, n, days, people int) int64 {
	tb.Helper()
	var id int64
	err := db.QueryRow(`
		INSERT INTO reminder_runs (mode, as_of, business_date, actor, started_at, finished_at, status, config_sha256,
		                           policy_sha256, templates_sha256, version, audit_rows)
		VALUES ('manual', $1::timestamptz, ($1::timestamptz AT TIME ZONE 'UTC')::date, 'bulk', $1::timestamptz,
		        $1::timestamptz, 'succeeded', 'c', 'p', 't', 'test', $2)
		RETURNING id`, fixtureAt, n).Scan(&id)
	if err != nil {
		tb.Fatal(err)
	}
	_, err = db.Exec(`
		INSERT INTO reminder_audit (run_id, at, borrower_id, loan_id, installment_id, stage, channel, decision, reason,
		                            send_id, scheduled_for, valid_until, time_zones, policy_sha256, details, prev_hash, hash)
		SELECT $1::bigint, $2::timestamptz + (g % $4::int) * interval '1 day' + (g % 86400) * interval '1 second',
		       g % $5::int + 1, (g % $5::int + 1) * 10 + 1, $1::bigint * 10000000 + g,
		       (ARRAY['upcoming_3d', 'due_today', 'overdue_1d', 'overdue_7d'])[g % 4 + 1],
		       (ARRAY['sms', 'email'])[g % 2 + 1],
		       (ARRAY['queued', 'deferred', 'suppressed', 'skipped', 'expired'])[g % 5 + 1],
		       (ARRAY['', 'quiet_hours', 'opted_out', 'invalid_phone', 'no_permissible_time:quiet_hours'])[g % 5 + 1],
		       NULL, $2::timestamptz + interval '6 hours', $2::timestamptz + interval '17 hours',
		       '[{"zone": "Asia/Shanghai", "source": "time_zone"}, {"zone": "America/New_York", "source": "phone"}]',
		       repeat('p', 64),
		       jsonb_build_object('seq', g % 12 + 1, 'due_date', '2026-11-30', 'days_past_due', -2,
		                          'amount_due_minor', g % 200000, 'amount_paid_minor', 0, 'currency', 'CNY',
		                          'contact_hmac', md5(g::text) || md5(g::text)),
		       md5(g::text) || md5((g + 1)::text), md5((g + 2)::text) || md5((g + 3)::text)
		FROM generate_series(1, $3::int) g`, id, fixtureAt, n, max(days, 1), max(people, 1))
	if err != nil {
		tb.Fatal(err)
	}
	return id
}
