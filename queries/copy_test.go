package queries_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/loanremind/loanremind/queries"
	"github.com/loanremind/loanremind/queries/pgtest"
)

// copyRow is one row of the round-trip table.
type copyRow struct {
	id   int64
	text sql.NullString
	n    sql.NullInt64
	flag sql.NullBool
	day  sql.NullString
	at   sql.NullTime
	days sql.NullString
}

// Every kind of value lib/pq's COPY encodes comes back as it went in:
// text with tabs, newlines, backslashes and CJK, empty strings, NULLs,
// integers at the int64 limits, booleans, dates, timestamps and arrays.
func TestCopyFromRoundTrip(t *testing.T) {
	t.Parallel()
	db := pgtest.DB(t)
	ctx := context.Background()
	mustExec(t, db.DB, `CREATE TABLE "Copy Target" (id bigint PRIMARY KEY, "text" text, n bigint, flag boolean,
		day date, at timestamptz, days smallint[])`)
	at := time.Date(2026, 3, 8, 1, 59, 59, 123456000, time.UTC)
	texts := []string{"plain", "tab\there", "new\nline", `back\slash`, "cr\rlf", "【安心金融】您的借款", "", `\N`, "quote ' and \" marks"}
	var want []copyRow
	for i := range 1000 {
		r := copyRow{id: int64(i + 1)}
		if i%7 != 3 {
			r.text = sql.NullString{String: texts[i%len(texts)], Valid: true}
		}
		if i%5 != 0 {
			r.n = sql.NullInt64{Int64: int64(i) * 1_000_003 * []int64{1, -1}[i%2], Valid: true}
		}
		if i == 1 {
			r.n = sql.NullInt64{Int64: 1<<63 - 1, Valid: true}
		}
		if i == 2 {
			r.n = sql.NullInt64{Int64: -1 << 63, Valid: true}
		}
		if i%3 != 0 {
			r.flag = sql.NullBool{Bool: i%2 == 0, Valid: true}
		}
		if i%4 != 0 {
			r.day = sql.NullString{String: fmt.Sprintf("2028-02-%02d", 1+i%29), Valid: true}
		}
		if i%6 != 0 {
			r.at = sql.NullTime{Time: at.Add(time.Duration(i) * time.Hour), Valid: true}
		}
		if i%8 != 0 {
			r.days = sql.NullString{String: fmt.Sprintf("{%d,%d}", i%7, (i+3)%7), Valid: true}
		}
		want = append(want, r)
	}

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	i := 0
	n, err := queries.CopyFrom(ctx, tx, "Copy Target", []string{"id", "text", "n", "flag", "day", "at", "days"}, func(row []any) bool {
		if i == len(want) {
			return false
		}
		r := want[i]
		i++
		row[0] = r.id
		if r.text.Valid {
			row[1] = r.text.String
		}
		if r.n.Valid {
			row[2] = r.n.Int64
		}
		if r.flag.Valid {
			row[3] = r.flag.Bool
		}
		if r.day.Valid {
			row[4] = r.day.String
		}
		if r.at.Valid {
			row[5] = r.at.Time
		}
		if r.days.Valid {
			row[6] = r.days.String
		}
		return true
	})
	if err != nil || n != int64(len(want)) {
		t.Fatalf("CopyFrom = %d, %v; want %d rows", n, err, len(want))
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}

	rows, err := db.QueryContext(ctx, `SELECT id, "text", n, flag, to_char(day, 'YYYY-MM-DD'), at,
		CASE WHEN days IS NULL THEN NULL ELSE '{' || array_to_string(days, ',') || '}' END
		FROM "Copy Target" ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []copyRow
	for rows.Next() {
		var r copyRow
		if err := rows.Scan(&r.id, &r.text, &r.n, &r.flag, &r.day, &r.at, &r.days); err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("read back %d rows, wrote %d", len(got), len(want))
	}
	for i := range want {
		w, g := want[i], got[i]
		if g.at.Valid {
			g.at.Time = g.at.Time.UTC()
		}
		if fmt.Sprint(w) != fmt.Sprint(g) || (w.at.Valid && !w.at.Time.Equal(g.at.Time)) {
			t.Errorf("row %d:\n wrote %v\n  read %v", i, w, g)
		}
	}
}

// Several COPY statements share one transaction; no rows is a COPY of zero
// rows; rollback discards everything.
func TestCopyFromBatchesAndRollback(t *testing.T) {
	t.Parallel()
	db := pgtest.DB(t)
	ctx := context.Background()
	holidays := func(from, to int) func(row []any) bool {
		day := from
		return func(row []any) bool {
			if day > to {
				return false
			}
			row[0], row[1], row[2] = "CN", fmt.Sprintf("2026-10-%02d", day), "国庆节"
			day++
			return true
		}
	}
	cols := []string{"region", "date", "name"}

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ from, to, want int }{{1, 3, 3}, {4, 3, 0}, {4, 7, 4}} {
		n, err := queries.CopyFrom(ctx, tx, "holidays", cols, holidays(c.from, c.to))
		if err != nil || n != int64(c.want) {
			t.Fatalf("CopyFrom(%d..%d) = %d, %v; want %d", c.from, c.to, n, err, c.want)
		}
	}
	var inTx int
	if err := tx.QueryRow(`SELECT count(*) FROM holidays`).Scan(&inTx); err != nil || inTx != 7 {
		t.Errorf("transaction sees %d holidays (%v), want 7", inTx, err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	var after int
	if err := db.Get(&after, `SELECT count(*) FROM public.holidays`); err != nil || after != 0 {
		t.Errorf("%d holidays after rollback (%v)", after, err)
	}

	// A schema-qualified name.
	tx, err = db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := queries.CopyFrom(ctx, tx, "public.holidays", cols, holidays(1, 7)); err != nil || n != 7 {
		t.Fatalf("CopyFrom(public.holidays) = %d, %v", n, err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// Errors name the table: an unknown column, a constraint violation (which
// PostgreSQL reports at the end of the COPY), a value lib/pq cannot encode,
// a cancelled context and COPY outside a transaction's rules.
func TestCopyFromErrors(t *testing.T) {
	t.Parallel()
	db := pgtest.DB(t)
	ctx := context.Background()
	mustExec(t, db.DB, `INSERT INTO borrowers (id, full_name) VALUES (1, 'A')`)
	one := func(values ...any) func(row []any) bool {
		done := false
		return func(row []any) bool {
			if done {
				return false
			}
			copy(row, values)
			done = true
			return true
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	for _, c := range []struct {
		name    string
		ctx     context.Context
		table   string
		columns []string
		next    func(row []any) bool
		want    string
	}{
		{"unknown column", ctx, "borrowers", []string{"id", "nickname"}, one(int64(2), "x"), "nickname"},
		{"unknown table", ctx, "no_such_table", []string{"id"}, one(int64(2)), "no_such_table"},
		{"primary key", ctx, "borrowers", []string{"id", "full_name"}, one(int64(1), "again"), "borrowers_pkey"},
		{"foreign key", ctx, "loans", []string{"id", "borrower_id", "account_ref", "currency", "status"},
			one(int64(1), int64(99), "LN0000000001", "CNY", "active"), "loans_borrower_id_fkey"},
		{"check constraint", ctx, "loans", []string{"id", "borrower_id", "account_ref", "currency", "status"},
			one(int64(1), int64(1), "LN0000000001", "cny", "active"), "loans_currency_format"},
		{"unencodable value", ctx, "borrowers", []string{"id", "full_name"}, one(int64(3), struct{}{}), "borrowers"},
		{"no columns", ctx, "borrowers", nil, one(), "no columns"},
		{"cancelled", cancelled, "borrowers", []string{"id", "full_name"}, one(int64(4), "B"), "context canceled"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			_, err = queries.CopyFrom(c.ctx, tx, c.table, c.columns, c.next)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.table) {
				t.Errorf("error %v, want one naming %s and %q", err, c.table, c.want)
			}
			if c.name == "cancelled" && !errors.Is(err, context.Canceled) {
				t.Errorf("error %v does not wrap context.Canceled", err)
			}
		})
	}
}
