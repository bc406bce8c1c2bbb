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
	// Country is the number's ISO 3166-1 code; Subdivisions the ISO
	// 3166-2 codes of its state or province (comma-separated), for a
	// North American number.
	Country      string
	Subdivisions string
	MAC          string // the job's keyed hash of the parse (phone.Seal)
	Replace      bool   // the cache holds an older parse for the borrower
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
		[]string{"borrower_id", "raw", "region", "e164", "valid", "time_zones", "country", "subdivisions", "mac"}, func(row []any) bool {
			if i == len(ps) {
				return false
			}
			p := &ps[i]
			i++
			row[0], row[1], row[2], row[3], row[4], row[5] = p.BorrowerID, p.Raw, p.Region, p.E164, p.Valid, pgTextArray(p.Zones)
			row[6], row[7], row[8] = p.Country, pgTextArray(p.Subdivisions), p.MAC
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
	countries := make([]string, len(ps))
	subdivisions := make([]string, len(ps))
	macs := make([]string, len(ps))
	for i, p := range ps {
		ids[i], raw[i], regions[i], e164[i], valid[i], zones[i], macs[i] = p.BorrowerID, p.Raw, p.Region, p.E164, p.Valid, p.Zones, p.MAC
		countries[i], subdivisions[i] = p.Country, p.Subdivisions
	}
	_, err := tx.ExecContext(ctx, stmt("CachePhones"), pq.Array(ids), pq.Array(raw), pq.Array(regions), pq.Array(e164),
		pq.Array(valid), pq.Array(zones), pq.Array(macs), pq.Array(countries), pq.Array(subdivisions))
	if err != nil {
		return fmt.Errorf("cache phones: %w", err)
	}
	return nil
}

// The columns of the bulk writes, in the order of their COPY text: first
// those fixed when a batch is planned (encoded then, by the Add methods),
// last those known when it is sequenced (added by the Copy functions).
var (
	sendColumns = []string{"run_id", "borrower_id", "channel", "recipient", "locale", "template",
		"template_sha256", "subject", "body", "segments", "stage", "currency", "total_due_minor",
		"scheduled_for", "valid_until", "status", "id", "created_at"}
	itemColumns     = []string{"installment_id", "loan_id", "stage", "channel", "amount_minor", "send_id"}
	decisionColumns = []string{"installment_id", "stage", "channel", "run_id", "decision", "reason", "decided_at"}
	auditColumns    = []string{"run_id", "borrower_id", "loan_id", "installment_id", "stage", "channel",
		"decision", "reason", "scheduled_for", "valid_until", "time_zones", "policy_sha256", "details",
		"id", "at", "send_id", "prev_hash", "hash"}
)

// AddSend encodes a message but for its id and created_at.
func (r *CopyRows) AddSend(s *Send) {
	b := r.Begin()
	b = AppendInt(b, s.RunID)
	b = AppendInt(b, s.BorrowerID)
	b = AppendText(b, s.Channel)
	b = AppendText(b, s.Recipient)
	b = AppendText(b, s.Locale)
	b = AppendText(b, s.Template)
	b = AppendText(b, s.TemplateSHA256)
	b = AppendTextOrNull(b, s.Subject)
	b = AppendText(b, s.Body)
	b = AppendInt(b, int64(s.Segments))
	b = AppendText(b, s.Stage)
	if s.Currency != "" {
		b = AppendText(b, s.Currency)
		b = AppendInt(b, s.TotalDueMinor)
	} else {
		b = AppendNull(AppendNull(b))
	}
	b = AppendTime(b, s.ScheduledFor)
	b = AppendTime(b, s.ValidUntil)
	b = AppendText(b, "pending")
	r.End(b)
}

// CopySends writes the messages encoded with AddSend, the i-th with id
// ids[i], with COPY.
func CopySends(ctx context.Context, conn *sql.Conn, sends *CopyRows, ids []int64, createdAt time.Time) error {
	at := AppendTime(nil, createdAt)
	return CopyRowsInto(ctx, conn, "reminder_sends", sendColumns, sends.Len(), func(b []byte, i int) []byte {
		b = append(b, sends.Row(i)...)
		b = AppendInt(b, ids[i])
		return EndRow(append(b, at...))
	})
}

// AddItem encodes a ledger row but for its send_id.
func (r *CopyRows) AddItem(it *SendItem) {
	b := r.Begin()
	b = AppendInt(b, it.InstallmentID)
	b = AppendInt(b, it.LoanID)
	b = AppendText(b, it.Stage)
	b = AppendText(b, it.Channel)
	b = AppendInt(b, it.AmountMinor)
	r.End(b)
}

// CopySendItems writes the ledger rows encoded with AddItem, the i-th for
// message sendIDs[i], with COPY. A key already in the ledger fails with
// ErrDuplicate (the transaction must then roll back).
func CopySendItems(ctx context.Context, conn *sql.Conn, items *CopyRows, sendIDs []int64) error {
	err := CopyRowsInto(ctx, conn, "reminder_send_items", itemColumns, items.Len(), func(b []byte, i int) []byte {
		b = append(b, items.Row(i)...)
		return EndRow(AppendInt(b, sendIDs[i]))
	})
	return duplicate("copy send items", err)
}

// AddDecision encodes a run's final decision but for its time.
func (r *CopyRows) AddDecision(runID int64, d *Decision) {
	b := r.Begin()
	b = AppendInt(b, d.InstallmentID)
	b = AppendText(b, d.Stage)
	b = AppendText(b, d.Channel)
	b = AppendInt(b, runID)
	b = AppendText(b, d.Decision)
	b = AppendText(b, d.Reason)
	r.End(b)
}

// CopyDecisions records the final decisions encoded with AddDecision with
// COPY; a key already decided fails with ErrDuplicate.
func CopyDecisions(ctx context.Context, conn *sql.Conn, ds *CopyRows, at time.Time) error {
	atText := AppendTime(nil, at)
	err := CopyRowsInto(ctx, conn, "reminder_decisions", decisionColumns, ds.Len(), func(b []byte, i int) []byte {
		b = append(b, ds.Row(i)...)
		return EndRow(append(b, atText...))
	})
	return duplicate("copy decisions", err)
}

// AddAudit encodes an audit row but for its id, at, send_id, prev_hash and
// hash.
func (r *CopyRows) AddAudit(a *AuditRow) {
	b := r.Begin()
	b = AppendInt(b, a.RunID)
	b = AppendInt(b, a.BorrowerID)
	b = AppendInt(b, a.LoanID)
	b = AppendInt(b, a.InstallmentID)
	b = AppendText(b, a.Stage)
	b = AppendText(b, a.Channel)
	b = AppendText(b, a.Decision)
	b = AppendText(b, a.Reason)
	b = AppendTime(b, a.ScheduledFor)
	b = AppendTime(b, a.ValidUntil)
	b = AppendText(b, a.TimeZones)
	b = AppendText(b, a.PolicySHA256)
	b = AppendText(b, a.Details)
	r.End(b)
}

// AuditLink is what an audit row gets when its batch is sequenced.
type AuditLink struct {
	ID     int64
	SendID int64 // 0: null
	Hash   [64]byte
}

// CopyAudit appends the audit rows encoded with AddAudit with COPY: the
// i-th with links[i], at at, each linked to the hash before it (the first
// to prevHash). Their ids were reserved in the order of the chain.
func CopyAudit(ctx context.Context, conn *sql.Conn, rows *CopyRows, links []AuditLink, at time.Time, prevHash string) error {
	atText := AppendTime(nil, at)
	return CopyRowsInto(ctx, conn, "reminder_audit", auditColumns, rows.Len(), func(b []byte, i int) []byte {
		l := &links[i]
		b = append(b, rows.Row(i)...)
		b = AppendInt(b, l.ID)
		b = append(b, atText...)
		if l.SendID != 0 {
			b = AppendInt(b, l.SendID)
		} else {
			b = AppendNull(b)
		}
		if i == 0 {
			b = AppendText(b, prevHash)
		} else {
			b = append(append(b, links[i-1].Hash[:]...), '\t')
		}
		b = append(b, l.Hash[:]...)
		return append(b, '\n')
	})
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
