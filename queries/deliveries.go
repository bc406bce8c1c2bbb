package queries

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/lib/pq"
)

// ShardFilter selects messages by their borrower's shard, as the job
// selects borrowers: Count 1 selects all.
type ShardFilter struct {
	Index, Count int
}

func (s ShardFilter) count() int { return max(s.Count, 1) }

// LockDueSends locks up to limit due messages of a channel that nobody
// else holds (SKIP LOCKED), oldest first, and returns their ids.
func LockDueSends(ctx context.Context, tx DBTX, now time.Time, channel string, limit int, shard ShardFilter) ([]int64, error) {
	return selectColumn[int64](ctx, tx, stmt("LockDueSends"), now, channel, limit, shard.Index, shard.count())
}

// LockLapsedClaims locks up to limit claims of a channel whose lease ran
// out, held for one of the idempotent providers, still inside their window.
func LockLapsedClaims(ctx context.Context, tx DBTX, now time.Time, channel string, limit int, shard ShardFilter, idempotent []string) ([]int64, error) {
	return selectColumn[int64](ctx, tx, stmt("LockLapsedClaims"), now, channel, limit, shard.Index, shard.count(), pq.Array(idempotent))
}

// LockedSend is a message a sweep locked.
type LockedSend struct {
	ID       int64
	Attempts int
	Reason   string // the last error, for an expired one
	Provider string
	Channel  string
}

// LockExpiredPending locks up to limit pending messages whose window has
// passed.
func LockExpiredPending(ctx context.Context, tx DBTX, now time.Time, limit int, shard ShardFilter) ([]LockedSend, error) {
	return selectRows(ctx, tx, 0, func(s *LockedSend) []any { return []any{&s.ID, &s.Attempts, &s.Reason, &s.Provider, &s.Channel} }, stmt("LockExpiredPending"), now, limit, shard.Index, shard.count())
}

// LockLapsedUnknown locks up to limit claims whose lease ran out and that
// nobody may take over (idempotent names the providers that may).
func LockLapsedUnknown(ctx context.Context, tx DBTX, now time.Time, limit int, shard ShardFilter, idempotent []string) ([]LockedSend, error) {
	return selectRows(ctx, tx, 0, func(s *LockedSend) []any { return []any{&s.ID, &s.Attempts, &s.Provider, &s.Channel} }, stmt("LockLapsedUnknown"), now, limit, shard.Index, shard.count(), pq.Array(idempotent))
}

// SendFact is one ledger item of a claimed message with the facts as they
// are now (a message without items has one row, ItemInstallmentID 0).
type SendFact struct {
	SendID, BorrowerID int64
	Channel, Recipient string
	BusinessDay        int32 // of the message's run, days since 1970-01-01

	BorrowerFound                   bool
	Phone, Email, Region            string
	SMSOptOut, EmailOptOut, NoCalls bool

	ItemInstallmentID, ItemLoanID int64
	ItemStage                     string
	ItemAmountMinor               int64 // what the message says is left to pay

	InstallmentFound                bool
	AmountDueMinor, AmountPaidMinor int64
	Seq                             int
	DueDay                          int32

	LoanFound                        bool
	LoanStatus, AccountRef, Currency string
}

// SendFacts reads the facts of the messages, in id order.
func SendFacts(ctx context.Context, tx DBTX, ids []int64) ([]SendFact, error) {
	rows, err := tx.QueryContext(ctx, stmt("SendFacts"), pq.Array(ids))
	if err != nil {
		return nil, fmt.Errorf("read facts: %w", err)
	}
	defer rows.Close()
	var out []SendFact
	for rows.Next() {
		var f SendFact
		if err := rows.Scan(&f.SendID, &f.BorrowerID, &f.Channel, &f.Recipient, &f.BusinessDay,
			&f.BorrowerFound, &f.Phone, &f.Email, &f.Region, &f.SMSOptOut, &f.EmailOptOut, &f.NoCalls,
			&f.ItemInstallmentID, &f.ItemLoanID, &f.ItemStage, &f.ItemAmountMinor,
			&f.InstallmentFound, &f.AmountDueMinor, &f.AmountPaidMinor, &f.Seq, &f.DueDay,
			&f.LoanFound, &f.LoanStatus, &f.AccountRef, &f.Currency); err != nil {
			return nil, fmt.Errorf("read facts: %w", err)
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// ClaimVerdict is the claiming transaction's word on a locked message.
type ClaimVerdict struct {
	ID     int64
	Status string // sending, cancelled or refused
	Reason string
}

// ClaimedSend is what a provider needs of a claimed message (and what the
// trail needs of the others).
type ClaimedSend struct {
	ID                       int64
	Attempt                  int
	Status                   string
	Channel, Recipient       string
	Subject, Body            string
	Locale, Stage, Template  string
	ScheduledFor, ValidUntil time.Time
	LastError                string // of the previous attempt, or the reason it was cancelled or refused
}

// ApplyClaims records the verdicts: claimed by session until leaseUntil
// for provider, or cancelled or refused.
func ApplyClaims(ctx context.Context, tx DBTX, vs []ClaimVerdict, session int64, leaseUntil time.Time, provider string, now time.Time) ([]ClaimedSend, error) {
	ids := make([]int64, len(vs))
	statuses := make([]string, len(vs))
	reasons := make([]string, len(vs))
	for i, v := range vs {
		ids[i], statuses[i], reasons[i] = v.ID, v.Status, v.Reason
	}
	rows, err := tx.QueryContext(ctx, stmt("ApplyClaims"), pq.Array(ids), pq.Array(statuses), pq.Array(reasons),
		session, leaseUntil, provider, now)
	if err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	defer rows.Close()
	out := make([]ClaimedSend, 0, len(vs))
	for rows.Next() {
		var c ClaimedSend
		if err := rows.Scan(&c.ID, &c.Attempt, &c.Status, &c.Channel, &c.Recipient, &c.Subject, &c.Body, &c.Locale,
			&c.Stage, &c.Template, &c.ScheduledFor, &c.ValidUntil, &c.LastError); err != nil {
			return nil, fmt.Errorf("claim: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Outcome is the result of a provider call, to record over its claim.
type Outcome struct {
	ID                int64
	Attempt           int
	Session           int64  // the session that claimed it
	Status            string // sent, pending (to retry), failed, expired
	Reason            string
	RetryAt           time.Time // pending: not before
	ProviderMessageID string
	SentAt            time.Time
	At                time.Time
}

// RecordOutcomes records outcomes of calls, each over its claim, and
// returns the ids of those recorded: a claim taken over since (its attempt
// or session moved on) records nothing.
func RecordOutcomes(ctx context.Context, tx DBTX, os []Outcome) ([]int64, error) {
	n := len(os)
	ids, attempts, sessions := make([]int64, n), make([]int64, n), make([]int64, n)
	statuses, reasons, retry, pmids, sent, at := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, o := range os {
		ids[i], attempts[i], sessions[i], statuses[i], reasons[i], pmids[i] = o.ID, int64(o.Attempt), o.Session, o.Status, o.Reason, o.ProviderMessageID
		retry[i], sent[i], at[i] = timeText(o.RetryAt), timeText(o.SentAt), timeText(o.At)
	}
	return selectColumn[int64](ctx, tx, stmt("RecordOutcomes"), pq.Array(ids), pq.Array(attempts), pq.Array(statuses),
		pq.Array(reasons), pq.Array(retry), pq.Array(pmids), pq.Array(sent), pq.Array(at), pq.Array(sessions))
}

// timeText is a time as timestamptz reads it, "" for none.
func timeText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.999999Z07:00")
}

// MarkSends moves locked messages to a status, each with its reason.
func MarkSends(ctx context.Context, tx DBTX, ids []int64, statuses, reasons []string, now time.Time) error {
	_, err := tx.ExecContext(ctx, stmt("MarkSends"), pq.Array(ids), pq.Array(statuses), pq.Array(reasons), now)
	return err
}

// ReleasedItem is a ledger item given back for one more plan.
type ReleasedItem struct {
	SendID, InstallmentID int64
	Stage, Channel        string
}

// ReleaseExpired gives back, once, the ledger items of expired messages.
func ReleaseExpired(ctx context.Context, tx DBTX, ids []int64, now time.Time) ([]ReleasedItem, error) {
	rows, err := tx.QueryContext(ctx, stmt("ReleaseExpired"), pq.Array(ids), now)
	if err != nil {
		return nil, fmt.Errorf("release ledger items: %w", err)
	}
	defer rows.Close()
	var out []ReleasedItem
	for rows.Next() {
		var r ReleasedItem
		if err := rows.Scan(&r.SendID, &r.InstallmentID, &r.Stage, &r.Channel); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ReceiptTarget is the message a receipt names, locked.
type ReceiptTarget struct {
	ID                          int64
	Status                      string
	Attempts                    int
	Provider, ProviderMessageID string
	Channel                     string
}

// LockReceiptTarget finds and locks the message a receipt names, by our id
// or by the provider's; sql.ErrNoRows when there is none.
func LockReceiptTarget(ctx context.Context, tx DBTX, sendID int64, providerMessageID, provider string) (ReceiptTarget, error) {
	var t ReceiptTarget
	err := tx.QueryRowContext(ctx, stmt("LockReceiptTarget"), sendID, providerMessageID, provider).
		Scan(&t.ID, &t.Status, &t.Attempts, &t.Provider, &t.ProviderMessageID, &t.Channel)
	return t, err
}

// SetReceipt records a receipt's verdict; false when the message was not
// in a status a receipt may move.
func SetReceipt(ctx context.Context, tx DBTX, id int64, status, code string, at time.Time, providerMessageID string) (bool, error) {
	res, err := tx.ExecContext(ctx, stmt("SetReceipt"), id, status, code, at, providerMessageID)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// NextRetry returns when the next message of the channels, due by dueBy,
// may be tried again (false: none waits).
func NextRetry(ctx context.Context, db DBTX, now time.Time, channels []string, dueBy time.Time, shard ShardFilter) (time.Time, bool, error) {
	var t sql.NullTime
	err := db.QueryRowContext(ctx, stmt("NextRetry"), now, pq.Array(channels), dueBy, shard.Index, shard.count()).Scan(&t)
	return t.Time, t.Valid, err
}

// OutboxDue counts the messages due and unsent at now, and returns when
// the oldest was due (zero when none).
func OutboxDue(ctx context.Context, db DBTX, now time.Time) (int64, time.Time, error) {
	var n int64
	var oldest sql.NullTime
	err := db.QueryRowContext(ctx, stmt("OutboxDue"), now).Scan(&n, &oldest)
	return n, oldest.Time, err
}

// DeliverySession is a reminder_delivery_sessions row.
type DeliverySession struct {
	ID              int64
	StartedAt       time.Time
	Host, Version   string
	Purpose         string
	ShardIndex      int
	ShardCount      int
	PrevSessionID   int64
	PrevSessionRows int64
	PrevSessionHead string
	Events          int64
	Head            string
	EndedAt         sql.NullTime
}

// NextDeliverySessionID reserves a session id.
func NextDeliverySessionID(ctx context.Context, db DBTX) (int64, error) {
	var id int64
	err := db.QueryRowContext(ctx, stmt("NextDeliverySessionID")).Scan(&id)
	return id, err
}

// PreviousDeliverySession returns the newest session before id, with its
// chain as it stands (zero when none).
func PreviousDeliverySession(ctx context.Context, db DBTX, id int64) (prevID, rows int64, head string, err error) {
	err = db.QueryRowContext(ctx, stmt("PreviousDeliverySession"), id).Scan(&prevID, &rows, &head)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, "", nil
	}
	return prevID, rows, head, err
}

// InsertDeliverySession records a new session whose chain starts at its
// header's hash (s.Head).
func InsertDeliverySession(ctx context.Context, db DBTX, s *DeliverySession) error {
	var prevRows any
	if s.PrevSessionID != 0 {
		prevRows = s.PrevSessionRows
	}
	_, err := db.ExecContext(ctx, stmt("InsertDeliverySession"), s.StartedAt, s.Host, s.Version, s.Purpose,
		s.ShardIndex, s.ShardCount, s.PrevSessionID, prevRows, s.PrevSessionHead, s.Head, s.ID)
	if err != nil {
		return fmt.Errorf("record delivery session: %w", err)
	}
	return nil
}

// DeliveryRow is one reminder_deliveries row.
type DeliveryRow struct {
	ID, SessionID, SendID       int64
	At                          time.Time
	Event, Reason               string
	Provider, ProviderMessageID string
	Attempt                     int
	Details                     string // jsonb text
	PrevHash, Hash              string
}

// AppendDeliveries inserts a session's events (ids reserved) in one
// statement.
func AppendDeliveries(ctx context.Context, tx DBTX, session int64, rows []DeliveryRow) error {
	n := len(rows)
	if n == 0 {
		return nil
	}
	ids, sends, attempts := make([]int64, n), make([]int64, n), make([]int64, n)
	at := make([]string, n)
	events, reasons, providers, pmids, details, prevs, hashes := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i := range rows {
		r := &rows[i]
		ids[i], sends[i], attempts[i], at[i] = r.ID, r.SendID, int64(r.Attempt), timeText(r.At)
		events[i], reasons[i], providers[i], pmids[i] = r.Event, r.Reason, r.Provider, r.ProviderMessageID
		details[i], prevs[i], hashes[i] = r.Details, r.PrevHash, r.Hash
	}
	_, err := tx.ExecContext(ctx, stmt("AppendDeliveries"), session, pq.Array(ids), pq.Array(sends), pq.Array(at),
		pq.Array(events), pq.Array(reasons), pq.Array(providers), pq.Array(pmids), pq.Array(attempts),
		pq.Array(details), pq.Array(prevs), pq.Array(hashes))
	if err != nil {
		return fmt.Errorf("append deliveries: %w", err)
	}
	return nil
}

// AdvanceDeliverySession moves a session's head from prev to head over n
// more events; ErrChainMoved when its head was not prev.
func AdvanceDeliverySession(ctx context.Context, tx DBTX, session int64, n int, prev, head string) error {
	res, err := tx.ExecContext(ctx, stmt("AdvanceDeliverySession"), session, n, head, prev)
	if err != nil {
		return fmt.Errorf("advance delivery session: %w", err)
	}
	if k, err := res.RowsAffected(); err != nil || k != 1 {
		return fmt.Errorf("delivery session %d: %w", session, ErrChainMoved)
	}
	return nil
}

// EndDeliverySession records a session's end.
func EndDeliverySession(ctx context.Context, db DBTX, session int64, at time.Time) error {
	_, err := db.ExecContext(ctx, stmt("EndDeliverySession"), session, at)
	return err
}

// DeliveryEvent is one event of a message's trail, for explain and the
// console.
type DeliveryEvent struct {
	SendID                      int64
	At                          time.Time
	Event, Reason               string
	Provider, ProviderMessageID string
	Attempt                     int
	Details                     string
}

// DeliveriesOfSends returns the trail of the messages, in order.
func DeliveriesOfSends(ctx context.Context, db DBTX, ids []int64) ([]DeliveryEvent, error) {
	return scanDeliveryEvents(db.QueryContext(ctx, stmt("DeliveriesOfSends"), pq.Array(ids)))
}

func scanDeliveryEvents(rows *sql.Rows, err error) ([]DeliveryEvent, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []DeliveryEvent
	for rows.Next() {
		var e DeliveryEvent
		if err := rows.Scan(&e.SendID, &e.At, &e.Event, &e.Reason, &e.Provider, &e.ProviderMessageID, &e.Attempt, &e.Details); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// DeliverySessions returns every session, in id order.
func DeliverySessions(ctx context.Context, db DBTX) ([]DeliverySession, error) {
	return selectRows(ctx, db, 0, func(s *DeliverySession) []any {
		return []any{&s.ID, &s.StartedAt, &s.Host, &s.Version, &s.Purpose, &s.ShardIndex, &s.ShardCount, &s.PrevSessionID, &s.PrevSessionRows, &s.PrevSessionHead, &s.Events, &s.Head, &s.EndedAt}
	}, stmt("DeliverySessions"))
}

// ReadDeliveryChains calls f with each event of a session (0: of every
// session, session by session), in chain order. The row is reused
// between calls.
func ReadDeliveryChains(ctx context.Context, db DBTX, session int64, f func(*DeliveryRow) error) error {
	rows, err := db.QueryContext(ctx, stmt("DeliveryChain"), session)
	if err != nil {
		return err
	}
	defer rows.Close()
	var r DeliveryRow
	for rows.Next() {
		if err := rows.Scan(&r.SessionID, &r.ID, &r.SendID, &r.At, &r.Event, &r.Reason, &r.Provider, &r.ProviderMessageID,
			&r.Attempt, &r.Details, &r.PrevHash, &r.Hash); err != nil {
			return err
		}
		if err := f(&r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// OrphanDeliverySessions lists sessions that events name but that have no
// record.
func OrphanDeliverySessions(ctx context.Context, db DBTX) ([]int64, error) {
	return selectColumn[int64](ctx, db, stmt("OrphanDeliveries"))
}

// UntrailedSend is a message whose status the trail does not show.
type UntrailedSend struct {
	ID, RunID int64
	Status    string
}

// StatusesWithoutTrail returns up to limit messages of the runs (nil: all)
// whose status no event of the trail accounts for.
func StatusesWithoutTrail(ctx context.Context, db DBTX, runIDs []int64, limit int) ([]UntrailedSend, error) {
	return selectRows(ctx, db, 0, func(s *UntrailedSend) []any { return []any{&s.ID, &s.RunID, &s.Status} }, stmt("StatusesWithoutTrail"), runFilter(runIDs), limit)
}

// UnvouchedReleases returns up to limit released ledger items of the runs
// (nil: all) that the trail or the audit do not vouch for.
func UnvouchedReleases(ctx context.Context, db DBTX, runIDs []int64, limit int) ([]UnvouchedKey, error) {
	return selectRows(ctx, db, limit, func(k *UnvouchedKey) []any { return []any{&k.SendID, &k.RunID, &k.InstallmentID, &k.Stage, &k.Channel} }, stmt("UnvouchedReleases"), runFilter(runIDs))
}
