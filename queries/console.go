package queries

import (
	"context"
	"database/sql"
	"time"

	"github.com/lib/pq"
)

// ConsoleLastRuns returns the latest run of every lane and shard.
func ConsoleLastRuns(ctx context.Context, db DBTX) ([]Run, error) {
	var runs []Run
	err := selectAll(ctx, db, &runs, stmt("ConsoleLastRuns"))
	return runs, err
}

// DailyCounts is what the runs of one business day decided and wrote.
type DailyCounts struct {
	Day                                            string // YYYY-MM-DD
	Queued, Deferred, Suppressed, Skipped, Expired int64
	Messages                                       int64
	Runs                                           int64
}

// ConsoleDailyCounts sums the run records per business day in [from, to]
// (YYYY-MM-DD).
func ConsoleDailyCounts(ctx context.Context, db DBTX, from, to string) ([]DailyCounts, error) {
	return selectRows(ctx, db, 0, func(d *DailyCounts) []any {
		return []any{&d.Day, &d.Queued, &d.Deferred, &d.Suppressed, &d.Skipped, &d.Expired, &d.Messages, &d.Runs}
	}, stmt("ConsoleDailyCounts"), from, to)
}

// OutboxNow is the outbox as it stands, from its partial indexes.
type OutboxNow struct {
	PendingDue, PendingLater int64
	OldestDue                sql.NullTime // when the oldest pending message due by now was due
	Sending                  int64
	Refused, Unknown         int64 // need a person, however old
}

// ConsoleOutboxNow reads the outbox as it stands at now.
func ConsoleOutboxNow(ctx context.Context, db DBTX, now time.Time) (OutboxNow, error) {
	var o OutboxNow
	err := db.QueryRowContext(ctx, stmt("ConsoleOutboxNow"), now).Scan(&o.PendingDue, &o.PendingLater, &o.OldestDue,
		&o.Sending, &o.Refused, &o.Unknown)
	return o, err
}

// StatusCount is a number of messages in one status.
type StatusCount struct {
	Status string
	Count  int64
}

// ConsoleOutboxByStatus counts the messages of the runs started since an
// instant, by status.
func ConsoleOutboxByStatus(ctx context.Context, db DBTX, since time.Time) ([]StatusCount, error) {
	var first int64
	if err := db.QueryRowContext(ctx, stmt("ConsoleFirstRunSince"), since).Scan(&first); err != nil {
		return nil, err
	}
	if first == 0 {
		return nil, nil
	}
	return selectRows(ctx, db, 0, func(s *StatusCount) []any { return []any{&s.Status, &s.Count} }, stmt("ConsoleOutboxByStatus"), first)
}

// RunFilter selects runs for the runs list.
type RunFilter struct {
	Mode, Status string
	From, To     string // business dates, YYYY-MM-DD; empty: open
	Shard        int    // -1: any
	ShardCount   int
	Actor        string // a part of the actor, any case
	Before       int64  // ids below this one (the next page); 0: the newest
	Limit        int
}

// ConsoleRuns lists runs, newest first.
func ConsoleRuns(ctx context.Context, db DBTX, f RunFilter) ([]Run, error) {
	var runs []Run
	err := selectAll(ctx, db, &runs, stmt("ConsoleRuns"), f.Mode, f.Status, nullText(f.From), nullText(f.To),
		f.Shard, f.ShardCount, f.Actor, f.Before, f.Limit)
	return runs, err
}

// BreakdownRow is a run's count of one stage, channel, decision and reason.
type BreakdownRow struct {
	Stage, Channel, Decision, Reason string
	Count                            int64
}

// ConsoleRunBreakdown counts a run's decisions by stage, channel, decision
// and reason.
func ConsoleRunBreakdown(ctx context.Context, db DBTX, runID int64) ([]BreakdownRow, error) {
	return selectRows(ctx, db, 0, func(b *BreakdownRow) []any { return []any{&b.Stage, &b.Channel, &b.Decision, &b.Reason, &b.Count} }, stmt("ConsoleRunBreakdown"), runID)
}

// Borrower is a borrower as the lender's table holds it: personal data,
// to be masked before anyone sees it.
type Borrower struct {
	ID                                   int64
	FullName, Phone, Email               string
	Locale, TimeZone, Region             string
	SMSOptOut, EmailOptOut, DoNotContact bool
}

// ConsoleBorrower reads one borrower; sql.ErrNoRows when there is none.
func ConsoleBorrower(ctx context.Context, db DBTX, id int64) (*Borrower, error) {
	var b Borrower
	err := db.QueryRowContext(ctx, stmt("ConsoleBorrower"), id).Scan(&b.ID, &b.FullName, &b.Phone, &b.Email, &b.Locale,
		&b.TimeZone, &b.Region, &b.SMSOptOut, &b.EmailOptOut, &b.DoNotContact)
	if err != nil {
		return nil, err
	}
	return &b, nil
}

// Loan is one of a borrower's loans.
type Loan struct {
	ID                           int64
	AccountRef, Currency, Status string
}

// ConsoleBorrowerLoans lists a borrower's loans.
func ConsoleBorrowerLoans(ctx context.Context, db DBTX, borrowerID int64) ([]Loan, error) {
	return selectRows(ctx, db, 0, func(l *Loan) []any { return []any{&l.ID, &l.AccountRef, &l.Currency, &l.Status} }, stmt("ConsoleBorrowerLoans"), borrowerID)
}

// Installment is one installment of a loan.
type Installment struct {
	ID, LoanID                      int64
	Seq                             int
	DueDate                         string
	AmountDueMinor, AmountPaidMinor int64
	Currency                        string // the loan's
}

// ConsoleBorrowerInstallments lists a borrower's installments, latest due
// first, at most limit.
func ConsoleBorrowerInstallments(ctx context.Context, db DBTX, borrowerID int64, limit int) ([]Installment, error) {
	return selectRows(ctx, db, 0, func(i *Installment) []any {
		return []any{&i.ID, &i.LoanID, &i.Seq, &i.DueDate, &i.AmountDueMinor, &i.AmountPaidMinor, &i.Currency}
	}, stmt("ConsoleBorrowerInstallments"), borrowerID, limit)
}

// AuditDecision is one audit row, as the console shows it.
type AuditDecision struct {
	ID, RunID                        int64
	At                               time.Time
	LoanID, InstallmentID            int64
	Stage, Channel, Decision, Reason string
	SendID                           int64
	ScheduledFor, ValidUntil         sql.NullTime
	TimeZones                        string // jsonb text: [{"zone": ..., "source": ...}]
}

func scanDecisions(rows *sql.Rows, err error) ([]AuditDecision, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []AuditDecision
	for rows.Next() {
		var d AuditDecision
		if err := rows.Scan(&d.ID, &d.RunID, &d.At, &d.LoanID, &d.InstallmentID, &d.Stage, &d.Channel, &d.Decision,
			&d.Reason, &d.SendID, &d.ScheduledFor, &d.ValidUntil, &d.TimeZones); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// ConsoleBorrowerDecisions returns a borrower's latest decisions, newest
// first.
func ConsoleBorrowerDecisions(ctx context.Context, db DBTX, borrowerID int64, limit int) ([]AuditDecision, error) {
	return scanDecisions(db.QueryContext(ctx, stmt("ConsoleBorrowerDecisions"), borrowerID, limit))
}

// Message is a row of the outbox.
type Message struct {
	ID, RunID, BorrowerID    int64
	Channel, Recipient       string
	Locale, Template         string
	TemplateSHA256           string
	Subject, Body            string
	Segments                 int
	Stage, Currency          string
	TotalDueMinor            sql.NullInt64
	ScheduledFor, ValidUntil time.Time
	Status                   string
	CreatedAt                time.Time
}

// ConsoleBorrowerMessages returns a borrower's latest messages, newest
// first, without their text.
func ConsoleBorrowerMessages(ctx context.Context, db DBTX, borrowerID int64, limit int) ([]Message, error) {
	rows, err := db.QueryContext(ctx, stmt("ConsoleBorrowerMessages"), borrowerID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Message
	for rows.Next() {
		m := Message{BorrowerID: borrowerID}
		if err := rows.Scan(&m.ID, &m.RunID, &m.Channel, &m.Recipient, &m.Locale, &m.Template, &m.Stage, &m.Segments,
			&m.Currency, &m.TotalDueMinor, &m.ScheduledFor, &m.ValidUntil, &m.Status, &m.CreatedAt); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// ConsoleBorrowerDeliveries returns the delivery trail of a borrower's
// messages, newest first.
func ConsoleBorrowerDeliveries(ctx context.Context, db DBTX, borrowerID int64, limit int) ([]DeliveryEvent, error) {
	return scanDeliveryEvents(db.QueryContext(ctx, stmt("ConsoleBorrowerDeliveries"), borrowerID, limit))
}

// EventRow is an administrative event.
type EventRow struct {
	ID           int64
	At           time.Time
	Actor, Event string
	Details      string // jsonb text
	Hash         string
}

func scanEvents(rows *sql.Rows, err error) ([]EventRow, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []EventRow
	for rows.Next() {
		var e EventRow
		if err := rows.Scan(&e.ID, &e.At, &e.Actor, &e.Event, &e.Details, &e.Hash); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// ConsoleBorrowerEvents returns the events naming a borrower, newest first.
func ConsoleBorrowerEvents(ctx context.Context, db DBTX, borrowerID int64, limit int) ([]EventRow, error) {
	return scanEvents(db.QueryContext(ctx, stmt("ConsoleBorrowerEvents"), borrowerID, limit))
}

// EventFilter selects administrative events.
type EventFilter struct {
	Event  string
	Actor  string // a part of the actor, any case
	Before int64  // ids below this one; 0: the newest
	Limit  int
}

// ConsoleEvents lists administrative events, newest first.
func ConsoleEvents(ctx context.Context, db DBTX, f EventFilter) ([]EventRow, error) {
	return scanEvents(db.QueryContext(ctx, stmt("ConsoleEvents"), f.Event, f.Actor, f.Before, f.Limit))
}

// ContactMatch is a borrower decided about under a contact address.
type ContactMatch struct {
	BorrowerID int64
	Decisions  int64
	Latest     time.Time
}

// ConsoleBorrowersByContact finds the borrowers whose decisions carry one
// of the keyed hashes of a contact address.
func ConsoleBorrowersByContact(ctx context.Context, db DBTX, hashes []string, limit int) ([]ContactMatch, error) {
	return selectRows(ctx, db, 0, func(m *ContactMatch) []any { return []any{&m.BorrowerID, &m.Decisions, &m.Latest} }, stmt("ConsoleBorrowersByContact"), pq.Array(hashes), limit)
}

// ConsoleLoanBorrower returns a loan's borrower; sql.ErrNoRows when there
// is no such loan.
func ConsoleLoanBorrower(ctx context.Context, db DBTX, loanID int64) (int64, error) {
	var id int64
	err := db.QueryRowContext(ctx, stmt("ConsoleLoanBorrower"), loanID).Scan(&id)
	return id, err
}

// ConsoleInstallmentOwner returns an installment's loan and borrower;
// sql.ErrNoRows when there is no such installment.
func ConsoleInstallmentOwner(ctx context.Context, db DBTX, id int64) (loanID, borrowerID int64, err error) {
	err = db.QueryRowContext(ctx, stmt("ConsoleInstallmentOwner"), id).Scan(&loanID, &borrowerID)
	return loanID, borrowerID, err
}

// ConsoleMessage reads one message with its text; sql.ErrNoRows when there
// is none.
func ConsoleMessage(ctx context.Context, db DBTX, id int64) (*Message, error) {
	var m Message
	err := db.QueryRowContext(ctx, stmt("ConsoleMessage"), id).Scan(&m.ID, &m.RunID, &m.BorrowerID, &m.Channel,
		&m.Recipient, &m.Locale, &m.Template, &m.TemplateSHA256, &m.Subject, &m.Body, &m.Segments, &m.Stage,
		&m.Currency, &m.TotalDueMinor, &m.ScheduledFor, &m.ValidUntil, &m.Status, &m.CreatedAt)
	if err != nil {
		return nil, err
	}
	return &m, nil
}

// MessageItem is an installment a message covers.
type MessageItem struct {
	InstallmentID, LoanID int64
	Stage, Channel        string
	AmountMinor           int64
}

// ConsoleMessageItems lists the installments a message covers.
func ConsoleMessageItems(ctx context.Context, db DBTX, sendID int64) ([]MessageItem, error) {
	return selectRows(ctx, db, 0, func(it *MessageItem) []any {
		return []any{&it.InstallmentID, &it.LoanID, &it.Stage, &it.Channel, &it.AmountMinor}
	}, stmt("ConsoleMessageItems"), sendID)
}

// ConsoleMessageDecisions returns the audit rows that queued or deferred a
// message, given the installments it covers.
func ConsoleMessageDecisions(ctx context.Context, db DBTX, sendID int64, installments []int64) ([]AuditDecision, error) {
	return scanDecisions(db.QueryContext(ctx, stmt("ConsoleMessageDecisions"), pq.Array(installments), sendID))
}

func nullText(s string) any {
	if s == "" {
		return nil
	}
	return s
}
