package deliver

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/loanremind/loanremind/jobs/audit"
	"github.com/loanremind/loanremind/queries"
)

// Event names of reminder_deliveries.
const (
	EventClaimed     = "claimed"
	EventSent        = "sent"
	EventRetry       = "retry"
	EventFailed      = "failed"
	EventCancelled   = "cancelled"
	EventRefused     = "refused"
	EventExpired     = "expired"
	EventUnknown     = "unknown"
	EventDelivered   = "delivered"
	EventUndelivered = "undelivered"
)

// event is one row of the trail before it is chained.
type event struct {
	sendID         int64
	at             time.Time
	event, reason  string
	provider, pmID string
	attempt        int
	details        *audit.Object // nil: {}
}

// chain is one delivery session: a chain of events that one goroutine
// appends to, batch by batch, each batch in the transaction that records
// what its events say. Its record keeps the chain's length and head.
type chain struct {
	id   int64
	head string
	rows int64
	buf  []queries.DeliveryRow
}

// openChain records a new session and returns its empty chain.
func openChain(ctx context.Context, db *sql.DB, purpose string, cfg *Config, now time.Time) (*chain, error) {
	id, err := queries.NextDeliverySessionID(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("reserve delivery session: %w", err)
	}
	prevID, prevRows, prevHead, err := queries.PreviousDeliverySession(ctx, db, id)
	if err != nil {
		return nil, fmt.Errorf("previous delivery session: %w", err)
	}
	h := audit.DeliverySession{
		ID: id, StartedAt: stamp(now), Host: cfg.Host, Version: cfg.Version, Purpose: purpose,
		ShardIndex: cfg.ShardIndex, ShardCount: cfg.ShardCount, PrevSessionID: prevID, PrevSessionRows: prevRows,
		PrevSessionHead: prevHead,
	}
	c := &chain{id: id, head: h.Hash()}
	err = queries.InsertDeliverySession(ctx, db, &queries.DeliverySession{
		ID: id, StartedAt: h.StartedAt, Host: h.Host, Version: h.Version, Purpose: purpose, ShardIndex: h.ShardIndex,
		ShardCount: h.ShardCount, PrevSessionID: prevID, PrevSessionRows: prevRows, PrevSessionHead: prevHead, Head: c.head,
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// appended is a batch written in a transaction not yet committed.
type appended struct {
	head string
	n    int
}

// append writes the events in tx, chained onto the session's head, and
// moves the session record's head in the same transaction. Call commit
// with the result once tx has committed.
func (c *chain) append(ctx context.Context, tx *sql.Tx, evs []event) (appended, error) {
	if len(evs) == 0 {
		return appended{head: c.head}, nil
	}
	ids, err := queries.ReserveIDs(ctx, tx, "reminder_deliveries_id_seq", len(evs))
	if err != nil {
		return appended{}, err
	}
	c.buf = c.buf[:0]
	prev := c.head
	for i := range evs {
		e := &evs[i]
		details := "{}"
		if e.details != nil {
			details = e.details.Text()
		}
		d := audit.Delivery{
			SessionID: c.id, SendID: e.sendID, At: stamp(e.at), Event: e.event, Reason: e.reason, Provider: e.provider,
			ProviderMessageID: e.pmID, Attempt: e.attempt, Details: details, PrevHash: prev,
		}
		hash := d.Hash()
		c.buf = append(c.buf, queries.DeliveryRow{
			ID: ids[i], SessionID: c.id, SendID: d.SendID, At: d.At, Event: d.Event, Reason: d.Reason,
			Provider: d.Provider, ProviderMessageID: d.ProviderMessageID, Attempt: d.Attempt, Details: details,
			PrevHash: prev, Hash: hash,
		})
		prev = hash
	}
	if err := queries.AppendDeliveries(ctx, tx, c.id, c.buf); err != nil {
		return appended{}, err
	}
	if err := queries.AdvanceDeliverySession(ctx, tx, c.id, len(evs), c.head, prev); err != nil {
		return appended{}, err
	}
	return appended{head: prev, n: len(evs)}, nil
}

// commit moves the chain past a committed batch.
func (c *chain) commit(a appended) {
	c.head = a.head
	c.rows += int64(a.n)
}

// end records the session's end.
func (c *chain) end(ctx context.Context, db *sql.DB, now time.Time) error {
	return queries.EndDeliverySession(ctx, db, c.id, stamp(now))
}
