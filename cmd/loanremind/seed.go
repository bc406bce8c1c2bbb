package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/loanremind/loanremind/jobs/civil"
	"github.com/loanremind/loanremind/jobs/seed"
)

func runSeed(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "seed", "seed --borrowers N [--seed S] [--as-of DATE]")
	dbURL := addDatabaseFlag(fs, e)
	n := fs.Int("borrowers", 0, "how many borrowers to generate")
	s := fs.Uint64("seed", 1, "random seed: the same N and S give identical rows")
	asOfFlag := fs.String("as-of", "", "spread due dates around this `date` (YYYY-MM-DD; default: today in Asia/Shanghai)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *n < 1 {
		return usageErrorf("seed needs --borrowers N (at least 1)")
	}
	asOf, err := seedDate(*asOfFlag)
	if err != nil {
		return err
	}
	db, err := openDB(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = seedDB(ctx, db, seed.Options{Borrowers: *n, Seed: *s, AsOf: asOf}, e.stdout)
	return err
}

// seedDate parses --as-of, defaulting to today in the default business zone.
func seedDate(s string) (civil.Date, error) {
	if s == "" {
		loc, _ := time.LoadLocation("Asia/Shanghai")
		return civil.DateIn(time.Now(), loc), nil
	}
	d, err := civil.ParseDate(s)
	if err != nil {
		return 0, usageErrorf("--as-of: %v", err)
	}
	return d, nil
}

// seedDB writes the synthetic data and reports what it wrote.
func seedDB(ctx context.Context, db *sqlx.DB, opts seed.Options, w io.Writer) (seed.Stats, error) {
	start := time.Now()
	stats, err := seed.Run(ctx, db.DB, opts)
	if err != nil {
		return stats, err
	}
	fmt.Fprintf(w, "seeded %d borrowers, %d loans, %d installments, %d quiet windows, %d holidays in %s (seed %d, as of %s)\n",
		stats.Borrowers, stats.Loans, stats.Installments, stats.QuietWindows, stats.Holidays,
		time.Since(start).Round(time.Millisecond), opts.Seed, opts.AsOf)
	cases := make([]string, 0, len(stats.ByCase))
	for k := range stats.ByCase {
		cases = append(cases, k)
	}
	sort.Strings(cases)
	for _, k := range cases {
		fmt.Fprintf(w, "  %-28s %d\n", k, stats.ByCase[k])
	}
	return stats, nil
}
