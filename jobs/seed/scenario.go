package seed

import "github.com/loanremind/loanremind/jobs/civil"

// The showcase borrowers: borrower slot s (id-1 mod 1,000) below
// numScenarios is the case named here, with an installment that is a
// candidate on the as-of date, and with no other rule in the way (no
// opt-out, no do-not-contact, an active loan) unless that is the case.
const (
	// Reg F comment 6(b)(1)(i)-2: home in Pacific time, Eastern mobile.
	scenarioPacificHomeEasternMobile = iota
	// The same with a Mountain-time home and an Eastern mobile.
	scenarioMountainHomeEasternMobile
	// Asia/Shanghai with a New York number: no common window.
	scenarioShanghaiNewYorkNumber
	scenarioZoneMars  // time_zone "Mars/Olympus"
	scenarioZoneEST5  // time_zone "EST5" (a POSIX TZ string, not an IANA name)
	scenarioZoneSpace // time_zone "Asia/Shang hai"
	scenarioPhoneDigits
	scenarioPhoneCN000
	scenarioPhoneLetters
	scenarioKathmandu // UTC+5:45
	scenarioKolkata   // UTC+5:30
	scenarioFlorida   // US-FL: the example region override
	scenarioMultiCurrencySameDay
	scenarioQuietTuesday
	scenarioQuietEvenings
	scenarioQuietOvernight
	scenarioQuietDated
	scenarioDoNotContact
	scenarioSMSOptOut
	scenarioEmailOptOut
	scenarioDisputed
	scenarioBankrupt
	scenarioDeceased
	scenarioChargedOff
	scenarioNullZone
	scenarioUnknownCurrency
	scenarioNationalCN // "138 1234 5678"
	scenarioNationalUS // "(212) 736-0123"
	scenarioPartlyPaid
	scenarioNullPhone
	scenarioInvalidEmail
	scenarioNullEmail
	scenarioThreeLoansSameDay
	scenarioUnknownStatus
	scenarioFamilyLeader // shares the phone with the next borrower
	scenarioFamilyMember
	scenarioUrumqi // CN-65 on Urumqi time with a Beijing-time mobile
	scenarioBerlin // de-DE: a locale without templates
	scenarioLondon
	scenarioPhoenix // Arizona: no DST
	numScenarios
)

// showcaseDays are the days past due (as-of date minus due date) of the
// showcase candidates, taken in turn: every stage and its edges.
func showcaseDays(id int64) int {
	days := [...]int{-3, -2, -1, 0, 1, 3, 6, 7, 14, 29, 30, 45, 59}
	return days[(slot(id)+int((id-1)/blockSize))%len(days)]
}

// regionIndex returns the index of the region with the code.
func (c *country) regionIndex(code string) int {
	for i := range c.regions {
		if c.regions[i].code == code {
			return i
		}
	}
	panic("seed: no region " + code) // the codes below are literals of the catalog
}

// moveTo puts a showcase borrower in the region, with a valid mobile number
// of it.
func (w *worker) moveTo(p *profile, country int, code string) {
	c := &w.g.cat.countries[country]
	p.country = country
	p.region = c.regionIndex(code)
	p.zone, p.zoneInvalid = c.regions[p.region].zone, false
	p.locale = c.locales[0]
	p.family %= len(c.family)
	p.given %= len(c.given)
	p.phone = w.numberIn(country, p.region, phoneE164)
}

// profileScenario applies the showcase case's location and phone.
func (w *worker) profileScenario(id int64, p *profile) {
	s := slot(id)
	if s >= numScenarios {
		return
	}
	cat := w.g.cat
	us := &cat.countries[countryUS]
	// Showcase borrowers have a valid number unless their case is about
	// the number.
	if !p.phone.usable() {
		p.phone = w.numberIn(p.country, max(p.region, 0), phoneE164)
	}
	switch s {
	case scenarioPacificHomeEasternMobile:
		w.moveTo(p, countryUS, "US-CA")
		p.phone = w.numberIn(countryUS, us.regionIndex("US-NY"), phoneE164)
	case scenarioMountainHomeEasternMobile:
		w.moveTo(p, countryUS, "US-CO")
		p.phone = w.numberIn(countryUS, us.regionIndex("US-NY"), phoneE164)
	case scenarioShanghaiNewYorkNumber:
		w.moveTo(p, countryCN, "CN-31")
		p.phone = w.numberIn(countryUS, us.regionIndex("US-NY"), phoneE164)
	case scenarioZoneMars:
		w.moveTo(p, countryCN, "CN-44")
		p.zone, p.zoneInvalid = "Mars/Olympus", true
	case scenarioZoneEST5:
		w.moveTo(p, countryUS, "US-NY")
		p.zone, p.zoneInvalid = "EST5", true
	case scenarioZoneSpace:
		w.moveTo(p, countryCN, "CN-31")
		p.zone, p.zoneInvalid = "Asia/Shang hai", true
	case scenarioPhoneDigits:
		w.moveTo(p, countryCN, "CN-11")
		p.phone.style, p.phone.invalid = phoneInvalid, "12345"
	case scenarioPhoneCN000:
		w.moveTo(p, countryCN, "CN-44")
		p.phone.style, p.phone.invalid = phoneInvalid, "+86 000"
	case scenarioPhoneLetters:
		w.moveTo(p, countryUS, "US-TX")
		p.phone.style, p.phone.invalid = phoneInvalid, "call me"
	case scenarioKathmandu:
		w.moveTo(p, countryNP, "NP-P3")
	case scenarioKolkata:
		w.moveTo(p, countryIN, "IN-MH")
	case scenarioFlorida:
		w.moveTo(p, countryUS, "US-FL")
	case scenarioNullZone:
		w.moveTo(p, countryCN, "CN-33")
		p.zone = ""
	case scenarioNationalCN:
		w.moveTo(p, countryCN, "CN-31")
		p.phone.style = phoneNational
	case scenarioNationalUS:
		w.moveTo(p, countryUS, "US-NY")
		p.phone.style = phoneNational
	case scenarioNullPhone:
		p.phone.style = phoneNull
	case scenarioUrumqi:
		w.moveTo(p, countryCN, "CN-65")
		p.zone = "Asia/Urumqi"
	case scenarioBerlin:
		w.moveTo(p, countryDE, "DE-BE")
	case scenarioLondon:
		w.moveTo(p, countryGB, "GB-LND")
	case scenarioPhoenix:
		w.moveTo(p, countryUS, "US-AZ")
	}
}

// scenario applies the showcase case to the rest of the plan.
func (w *worker) scenario(b *borrowerPlan) {
	s := slot(b.id)
	if s >= numScenarios {
		return
	}
	g := w.g
	b.showcase = true
	b.smsOptOut, b.emailOptOut, b.doNotContact = false, false, false
	b.life, b.class = lifeNone, classGood
	if b.emailStyle >= emailInvalid {
		b.emailStyle = emailUser
	}
	b.nQuiet = 0
	days := showcaseDays(b.id)
	w.forceDue(&b.loans[0], days)

	switch s {
	case scenarioMultiCurrencySameDay:
		b.nLoans = max(b.nLoans, 2)
		c := &g.cat.countries[b.p.country]
		w.drawLoan(&b.loans[1], b.loans[0].anchor, c.altCurrency)
		w.forceDue(&b.loans[1], days)
		b.loans[0].currency = c.currency
		w.amounts(&b.loans[0])
	case scenarioThreeLoansSameDay:
		b.nLoans = 3
		for i := 1; i < 3; i++ {
			w.drawLoan(&b.loans[i], b.loans[0].anchor, b.loans[0].currency)
			w.forceDue(&b.loans[i], days)
		}
	case scenarioQuietTuesday:
		b.nQuiet = 1
		w.quietWindow(&b.quiet[0], quietTuesday)
	case scenarioQuietEvenings:
		b.nQuiet = 1
		w.quietWindow(&b.quiet[0], quietEvenings)
	case scenarioQuietOvernight:
		b.nQuiet = 1
		w.quietWindow(&b.quiet[0], quietOvernight)
	case scenarioQuietDated:
		b.nQuiet = 1
		w.quietWindow(&b.quiet[0], quietDated)
	case scenarioDoNotContact:
		b.doNotContact = true
	case scenarioSMSOptOut:
		b.smsOptOut = true
	case scenarioEmailOptOut:
		b.emailOptOut = true
	case scenarioDisputed:
		b.loans[0].status = statusDisputed
	case scenarioBankrupt, scenarioDeceased:
		b.life = lifeBankrupt
		status := statusBankrupt
		if s == scenarioDeceased {
			b.life, status = lifeDeceased, statusDeceased
		}
		for i := range b.nLoans {
			b.loans[i].status = status
		}
	case scenarioChargedOff:
		w.forceDue(&b.loans[0], 45)
		b.loans[0].status = statusChargedOff
	case scenarioUnknownCurrency:
		b.loans[0].currency = "XXY"
		w.amounts(&b.loans[0])
	case scenarioPartlyPaid:
		l := &b.loans[0]
		l.partialSeq = w.forceDue(l, 7)
		amount := l.amount
		if l.partialSeq == l.periods {
			amount = l.last
		}
		l.partialPaid = amount / 3 / 100 * 100
	case scenarioInvalidEmail:
		b.emailStyle, b.emailInvalid = emailInvalid, 0 // "no-at-sign"
	case scenarioNullEmail:
		b.emailStyle = emailNull
	case scenarioUnknownStatus:
		b.loans[0].status = statusUnknown
	}
}

// forceDue moves the loan's schedule so that one installment falls due
// daysPastDue days before the as-of date, unpaid and with every earlier one
// paid, and makes the loan active. It returns that installment's seq.
func (w *worker) forceDue(l *loanPlan, daysPastDue int) int {
	g := w.g
	target := g.asOf - civil.Date(daysPastDue)
	y, m, d := target.YMD()
	seq := 1 + w.r.IntN(l.periods)
	l.anchor = d
	l.origin = y*12 + int(m) - 1 - seq
	l.status = statusActive
	l.allPaid, l.partialSeq, l.partialPaid, l.prepaidSeq = false, 0, 0, 0
	l.paidBefore = min(target, g.asOf)
	return seq
}
