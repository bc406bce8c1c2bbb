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

// Rows encoded ahead with the Append functions and streamed with
// CopyRowsInto come back as they went in, over several chunks: text with
// COPY's special characters and CJK, NULLs, integers at their limits,
// booleans, and timestamps to the microsecond (later digits dropped).
func TestCopyRowsRoundTrip(t *testing.T) {
	t.Parallel()
	db := pgtest.DB(t)
	ctx := context.Background()
	mustExec(t, db.DB, `CREATE TABLE copy_rows (id bigint PRIMARY KEY, "text" text, n bigint, flag boolean, at timestamptz)`)
	texts := []string{"plain", "tab\there", "new\nline", `back\slash`, "cr\rlf", "【安心金融】您的借款¥1,234.56", `\N`,
		"quote ' and \" marks", "end\\", strings.Repeat("长", 5000)}
	at := time.Date(2026, 3, 8, 1, 59, 59, 123456789, time.FixedZone("+0530", 5*3600+1800))
	type row struct {
		text string
		n    int64
		flag bool
		at   time.Time
	}
	want := make([]row, 3000) // some 4 MiB: several chunks
	var rows queries.CopyRows
	for i := range want {
		r := row{text: texts[i%len(texts)], n: int64(i) * 1_000_003 * []int64{1, -1}[i%2], flag: i%3 == 0,
			at: at.Add(time.Duration(i) * time.Hour)}
		switch i {
		case 1:
			r.n = 1<<63 - 1
		case 2:
			r.n = -1 << 63
		case 5:
			r.text = "" // NULL
		case 6:
			r.at = time.Time{} // NULL
		}
		want[i] = r
		b := rows.Begin()
		b = queries.AppendTextOrNull(b, r.text)
		b = queries.AppendInt(b, r.n)
		b = queries.AppendBool(b, r.flag)
		b = queries.AppendTime(b, r.at)
		rows.End(b)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	err = queries.CopyRowsInto(ctx, conn, "copy_rows", []string{"text", "n", "flag", "at", "id"}, rows.Len(),
		func(b []byte, i int) []byte {
			b = append(b, rows.Row(i)...)
			return queries.EndRow(queries.AppendInt(b, int64(i)))
		})
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}

	rs, err := db.QueryContext(ctx, `SELECT "text", n, flag, at FROM copy_rows ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	i := 0
	for ; rs.Next(); i++ {
		var text sql.NullString
		var at sql.NullTime
		var g row
		if err := rs.Scan(&text, &g.n, &g.flag, &at); err != nil {
			t.Fatal(err)
		}
		g.text, g.at = text.String, at.Time
		w := want[i]
		if text.Valid == (w.text == "") || at.Valid == w.at.IsZero() {
			t.Fatalf("row %d: NULLs read back as %v, %v", i, text, at)
		}
		if g.text != w.text || g.n != w.n || g.flag != w.flag || !g.at.Equal(w.at.Truncate(time.Microsecond)) {
			t.Fatalf("row %d:\n wrote %q %d %v %v\n  read %q %d %v %v", i, w.text, w.n, w.flag, w.at, g.text, g.n, g.flag, g.at)
		}
	}
	if err := rs.Err(); err != nil || i != len(want) {
		t.Fatalf("read back %d rows (%v), wrote %d", i, err, len(want))
	}
}

// A row the table refuses fails the COPY with the server's error, and the
// transaction must roll back; a unique violation is ErrDuplicate.
func TestCopyRowsErrors(t *testing.T) {
	t.Parallel()
	db := pgtest.DB(t)
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := queries.CopyRowsInto(ctx, conn, "reminder_decisions", []string{"installment_id"}, 0, nil); err == nil {
		t.Error("COPY outside a transaction: no error")
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	var ds queries.CopyRows
	for range 2 {
		ds.AddDecision(7, &queries.Decision{InstallmentID: 1, Stage: "due_today", Channel: "sms", Decision: "suppressed", Reason: "opted_out"})
	}
	err = queries.CopyDecisions(ctx, conn, &ds, time.Now())
	if !errors.Is(err, queries.ErrDuplicate) {
		t.Fatalf("a decision twice: %v, want ErrDuplicate", err)
	}
	if !strings.Contains(fmt.Sprint(err), "copy decisions") {
		t.Errorf("error %q does not name what failed", err)
	}
}

// When the server goes away during a COPY, its context ends, or appending a
// row panics, the COPY returns (or panics) instead of hanging, and the
// transaction and the connection it ran on can still be closed.
func TestCopyRowsConnectionLostOrPanic(t *testing.T) {
	t.Parallel()
	db := pgtest.DB(t)
	ctx := context.Background()
	mustExec(t, db.DB, `CREATE TABLE copy_lost (n bigint)`)
	for _, how := range []string{"server gone", "canceled", "panic"} {
		t.Run(how, func(t *testing.T) {
			done := make(chan string, 1)
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			go func() {
				conn, err := db.Conn(ctx)
				if err != nil {
					done <- err.Error()
					return
				}
				defer conn.Close()
				tx, err := conn.BeginTx(ctx, nil)
				if err != nil {
					done <- err.Error()
					return
				}
				defer tx.Rollback()
				var pid int
				if err := tx.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
					done <- err.Error()
					return
				}
				defer func() {
					if r := recover(); r != nil {
						done <- fmt.Sprint("panicked: ", r)
					}
				}()
				err = queries.CopyRowsInto(ctx, conn, "copy_lost", []string{"n"}, 400_000, func(b []byte, i int) []byte {
					if i == 1000 {
						switch how {
						case "panic":
							panic("row 1000")
						case "canceled":
							cancel()
							return queries.EndRow(queries.AppendInt(b, int64(i)))
						}
						if _, err := db.Exec(`SELECT pg_terminate_backend($1)`, pid); err != nil {
							panic(err)
						}
					}
					return queries.EndRow(queries.AppendInt(b, int64(i)))
				})
				done <- fmt.Sprint("returned: ", err)
			}()
			select {
			case got := <-done:
				want := "returned: copy into copy_lost:"
				if how == "panic" {
					want = "panicked: row 1000"
				}
				if !strings.HasPrefix(got, want) {
					t.Errorf("%s: %s, want %s...", how, got, want)
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("%s: the COPY hangs", how)
			}
		})
	}
}
