package queries

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lib/pq"
)

// Send is a reminder_sends row: one message.
type Send struct {
	ID             int64
	RunID          int64
	BorrowerID     int64
	Channel        string
	Recipient      string
	Locale         string
	Template       string
	TemplateSHA256 string
	Subject        string // email only; "" is stored as null
	Body           string
	Segments       int
	Stage          string
	Currency       string // "" when the items are in several currencies: both columns null
	TotalDueMinor  int64
	ScheduledFor   time.Time
	ValidUntil     time.Time
	CreatedAt      time.Time
}

// SendItem is a reminder_send_items row: a ledger entry.
type SendItem struct {
	SendID        int64
	InstallmentID int64
	LoanID        int64
	Stage         string
	Channel       string
	AmountMinor   int64
}

// Decision is a final decision that produced no message.
type Decision struct {
	InstallmentID int64
	Stage         string
	Channel       string
	Decision      string
	Reason        string
}

// AuditRow is a reminder_audit row as written.
type AuditRow struct {
	ID            int64
	RunID         int64
	At            time.Time
	BorrowerID    int64
	LoanID        int64
	InstallmentID int64
	Stage         string
	Channel       string
	Decision      string
	Reason        string
	SendID        int64 // 0: null
	ScheduledFor  time.Time
	ValidUntil    time.Time
	TimeZones     string
	PolicySHA256  string
	Details       string
	PrevHash      string
	Hash          string
}

// PhoneParse is a parsed phone number for the cache.
type PhoneParse struct {
	BorrowerID int64
	Raw        string
	Region     string
	E164       string
	Valid      bool
	Zones      string // comma-separated
	Replace    bool   // the cache holds an older parse for the borrower
}

// LockStripes takes the transaction-level locks of the given stripes.
func LockStripes(ctx context.Context, tx *sql.Tx, stripes []int32) error {
	rows, err := tx.QueryContext(ctx, stmt("LockStripes"), pq.Array(stripes))
	if err != nil {
		return fmt.Errorf("lock stripes: %w", err)
	}
	return rows.Close()
}

// ReserveIDs returns n fresh values of a sequence, ascending.
func ReserveIDs(ctx context.Context, db DBTX, sequence string, n int) ([]int64, error) {
	ids := make([]int64, 0, n)
	if n == 0 {
		return ids, nil
	}
	rows, err := db.QueryContext(ctx, stmt("ReserveIDs"), sequence, n)
	if err != nil {
		return nil, fmt.Errorf("reserve ids of %s: %w", sequence, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("reserve ids of %s: %w", sequence, err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// ErrDuplicate means a ledger key (installment, stage, channel) is
// already taken: another run decided it after this batch was selected.
var ErrDuplicate = errors.New("an installment, stage and channel was decided by another run meanwhile")

// CopySendItems writes ledger rows with COPY. A key already in the ledger
// fails the statement with ErrDuplicate (the transaction must then roll
// back).
func CopySendItems(ctx context.Context, tx *sql.Tx, items []SendItem) error {
	i := 0
	_, err := CopyFrom(ctx, tx, "reminder_send_items",
		[]string{"send_id", "installment_id", "loan_id", "stage", "channel", "amount_minor"}, func(row []any) bool {
			if i == len(items) {
				return false
			}
			it := &items[i]
			i++
			row[0], row[1], row[2], row[3], row[4], row[5] = it.SendID, it.InstallmentID, it.LoanID, it.Stage, it.Channel, it.AmountMinor
			return true
		})
	return duplicate("copy send items", err)
}

// CopyDecisions records final decisions with COPY; a key already decided
// fails with ErrDuplicate.
func CopyDecisions(ctx context.Context, tx *sql.Tx, runID int64, at time.Time, ds []Decision) error {
	i := 0
	_, err := CopyFrom(ctx, tx, "reminder_decisions",
		[]string{"installment_id", "stage", "channel", "run_id", "decision", "reason", "decided_at"}, func(row []any) bool {
			if i == len(ds) {
				return false
			}
			d := &ds[i]
			i++
			row[0], row[1], row[2], row[3], row[4], row[5], row[6] = d.InstallmentID, d.Stage, d.Channel, runID, d.Decision, d.Reason, at
			return true
		})
	return duplicate("copy decisions", err)
}

// duplicate turns a unique violation into ErrDuplicate.
func duplicate(what string, err error) error {
	if err == nil {
		return nil
	}
	var pqErr *pq.Error
	if errors.As(err, &pqErr) && pqErr.Code == "23505" {
		return fmt.Errorf("%s: %w", what, ErrDuplicate)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// CachePhonesTx stores parsed phone numbers in a transaction of its own:
// new ones with COPY, and those that replace an older parse (Replace) with
// an upsert. If a concurrent run cached some of the new ones meanwhile, it
// stores them all with the upsert.
func CachePhonesTx(ctx context.Context, db *sql.DB, ps []PhoneParse) error {
	var fresh, replace []PhoneParse
	for _, p := range ps {
		if p.Replace {
			replace = append(replace, p)
		} else {
			fresh = append(fresh, p)
		}
	}
	err := inTx(ctx, db, func(tx *sql.Tx) error {
		if err := copyPhones(ctx, tx, fresh); err != nil {
			return err
		}
		return CachePhones(ctx, tx, replace)
	})
	if errors.Is(err, ErrDuplicate) {
		err = inTx(ctx, db, func(tx *sql.Tx) error { return CachePhones(ctx, tx, ps) })
	}
	return err
}

func inTx(ctx context.Context, db *sql.DB, f func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := f(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// copyPhones adds parses of borrowers the cache has none for; one it has
// fails with ErrDuplicate.
func copyPhones(ctx context.Context, tx *sql.Tx, ps []PhoneParse) error {
	if len(ps) == 0 {
		return nil
	}
	i := 0
	_, err := CopyFrom(ctx, tx, "reminder_phone_cache",
		[]string{"borrower_id", "raw", "region", "e164", "valid", "time_zones"}, func(row []any) bool {
			if i == len(ps) {
				return false
			}
			p := &ps[i]
			i++
			row[0], row[1], row[2], row[3], row[4], row[5] = p.BorrowerID, p.Raw, p.Region, p.E164, p.Valid, pgTextArray(p.Zones)
			return true
		})
	return duplicate("cache phones", err)
}

// pgTextArray writes a comma-separated list as a text[] literal.
func pgTextArray(list string) any {
	if list == "" {
		return "{}"
	}
	v, _ := pq.StringArray(strings.Split(list, ",")).Value() // never fails
	return v
}

// CachePhones stores borrowers' parsed phone numbers, replacing what was
// cached for a number since changed.
func CachePhones(ctx context.Context, tx *sql.Tx, ps []PhoneParse) error {
	if len(ps) == 0 {
		return nil
	}
	ids := make([]int64, len(ps))
	raw := make([]string, len(ps))
	regions := make([]string, len(ps))
	e164 := make([]string, len(ps))
	valid := make([]bool, len(ps))
	zones := make([]string, len(ps))
	for i, p := range ps {
		ids[i], raw[i], regions[i], e164[i], valid[i], zones[i] = p.BorrowerID, p.Raw, p.Region, p.E164, p.Valid, p.Zones
	}
	_, err := tx.ExecContext(ctx, stmt("CachePhones"), pq.Array(ids), pq.Array(raw), pq.Array(regions), pq.Array(e164),
		pq.Array(valid), pq.Array(zones))
	if err != nil {
		return fmt.Errorf("cache phones: %w", err)
	}
	return nil
}

var sendColumns = []string{"id", "run_id", "borrower_id", "channel", "recipient", "locale", "template",
	"template_sha256", "subject", "body", "segments", "stage", "currency", "total_due_minor",
	"scheduled_for", "valid_until", "status", "created_at"}

// CopySends writes messages with COPY.
func CopySends(ctx context.Context, tx *sql.Tx, sends []Send) error {
	i := 0
	_, err := CopyFrom(ctx, tx, "reminder_sends", sendColumns, func(row []any) bool {
		if i == len(sends) {
			return false
		}
		s := &sends[i]
		i++
		var subject, currency, total any
		if s.Subject != "" {
			subject = s.Subject
		}
		if s.Currency != "" {
			currency, total = s.Currency, s.TotalDueMinor
		}
		row[0], row[1], row[2], row[3], row[4], row[5], row[6] = s.ID, s.RunID, s.BorrowerID, s.Channel, s.Recipient, s.Locale, s.Template
		row[7], row[8], row[9], row[10], row[11], row[12], row[13] = s.TemplateSHA256, subject, s.Body, s.Segments, s.Stage, currency, total
		row[14], row[15], row[16], row[17] = s.ScheduledFor, s.ValidUntil, "pending", s.CreatedAt
		return true
	})
	if err != nil {
		return fmt.Errorf("copy sends: %w", err)
	}
	return nil
}

var auditColumns = []string{"id", "run_id", "at", "borrower_id", "loan_id", "installment_id", "stage", "channel",
	"decision", "reason", "send_id", "scheduled_for", "valid_until", "time_zones", "policy_sha256", "details",
	"prev_hash", "hash"}

// CopyAudit appends audit rows with COPY. Their ids were reserved in the
// order of the chain.
func CopyAudit(ctx context.Context, tx *sql.Tx, rows []AuditRow) error {
	i := 0
	_, err := CopyFrom(ctx, tx, "reminder_audit", auditColumns, func(row []any) bool {
		if i == len(rows) {
			return false
		}
		a := &rows[i]
		i++
		var sendID, scheduled, valid any
		if a.SendID != 0 {
			sendID = a.SendID
		}
		if !a.ScheduledFor.IsZero() {
			scheduled = a.ScheduledFor
		}
		if !a.ValidUntil.IsZero() {
			valid = a.ValidUntil
		}
		row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8] = a.ID, a.RunID, a.At, a.BorrowerID, a.LoanID, a.InstallmentID, a.Stage, a.Channel, a.Decision
		row[9], row[10], row[11], row[12], row[13], row[14], row[15], row[16], row[17] = a.Reason, sendID, scheduled, valid, a.TimeZones, a.PolicySHA256, a.Details, a.PrevHash, a.Hash
		return true
	})
	if err != nil {
		return fmt.Errorf("copy audit: %w", err)
	}
	return nil
}

// StreamSettings prepares the candidate query's transaction.
func StreamSettings(ctx context.Context, tx DBTX) error {
	if _, err := tx.ExecContext(ctx, stmt("StreamSettings")); err != nil {
		return fmt.Errorf("stream settings: %w", err)
	}
	return nil
}

// SetLocalSettings sets the lock and statement timeouts of the current
// transaction and keeps its planner on indexes (see batch.sql).
func SetLocalSettings(ctx context.Context, tx DBTX, lock, statement time.Duration) error {
	_, err := tx.ExecContext(ctx, stmt("SetLocalSettings"), fmt.Sprint(lock.Milliseconds()), fmt.Sprint(statement.Milliseconds()))
	if err != nil {
		return fmt.Errorf("set transaction settings: %w", err)
	}
	return nil
}
