package policy

import "strings"

// Channel is a way of reaching a borrower.
type Channel string

// The channels the policy knows.
const (
	SMS   Channel = "sms"
	Email Channel = "email"
)

// chanBit returns the bit of a known channel in a channel mask (0 when unknown).
func chanBit(c Channel) uint8 {
	switch c {
	case SMS:
		return 1
	case Email:
		return 2
	}
	return 0
}

// ChannelSet is a set of known channels.
type ChannelSet uint8

// Add adds a known channel to the set (an unknown one is ignored).
func (s *ChannelSet) Add(c Channel) { *s |= ChannelSet(chanBit(c)) }

// Has reports whether the set holds c.
func (s ChannelSet) Has(c Channel) bool { return s&ChannelSet(chanBit(c)) != 0 }

// allChannels is the mask with every known channel.
const allChannels uint8 = 3

// Decision is the outcome of deciding one (installment, stage, channel).
type Decision string

// The decisions, as written to reminder_audit.decision.
const (
	Queued     Decision = "queued"     // sendable now (Message.At == Request.NotBefore)
	Deferred   Decision = "deferred"   // queued for a later scheduled_for
	Suppressed Decision = "suppressed" // a rule forbids it; the reason names the rule
	Skipped    Decision = "skipped"    // bad or missing data
	Expired    Decision = "expired"    // its validity passed before any permissible send time
)

// Reasons written to reminder_audit.reason. Reasons with a suffix are built
// from a prefix below and a value (a loan status, a currency code, a cap name
// or a blocker).
const (
	ReasonNoStage         = "no_stage"
	ReasonDoNotContact    = "do_not_contact"
	ReasonInvalidAmount   = "invalid_amount"
	ReasonNothingDue      = "nothing_due"
	ReasonInvalidTimeZone = "invalid_time_zone"
	ReasonMissingPhone    = "missing_phone"
	ReasonInvalidPhone    = "invalid_phone"
	ReasonMissingEmail    = "missing_email"
	ReasonInvalidEmail    = "invalid_email"
	// ReasonInvalidQuietWindow: a borrower's quiet window whose start and
	// end are equal, or whose days are out of range.
	ReasonInvalidQuietWindow = "invalid_quiet_window"
	// ReasonInvalidEncoding: a text of the borrower's rows is not valid
	// UTF-8 (a SQL_ASCII database can hold any bytes).
	ReasonInvalidEncoding     = "invalid_encoding"
	ReasonOptedOut            = "opted_out"
	ReasonNoCommonWindow      = "no_common_window"
	ReasonValidUntilPassed    = "valid_until_passed"
	ReasonQuietHours          = "quiet_hours"           // outside the allowed windows
	ReasonHoliday             = "holiday"               // a holiday in some candidate zone
	ReasonBorrowerQuietWindow = "borrower_quiet_window" // a time the borrower asked not to be contacted

	ReasonLoanStatusPrefix        = "loan_status:"         // + status, "unknown" when empty
	ReasonUnknownCurrencyPrefix   = "unknown_currency:"    // + the code as given
	ReasonFrequencyCapPrefix      = "frequency_cap:"       // + Cap.Name()
	ReasonNoPermissibleTimePrefix = "no_permissible_time:" // + ReasonQuietHours, ReasonHoliday or ReasonBorrowerQuietWindow
)

// Sources of a candidate time zone (ZoneUse.Source) or region
// (RegionUse.Source).
const (
	SourceTimeZone = "time_zone" // the borrower's time_zone column; a region: its country
	SourcePhone    = "phone"     // the time zones of the phone number; a region: its state or province, and its country
	SourceRegion   = "region"    // the zones configured for the borrower's region; a region: the borrower's region column
	SourceDefault  = "default"   // Config.DefaultZone: nothing else was known
)

// ReasonLoanStatusOther is the reason for a loan in a status the policy
// does not know: the lender's text never becomes a reason (a reason is a
// metric label and a report's column), it goes to the audit's details,
// cleaned.
const ReasonLoanStatusOther = ReasonLoanStatusPrefix + "other"

// LoanStatusReason returns the reason for a loan that is not active: the
// known statuses by name (in any case, without surrounding space), an
// empty one as "unknown", anything else ReasonLoanStatusOther.
func LoanStatusReason(status string) string {
	switch strings.ToLower(strings.TrimSpace(status)) {
	case "":
		return ReasonLoanStatusPrefix + "unknown"
	case "paid_off":
		return ReasonLoanStatusPrefix + "paid_off"
	case "charged_off":
		return ReasonLoanStatusPrefix + "charged_off"
	case "disputed":
		return ReasonLoanStatusPrefix + "disputed"
	case "bankrupt":
		return ReasonLoanStatusPrefix + "bankrupt"
	case "deceased":
		return ReasonLoanStatusPrefix + "deceased"
	}
	return ReasonLoanStatusOther
}

// unknownCurrencyReason names a currency code that is not ISO 4217's when
// it is three letters, and says "invalid" for anything else: the lender's
// text never becomes a reason.
func unknownCurrencyReason(code string) string {
	if _, ok := currencyIndex(code); ok {
		return ReasonUnknownCurrencyPrefix + code
	}
	return ReasonUnknownCurrencyPrefix + "invalid"
}
