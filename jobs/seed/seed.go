// Package seed generates deterministic synthetic lender data (borrowers,
// loans, installments, borrower quiet windows and holidays) that exercises
// every rule of the contact policy, and loads it into PostgreSQL with COPY.
//
// The same number of borrowers and the same seed give the same rows, byte for
// byte, however many goroutines generate them: every borrower draws from its
// own random stream, math/rand/v2's PCG seeded with the seed and a value
// derived from the borrower's id, and loans, installments and quiet windows
// are numbered in borrower order.
//
// Most borrowers are drawn at realistic rates. The first 40 borrowers of
// every block of 1,000 (ids 1-40, 1001-1040, …) are showcase borrowers, one
// per rare case (Reg F location conflicts, invalid zones and numbers, a
// family sharing a phone, quiet windows, each loan status, …), each with an
// installment that is a candidate on the as-of date, so that even a small
// data set shows every rule at work.
package seed

import (
	"context"
	"errors"
	"fmt"

	"github.com/loanremind/loanremind/jobs/civil"
)

// Options say what to generate.
type Options struct {
	Borrowers int        // N: borrowers 1..N
	Seed      uint64     // S; same N and S → identical rows, byte for byte
	AsOf      civil.Date // due dates are spread around it
	// Progress, if set, is called by Run every ~100,000 rows of a table and
	// once when the table is done. It runs on Run's goroutine.
	Progress func(table string, rows int64)
}

// Stats count what was generated.
type Stats struct {
	Borrowers, Loans, Installments, QuietWindows, Holidays int64
	// ByCase counts each generated case, e.g. "invalid_phone",
	// "null_time_zone", "shared_phone", "status:disputed",
	// "stage:overdue_7d", "multi_currency", "quiet_window", "florida",
	// "reg_f_conflict" and "candidates" (installments with something left to
	// pay, due between 3 days after and 59 days before AsOf). Borrower cases
	// count borrowers, loan cases loans and stage cases installments.
	ByCase map[string]int64
}

// Borrower is one row of borrowers. An empty Phone, Email, TimeZone or
// Region is NULL.
type Borrower struct {
	ID           int64
	FullName     string
	Phone        string
	Email        string
	Locale       string
	TimeZone     string
	Region       string
	SMSOptOut    bool
	EmailOptOut  bool
	DoNotContact bool
}

// Loan is one row of loans.
type Loan struct {
	ID         int64
	BorrowerID int64
	AccountRef string
	Currency   string
	Status     string
}

// Installment is one row of installments. Amounts are minor units of the
// loan's currency.
type Installment struct {
	ID              int64
	LoanID          int64
	Seq             int
	DueDate         civil.Date
	AmountDueMinor  int64
	AmountPaidMinor int64
}

// QuietWindow is one row of borrower_quiet_windows: a time the borrower asked
// not to be contacted, in their local time. Weekdays nil means every day (0 =
// Sunday); StartsAt and EndsAt are "HH:MM" ("24:00" ends at midnight);
// ValidFrom and ValidTo of 0 are NULL (unbounded).
type QuietWindow struct {
	ID         int64
	BorrowerID int64
	Weekdays   []int
	StartsAt   string
	EndsAt     string
	ValidFrom  civil.Date
	ValidTo    civil.Date
	Note       string
}

// Holiday is one row of holidays: region is a country ("CN") or an ISO
// 3166-2 code.
type Holiday struct {
	Region string
	Date   civil.Date
	Name   string
}

// Yield receives the generated rows. Each function is called in id order of
// its table (holidays: by region and date); a nil function skips its table,
// and one returning false stops Generate. The row is reused after the call
// returns: copy what you keep.
type Yield struct {
	Borrower    func(*Borrower) bool
	Loan        func(*Loan) bool
	Installment func(*Installment) bool
	QuietWindow func(*QuietWindow) bool
	Holiday     func(*Holiday) bool
}

// Generate is the pure generator: it builds the rows for opts, without a
// database, and hands them to y. Borrowers are generated in blocks; for each
// block Generate yields its borrowers, then its loans, its installments and
// its quiet windows, and the holidays come last. The Stats are those of the
// whole data set unless a yield function stopped it early.
func Generate(opts Options, y Yield) (Stats, error) {
	g, err := newGenerator(opts)
	if err != nil {
		return Stats{}, err
	}
	return g.generate(y)
}

func (g *generator) generate(y Yield) (Stats, error) {
	s := g.start(context.Background())
	defer s.stop()
	var counts caseCounts
	for {
		c, err := s.next()
		if err != nil {
			return Stats{}, err
		}
		if c == nil {
			break
		}
		counts.add(&c.counts)
		ok := yieldAll(c.borrowers, y.Borrower) && yieldAll(c.loans, y.Loan) &&
			yieldAll(c.installments, y.Installment) && yieldAll(c.quiet, y.QuietWindow)
		s.release(c)
		if !ok {
			return counts.stats(), nil
		}
	}
	hs := holidays()
	stats := counts.stats()
	stats.Holidays = int64(len(hs))
	yieldAll(hs, y.Holiday)
	return stats, nil
}

func yieldAll[T any](rows []T, yield func(*T) bool) bool {
	if yield == nil {
		return true
	}
	for i := range rows {
		if !yield(&rows[i]) {
			return false
		}
	}
	return true
}

// MaxBorrowers bounds Options.Borrowers, so that account references stay
// unique in their ten digits.
const MaxBorrowers = 1_000_000_000

func (o Options) validate() error {
	var errs []error
	if o.Borrowers < 0 || o.Borrowers > MaxBorrowers {
		errs = append(errs, fmt.Errorf("seed: borrowers: %d is not between 0 and %d", o.Borrowers, MaxBorrowers))
	}
	// Zero (1970-01-01) is almost always a field left unset; the year range
	// keeps every schedule in four-digit years.
	if o.AsOf == 0 {
		errs = append(errs, errors.New("seed: as_of: not set"))
	}
	if y, _, _ := o.AsOf.YMD(); y < 1900 || y > 9000 {
		errs = append(errs, fmt.Errorf("seed: as_of: %s is out of range", o.AsOf))
	}
	return errors.Join(errs...)
}
