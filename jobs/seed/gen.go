package seed

import (
	"math/bits"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/loanremind/loanremind/jobs/civil"
)

const (
	// blockSize: the showcase borrowers (see scenario) open every block of
	// this many borrowers.
	blockSize = 1000
	// maxLoans is the most loans a borrower has; maxPeriods the longest
	// schedule.
	maxLoans   = 3
	maxPeriods = 12
	// pairPerMille of the odd borrower ids (outside the showcase) share
	// their phone with the next borrower, a family member: about 0.5% of
	// borrowers in all.
	pairPerMille = 5
)

// Phone styles.
const (
	phoneE164          = iota // +8613812345678
	phoneInternational        // +86 138 1234 5678
	phoneNational             // 138 1234 5678
	phoneInvalid              // 12345
	phoneNull
)

// Email styles.
const (
	emailName    = iota // wei.zhang.17@example.com
	emailUser           // user17@example.net
	emailInvalid        // no-at-sign
	emailNull
)

// Payment behaviour of a borrower.
const (
	classGood       = iota // pays on time
	classLate              // missed the last one or two installments
	classDelinquent        // stopped paying some months ago
	classPartial           // paid part of the last installment
)

// Life events that end collection on every loan of the borrower.
const (
	lifeNone = iota
	lifeBankrupt
	lifeDeceased
)

// Quiet window kinds.
const (
	quietTuesday = iota
	quietEvenings
	quietOvernight
	quietDated
	quietWeekends
	quietLunch
)

// phone is a drawn phone number, formatted only when the row is built.
type phone struct {
	style       int
	country     int    // whose numbering plan
	callingCode string // its country calling code
	prefix      string // area code or mobile prefix
	sub         string // the digits after it
	zone        string // where the number says its holder is
	invalid     string // the text of an invalid number
}

// profile is who and where a borrower is: what a family member sharing the
// phone copies.
type profile struct {
	country     int
	region      int // index into the country's regions; -1: null region
	zone        string
	zoneInvalid bool
	locale      string
	family      int
	given       int
	phone       phone
}

// loanPlan is one drawn loan and how it has been repaid.
type loanPlan struct {
	periods  int
	anchor   int // day of month the installments fall due (clamped to the month's end)
	origin   int // month index of origination; installment k falls due in month origin+k
	currency string
	amount   int64 // each installment but the last
	last     int64
	status   string
	// Installments due before paidBefore are paid in full; later ones not,
	// except partialSeq (partly paid) and prepaidSeq (paid ahead of time).
	// allPaid: every installment is paid.
	paidBefore  civil.Date
	allPaid     bool
	partialSeq  int
	partialPaid int64
	prepaidSeq  int
}

// quietPlan is one drawn quiet window.
type quietPlan struct {
	kind     int
	from, to civil.Date
}

// borrowerPlan is everything drawn for one borrower, before the rows are
// built.
type borrowerPlan struct {
	id           int64
	p            profile
	sharedPhone  bool
	emailStyle   int
	emailDomain  int
	emailInvalid int
	smsOptOut    bool
	emailOptOut  bool
	doNotContact bool
	life         int
	class        int
	showcase     bool
	nLoans       int
	loans        [maxLoans]loanPlan
	nQuiet       int
	quiet        [2]quietPlan
}

// generator holds what every worker shares; it is read-only once built.
type generator struct {
	opts      Options
	cat       *catalog
	asOf      civil.Date
	asOfMonth int
	// months[i] is the first day of month calBase+i.
	calBase   int
	months    []civil.Date
	workers   int
	chunkSize int
	// copyBatchRows is the most rows Run sends in one COPY statement.
	copyBatchRows int
}

func newGenerator(opts Options) (*generator, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	y, m, _ := opts.AsOf.YMD()
	g := &generator{
		opts:          opts,
		cat:           newCatalog(),
		asOf:          opts.AsOf,
		asOfMonth:     y*12 + int(m) - 1,
		workers:       defaultWorkers(),
		chunkSize:     1024,
		copyBatchRows: 250_000,
	}
	// Due dates fall from 14 months before AsOf's month to 12 after it;
	// the calendar covers that with a margin (due falls back beyond it).
	g.calBase = g.asOfMonth - maxPeriods - 6
	for i := 0; i <= 2*maxPeriods+12; i++ {
		g.months = append(g.months, monthStart(g.calBase+i))
	}
	return g, nil
}

func monthStart(month int) civil.Date {
	return civil.DateOf(month/12, time.Month(month%12+1), 1)
}

// due returns the date in month (a month index) on day anchor, or the
// month's last day when it is shorter.
func (g *generator) due(month, anchor int) civil.Date {
	i := month - g.calBase
	var start, next civil.Date
	if i >= 0 && i+1 < len(g.months) {
		start, next = g.months[i], g.months[i+1]
	} else {
		start, next = monthStart(month), monthStart(month+1)
	}
	return start + civil.Date(min(anchor, int(next-start))) - 1
}

// worker generates chunks; each goroutine has its own.
type worker struct {
	g   *generator
	src *rand.PCG
	r   *rand.Rand
	buf []byte
	// candidate items of the current borrower: due date and currency
	items []candidate
}

type candidate struct {
	due      civil.Date
	currency string
}

func (g *generator) newWorker() *worker {
	src := rand.NewPCG(0, 0)
	return &worker{g: g, src: src, r: rand.New(src), buf: make([]byte, 0, 64)}
}

// mix is SplitMix64's finalizer: it spreads consecutive ids over the
// second PCG seed word.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// seedBorrower points the worker's stream at the borrower's own: PCG seeded
// with (S, mix(id)).
func (w *worker) seedBorrower(id int64) { w.src.Seed(w.g.opts.Seed, mix(uint64(id))) }

// pick returns an index into weights, drawn in proportion to them.
func pick(r *rand.Rand, weights []int) int {
	total := 0
	for _, w := range weights {
		total += w
	}
	n := r.IntN(total)
	for i, w := range weights {
		if n < w {
			return i
		}
		n -= w
	}
	return len(weights) - 1
}

// perMille reports true n times in a thousand.
func perMille(r *rand.Rand, n int) bool { return r.IntN(1000) < n }

// slot returns the borrower's place in its block; slots below
// numScenarios are showcase borrowers.
func slot(id int64) int { return int((id - 1) % blockSize) }

// pairLeader reports whether borrower id and id+1 form a family that shares
// id's phone, as far as ids decide it: plan also requires the leader's
// phone to be usable. Leaders are odd ids outside the showcase, and the
// showcase family.
func (g *generator) pairLeader(id int64) bool {
	if id+1 > int64(g.opts.Borrowers) {
		return false
	}
	s := slot(id)
	if s == scenarioFamilyLeader {
		return true
	}
	if id%2 == 0 || s < numScenarios || s+1 >= blockSize {
		return false
	}
	return mix(g.opts.Seed^mix(uint64(id)^0x70a1_5eed))%1000 < pairPerMille
}

// profile draws where and who a borrower is, the first draws of its stream.
func (w *worker) profile(id int64) profile {
	r, cat := w.r, w.g.cat
	var p profile
	p.country = pick(r, cat.countryWeights)
	c := &cat.countries[p.country]
	home := pick(r, c.regionWeights)
	p.region = home
	reg := &c.regions[home]
	switch n := r.IntN(1000); {
	case n < c.nullZonePM:
		p.zone = ""
	case n < c.nullZonePM+2:
		p.zone, p.zoneInvalid = cat.invalidZones[r.IntN(len(cat.invalidZones))], true
	case reg.code == "CN-65" && n%5 < 2:
		p.zone = "Asia/Urumqi"
	default:
		p.zone = reg.zone
	}
	if perMille(r, 20) {
		p.region = -1
	}
	p.locale = c.locales[pick(r, c.localeWeights)]
	p.family = r.IntN(len(c.family))
	p.given = r.IntN(len(c.given))

	// Phone: mostly E.164, some as people type them, a few broken or
	// missing.
	styles := [...]int{phoneE164: 855, phoneInternational: 40, phoneNational: 65, phoneInvalid: 5, phoneNull: 35}
	numberRegion := home // the region even when it is not recorded
	// A US borrower keeps the mobile number of the state they came from
	// now and then: the Reg F comment 6(b)(1)(i)-2 situation.
	if p.country == countryUS && perMille(r, 50) {
		numberRegion = r.IntN(len(c.regions))
	}
	p.phone = w.numberIn(p.country, numberRegion, pick(r, styles[:]))
	if p.phone.style == phoneInvalid {
		p.phone.invalid = cat.invalidPhones[r.IntN(len(cat.invalidPhones))]
	}
	w.profileScenario(id, &p)
	return p
}

// numberIn draws a valid number of the country's plan (for US numbers, with
// one of the region's area codes) to be written in the style.
func (w *worker) numberIn(country, region, style int) phone {
	r := w.r
	c := &w.g.cat.countries[country]
	ph := phone{style: style, country: country, callingCode: c.callingCode}
	if country == countryUS {
		reg := &c.regions[region]
		ph.prefix = reg.areas[r.IntN(len(reg.areas))]
		ph.zone = reg.zone
		// Exchange NXX: 2-9 first, never N11 or 555; then the line number.
		ex := 200 + r.IntN(800)
		if ex%100 == 11 || ex == 555 {
			ex++
		}
		w.buf = strconv.AppendInt(w.buf[:0], int64(ex), 10)
		w.buf = appendDigits(w.buf, uint64(r.IntN(10000)), 4)
		ph.sub = string(w.buf)
		return ph
	}
	m := c.mobiles[r.IntN(len(c.mobiles))]
	ph.prefix = m.prefix
	ph.zone = c.regions[0].zone
	w.buf = appendDigits(w.buf[:0], r.Uint64N(pow10(m.digits)), m.digits)
	ph.sub = string(w.buf)
	return ph
}

func pow10(n int) uint64 {
	p := uint64(1)
	for range n {
		p *= 10
	}
	return p
}

// appendDigits appends v as exactly n decimal digits.
func appendDigits(b []byte, v uint64, n int) []byte {
	start := len(b)
	for range n {
		b = append(b, 0)
	}
	for i := len(b) - 1; i >= start; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return b
}

// format renders the number in its style.
func (ph *phone) format() string {
	switch ph.style {
	case phoneNull:
		return ""
	case phoneInvalid:
		return ph.invalid
	}
	nsn := ph.prefix + ph.sub
	switch ph.style {
	case phoneInternational:
		switch ph.country {
		case countryCN:
			return "+86 " + nsn[:3] + " " + nsn[3:7] + " " + nsn[7:]
		case countryUS:
			return "+1 " + nsn[:3] + "-" + nsn[3:6] + "-" + nsn[6:]
		case countryDE:
			return "+49 " + ph.prefix + " " + ph.sub
		case countryGB:
			return "+44 " + nsn[:4] + " " + nsn[4:]
		case countryIN:
			return "+91 " + nsn[:5] + " " + nsn[5:]
		case countryNP:
			return "+977 " + nsn[:3] + "-" + nsn[3:]
		}
	case phoneNational:
		switch ph.country {
		case countryCN:
			return nsn[:3] + " " + nsn[3:7] + " " + nsn[7:]
		case countryUS:
			return "(" + nsn[:3] + ") " + nsn[3:6] + "-" + nsn[6:]
		case countryDE:
			return "0" + ph.prefix + " " + ph.sub
		case countryGB:
			return "0" + nsn[:4] + " " + nsn[4:]
		case countryIN:
			return "0" + nsn[:5] + " " + nsn[5:]
		case countryNP:
			return nsn[:3] + "-" + nsn[3:]
		}
	}
	return "+" + ph.callingCode + nsn
}

// usable reports whether the number is valid for its plan.
func (ph *phone) usable() bool { return ph.style <= phoneNational }

// plan draws one borrower.
func (w *worker) plan(id int64, b *borrowerPlan) {
	g, r := w.g, w.r
	*b = borrowerPlan{id: id}

	// A family member shares the phone (and home) of the borrower before
	// them: draw that borrower's profile from its own stream first.
	var household profile
	follower := false
	if id > 1 && g.pairLeader(id-1) {
		w.seedBorrower(id - 1)
		household = w.profile(id - 1)
		follower = household.phone.usable()
	}
	w.seedBorrower(id)
	b.p = w.profile(id)
	if follower {
		// Same home, same family name, a given name of their own.
		given := b.p.given
		b.p = household
		b.p.given = given % len(g.cat.countries[household.country].given)
		b.sharedPhone = true
	} else if g.pairLeader(id) && b.p.phone.usable() {
		b.sharedPhone = true
	}

	c := &g.cat.countries[b.p.country]
	nullEmailPM := 30
	if b.p.country == countryCN {
		nullEmailPM = 100
	}
	emailStyles := [...]int{emailName: 560, emailUser: 400 - nullEmailPM, emailInvalid: 5, emailNull: nullEmailPM + 35}
	b.emailStyle = pick(r, emailStyles[:])
	b.emailDomain = r.IntN(len(g.cat.emailDomains))
	b.emailInvalid = r.IntN(len(g.cat.invalidEmails))
	b.smsOptOut = perMille(r, 30)
	b.emailOptOut = perMille(r, 30)
	b.doNotContact = perMille(r, 10)
	switch n := r.IntN(1000); {
	case n < 3:
		b.life = lifeDeceased
	case n < 10:
		b.life = lifeBankrupt
	}
	b.class = pick(r, []int{classGood: 890, classLate: 60, classDelinquent: 35, classPartial: 15})

	// Loans: 1-3, 1.4 on average. Many borrowers have one billing day for
	// all their loans, so one message lists several items.
	b.nLoans = 1 + pick(r, []int{65, 30, 5})
	billingDay := w.anchorDay()
	sameDay := perMille(r, 600)
	multiCurrency := b.nLoans > 1 && perMille(r, 30)
	for i := range b.nLoans {
		l := &b.loans[i]
		anchor := billingDay
		if !sameDay {
			anchor = w.anchorDay()
		}
		currency := c.currency
		if multiCurrency && i > 0 {
			currency = c.altCurrency
		}
		if perMille(r, 1) && r.IntN(2) == 0 {
			currency = "XXY" // three upper-case letters, not ISO 4217
		}
		w.drawLoan(l, anchor, currency)
		w.behave(b, l)
	}

	if perMille(r, 10) {
		b.nQuiet = 1 + pick(r, []int{80, 20})
		for i := range b.nQuiet {
			w.quietWindow(&b.quiet[i], pick(r, []int{30, 25, 20, 15, 10, 10}))
		}
	}
	w.scenario(b)
}

// drawLoan draws the schedule and amounts of a loan.
func (w *worker) drawLoan(l *loanPlan, anchor int, currency string) {
	// Monthly schedules of 3, 6 or 12 periods; short consumer loans are the
	// most common.
	l.periods = [...]int{3, 6, 12}[pick(w.r, []int{70, 25, 5})]
	l.anchor = anchor
	// Months since origination: 0 (the first installment falls due next
	// month) to two months past the last installment.
	l.origin = w.g.asOfMonth - w.r.IntN(l.periods+3)
	l.currency = currency
	w.amounts(l)
}

// anchorDay draws a due day of the month: mostly 1-28, now and then 29-31
// (due on the month's last day when it is shorter).
func (w *worker) anchorDay() int {
	if perMille(w.r, 50) {
		return 29 + w.r.IntN(3)
	}
	return 1 + w.r.IntN(28)
}

// amounts draws the installment amounts of the loan in its currency.
func (w *worker) amounts(l *loanPlan) {
	lo, hi := int64(5000), int64(150000)
	for i := range w.g.cat.countries {
		if c := &w.g.cat.countries[i]; c.currency == l.currency {
			lo, hi = c.amountLo, c.amountHi
			break
		}
	}
	l.amount = lo + w.r.Int64N(hi-lo)
	// The last installment takes what rounding left: a little less.
	l.last = l.amount - w.r.Int64N(l.amount/20+1)
}

// dues fills d with the loan's due dates and returns them.
func (g *generator) dues(l *loanPlan, d *[maxPeriods]civil.Date) []civil.Date {
	for k := 1; k <= l.periods; k++ {
		d[k-1] = g.due(l.origin+k, l.anchor)
	}
	return d[:l.periods]
}

// behave draws how the borrower repaid the loan so far, and its status.
func (w *worker) behave(b *borrowerPlan, l *loanPlan) {
	g, r := w.g, w.r
	var buf [maxPeriods]civil.Date
	dues := g.dues(l, &buf)
	past := 0 // installments due before AsOf
	for past < len(dues) && dues[past] < g.asOf {
		past++
	}
	l.paidBefore, l.allPaid, l.partialSeq, l.partialPaid, l.prepaidSeq = g.asOf, false, 0, 0, 0
	l.status = statusActive
	if r.IntN(10) < 3 {
		l.paidBefore = g.asOf + 1 // paid what falls due today, before the run
	}

	switch {
	case b.life != lifeNone:
		// Stopped paying when it happened, two weeks to five months ago.
		l.paidBefore = g.asOf - civil.Date(15+r.IntN(150))
		l.status = statusBankrupt
		if b.life == lifeDeceased {
			l.status = statusDeceased
		}
		return
	case b.class == classLate && past > 0:
		missed := min(1+r.IntN(2), past)
		l.paidBefore = dues[past-missed]
		if r.IntN(4) == 0 {
			l.partialSeq = past - missed + 1
		}
	case b.class == classDelinquent && past > 0:
		first := r.IntN(past)
		l.paidBefore = dues[first]
		if r.IntN(10) < 3 {
			l.partialSeq = first + 1
		}
		if g.asOf-l.paidBefore > 90 && r.IntN(10) < 6 {
			l.status = statusChargedOff
		}
	case b.class == classPartial && past > 0:
		l.partialSeq = past
	case past == len(dues):
		// Repaid: closed, though now and then not yet marked so.
		l.allPaid = true
		if !perMille(r, 50) {
			l.status = statusPaidOff
		}
		return
	default:
		switch n := r.IntN(1000); {
		case n < 20 && past > 0:
			l.allPaid, l.status = true, statusPaidOff // repaid early
			return
		case n < 50 && past < len(dues):
			l.prepaidSeq = past + 1 // paid the next one ahead of time
			if dues[past] == g.asOf && past+1 < len(dues) {
				l.prepaidSeq++
			}
		}
	}
	if l.partialSeq > 0 {
		amt := l.amount
		if l.partialSeq == l.periods {
			amt = l.last
		}
		l.partialPaid = max(100, amt*int64(10+r.IntN(80))/100/100*100)
	}
	switch n := r.IntN(1000); {
	case l.status != statusActive:
	case n < 15 || (b.class != classGood && n < 60):
		l.status = statusDisputed
	case n == 999:
		l.status = statusUnknown
	}
}

// quietWindow draws one quiet window of the given kind.
func (w *worker) quietWindow(q *quietPlan, kind int) {
	q.kind = kind
	if kind == quietDated {
		q.from = w.g.asOf - 2 + civil.Date(w.r.IntN(5))
		q.to = q.from + 3 + civil.Date(w.r.IntN(12))
	}
}

// build turns the plan into rows and counts its cases.
func (w *worker) build(b *borrowerPlan, c *chunk) {
	g, cat := w.g, w.g.cat
	n := &c.counts.n
	p := &b.p
	ctry := &cat.countries[p.country]
	fam, given := ctry.family[p.family], ctry.given[p.given]

	row := Borrower{
		ID:           b.id,
		Phone:        p.phone.format(),
		Locale:       p.locale,
		TimeZone:     p.zone,
		SMSOptOut:    b.smsOptOut,
		EmailOptOut:  b.emailOptOut,
		DoNotContact: b.doNotContact,
	}
	if ctry.familyFirst {
		row.FullName = fam.text + given.text
	} else {
		row.FullName = given.text + " " + fam.text
	}
	if p.region >= 0 {
		row.Region = ctry.regions[p.region].code
	}
	switch b.emailStyle {
	case emailName:
		w.buf = append(w.buf[:0], given.ascii...)
		w.buf = append(w.buf, '.')
		w.buf = append(w.buf, fam.ascii...)
		w.buf = append(w.buf, '.')
		w.buf = strconv.AppendInt(w.buf, b.id, 10)
		w.buf = append(w.buf, '@')
		w.buf = append(w.buf, cat.emailDomains[b.emailDomain]...)
		row.Email = string(w.buf)
	case emailUser:
		w.buf = append(w.buf[:0], "user"...)
		w.buf = strconv.AppendInt(w.buf, b.id, 10)
		w.buf = append(w.buf, '@')
		w.buf = append(w.buf, cat.emailDomains[b.emailDomain]...)
		row.Email = string(w.buf)
	case emailInvalid:
		row.Email = cat.invalidEmails[b.emailInvalid]
	}
	c.borrowers = append(c.borrowers, row)
	c.counts.borrowers++

	n[caseCountryCN+caseID(p.country)]++
	count := func(id caseID, ok bool) {
		if ok {
			n[id]++
		}
	}
	count(caseFlorida, row.Region == "US-FL")
	count(caseKolkata, p.zone == "Asia/Kolkata")
	count(caseKathmandu, p.zone == "Asia/Kathmandu")
	count(caseUrumqi, p.zone == "Asia/Urumqi")
	count(caseOtherLocale, p.locale != "zh-CN" && p.locale != "en-US")
	count(casePhoneE164, p.phone.style == phoneE164)
	count(casePhoneInternational, p.phone.style == phoneInternational)
	count(casePhoneNational, p.phone.style == phoneNational)
	count(caseInvalidPhone, p.phone.style == phoneInvalid)
	count(caseNullPhone, p.phone.style == phoneNull)
	count(caseSharedPhone, b.sharedPhone)
	count(caseNullTimeZone, p.zone == "")
	count(caseInvalidTimeZone, p.zoneInvalid)
	count(caseNullRegion, p.region < 0)
	count(caseNullEmail, b.emailStyle == emailNull)
	count(caseInvalidEmail, b.emailStyle == emailInvalid)
	count(caseSMSOptOut, b.smsOptOut)
	count(caseEmailOptOut, b.emailOptOut)
	count(caseDoNotContact, b.doNotContact)
	// Conflicting location information: the number's zone is not the
	// borrower's zone.
	count(caseRegFConflict, p.phone.usable() && p.zone != "" && !p.zoneInvalid && p.phone.zone != p.zone)
	count(caseQuietWindow, b.nQuiet > 0)
	count(caseShowcase, b.showcase)
	count(caseMultiLoan, b.nLoans > 1)

	// Loans and their installments. Ids are numbered within the chunk
	// here and offset in borrower order by the stream.
	w.items = w.items[:0]
	currencies := 0
	for i := range b.nLoans {
		l := &b.loans[i]
		if i > 0 && l.currency != b.loans[0].currency {
			currencies++
		}
		loanID := int64(len(c.loans) + 1)
		c.loans = append(c.loans, Loan{
			ID:         loanID,
			BorrowerID: b.id,
			AccountRef: w.accountRef(b.id, i),
			Currency:   l.currency,
			Status:     l.status,
		})
		c.counts.loans++
		switch l.status {
		case statusActive:
			n[caseStatusActive]++
		case statusPaidOff:
			n[caseStatusPaidOff]++
		case statusChargedOff:
			n[caseStatusChargedOff]++
		case statusDisputed:
			n[caseStatusDisputed]++
		case statusBankrupt:
			n[caseStatusBankrupt]++
		case statusDeceased:
			n[caseStatusDeceased]++
		default:
			n[caseStatusUnknown]++
		}
		count(caseUnknownCurrency, l.currency == "XXY")

		var buf [maxPeriods]civil.Date
		for k, due := range g.dues(l, &buf) {
			seq := k + 1
			amount := l.amount
			if seq == l.periods {
				amount = l.last
			}
			var paid int64
			switch {
			case seq == l.partialSeq && !l.allPaid:
				paid = l.partialPaid
			case l.allPaid || due < l.paidBefore || seq == l.prepaidSeq:
				paid = amount
			}
			c.installments = append(c.installments, Installment{
				ID:              int64(len(c.installments) + 1),
				LoanID:          loanID,
				Seq:             seq,
				DueDate:         due,
				AmountDueMinor:  amount,
				AmountPaidMinor: paid,
			})
			c.counts.installments++
			switch {
			case paid >= amount:
				n[casePaidInFull]++
				count(casePrepaid, due > g.asOf)
			case paid > 0:
				n[casePartlyPaid]++
			}
			if paid < amount {
				if stage, ok := stageCase(int(g.asOf - due)); ok {
					n[caseCandidates]++
					n[stage]++
					w.items = append(w.items, candidate{due: due, currency: l.currency})
				}
			}
		}
	}
	count(caseMultiCurrency, currencies > 0)
	sameDay, sameDayCurrencies := false, false
	for i := range w.items {
		for j := i + 1; j < len(w.items); j++ {
			if w.items[i].due == w.items[j].due {
				sameDay = true
				sameDayCurrencies = sameDayCurrencies || w.items[i].currency != w.items[j].currency
			}
		}
	}
	count(caseMultiItemSameDay, sameDay)
	count(caseMultiCurrencySameDay, sameDayCurrencies)

	for i := range b.nQuiet {
		c.quiet = append(c.quiet, quietRow(int64(len(c.quiet)+1), b.id, &b.quiet[i]))
		c.counts.quietWindows++
	}
}

// quietRow builds the row of a quiet window.
func quietRow(id, borrower int64, q *quietPlan) QuietWindow {
	row := QuietWindow{ID: id, BorrowerID: borrower, StartsAt: "00:00", EndsAt: "24:00"}
	switch q.kind {
	case quietTuesday:
		row.Weekdays, row.Note = []int{int(time.Tuesday)}, "not on Tuesdays"
	case quietEvenings:
		row.StartsAt, row.EndsAt, row.Note = "18:00", "21:00", "not in the evening"
	case quietOvernight:
		row.StartsAt, row.EndsAt, row.Note = "20:00", "09:00", "works nights: not between 20:00 and 09:00"
	case quietDated:
		row.ValidFrom, row.ValidTo, row.Note = q.from, q.to, "in hospital until "+q.to.String()
	case quietWeekends:
		row.Weekdays, row.Note = []int{int(time.Sunday), int(time.Saturday)}, "not at weekends"
	case quietLunch:
		row.Weekdays = []int{int(time.Monday), int(time.Tuesday), int(time.Wednesday), int(time.Thursday), int(time.Friday)}
		row.StartsAt, row.EndsAt, row.Note = "12:00", "14:00", "not at lunchtime on working days"
	}
	return row
}

// accountRef returns "LN" and ten digits: a bijection of (borrower, loan
// index) onto 0..10^10-1 that depends on the seed, so references are unique
// and look random.
func (w *worker) accountRef(borrower int64, i int) string {
	const mod = 10_000_000_000
	const mul = 3_141_592_653 // odd and not a multiple of 5: invertible mod 10^10
	x := uint64(borrower)*maxLoans + uint64(i)
	hi, lo := bits.Mul64(x, mul)
	hi, lo = addCarry(hi, lo, w.g.opts.Seed%mod)
	v := bits.Rem64(hi, lo, mod)
	w.buf = append(w.buf[:0], "LN"...)
	w.buf = appendDigits(w.buf, v, 10)
	return string(w.buf)
}

func addCarry(hi, lo, v uint64) (uint64, uint64) {
	lo, carry := bits.Add64(lo, v, 0)
	return hi + carry, lo
}
