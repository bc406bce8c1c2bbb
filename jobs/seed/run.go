package seed

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"

	"github.com/loanremind/loanremind/jobs/civil"
	"github.com/loanremind/loanremind/queries"
)

// ErrNotEmpty is returned (wrapped, naming the table) by Run when a table it
// would load already has rows.
var ErrNotEmpty = errors.New("table is not empty")

// The tables Run loads, in the order their foreign keys need.
const (
	tableBorrowers    = "borrowers"
	tableLoans        = "loans"
	tableInstallments = "installments"
	tableQuietWindows = "borrower_quiet_windows"
	tableHolidays     = "holidays"
)

// progressEvery is how often, in rows, Run reports progress.
const progressEvery = 100_000

// table says how one table's rows come out of a chunk.
type table struct {
	name    string
	columns []string
	rows    func(c *chunk) int
	fill    func(c *chunk, i int, row []any, dates *dateText)
}

func tables() []table {
	return []table{
		{
			name: tableBorrowers,
			columns: []string{"id", "full_name", "phone", "email", "locale", "time_zone", "region",
				"sms_opt_out", "email_opt_out", "do_not_contact"},
			rows: func(c *chunk) int { return len(c.borrowers) },
			fill: func(c *chunk, i int, row []any, _ *dateText) {
				b := &c.borrowers[i]
				row[0], row[1], row[2], row[3] = b.ID, b.FullName, nullable(b.Phone), nullable(b.Email)
				row[4], row[5], row[6] = b.Locale, nullable(b.TimeZone), nullable(b.Region)
				row[7], row[8], row[9] = b.SMSOptOut, b.EmailOptOut, b.DoNotContact
			},
		},
		{
			name:    tableLoans,
			columns: []string{"id", "borrower_id", "account_ref", "currency", "status"},
			rows:    func(c *chunk) int { return len(c.loans) },
			fill: func(c *chunk, i int, row []any, _ *dateText) {
				l := &c.loans[i]
				row[0], row[1], row[2], row[3], row[4] = l.ID, l.BorrowerID, l.AccountRef, l.Currency, l.Status
			},
		},
		{
			name:    tableInstallments,
			columns: []string{"id", "loan_id", "seq", "due_date", "amount_due_minor", "amount_paid_minor"},
			rows:    func(c *chunk) int { return len(c.installments) },
			fill: func(c *chunk, i int, row []any, dates *dateText) {
				in := &c.installments[i]
				row[0], row[1], row[2] = in.ID, in.LoanID, int64(in.Seq)
				row[3], row[4], row[5] = dates.of(in.DueDate), in.AmountDueMinor, in.AmountPaidMinor
			},
		},
	}
}

// Run generates the data for opts and writes it with COPY into empty
// borrowers, loans, installments, borrower_quiet_windows and holidays
// tables: one transaction per table, parents first, while goroutines
// generate the rows the COPY will need next. It then moves the quiet
// windows' id sequence past the ids it wrote and ANALYZEs the tables.
//
// Run refuses, with an error naming the table and wrapping ErrNotEmpty, to
// write into a table that has rows. A Run that fails part way leaves the
// tables it committed; empty them before running it again.
func Run(ctx context.Context, db *sql.DB, opts Options) (Stats, error) {
	g, err := newGenerator(opts)
	if err != nil {
		return Stats{}, err
	}
	full, err := queries.LenderTablesWithRows(ctx, db)
	if err != nil {
		return Stats{}, fmt.Errorf("seed: check tables: %w", err)
	}
	if len(full) > 0 {
		return Stats{}, fmt.Errorf("seed: table %s already has rows: %w", full[0], ErrNotEmpty)
	}

	dates := newDateText(g)
	var stats Stats
	// The quiet windows are few: keep them from the borrowers' pass and
	// write them after the borrowers rather than generate everything again.
	var quiet []QuietWindow
	keep := func(c *chunk) { quiet = append(quiet, c.quiet...) }
	for i, t := range tables() {
		counts, err := g.load(ctx, db, t, dates, keep)
		if err != nil {
			return Stats{}, err
		}
		if i == 0 { // every pass generates the same data: count it once
			stats, keep = counts.stats(), nil
		}
	}
	quietColumns := []string{"id", "borrower_id", "weekdays", "starts_at", "ends_at", "valid_from", "valid_to", "note"}
	err = g.loadRows(ctx, db, tableQuietWindows, quietColumns, len(quiet), func(i int, row []any) {
		q := &quiet[i]
		row[0], row[1] = q.ID, q.BorrowerID
		if q.Weekdays != nil {
			row[2] = intArray(q.Weekdays)
		}
		row[3], row[4] = q.StartsAt, q.EndsAt
		if q.ValidFrom != 0 {
			row[5] = dates.of(q.ValidFrom)
		}
		if q.ValidTo != 0 {
			row[6] = dates.of(q.ValidTo)
		}
		row[7] = nullable(q.Note)
	})
	if err != nil {
		return Stats{}, err
	}
	hs := holidays()
	err = g.loadRows(ctx, db, tableHolidays, []string{"region", "date", "name"}, len(hs), func(i int, row []any) {
		row[0], row[1], row[2] = hs[i].Region, dates.of(hs[i].Date), hs[i].Name
	})
	if err != nil {
		return Stats{}, err
	}
	stats.Holidays = int64(len(hs))

	// The quiet windows carry explicit ids: move the sequence past them so
	// that later inserts that take the default do not collide.
	if err := queries.FinishSeed(ctx, db); err != nil {
		return Stats{}, fmt.Errorf("seed: %w", err)
	}
	return stats, nil
}

// load generates the data set once more and COPYs one table's rows of it
// in one transaction. The rows go in several COPY statements of at most
// copyBatchRows rows: PostgreSQL checks the foreign keys of a statement's
// rows at its end, and checks the rows of a small statement while its pages
// are still in shared buffers (one COPY of 6.7 million installments took
// more than twice as long as the same rows in COPYs of 500,000).
//
// keep, if not nil, sees every chunk before its rows are sent.
func (g *generator) load(ctx context.Context, db *sql.DB, t table, dates *dateText, keep func(*chunk)) (caseCounts, error) {
	var counts caseCounts
	err := inTx(ctx, db, t.name, func(tx *sql.Tx) error {
		s := g.start(ctx)
		defer s.stop()
		var (
			cur    *chunk
			i      int
			n      int64
			genErr error
			done   bool
		)
		next := func(row []any) bool {
			for cur == nil || i == t.rows(cur) {
				if cur != nil {
					s.release(cur)
				}
				if cur, genErr = s.next(); cur == nil {
					done = true
					return false
				}
				counts.add(&cur.counts)
				if keep != nil {
					keep(cur)
				}
				i = 0
			}
			t.fill(cur, i, row, dates)
			i++
			if n++; n%progressEvery == 0 {
				g.progress(t.name, n)
			}
			return true
		}
		for !done {
			inBatch := 0
			_, err := queries.CopyFrom(ctx, tx, t.name, t.columns, func(row []any) bool {
				if inBatch == g.copyBatchRows {
					return false
				}
				inBatch++
				return next(row)
			})
			if err != nil {
				return err
			}
		}
		if genErr != nil {
			return genErr
		}
		if n == 0 || n%progressEvery != 0 {
			g.progress(t.name, n)
		}
		return nil
	})
	return counts, err
}

// loadRows COPYs n rows, filled by fill, into a table in one transaction.
func (g *generator) loadRows(ctx context.Context, db *sql.DB, name string, columns []string, n int, fill func(i int, row []any)) error {
	return inTx(ctx, db, name, func(tx *sql.Tx) error {
		i := 0
		_, err := queries.CopyFrom(ctx, tx, name, columns, func(row []any) bool {
			if i == n {
				return false
			}
			fill(i, row)
			i++
			return true
		})
		if err == nil {
			g.progress(name, int64(n))
		}
		return err
	})
}

func (g *generator) progress(table string, rows int64) {
	if g.opts.Progress != nil {
		g.opts.Progress(table, rows)
	}
}

// inTx runs f in a transaction and commits it.
func inTx(ctx context.Context, db *sql.DB, name string, f func(tx *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("seed: %s: %w", name, err)
	}
	defer tx.Rollback()
	if err := f(tx); err != nil {
		return fmt.Errorf("seed: %s: %w", name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("seed: %s: commit: %w", name, err)
	}
	return nil
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// intArray formats a PostgreSQL array literal: {1,2}.
func intArray(v []int) string {
	b := []byte{'{'}
	for i, x := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(x), 10)
	}
	return string(append(b, '}'))
}

// dateText caches the text of the dates around AsOf, boxed once, for COPY.
type dateText struct {
	base civil.Date
	text []any
}

func newDateText(g *generator) *dateText {
	d := &dateText{base: g.months[0]}
	for day := g.months[0]; day < g.months[len(g.months)-1]; day++ {
		d.text = append(d.text, day.String())
	}
	return d
}

func (d *dateText) of(day civil.Date) any {
	if i := int(day - d.base); i >= 0 && i < len(d.text) {
		return d.text[i]
	}
	return day.String()
}
