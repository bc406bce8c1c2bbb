package queries

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/lib/pq"
)

// CopyFrom loads rows into table(columns...) with COPY inside tx. next is
// called until it returns false; it fills row (len(columns) values) for each
// row. Returns the number of rows.
//
// table may be schema-qualified ("schema.table"); table and column names are
// quoted as identifiers. row is cleared to nils before each call; a value
// left nil is loaded as NULL. Values are sent in COPY's text format, so they
// must be of the types lib/pq encodes: int64, float64, bool, string, []byte,
// time.Time or nil (use a string such as "2026-03-01" for a date, "{1,2}"
// for an array). lib/pq reports some errors, such as a constraint violation,
// only on a later row or at the end; either way the transaction is then
// aborted and the caller must roll it back.
func CopyFrom(ctx context.Context, tx *sql.Tx, table string, columns []string, next func(row []any) bool) (int64, error) {
	if len(columns) == 0 {
		return 0, fmt.Errorf("copy into %s: no columns", table)
	}
	// lib/pq's CopyIn builder is deprecated in favour of preparing the
	// statement text directly; this is the same text.
	stmt, err := tx.PrepareContext(ctx, copyStatement(table, columns))
	if err != nil {
		return 0, fmt.Errorf("copy into %s: %w", table, err)
	}
	defer stmt.Close()
	row := make([]any, len(columns))
	var n int64
	for {
		clear(row)
		if !next(row) {
			break
		}
		if _, err := stmt.ExecContext(ctx, row...); err != nil {
			return n, fmt.Errorf("copy into %s: %w", table, err)
		}
		n++
	}
	// An Exec with no arguments ends the COPY and reports its errors.
	if _, err := stmt.ExecContext(ctx); err != nil {
		return n, fmt.Errorf("copy into %s: %w", table, err)
	}
	return n, nil
}

// copyStatement returns `COPY "table" ("a", "b") FROM STDIN`.
func copyStatement(table string, columns []string) string {
	var b strings.Builder
	b.WriteString("COPY ")
	for i, part := range strings.SplitN(table, ".", 2) {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(pq.QuoteIdentifier(part))
	}
	b.WriteString(" (")
	for i, c := range columns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(pq.QuoteIdentifier(c))
	}
	b.WriteString(") FROM STDIN")
	return b.String()
}
