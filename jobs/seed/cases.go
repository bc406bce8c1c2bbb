package seed

// caseID names one counted case of Stats.ByCase.
type caseID int

const (
	// Borrowers.
	caseCountryCN caseID = iota
	caseCountryUS
	caseCountryDE
	caseCountryGB
	caseCountryIN
	caseCountryNP
	caseFlorida
	caseKolkata
	caseKathmandu
	caseUrumqi
	caseOtherLocale
	casePhoneE164
	casePhoneInternational
	casePhoneNational
	caseInvalidPhone
	caseNullPhone
	caseSharedPhone
	caseNullTimeZone
	caseInvalidTimeZone
	caseNullRegion
	caseNullEmail
	caseInvalidEmail
	caseSMSOptOut
	caseEmailOptOut
	caseDoNotContact
	caseRegFConflict
	caseQuietWindow
	caseShowcase
	caseMultiLoan
	caseMultiCurrency
	caseMultiItemSameDay
	caseMultiCurrencySameDay
	// Loans.
	caseStatusActive
	caseStatusPaidOff
	caseStatusChargedOff
	caseStatusDisputed
	caseStatusBankrupt
	caseStatusDeceased
	caseStatusUnknown
	caseUnknownCurrency
	// Installments.
	casePaidInFull
	casePartlyPaid
	casePrepaid
	caseCandidates
	caseStageUpcoming
	caseStageDueToday
	caseStageOverdue1
	caseStageOverdue7
	caseStageOverdue30
	numCases
)

// caseNames returns the ByCase key of every case.
func caseNames() [numCases]string {
	return [numCases]string{
		caseCountryCN:            "country:CN",
		caseCountryUS:            "country:US",
		caseCountryDE:            "country:DE",
		caseCountryGB:            "country:GB",
		caseCountryIN:            "country:IN",
		caseCountryNP:            "country:NP",
		caseFlorida:              "florida",
		caseKolkata:              "time_zone:Asia/Kolkata",
		caseKathmandu:            "time_zone:Asia/Kathmandu",
		caseUrumqi:               "time_zone:Asia/Urumqi",
		caseOtherLocale:          "locale_without_templates",
		casePhoneE164:            "phone_e164",
		casePhoneInternational:   "phone_international_format",
		casePhoneNational:        "phone_national_format",
		caseInvalidPhone:         "invalid_phone",
		caseNullPhone:            "null_phone",
		caseSharedPhone:          "shared_phone",
		caseNullTimeZone:         "null_time_zone",
		caseInvalidTimeZone:      "invalid_time_zone",
		caseNullRegion:           "null_region",
		caseNullEmail:            "null_email",
		caseInvalidEmail:         "invalid_email",
		caseSMSOptOut:            "sms_opt_out",
		caseEmailOptOut:          "email_opt_out",
		caseDoNotContact:         "do_not_contact",
		caseRegFConflict:         "reg_f_conflict",
		caseQuietWindow:          "quiet_window",
		caseShowcase:             "showcase",
		caseMultiLoan:            "multi_loan",
		caseMultiCurrency:        "multi_currency",
		caseMultiItemSameDay:     "multi_item_same_day",
		caseMultiCurrencySameDay: "multi_currency_same_day",
		caseStatusActive:         "status:" + statusActive,
		caseStatusPaidOff:        "status:" + statusPaidOff,
		caseStatusChargedOff:     "status:" + statusChargedOff,
		caseStatusDisputed:       "status:" + statusDisputed,
		caseStatusBankrupt:       "status:" + statusBankrupt,
		caseStatusDeceased:       "status:" + statusDeceased,
		caseStatusUnknown:        "status:" + statusUnknown,
		caseUnknownCurrency:      "unknown_currency",
		casePaidInFull:           "paid_in_full",
		casePartlyPaid:           "partly_paid",
		casePrepaid:              "paid_before_due",
		caseCandidates:           "candidates",
		caseStageUpcoming:        "stage:upcoming_3d",
		caseStageDueToday:        "stage:due_today",
		caseStageOverdue1:        "stage:overdue_1d",
		caseStageOverdue7:        "stage:overdue_7d",
		caseStageOverdue30:       "stage:overdue_30d",
	}
}

// caseCounts counts cases without a map in the hot path.
type caseCounts struct {
	n                                            [numCases]int64
	borrowers, loans, installments, quietWindows int64
}

func (c *caseCounts) add(o *caseCounts) {
	for i := range c.n {
		c.n[i] += o.n[i]
	}
	c.borrowers += o.borrowers
	c.loans += o.loans
	c.installments += o.installments
	c.quietWindows += o.quietWindows
}

func (c *caseCounts) stats() Stats {
	names := caseNames()
	s := Stats{
		Borrowers:    c.borrowers,
		Loans:        c.loans,
		Installments: c.installments,
		QuietWindows: c.quietWindows,
		ByCase:       make(map[string]int64, len(names)),
	}
	for i, name := range names {
		s.ByCase[name] = c.n[i]
	}
	return s
}

// Loan statuses. DESIGN.md: active is remindable; the others, and anything
// unknown, are not.
const (
	statusActive     = "active"
	statusPaidOff    = "paid_off"
	statusChargedOff = "charged_off"
	statusDisputed   = "disputed"
	statusBankrupt   = "bankrupt"
	statusDeceased   = "deceased"
	statusUnknown    = "restructured" // not a status the job knows
)

// stageCase returns the stage of an unpaid installment that is daysPastDue
// (as-of date minus due date) days overdue, by the default stage windows
// (-3..-1, 0, 1..6, 7..29, 30..59), and false outside them.
func stageCase(daysPastDue int) (caseID, bool) {
	switch {
	case daysPastDue < -3 || daysPastDue > 59:
		return 0, false
	case daysPastDue < 0:
		return caseStageUpcoming, true
	case daysPastDue == 0:
		return caseStageDueToday, true
	case daysPastDue < 7:
		return caseStageOverdue1, true
	case daysPastDue < 30:
		return caseStageOverdue7, true
	default:
		return caseStageOverdue30, true
	}
}
