package audit

import (
	"time"

	"github.com/loanremind/loanremind/queries"
)

// The delivery trail (reminder_deliveries) is chained like the audit, one
// chain per delivery session: the first event's prev_hash is the hash of
// the session's header (where and when it started, and the session before
// it as it stood then), each event's hash covers its content and
// prev_hash, and the session record keeps the chain's length and head,
// updated in the transaction that appends each batch. Many dispatchers
// append at once, each to its own chains, without a lock between them.

// DeliverySession is the header of a delivery session: the genesis of its
// chain.
type DeliverySession struct {
	ID              int64
	StartedAt       time.Time
	Host            string
	Version         string
	Purpose         string // claims or outcomes
	ShardIndex      int
	ShardCount      int
	PrevSessionID   int64 // 0: none
	PrevSessionRows int64
	PrevSessionHead string
}

// Hash is the first event's prev_hash.
func (s *DeliverySession) Hash() string {
	b := append([]byte(nil), "loanremind.delivery-session.v1"...)
	b = appendInt(b, s.ID)
	b = appendTime(b, s.StartedAt)
	b = appendStr(b, s.Host)
	b = appendStr(b, s.Version)
	b = appendStr(b, s.Purpose)
	b = appendInt(b, int64(s.ShardIndex))
	b = appendInt(b, int64(s.ShardCount))
	b = appendInt(b, s.PrevSessionID)
	b = appendInt(b, s.PrevSessionRows)
	b = appendStr(b, s.PrevSessionHead)
	return sum(b)
}

// DeliverySessionOf rebuilds a session's header from its record.
func DeliverySessionOf(s *queries.DeliverySession) *DeliverySession {
	return &DeliverySession{
		ID: s.ID, StartedAt: s.StartedAt, Host: s.Host, Version: s.Version, Purpose: s.Purpose,
		ShardIndex: s.ShardIndex, ShardCount: s.ShardCount, PrevSessionID: s.PrevSessionID,
		PrevSessionRows: s.PrevSessionRows, PrevSessionHead: s.PrevSessionHead,
	}
}

// Delivery is the hashed content of one reminder_deliveries row (its id is
// not hashed: its order is).
type Delivery struct {
	SessionID         int64
	SendID            int64
	At                time.Time // microsecond precision, as stored
	Event             string
	Reason            string
	Provider          string
	ProviderMessageID string
	Attempt           int
	Details           string // jsonb text, as audit.Object writes it
	PrevHash          string
}

// Hash returns the event's hash.
func (d *Delivery) Hash() string {
	var buf [512]byte
	b := append(buf[:0], "loanremind.delivery.v1"...)
	b = appendInt(b, d.SessionID)
	b = appendInt(b, d.SendID)
	b = appendTime(b, d.At)
	b = appendStr(b, d.Event)
	b = appendStr(b, d.Reason)
	b = appendStr(b, d.Provider)
	b = appendStr(b, d.ProviderMessageID)
	b = appendInt(b, int64(d.Attempt))
	b = appendStr(b, d.Details)
	b = appendStr(b, d.PrevHash)
	return sum(b)
}

// DeliveryOf reads the hashed content of a stored event.
func DeliveryOf(r *queries.DeliveryRow) *Delivery {
	return &Delivery{
		SessionID: r.SessionID, SendID: r.SendID, At: r.At, Event: r.Event, Reason: r.Reason, Provider: r.Provider,
		ProviderMessageID: r.ProviderMessageID, Attempt: r.Attempt, Details: r.Details, PrevHash: r.PrevHash,
	}
}
