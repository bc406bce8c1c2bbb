package deliver

import (
	"strings"

	"github.com/loanremind/loanremind/jobs/civil"
	"github.com/loanremind/loanremind/queries"
)

// Reasons a claim cancels a message: the facts it was written on are no
// longer true.
const (
	ReasonPaid            = "paid"
	ReasonAmountChanged   = "amount_changed"
	ReasonOptedOut        = "opted_out"
	ReasonDoNotContact    = "do_not_contact"
	ReasonContactChanged  = "contact_changed"
	ReasonLoanStatusOther = "loan_status:other"
)

// LoanStatusReason is the cancellation reason for a loan no longer
// remindable ("" for an active one). The known statuses are named; any
// other status a lender's table holds is "loan_status:other", so that a
// reason (and a metric or log built from it) comes from a closed set.
func LoanStatusReason(status string) string {
	switch status {
	case "active":
		return ""
	case "paid_off", "charged_off", "disputed", "bankrupt", "deceased":
		return "loan_status:" + status
	}
	return ReasonLoanStatusOther
}

// checkFacts says why a message can no longer be sent as written ("" when
// it can), from the rows SendFacts returned for it: the borrower must
// still be reachable on its channel at its address, every loan it names
// remindable, every installment unpaid with the amount it states. The
// borrower's state comes first: it silences every message.
func checkFacts(rows []queries.SendFact, normalizePhone func(raw, region string) string) string {
	f := &rows[0]
	switch {
	case !f.BorrowerFound:
		return ReasonContactChanged
	case f.NoCalls:
		return ReasonDoNotContact
	case f.Channel == "sms" && f.SMSOptOut, f.Channel == "email" && f.EmailOptOut:
		return ReasonOptedOut
	case !sameAddress(f, normalizePhone):
		return ReasonContactChanged
	}
	paid, changed := 0, false
	for i := range rows {
		r := &rows[i]
		if r.ItemInstallmentID == 0 {
			continue // no items: the audit refuses it
		}
		if !r.LoanFound {
			return ReasonLoanStatusOther
		}
		if reason := LoanStatusReason(r.LoanStatus); reason != "" {
			return reason
		}
		left := r.AmountDueMinor - r.AmountPaidMinor
		switch {
		case !r.InstallmentFound || left <= 0:
			paid++
		case left != r.ItemAmountMinor:
			changed = true
		}
	}
	switch {
	case paid > 0 && paid == len(rows):
		return ReasonPaid
	case paid > 0 || changed:
		return ReasonAmountChanged
	}
	return ""
}

// sameAddress reports whether the message goes where the borrower can be
// reached now: the number as the job normalizes it, or the email address.
func sameAddress(f *queries.SendFact, normalizePhone func(raw, region string) string) bool {
	switch f.Channel {
	case "sms":
		return f.Phone != "" && normalizePhone(f.Phone, f.Region) == f.Recipient
	case "email":
		return strings.EqualFold(strings.TrimSpace(f.Email), strings.TrimSpace(f.Recipient))
	}
	return false
}

// itemsOf are a claimed message's items as a provider sees them.
func itemsOf(rows []queries.SendFact) []Item {
	items := make([]Item, 0, len(rows))
	for i := range rows {
		r := &rows[i]
		if r.ItemInstallmentID == 0 {
			continue
		}
		items = append(items, Item{
			InstallmentID: r.ItemInstallmentID, LoanID: r.ItemLoanID, AccountRef: r.AccountRef, Seq: r.Seq,
			DueDate: civil.Date(r.DueDay), AmountMinor: r.ItemAmountMinor, Currency: r.Currency, Stage: r.ItemStage,
		})
	}
	return items
}
