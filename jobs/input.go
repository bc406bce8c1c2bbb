package jobs

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/loanremind/loanremind/jobs/civil"
	"github.com/loanremind/loanremind/jobs/phone"
	"github.com/loanremind/loanremind/jobs/pii"
	"github.com/loanremind/loanremind/jobs/policy"
	"github.com/loanremind/loanremind/queries"
)

// The one mapping from the database's rows to the policy's input: a run and
// explain build the borrower, its items, its quiet windows, its counted
// contacts and the policy's request with these functions alone, so that
// explain evaluates what a run would.

// borrowerInput is one borrower's candidate items, as selected, in the
// policy's terms.
type borrowerInput struct {
	borrower policy.Borrower
	name     string
	locale   string
	items    []policy.Item
	refs     []string // account reference of each item's loan
	stages   []string // stage of each item, as selected
	phone    phone.Lookup
}

// newBorrowerInput maps a candidate row's borrower, with the cached parse of
// its phone number if the row carries one; parsePhones parses the rest.
func newBorrowerInput(c *queries.Candidate, defaultPhoneRegion string, h *pii.Hasher) borrowerInput {
	in := borrowerInput{
		borrower: policy.Borrower{
			ID: c.BorrowerID, TimeZone: c.TimeZone, Region: c.Region, Email: c.Email,
			SMSOptOut: c.SMSOptOut, EmailOptOut: c.EmailOptOut, DoNotContact: c.DoNotContact,
		},
		name:   c.FullName,
		locale: c.Locale,
	}
	if !validUTF8(c.FullName, c.Phone, c.Email, c.Locale, c.TimeZone, c.Region) {
		// A SQL_ASCII database holds any bytes: such a borrower is
		// skipped, with nothing of its text written back (the server
		// would refuse it, and fail the batch).
		in.borrower = policy.Borrower{ID: c.BorrowerID, BadData: policy.ReasonInvalidEncoding}
		in.name, in.locale = "", ""
		in.phone = phone.Lookup{Known: true}
		return in
	}
	in.borrower.Phone, in.phone = phone.FromCandidate(c, defaultPhoneRegion, h)
	return in
}

// validUTF8 reports whether every text is valid UTF-8.
func validUTF8(texts ...string) bool {
	for _, s := range texts {
		if !utf8.ValidString(s) {
			return false
		}
	}
	return true
}

// itemOf maps a candidate row's installment, with the channels of its
// stage already decided when it is selected again for a channel given back.
func itemOf(c *queries.Candidate) policy.Item {
	it := policy.Item{
		InstallmentID: c.InstallmentID, LoanID: c.LoanID, Seq: c.Seq, DueDate: civil.Date(c.DueDay),
		AmountDueMinor: c.AmountDueMinor, AmountPaidMinor: c.AmountPaidMinor, Currency: c.Currency,
		LoanStatus: c.LoanStatus,
	}
	if c.Decided != "" {
		it.Decided = decidedChannels(c.Decided)
	}
	return it
}

// decidedChannels maps a candidate's decided column: channels,
// comma-separated.
func decidedChannels(list string) policy.ChannelSet {
	var set policy.ChannelSet
	for ch := range strings.SplitSeq(list, ",") {
		set.Add(policy.Channel(ch))
	}
	return set
}

// parsePhones parses the numbers of the borrowers that the cache did not
// know (or knew for another number), once per distinct number, and returns
// the new parses for the cache, each sealed with h.
func parsePhones(borrowers []borrowerInput, h *pii.Hasher) []queries.PhoneParse {
	var numbers phone.Batch
	for i := range borrowers {
		if in := &borrowers[i]; !in.phone.Known {
			numbers.Add(in.borrower.Phone.Raw, in.phone.Region)
		}
	}
	if numbers.Len() == 0 {
		return nil
	}
	numbers.Parse()
	parses := make([]queries.PhoneParse, 0, numbers.Len())
	for i := range borrowers {
		in := &borrowers[i]
		if in.phone.Known {
			continue
		}
		parsed := numbers.Get(in.borrower.Phone.Raw, in.phone.Region)
		in.borrower.Phone = phone.ForPolicy(parsed)
		in.phone.Known = true
		parsed.BorrowerID, parsed.Replace = in.borrower.ID, in.phone.Stale
		parsed.MAC = phone.Seal(h, &parsed)
		parses = append(parses, parsed)
	}
	return parses
}

// quietWindowsByBorrower maps borrower_quiet_windows rows, by borrower;
// bad says which borrowers have a window that is bad data.
func quietWindowsByBorrower(rows []queries.QuietWindow) (windows map[int64][]policy.QuietWindow, bad map[int64]bool) {
	windows, bad = map[int64][]policy.QuietWindow{}, map[int64]bool{}
	for _, q := range rows {
		w, ok := quietWindow(q)
		if !ok {
			bad[q.BorrowerID] = true
			continue
		}
		windows[q.BorrowerID] = append(windows[q.BorrowerID], w)
	}
	return windows, bad
}

// quietWindow maps a borrower_quiet_windows row; ok is false when the row
// is no window: its start and end are equal (is it all day, or never?), or
// a weekday is out of range. A NULL weekdays is every day; an empty set is
// no day, and the window never applies.
func quietWindow(q queries.QuietWindow) (w policy.QuietWindow, ok bool) {
	w = policy.QuietWindow{From: policy.Clock(q.StartsAt), To: policy.Clock(q.EndsAt),
		NotBefore: civil.Date(q.ValidFrom), NotAfter: civil.Date(q.ValidTo), Days: policy.AllDays}
	if q.StartsAt == q.EndsAt {
		return w, false
	}
	if q.EndsAt == 0 {
		w.To = 24 * 3600 // 00:00 as an end is midnight at the end of the day
	}
	if !q.EveryDay {
		w.Days = 0
		if q.Weekdays == "" {
			return w, true
		}
		for _, d := range strings.Split(q.Weekdays, ",") {
			n, err := strconv.Atoi(d)
			if err != nil || n < 0 || n > 6 {
				return w, false
			}
			w.Days |= 1 << n
		}
	}
	return w, true
}

// contactOf maps an existing send, which the frequency caps count.
func contactOf(channel string, scheduledFor time.Time) policy.Contact {
	return policy.Contact{At: scheduledFor, Channel: policy.Channel(channel)}
}

// capsWindow is how far back sends count for the frequency caps.
func capsWindow(caps []policy.Cap) time.Duration {
	var longest time.Duration
	for _, c := range caps {
		longest = max(longest, c.Per)
	}
	return longest
}

// request is the policy's request for the borrower's items.
func (in *borrowerInput) request(asOf, notBefore time.Time, existing []policy.Contact, opts policy.Options) policy.Request {
	return policy.Request{
		AsOf: asOf, NotBefore: notBefore, Borrower: &in.borrower, Items: in.items, Existing: existing, Options: opts,
	}
}
