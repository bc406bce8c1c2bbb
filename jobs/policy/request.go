package policy

import (
	"time"

	"github.com/loanremind/loanremind/jobs/civil"
)

// Phone is a borrower's phone number, parsed by the caller (and cached).
type Phone struct {
	Raw   string   // as stored by the lender
	E164  string   // normalized number, the SMS recipient
	Valid bool     // a valid, dialable number
	Zones []string // IANA zones of the number; "Etc/Unknown" is ignored

	// Country is the ISO 3166-1 code of the number's country ("US", "CN",
	// "PR"); Subdivisions the ISO 3166-2 codes of the state or province a
	// North American number's area code belongs to ("US-FL"; two or three
	// for an area code that provinces share). Both are candidate regions
	// of a valid number; "" and nil when unknown.
	Country      string
	Subdivisions []string
}

// Contact is an existing send of the borrower: its scheduled_for and channel.
// Existing sends may lie in the future (deferred by an earlier run).
type Contact struct {
	At      time.Time
	Channel Channel
}

// Borrower is the borrower-level input of Decide.
type Borrower struct {
	ID       int64
	TimeZone string // IANA name or "" (none)
	Region   string // ISO 3166-2 or ""
	Phone    Phone
	Email    string

	SMSOptOut, EmailOptOut, DoNotContact bool

	Quiet []QuietWindow

	// BadData, when set, is the reason the borrower's rows cannot be
	// used (a quiet window that is no window, text that is not UTF-8):
	// every item in a stage is skipped with it.
	BadData string
}

// Item is one candidate installment of the borrower.
type Item struct {
	InstallmentID, LoanID int64
	Seq                   int
	DueDate               civil.Date

	AmountDueMinor, AmountPaidMinor int64 // integer minor units; never float

	Currency   string // ISO 4217
	LoanStatus string

	// Decided are the channels of the item's stage that an earlier run
	// decided for good (a ledger item or a final decision): the item is a
	// candidate again because a message on another of its channels expired
	// unsent and gave its item back. Decide gives these channels no
	// outcome and puts the item in no message on them; for the fallback
	// rule they count as not usable. Empty for every other item.
	Decided ChannelSet
}

// Options change how Decide treats a request.
type Options struct {
	// SendLate (backfill --send-late): items whose validity passed before
	// NotBefore get a validity of NotBefore+Config.LateValidity instead of
	// expiring.
	SendLate bool
	// Trace fills Plan.Trace with plain-English lines (for `explain`). Off in
	// the hot path.
	Trace bool
}

// Request is the input of Decide for one borrower.
type Request struct {
	// AsOf is the run's instant: the business date is its date in
	// Config.BusinessZone, and stages are chosen for that date.
	AsOf time.Time
	// NotBefore is the earliest send instant (== AsOf in scheduled runs; the
	// real now in a backfill). Zero means AsOf.
	NotBefore time.Time
	Borrower  *Borrower // must not be nil
	Items     []Item    // the borrower's candidate installments, any order
	Existing  []Contact // the borrower's existing sends, any order
	Options   Options
}

// ZoneUse is a candidate time zone and where it came from (SourceTimeZone,
// SourcePhone, SourceRegion or SourceDefault).
type ZoneUse struct{ Name, Source string }

// Message is one outgoing message: one per channel per borrower.
type Message struct {
	Channel   Channel
	Recipient string // E.164 for sms, the email address for email
	// Items are indexes into Request.Items: overdue first (most days past due
	// first), then by due date, loan id, seq (and installment id).
	Items []int
	Stage int // the most severe (highest index) stage among its items
	// At is scheduled_for: permissible in every candidate zone and within
	// the caps.
	At time.Time
	// ValidUntil is min(items' stage validity, end of the permissible
	// interval starting at At): delivering in [At, ValidUntil) is always
	// inside the allowed windows.
	ValidUntil time.Time
	Decision   Decision // Queued when At == NotBefore, else Deferred
	// Reason is "" when queued; when deferred, the rule that moved it first:
	// ReasonQuietHours, ReasonHoliday, ReasonBorrowerQuietWindow or a
	// frequency_cap:<name> reason.
	Reason    string
	CapExempt bool // every item's stage is CapExempt: caps were not applied
}

// Outcome is the decision about one (item, channel): the audit row. Decide
// produces exactly one per (item, channel) it decided; items without a stage
// get one with Stage -1 and no channel.
type Outcome struct {
	Item     int // index into Request.Items
	Stage    int // index into Config.Stages, -1 if none
	Channel  Channel
	Decision Decision
	Reason   string
	Message  int // index into Plan.Messages, -1 if not in a message
}

// Plan is the output of Decide. Reuse one Plan per goroutine: Decide resets
// it and reuses the capacity of its slices, including each message's Items,
// so copy anything that must outlive the next Decide call. A Plan (or a copy
// of it: copies share its working memory) must not be used by two Decide
// calls at once. Outcomes are in the order they were decided.
type Plan struct {
	Zones []ZoneUse
	// Regions are the candidate regions whose rules applied, all at once
	// (none: the defaults).
	Regions  []RegionUse
	Notes    []string // e.g. "no zone known: used default Asia/Shanghai"
	Messages []Message
	Outcomes []Outcome
	Trace    []string

	work *decider // Decide's working memory, kept for reuse
}

// Reset empties the plan, keeping the capacity of its slices.
func (p *Plan) Reset() {
	p.Zones = p.Zones[:0]
	p.Regions = p.Regions[:0]
	p.Notes = p.Notes[:0]
	p.Messages = p.Messages[:0]
	p.Outcomes = p.Outcomes[:0]
	p.Trace = p.Trace[:0]
}

// newMessage appends an empty message, reusing an old one's Items capacity.
func (p *Plan) newMessage() *Message {
	n := len(p.Messages)
	if n < cap(p.Messages) {
		p.Messages = p.Messages[:n+1]
		m := &p.Messages[n]
		*m = Message{Items: m.Items[:0]}
		return m
	}
	p.Messages = append(p.Messages, Message{})
	return &p.Messages[n]
}
