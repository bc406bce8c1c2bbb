// Package deliver moves messages out of the outbox: the sender behind
// `loanremind deliver`. It claims due messages with a lease, re-checks
// their facts and the audit's word for them in the claiming transaction,
// calls the provider that the channel's route names only inside the
// message's window, and records every attempt and outcome in
// reminder_deliveries, a hash-chained, append-only trail.
package deliver

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/loanremind/loanremind/jobs/civil"
)

// Message is what a provider is given to send: the message as the job
// wrote it (and the audit vouches for), and the facts of its items as they
// stood when it was claimed, for providers that send a pre-approved
// template's parameters instead of a free body (tencentcloud).
type Message struct {
	SendID       int64
	Channel      string // "sms" or "email"
	To           string // E.164 for sms, an address for email
	Subject      string // email only
	Body         string
	Locale       string
	Stage        string // the most severe stage in the message
	Template     string // the job's template name, e.g. "sms/overdue_7d.zh-CN.tmpl"
	ScheduledFor time.Time
	ValidUntil   time.Time
	Attempt      int // 1 for the first call of this message's provider
	BusinessDate civil.Date
	Items        []Item
}

// Item is one installment of a message, as it stood when claimed.
type Item struct {
	InstallmentID int64
	LoanID        int64
	AccountRef    string // full: a provider masks it as the templates do
	Seq           int
	DueDate       civil.Date
	AmountMinor   int64 // left to pay
	Currency      string
	Stage         string
}

// Receipt is a provider's acceptance of a message.
type Receipt struct {
	ProviderMessageID string // "" when the provider gives none
}

// Provider sends messages through one gateway, carrier or file.
type Provider interface {
	// Name is the configured name that routes refer to.
	Name() string
	// Type is the provider's kind: http, twilio, tencentcloud, smtp or file.
	Type() string
	// Idempotent reports whether a second call for the same message is
	// safe (the gateway deduplicates by an idempotency key). A message
	// whose claim lapsed while a non-idempotent provider was being called
	// becomes unknown and is never resent automatically.
	Idempotent() bool
	// Send sends one message. Its error is an *Error when the provider
	// answered (permanent or transient); any other error (a timeout, a
	// reset connection) is transient.
	Send(ctx context.Context, m *Message) (Receipt, error)
}

// Error is a provider's refusal.
type Error struct {
	Permanent  bool          // a retry cannot succeed (e.g. an invalid number)
	Code       string        // the provider's code, e.g. "21211", "400"
	RetryAfter time.Duration // the provider's Retry-After, 0 when none
	Message    string        // the provider's words, cleaned, without personal data
}

func (e *Error) Error() string {
	kind := "transient"
	if e.Permanent {
		kind = "permanent"
	}
	return fmt.Sprintf("%s provider error %s: %s", kind, e.Code, e.Message)
}

// IsPermanent reports whether err is a permanent provider error.
func IsPermanent(err error) bool {
	var pe *Error
	return errors.As(err, &pe) && pe.Permanent
}

// ReceiptEvent is a provider's word on a message it accepted: delivered or
// not, as its receipt endpoint (POST /receipts/twilio, /receipts/http)
// was told, after the signature was checked.
type ReceiptEvent struct {
	Provider          string // the configured provider's name
	SendID            int64  // 0 when the receipt names only the provider's id
	ProviderMessageID string
	Delivered         bool // false: undelivered
	At                time.Time
	Code              string // the provider's error code, "" when none
}

// ReceiptSink records receipts: the dispatcher moves the message to
// delivered or undelivered, idempotently, and appends the event to
// reminder_deliveries.
type ReceiptSink interface {
	Receipt(ctx context.Context, r ReceiptEvent) error
}
