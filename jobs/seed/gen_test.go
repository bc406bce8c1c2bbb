package seed

import (
	"crypto/sha256"
	"fmt"
	"hash"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nyaruka/phonenumbers"

	"github.com/loanremind/loanremind/jobs/civil"
)

var testAsOf = civil.DateOf(2026, time.March, 16)

// hashYield returns a Yield that hashes every row it sees, per table.
func hashYield() (Yield, map[string]hash.Hash) {
	h := map[string]hash.Hash{}
	for _, t := range []string{"b", "l", "i", "q", "h"} {
		h[t] = sha256.New()
	}
	return Yield{
		Borrower:    func(r *Borrower) bool { fmt.Fprintf(h["b"], "%+v\n", *r); return true },
		Loan:        func(r *Loan) bool { fmt.Fprintf(h["l"], "%+v\n", *r); return true },
		Installment: func(r *Installment) bool { fmt.Fprintf(h["i"], "%+v\n", *r); return true },
		QuietWindow: func(r *QuietWindow) bool { fmt.Fprintf(h["q"], "%+v\n", *r); return true },
		Holiday:     func(r *Holiday) bool { fmt.Fprintf(h["h"], "%+v\n", *r); return true },
	}, h
}

func sums(h map[string]hash.Hash) string {
	var b strings.Builder
	for _, t := range []string{"b", "l", "i", "q", "h"} {
		fmt.Fprintf(&b, "%s=%x ", t, h[t].Sum(nil)[:8])
	}
	return b.String()
}

// The same N and S give the same rows whatever the number of goroutines and
// the chunk size; another S gives other rows.
func TestGenerateIsDeterministicAcrossWorkersAndChunks(t *testing.T) {
	t.Parallel()
	opts := Options{Borrowers: 4321, Seed: 42, AsOf: testAsOf}
	generate := func(t *testing.T, workers, chunk int) (string, Stats) {
		t.Helper()
		g, err := newGenerator(opts)
		if err != nil {
			t.Fatal(err)
		}
		g.workers, g.chunkSize = workers, chunk
		y, h := hashYield()
		stats, err := g.generate(y)
		if err != nil {
			t.Fatal(err)
		}
		return sums(h), stats
	}
	// One goroutine, one chunk: what the others must equal.
	first, firstStats := generate(t, 1, 4321)
	for _, c := range []struct{ workers, chunk int }{{1, 7}, {4, 100}, {3, 1024}, {8, 1}} {
		t.Run(fmt.Sprintf("workers=%d chunk=%d", c.workers, c.chunk), func(t *testing.T) {
			got, stats := generate(t, c.workers, c.chunk)
			if got != first {
				t.Errorf("workers=%d chunk=%d: rows differ:\n got %s\nwant %s", c.workers, c.chunk, got, first)
			}
			if fmt.Sprint(stats) != fmt.Sprint(firstStats) {
				t.Errorf("workers=%d chunk=%d: stats differ", c.workers, c.chunk)
			}
		})
	}
	y, h := hashYield()
	opts.Seed = 43
	if _, err := Generate(opts, y); err != nil {
		t.Fatal(err)
	}
	other := sums(h)
	for _, table := range []string{"b=", "l=", "i="} {
		i := strings.Index(first, table)
		if other[i:i+18] == first[i:i+18] {
			t.Errorf("seed 43 gives the same %s rows as seed 42", table)
		}
	}
}

// A borrower's rows depend only on S and its id: the first 1,000 borrowers
// are the same whatever N.
func TestBorrowersDoNotDependOnN(t *testing.T) {
	t.Parallel()
	collect := func(n int) []Borrower {
		var out []Borrower
		_, err := Generate(Options{Borrowers: n, Seed: 7, AsOf: testAsOf}, Yield{Borrower: func(b *Borrower) bool {
			if b.ID <= 1000 {
				out = append(out, *b)
			}
			return true
		}})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	a, b := collect(1000), collect(3000)
	// The last borrower of N=1000 may lead a family pair only when N
	// allows its member: compare all but it.
	if !slices.Equal(a[:999], b[:999]) {
		t.Error("the first borrowers differ between N=1000 and N=3000")
	}
}

// Rows keep the schema's rules and the spec's shapes: ids in order, loans
// 1-3 per borrower (1.4 on average), 3-, 6- or 12-month schedules with
// consecutive seqs on one day of the month, amounts in range and never
// negative, account references "LN" + 10 digits and unique.
func TestRowsAreWellFormed(t *testing.T) {
	t.Parallel()
	const n = 20000
	var (
		lastB, lastL, lastI, lastQ int64
		loansOf                    = map[int64]int{}
		loanOf                     = map[int64]*Loan{}
		refs                       = map[string]bool{}
		seqs                       = map[int64][]Installment{}
		problems                   []string
	)
	fail := func(format string, args ...any) {
		if len(problems) < 20 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	refRE := regexp.MustCompile(`^LN[0-9]{10}$`)
	currencyRE := regexp.MustCompile(`^[A-Z]{3}$`)
	stats, err := Generate(Options{Borrowers: n, Seed: 3, AsOf: testAsOf}, Yield{
		Borrower: func(b *Borrower) bool {
			if b.ID != lastB+1 {
				fail("borrower %d after %d", b.ID, lastB)
			}
			lastB = b.ID
			if b.FullName == "" || b.Locale == "" {
				fail("borrower %d: empty name or locale", b.ID)
			}
			return true
		},
		Loan: func(l *Loan) bool {
			if l.ID != lastL+1 {
				fail("loan %d after %d", l.ID, lastL)
			}
			lastL = l.ID
			loansOf[l.BorrowerID]++
			c := *l
			loanOf[l.ID] = &c
			if !refRE.MatchString(l.AccountRef) || refs[l.AccountRef] {
				fail("loan %d: account_ref %q malformed or repeated", l.ID, l.AccountRef)
			}
			refs[l.AccountRef] = true
			if !currencyRE.MatchString(l.Currency) {
				fail("loan %d: currency %q", l.ID, l.Currency)
			}
			return true
		},
		Installment: func(in *Installment) bool {
			if in.ID != lastI+1 {
				fail("installment %d after %d", in.ID, lastI)
			}
			lastI = in.ID
			if in.AmountDueMinor <= 0 || in.AmountPaidMinor < 0 || in.AmountPaidMinor > in.AmountDueMinor {
				fail("installment %d: due %d paid %d", in.ID, in.AmountDueMinor, in.AmountPaidMinor)
			}
			if loanOf[in.LoanID] == nil {
				fail("installment %d: loan %d not generated before it", in.ID, in.LoanID)
			}
			seqs[in.LoanID] = append(seqs[in.LoanID], *in)
			return true
		},
		QuietWindow: func(q *QuietWindow) bool {
			if q.ID != lastQ+1 || q.BorrowerID < 1 || q.BorrowerID > n {
				fail("quiet window %d after %d, borrower %d", q.ID, lastQ, q.BorrowerID)
			}
			lastQ = q.ID
			if q.StartsAt == q.EndsAt || (q.ValidFrom != 0 && q.ValidTo < q.ValidFrom) {
				fail("quiet window %d: %+v", q.ID, *q)
			}
			return true
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if lastB != n || stats.Borrowers != n || stats.Loans != lastL || stats.Installments != lastI || stats.QuietWindows != lastQ {
		t.Errorf("counts: stats %+v, last ids %d %d %d %d", stats, lastB, lastL, lastI, lastQ)
	}
	for id := int64(1); id <= n; id++ {
		if k := loansOf[id]; k < 1 || k > 3 {
			fail("borrower %d has %d loans", id, k)
		}
	}
	if avg := float64(lastL) / n; avg < 1.35 || avg > 1.45 {
		t.Errorf("%.3f loans per borrower, want about 1.4", avg)
	}
	for loanID, ins := range seqs {
		if p := len(ins); p != 3 && p != 6 && p != 12 {
			fail("loan %d has %d installments", loanID, p)
			continue
		}
		for k, in := range ins {
			if in.Seq != k+1 {
				fail("loan %d: seq %d at %d", loanID, in.Seq, k)
			}
			if k > 0 {
				py, pm, _ := ins[k-1].DueDate.YMD()
				y, m, _ := in.DueDate.YMD()
				if (y*12+int(m))-(py*12+int(pm)) != 1 {
					fail("loan %d: %s then %s is not monthly", loanID, ins[k-1].DueDate, in.DueDate)
				}
			}
			if loanOf[loanID].Currency == "CNY" && (in.AmountDueMinor < 40000 || in.AmountDueMinor > 500000) {
				fail("loan %d: CNY installment of %d minor units, want ¥500.00-¥5,000.00", loanID, in.AmountDueMinor)
			}
		}
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// Candidate items (unpaid, due between 3 days after and 59 days before
// AsOf) grow linearly with N and stay at 0.25-0.32 per borrower.
func TestCandidatesScaleLinearly(t *testing.T) {
	t.Parallel()
	count := func(n int) float64 {
		st, err := Generate(Options{Borrowers: n, Seed: 11, AsOf: testAsOf}, Yield{})
		if err != nil {
			t.Fatal(err)
		}
		return float64(st.ByCase["candidates"])
	}
	small, large := count(25000), count(100000)
	if r := small / 25000; r < 0.25 || r > 0.32 {
		t.Errorf("%.3f candidates per borrower at N=25,000, want 0.25-0.32", r)
	}
	if ratio := large / small; ratio < 3.85 || ratio > 4.15 {
		t.Errorf("4×N gives %.2f× the candidates, want about 4", ratio)
	}
}

// Every number meant to be valid is valid for nyaruka/phonenumbers in its
// country (national formats included), says the zone the generator meant,
// and every invalid one is invalid.
func TestPhonesParseAsIntended(t *testing.T) {
	t.Parallel()
	g, err := newGenerator(Options{Borrowers: 5000, Seed: 5, AsOf: testAsOf})
	if err != nil {
		t.Fatal(err)
	}
	w := g.newWorker()
	aliases := map[string]string{"Asia/Calcutta": "Asia/Kolkata", "Asia/Katmandu": "Asia/Kathmandu"}
	var b borrowerPlan
	seen := map[int]int{}
	bad := 0
	for id := int64(1); id <= 5000 && bad < 10; id++ {
		w.plan(id, &b)
		ph := &b.p.phone
		raw := ph.format()
		seen[ph.style]++
		if ph.style == phoneNull {
			if raw != "" {
				t.Errorf("borrower %d: null phone formats as %q", id, raw)
			}
			continue
		}
		num, perr := phonenumbers.Parse(raw, g.cat.countries[ph.country].iso)
		valid := perr == nil && phonenumbers.IsValidNumber(num)
		if valid != ph.usable() {
			t.Errorf("borrower %d: %q (style %d) valid=%v", id, raw, ph.style, valid)
			bad++
			continue
		}
		if !valid {
			continue
		}
		zones, _ := phonenumbers.GetTimezonesForNumber(num)
		for i, z := range zones {
			if a, ok := aliases[z]; ok {
				zones[i] = a
			}
		}
		if !slices.Contains(zones, ph.zone) {
			t.Errorf("borrower %d: %q is in %v, the generator meant %s", id, raw, zones, ph.zone)
			bad++
		}
		if ph.style == phoneE164 && !regexp.MustCompile(`^\+[1-9][0-9]{7,14}$`).MatchString(raw) {
			t.Errorf("borrower %d: %q is not E.164", id, raw)
		}
		if ph.country == countryUS {
			nsn := strings.Map(digitsOnly, raw)
			nsn = nsn[len(nsn)-10:]
			if ex := nsn[3:6]; ex == "555" || ex[1:] == "11" || ex[0] < '2' {
				t.Errorf("borrower %d: %q has exchange %s", id, raw, ex)
			}
		}
	}
	for style := phoneE164; style <= phoneNull; style++ {
		if seen[style] == 0 {
			t.Errorf("no phone of style %d among 5,000 borrowers", style)
		}
	}
}

func digitsOnly(r rune) rune {
	if r >= '0' && r <= '9' {
		return r
	}
	return -1
}

// Valid zones load, invalid ones do not; the cheap e-mail check the policy
// uses accepts the valid addresses and rejects the invalid ones.
func TestZonesAndEmails(t *testing.T) {
	t.Parallel()
	cat := newCatalog()
	invalidZone := map[string]bool{}
	for _, z := range cat.invalidZones {
		invalidZone[z] = true
		if _, err := time.LoadLocation(z); err == nil {
			t.Errorf("invalid zone %q loads", z)
		}
	}
	invalidEmail := map[string]bool{}
	for _, e := range cat.invalidEmails {
		invalidEmail[e] = true
	}
	loaded := map[string]bool{}
	_, err := Generate(Options{Borrowers: 20000, Seed: 9, AsOf: testAsOf}, Yield{Borrower: func(b *Borrower) bool {
		if z := b.TimeZone; z != "" && !invalidZone[z] && !loaded[z] {
			if _, err := time.LoadLocation(z); err != nil {
				t.Errorf("borrower %d: zone %q: %v", b.ID, z, err)
			}
			loaded[z] = true
		}
		if e := b.Email; e != "" && plausibleEmail(e) == invalidEmail[e] {
			t.Errorf("borrower %d: email %q: plausible=%v", b.ID, e, plausibleEmail(e))
		}
		return true
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, z := range []string{"Asia/Shanghai", "Asia/Urumqi", "America/New_York", "America/Chicago", "America/Denver",
		"America/Los_Angeles", "America/Phoenix", "Europe/Berlin", "Europe/London", "Asia/Kolkata", "Asia/Kathmandu"} {
		if !loaded[z] {
			t.Errorf("no borrower in %s", z)
		}
	}
}

// plausibleEmail is the policy's cheap check: one '@', a non-empty local
// part, a dot in the domain, no spaces.
func plausibleEmail(s string) bool {
	local, domain, ok := strings.Cut(s, "@")
	return ok && local != "" && !strings.Contains(domain, "@") && strings.Contains(domain, ".") && !strings.ContainsAny(s, " \t")
}

// Every case the spec lists occurs among the first 1,000 borrowers, thanks
// to the showcase borrowers, and at realistic rates in a larger set.
func TestEveryCaseOccurs(t *testing.T) {
	t.Parallel()
	small, err := Generate(Options{Borrowers: 1000, Seed: 1, AsOf: testAsOf}, Yield{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range caseNames() {
		if small.ByCase[name] == 0 {
			t.Errorf("case %s does not occur among 1,000 borrowers", name)
		}
	}
	large, err := Generate(Options{Borrowers: 100000, Seed: 1, AsOf: testAsOf}, Yield{})
	if err != nil {
		t.Fatal(err)
	}
	rate := func(name string) float64 { return float64(large.ByCase[name]) / float64(large.Borrowers) }
	for _, c := range []struct {
		name     string
		min, max float64
	}{
		{"country:CN", 0.67, 0.73},
		{"sms_opt_out", 0.02, 0.04},
		{"email_opt_out", 0.02, 0.04},
		{"do_not_contact", 0.005, 0.015},
		{"quiet_window", 0.008, 0.02},
		{"shared_phone", 0.003, 0.008},
		{"invalid_phone", 0.002, 0.012},
		{"null_phone", 0.01, 0.05},
		{"null_time_zone", 0.05, 0.25},
		{"invalid_time_zone", 0.001, 0.008},
	} {
		t.Run(c.name, func(t *testing.T) {
			if r := rate(c.name); r < c.min || r > c.max {
				t.Errorf("%s: %.4f of borrowers, want %.3f-%.3f", c.name, r, c.min, c.max)
			}
		})
	}
	if active, loans := large.ByCase["status:active"], large.Loans; float64(active) < 0.6*float64(loans) {
		t.Errorf("%d of %d loans active, want most", active, loans)
	}
}

func TestHolidays(t *testing.T) {
	t.Parallel()
	hs := holidays()
	has := map[string]bool{}
	for i, h := range hs {
		key := h.Region + " " + h.Date.String()
		if has[key] {
			t.Errorf("holiday %s listed twice", key)
		}
		has[key] = true
		if i > 0 && (hs[i-1].Region > h.Region || (hs[i-1].Region == h.Region && hs[i-1].Date >= h.Date)) {
			t.Errorf("holidays out of order at %s", key)
		}
	}
	for _, want := range []string{
		// 国务院办公厅关于2026年部分节假日安排的通知
		"CN 2026-01-01", "CN 2026-01-03", "CN 2026-02-15", "CN 2026-02-23", "CN 2026-04-04", "CN 2026-04-06",
		"CN 2026-05-01", "CN 2026-05-05", "CN 2026-06-19", "CN 2026-06-21", "CN 2026-09-25", "CN 2026-09-27",
		"CN 2026-10-01", "CN 2026-10-07",
		"CN 2027-01-01", "CN 2027-02-05", "CN 2027-02-08", "CN 2027-04-05", "CN 2027-05-01", "CN 2027-06-09",
		"CN 2027-09-15", "CN 2027-10-01", "CN 2027-10-03",
		// Observed US federal holidays.
		"US 2026-01-01", "US 2026-01-19", "US 2026-02-16", "US 2026-05-25", "US 2026-06-19", "US 2026-07-03",
		"US 2026-09-07", "US 2026-10-12", "US 2026-11-11", "US 2026-11-26", "US 2026-12-25",
		"US 2027-01-01", "US 2027-01-18", "US 2027-02-15", "US 2027-05-31", "US 2027-06-18", "US 2027-07-05",
		"US 2027-09-06", "US 2027-10-11", "US 2027-11-11", "US 2027-11-25", "US 2027-12-24", "US 2027-12-31",
	} {
		if !has[want] {
			t.Errorf("holiday %s missing", want)
		}
	}
	for _, notHoliday := range []string{"CN 2026-01-04", "CN 2026-02-14", "CN 2026-02-28", "CN 2026-10-08", "CN 2026-10-10", "US 2026-07-04"} {
		if has[notHoliday] {
			t.Errorf("%s is a working day (or not the observed day), not a holiday", notHoliday)
		}
	}
}

func TestOptionsAreValidated(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		o    Options
	}{
		{"negative borrowers", Options{Borrowers: -1, AsOf: testAsOf}},
		{"too many borrowers", Options{Borrowers: MaxBorrowers + 1, AsOf: testAsOf}},
		{"no as-of date", Options{Borrowers: 10}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := Generate(c.o, Yield{}); err == nil {
				t.Errorf("%+v accepted", c.o)
			}
		})
	}
	st, err := Generate(Options{Borrowers: 0, AsOf: testAsOf}, Yield{})
	if err != nil || st.Borrowers != 0 || st.Holidays == 0 {
		t.Errorf("N=0: %+v, %v; want no borrowers and the holidays", st, err)
	}
}

// A yield returning false stops Generate.
func TestYieldStops(t *testing.T) {
	t.Parallel()
	seen := 0
	_, err := Generate(Options{Borrowers: 10000, Seed: 1, AsOf: testAsOf}, Yield{Borrower: func(*Borrower) bool {
		seen++
		return seen < 10
	}})
	if err != nil || seen != 10 {
		t.Errorf("saw %d borrowers (err %v), want 10", seen, err)
	}
}

func TestNthWeekdayAndDueDates(t *testing.T) {
	t.Parallel()
	if d := nthWeekday(2026, time.May, time.Monday, -1); d.String() != "2026-05-25" {
		t.Errorf("last Monday of May 2026 = %s", d)
	}
	if d := nthWeekday(2026, time.November, time.Thursday, 4); d.String() != "2026-11-26" {
		t.Errorf("fourth Thursday of November 2026 = %s", d)
	}
	g, err := newGenerator(Options{Borrowers: 1, AsOf: civil.DateOf(2028, time.January, 10)})
	if err != nil {
		t.Fatal(err)
	}
	feb := 2028*12 + 1
	for _, c := range []struct {
		anchor int
		want   string
	}{{31, "2028-02-29"}, {29, "2028-02-29"}, {28, "2028-02-28"}, {1, "2028-02-01"}} {
		t.Run(fmt.Sprintf("February 2028 on day %d", c.anchor), func(t *testing.T) {
			if got := g.due(feb, c.anchor).String(); got != c.want {
				t.Errorf("due in February 2028 on day %d = %s, want %s", c.anchor, got, c.want)
			}
		})
	}
	if got := g.due(feb+100, 31).String(); got != "2036-06-30" {
		t.Errorf("due outside the cached calendar = %s", got)
	}
}
