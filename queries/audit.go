package queries

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
	"unsafe"

	"github.com/lib/pq"
)

// RunsForVerify streams the runs to verify: all, one (runID), or those of a
// range of business dates ("" for an open end).
func RunsForVerify(ctx context.Context, db DBTX, runID int64, from, to string) (*sql.Rows, error) {
	return db.QueryContext(ctx, stmt("RunsForVerify"), runID, nullString(from), nullString(to))
}

// ScanRun reads a run from a row of RunsForVerify.
func ScanRun(rows *sql.Rows, r *Run) error {
	return rows.Scan(&r.ID, &r.Mode, &r.AsOf, &r.BusinessDate, &r.ShardIndex, &r.ShardCount, &r.Actor, &r.Reason,
		&r.Host, &r.StartedAt, &r.FinishedAt, &r.Status, &r.SendLate, &r.ConfigSHA256, &r.PolicySHA256,
		&r.TemplatesSHA256, &r.Version, &r.Candidates, &r.Messages, &r.Queued, &r.Deferred, &r.Suppressed,
		&r.Skipped, &r.Expired, &r.Error, &r.AuditRows, &r.AuditHead, &r.PrevRunID, &r.PrevRunHead, &r.Seal)
}

// RunHead returns a run's audit head; found is false when the run does not
// exist.
func RunHead(ctx context.Context, db DBTX, id int64) (head string, found bool, err error) {
	err = db.QueryRowContext(ctx, stmt("RunHead"), id).Scan(&head)
	if err == sql.ErrNoRows {
		return "", false, nil
	}
	return head, err == nil, err
}

// AuditIDRange returns the lowest and highest audit row ids of a run.
func AuditIDRange(ctx context.Context, db DBTX, runID int64) (int64, int64, error) {
	var lo, hi sql.NullInt64
	err := db.QueryRowContext(ctx, stmt("AuditIDRange"), runID).Scan(&lo, &hi)
	return lo.Int64, hi.Int64, err
}

// AuditRowBefore returns the id, hash and prev_hash of a run's last audit
// row before id; none is sql.ErrNoRows.
func AuditRowBefore(ctx context.Context, db DBTX, runID, id int64) (rowID int64, hash, prevHash string, err error) {
	err = db.QueryRowContext(ctx, stmt("AuditRowBefore"), runID, id).Scan(&rowID, &hash, &prevHash)
	return rowID, hash, prevHash, err
}

// RawChainRow is an audit row as fast verification reads it: the text
// columns are the driver's own bytes, valid until the next row is read, and
// not to be written to.
type RawChainRow struct {
	ID, BorrowerID, LoanID, InstallmentID, SendID int64
	At                                            time.Time
	ScheduledFor, ValidUntil                      sql.NullTime
	Stage, Channel, Decision, Reason              []byte
	TimeZones, PolicySHA256, Details              []byte
	PrevHash, Hash                                []byte
	RunPolicy                                     bool // the row carries the run's policy_sha256 (PolicySHA256 is empty)
}

// ErrStopChain, returned by ReadAuditChain's fn, ends the walk early
// without an error.
var ErrStopChain = errors.New("stop reading the chain")

// ReadAuditChain walks what AuditChain selects, in a read-only transaction
// on conn, calling fn for each row. It reads the driver's rows directly:
// database/sql's scanning, one conversion per column through reflection,
// cost as much as the hashing of the rows. conn must have no transaction or
// rows open; fn must not keep the row or its slices.
func ReadAuditChain(ctx context.Context, conn *sql.Conn, runID int64, policy string, fromID, toID int64,
	fn func(*RawChainRow) error) error {
	err := conn.Raw(func(dc any) (err error) {
		c, ok := dc.(interface {
			driver.ConnBeginTx
			driver.ExecerContext
			driver.QueryerContext
		})
		if !ok {
			return fmt.Errorf("driver connection %T cannot run queries with a context", dc)
		}
		tx, err := c.BeginTx(ctx, driver.TxOptions{ReadOnly: true})
		if err != nil {
			return err
		}
		defer func() {
			// Also after a panic in fn. The connection cannot go back to
			// the pool inside a transaction: database/sql closes it on
			// ErrBadConn (no database/sql transaction is open on it to
			// wait for).
			if rerr := tx.Rollback(); rerr != nil {
				err = errors.Join(err, fmt.Errorf("%w: end the read-only transaction: %v", driver.ErrBadConn, rerr))
			}
		}()
		return walkChain(ctx, c, runID, policy, fromID, toID, fn)
	})
	if err != nil && !errors.Is(err, ErrStopChain) || errors.Is(err, driver.ErrBadConn) {
		return fmt.Errorf("read audit chain: %w", err)
	}
	return nil
}

func walkChain(ctx context.Context, c interface {
	driver.ExecerContext
	driver.QueryerContext
}, runID int64, policy string, fromID, toID int64, fn func(*RawChainRow) error) error {
	if _, err := c.ExecContext(ctx, stmt("ChainSettings"), nil); err != nil {
		return err
	}
	rows, err := c.QueryContext(ctx, stmt("AuditChain"), []driver.NamedValue{
		{Ordinal: 1, Value: runID}, {Ordinal: 2, Value: fromID}, {Ordinal: 3, Value: toID}, {Ordinal: 4, Value: policy},
	})
	if err != nil {
		return err
	}
	defer rows.Close()
	if n := len(rows.Columns()); n != 17 {
		return fmt.Errorf("the chain query returns %d columns, want 17", n)
	}
	var (
		v [17]driver.Value
		r RawChainRow
	)
	for {
		if err := rows.Next(v[:]); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		ok := true
		r.ID = driverInt(v[0], &ok)
		at := driverTime(v[1], &ok)
		if !at.Valid {
			return fmt.Errorf("audit row %v: at %q is not a timestamp", v[0], v[1])
		}
		r.At = at.Time
		r.BorrowerID = driverInt(v[2], &ok)
		r.LoanID = driverInt(v[3], &ok)
		r.InstallmentID = driverInt(v[4], &ok)
		r.Stage = driverBytes(v[5], &ok)
		r.Channel = driverBytes(v[6], &ok)
		r.Decision = driverBytes(v[7], &ok)
		r.Reason = driverBytes(v[8], &ok)
		r.SendID = driverInt(v[9], &ok)
		r.ScheduledFor = driverTime(v[10], &ok)
		r.ValidUntil = driverTime(v[11], &ok)
		r.TimeZones = driverBytes(v[12], &ok)
		r.PolicySHA256, r.RunPolicy = nil, v[13] == nil
		if !r.RunPolicy {
			r.PolicySHA256 = driverBytes(v[13], &ok)
		}
		r.Details = driverBytes(v[14], &ok)
		r.PrevHash = driverBytes(v[15], &ok)
		r.Hash = driverBytes(v[16], &ok)
		if !ok {
			return fmt.Errorf("audit row %v: a column the chain cannot read: %q", v[0], v)
		}
		if err := fn(&r); err != nil {
			return err
		}
	}
}

func driverInt(v driver.Value, ok *bool) int64 {
	n, is := v.(int64)
	*ok = *ok && is
	return n
}

// driverTime reads a timestamptz the query sent in its binary form
// (timestamptz_send): microseconds since 2000-01-01 UTC, big-endian.
func driverTime(v driver.Value, ok *bool) sql.NullTime {
	if v == nil {
		return sql.NullTime{}
	}
	b, is := v.([]byte)
	if !is || len(b) != 8 {
		*ok = false
		return sql.NullTime{}
	}
	us := int64(binary.BigEndian.Uint64(b))
	if us == math.MaxInt64 || us == math.MinInt64 {
		// ±infinity, which the job never writes: a time no real one
		// equals, without wrapping around.
		return sql.NullTime{Time: time.UnixMicro(us).UTC(), Valid: true}
	}
	return sql.NullTime{Time: time.UnixMicro(us + pgEpochMicros).UTC(), Valid: true}
}

// pgEpochMicros is PostgreSQL's epoch, 2000-01-01 UTC, in Unix microseconds.
const pgEpochMicros = 946_684_800_000_000

// driverBytes returns a text column's bytes without copying them: lib/pq
// hands over text as a new string and other types as its buffer.
func driverBytes(v driver.Value, ok *bool) []byte {
	switch x := v.(type) {
	case []byte:
		return x
	case string:
		return unsafe.Slice(unsafe.StringData(x), len(x))
	}
	*ok = false
	return nil
}

// AuditEvent is a reminder_audit_events row.
type AuditEvent struct {
	ID       int64
	At       time.Time
	Actor    string
	Event    string
	Details  string
	PrevHash string
	Hash     string
}

// AuditEvents streams the administrative events in chain order.
func AuditEvents(ctx context.Context, db DBTX) (*sql.Rows, error) {
	return db.QueryContext(ctx, stmt("AuditEvents"))
}

// ScanAuditEvent reads a row of AuditEvents.
func ScanAuditEvent(rows *sql.Rows, e *AuditEvent) error {
	return rows.Scan(&e.ID, &e.At, &e.Actor, &e.Event, &e.Details, &e.PrevHash, &e.Hash)
}

// AppendAuditEvent adds an event to the events chain inside tx: hash is
// called with the chain's current head and returns the new event's hash.
func AppendAuditEvent(ctx context.Context, tx *sql.Tx, e *AuditEvent, genesis string, hash func(prev string) string) error {
	if _, err := tx.ExecContext(ctx, stmt("LockAuditEvents")); err != nil {
		return fmt.Errorf("lock audit events: %w", err)
	}
	var prev string
	if err := tx.QueryRowContext(ctx, stmt("LastAuditEvent")).Scan(&prev); err != nil {
		return fmt.Errorf("last audit event: %w", err)
	}
	if prev == "" {
		prev = genesis
	}
	e.PrevHash = prev
	e.Hash = hash(prev)
	err := tx.QueryRowContext(ctx, stmt("InsertAuditEvent"), e.At, e.Actor, e.Event, e.Details, e.PrevHash, e.Hash).Scan(&e.ID)
	if err != nil {
		return fmt.Errorf("insert audit event: %w", err)
	}
	return nil
}

// ExportFilter selects audit rows to export.
type ExportFilter struct {
	From, To      time.Time // decision time, [From, To)
	BorrowerID    int64
	LoanID        int64
	RunID         int64
	InstallmentID int64
	Decision      string
	ContactHashes []string // the decisions whose details carry one of these contact_hmac
}

// ExportRow is one exported decision.
type ExportRow struct {
	ID, RunID                           int64
	Mode, Actor                         string
	At                                  time.Time
	BorrowerID, LoanID, InstallmentID   int64
	Stage, Channel, Decision, Reason    string
	TimeZones                           string
	ScheduledFor, ValidUntil            sql.NullTime
	SendID                              int64
	PolicySHA256, Recipient, AccountRef string
	// What became of the message: when it was sent, through which
	// provider and under which id there, and its status now.
	SentAt                                      sql.NullTime
	Provider, ProviderMessageID, DeliveryStatus string
}

// ExportAudit streams the matching decisions in chain order.
func ExportAudit(ctx context.Context, db DBTX, f ExportFilter) (*sql.Rows, error) {
	return db.QueryContext(ctx, stmt("ExportAudit"), f.From, f.To, f.BorrowerID, f.LoanID, f.RunID, f.Decision, f.InstallmentID,
		pq.Array(f.ContactHashes))
}

// ScanExportRow reads a row of ExportAudit.
func ScanExportRow(rows *sql.Rows, r *ExportRow) error {
	return rows.Scan(&r.ID, &r.RunID, &r.Mode, &r.Actor, &r.At, &r.BorrowerID, &r.LoanID, &r.InstallmentID, &r.Stage,
		&r.Channel, &r.Decision, &r.Reason, &r.TimeZones, &r.ScheduledFor, &r.ValidUntil, &r.SendID,
		&r.PolicySHA256, &r.Recipient, &r.AccountRef, &r.SentAt, &r.Provider, &r.ProviderMessageID, &r.DeliveryStatus)
}

// PrunedRun is a run to prune.
type PrunedRun struct {
	ID        int64
	AuditHead string
}

// RunsToPrune lists the finished runs with a business date before the
// cutoff.
func RunsToPrune(ctx context.Context, db DBTX, before time.Time) ([]PrunedRun, error) {
	rows, err := db.QueryContext(ctx, stmt("RunsToPrune"), before.Format(time.DateOnly))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []PrunedRun
	for rows.Next() {
		var r PrunedRun
		if err := rows.Scan(&r.ID, &r.AuditHead); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Boundary is a run that stays but links to a pruned run.
type Boundary struct {
	RunID, PrevRunID int64
	PrevRunHead      string
}

// PruneRuns deletes the runs and everything they wrote, inside tx, lifting
// the append-only trigger for this transaction only (the table owner may;
// the job's role may not). It returns the runs that link to pruned ones.
func PruneRuns(ctx context.Context, tx *sql.Tx, ids []int64) ([]Boundary, int64, error) {
	rows, err := tx.QueryContext(ctx, stmt("PruneBoundary"), pq.Array(ids))
	if err != nil {
		return nil, 0, fmt.Errorf("prune boundary: %w", err)
	}
	var bounds []Boundary
	for rows.Next() {
		var b Boundary
		if err := rows.Scan(&b.RunID, &b.PrevRunID, &b.PrevRunHead); err != nil {
			rows.Close()
			return nil, 0, err
		}
		bounds = append(bounds, b)
	}
	rows.Close()
	if _, err := tx.ExecContext(ctx, stmt("PruneMode")); err != nil {
		return nil, 0, fmt.Errorf("prune mode: %w", err)
	}
	res, err := tx.ExecContext(ctx, stmt("PruneAudit"), pq.Array(ids))
	if err != nil {
		return nil, 0, fmt.Errorf("prune audit (only the table owner may prune): %w", err)
	}
	auditRows, _ := res.RowsAffected()
	for _, name := range []string{"PruneDecisions", "PruneSendItems", "PruneSends", "PruneRuns"} {
		if _, err := tx.ExecContext(ctx, stmt(name), pq.Array(ids)); err != nil {
			return nil, 0, fmt.Errorf("prune: %s: %w", name, err)
		}
	}
	return bounds, auditRows, nil
}

// MessageInstallments lists the installments a message covers.
func MessageInstallments(ctx context.Context, db DBTX, sendID int64) ([]int64, error) {
	return selectColumn[int64](ctx, db, stmt("MessageInstallments"), sendID)
}

// LoadInstallment reads one installment with its loan and borrower;
// sql.ErrNoRows when there is none.
func LoadInstallment(ctx context.Context, db DBTX, id int64) (*Candidate, error) {
	var c Candidate
	err := db.QueryRowContext(ctx, stmt("InstallmentFacts"), id).Scan(&c.InstallmentID, &c.LoanID, &c.Seq, &c.DueDay,
		&c.AmountDueMinor, &c.AmountPaidMinor, &c.AccountRef, &c.Currency, &c.LoanStatus, &c.BorrowerID, &c.FullName,
		&c.Phone, &c.Email, &c.Locale, &c.TimeZone, &c.Region, &c.SMSOptOut, &c.EmailOptOut, &c.DoNotContact)
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// InstallmentDecision is one audit row about an installment, with its run.
type InstallmentDecision struct {
	ID, RunID                        int64
	Mode, Actor                      string
	AsOf, StartedAt                  time.Time
	SendLate                         bool // the run was a backfill with --send-late
	RunPolicySHA256                  string
	At                               time.Time
	Stage, Channel, Decision, Reason string
	TimeZones                        string
	Regions                          string // the candidate regions whose rules applied (details' "regions"), JSON
	ScheduledFor, ValidUntil         sql.NullTime
	SendID                           int64
}

// InstallmentAudit returns every decision about an installment, oldest
// first.
func InstallmentAudit(ctx context.Context, db DBTX, id int64) ([]InstallmentDecision, error) {
	rows, err := db.QueryContext(ctx, stmt("InstallmentAudit"), id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []InstallmentDecision
	for rows.Next() {
		var d InstallmentDecision
		if err := rows.Scan(&d.ID, &d.RunID, &d.Mode, &d.Actor, &d.AsOf, &d.StartedAt, &d.SendLate, &d.RunPolicySHA256, &d.At,
			&d.Stage, &d.Channel, &d.Decision, &d.Reason, &d.TimeZones, &d.Regions, &d.ScheduledFor, &d.ValidUntil, &d.SendID); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// SendBefore is a send that existed before an instant.
type SendBefore struct {
	Channel      string
	ScheduledFor time.Time
	CreatedAt    time.Time
}

// SendsBefore returns a borrower's countable sends scheduled after since and
// created before createdBefore.
func SendsBefore(ctx context.Context, db DBTX, borrowerID int64, since, createdBefore time.Time) ([]SendBefore, error) {
	rows, err := db.QueryContext(ctx, stmt("SendsBefore"), borrowerID, since, createdBefore)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []SendBefore
	for rows.Next() {
		var s SendBefore
		if err := rows.Scan(&s.Channel, &s.ScheduledFor, &s.CreatedAt); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// SampleSend is a message shown in a report.
type SampleSend struct {
	ID, BorrowerID                              int64
	Channel, Recipient, Locale, Stage, Template string
	Segments                                    int
	Subject, Body                               string
	ScheduledFor, ValidUntil                    time.Time
}

// SampleSends returns one message of the run per channel and locale.
func SampleSends(ctx context.Context, db DBTX, runID int64) ([]SampleSend, error) {
	rows, err := db.QueryContext(ctx, stmt("SampleSends"), runID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []SampleSend
	for rows.Next() {
		var s SampleSend
		if err := rows.Scan(&s.ID, &s.BorrowerID, &s.Channel, &s.Recipient, &s.Locale, &s.Stage, &s.Template,
			&s.Segments, &s.Subject, &s.Body, &s.ScheduledFor, &s.ValidUntil); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// OrphanAuditRuns lists the runs that audit rows name but that have no run
// record.
func OrphanAuditRuns(ctx context.Context, db DBTX) ([]int64, error) {
	return selectColumn[int64](ctx, db, stmt("OrphanAuditRuns"))
}
