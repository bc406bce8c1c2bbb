package queries

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/lib/pq"
)

// runFilter is a set of run ids as UnvouchedSends and the like take it:
// nil for every row of the table.
func runFilter(runIDs []int64) any {
	if runIDs == nil {
		return nil
	}
	return pq.Array(runIDs)
}

// UnvouchedSend is a message the audit does not vouch for.
type UnvouchedSend struct {
	ID, RunID int64
}

// UnvouchedSends returns up to limit messages of the runs (nil: of the
// whole outbox) that no queued or deferred audit row names as they stand.
func UnvouchedSends(ctx context.Context, db DBTX, runIDs []int64, limit int) ([]UnvouchedSend, error) {
	return selectRows(ctx, db, limit, func(s *UnvouchedSend) []any { return []any{&s.ID, &s.RunID} }, stmt("UnvouchedSends"), runFilter(runIDs))
}

// UnvouchedKey names a ledger row the audit does not vouch for: a send item
// (SendID set) or a final decision (Decision set).
type UnvouchedKey struct {
	RunID, SendID, InstallmentID int64
	Stage, Channel               string
	Decision, Reason             string
}

// UnvouchedSendItems returns up to limit ledger items of the runs' messages
// (nil: every item) that no audit row of the message's run decided.
func UnvouchedSendItems(ctx context.Context, db DBTX, runIDs []int64, limit int) ([]UnvouchedKey, error) {
	return selectRows(ctx, db, limit, func(k *UnvouchedKey) []any { return []any{&k.SendID, &k.RunID, &k.InstallmentID, &k.Stage, &k.Channel} }, stmt("UnvouchedSendItems"), runFilter(runIDs))
}

// UnvouchedDecisions returns up to limit final decisions of the runs (nil:
// every decision) that no audit row of their run made.
func UnvouchedDecisions(ctx context.Context, db DBTX, runIDs []int64, limit int) ([]UnvouchedKey, error) {
	return selectRows(ctx, db, limit, func(k *UnvouchedKey) []any {
		return []any{&k.RunID, &k.InstallmentID, &k.Stage, &k.Channel, &k.Decision, &k.Reason}
	}, stmt("UnvouchedDecisions"), runFilter(runIDs))
}

// SendToVouch is a message as it stands, with the hash of what it says.
type SendToVouch struct {
	ID, RunID, BorrowerID    int64
	Digest                   string
	Channel                  string
	ScheduledFor, ValidUntil time.Time
	Items                    int
}

// SendsToVouch reads the messages with these ids (missing ones are left
// out).
func SendsToVouch(ctx context.Context, db DBTX, ids []int64) ([]SendToVouch, error) {
	rows, err := db.QueryContext(ctx, stmt("SendsToVouch"), pq.Array(ids))
	if err != nil {
		return nil, fmt.Errorf("read messages: %w", err)
	}
	defer rows.Close()
	var out []SendToVouch
	for rows.Next() {
		var s SendToVouch
		if err := rows.Scan(&s.ID, &s.RunID, &s.Digest, &s.BorrowerID, &s.Channel, &s.ScheduledFor, &s.ValidUntil, &s.Items); err != nil {
			return nil, fmt.Errorf("read messages: %w", err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// VouchingRow is an audit row that names a message's item, whole, with
// the item and the hashes of its neighbours in the run's chain ("" at
// either end).
type VouchingRow struct {
	SendID, ItemInstallmentID, ItemLoanID int64
	ItemStage, ItemChannel                string
	ItemAmountMinor                       int64

	ID, RunID, BorrowerID, LoanID, InstallmentID, SendRef int64
	At                                                    time.Time
	ScheduledFor, ValidUntil                              sql.NullTime
	Stage, Channel, Decision, Reason                      string
	TimeZones, PolicySHA256, Details                      string
	PrevHash, Hash                                        string
	HashBefore, LinkAfter                                 string
}

// VouchingRows reads the audit rows that name the items of these messages.
func VouchingRows(ctx context.Context, db DBTX, sendIDs []int64) ([]VouchingRow, error) {
	rows, err := db.QueryContext(ctx, stmt("VouchingRows"), pq.Array(sendIDs))
	if err != nil {
		return nil, fmt.Errorf("read audit rows: %w", err)
	}
	defer rows.Close()
	var out []VouchingRow
	for rows.Next() {
		var r VouchingRow
		if err := rows.Scan(&r.SendID, &r.ItemInstallmentID, &r.ItemLoanID, &r.ItemStage, &r.ItemChannel, &r.ItemAmountMinor,
			&r.ID, &r.RunID, &r.At, &r.BorrowerID, &r.LoanID, &r.InstallmentID, &r.Stage, &r.Channel, &r.Decision, &r.Reason,
			&r.SendRef, &r.ScheduledFor, &r.ValidUntil, &r.TimeZones, &r.PolicySHA256, &r.Details, &r.PrevHash, &r.Hash,
			&r.HashBefore, &r.LinkAfter); err != nil {
			return nil, fmt.Errorf("read audit rows: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
