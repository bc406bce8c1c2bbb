// Package queries holds all of loanremind's SQL: the statements in *.sql
// files, each under a "-- name: VerbNoun" header and embedded in the binary,
// behind typed functions that take the database handle as a parameter, so the
// same function runs on the pool or inside a transaction; and the goose
// migrations in migrations/.
package queries

import (
	"bufio"
	"context"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"sync"

	"github.com/jmoiron/sqlx"
)

//go:embed *.sql
var sqlFS embed.FS

// DBTX is what the typed functions need: a pool, a connection or a
// transaction, of database/sql or sqlx.
type DBTX interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// statements parses the embedded files once; the result is derived from
// embedded files only and never changes.
var statements = sync.OnceValue(func() map[string]string {
	m, err := parseStatements(sqlFS)
	if err != nil {
		panic(err) // the embedded files are part of the binary: a test catches this
	}
	return m
})

// stmt returns the statement with the given name.
func stmt(name string) string {
	s, ok := statements()[name]
	if !ok {
		panic("queries: no statement named " + name)
	}
	return s
}

// parseStatements splits every .sql file in fsys into named statements.
func parseStatements(fsys fs.FS) (map[string]string, error) {
	files, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, err
	}
	out := make(map[string]string)
	for _, file := range files {
		data, err := fs.ReadFile(fsys, file)
		if err != nil {
			return nil, err
		}
		var name string
		var body strings.Builder
		flush := func() error {
			if name == "" {
				return nil
			}
			text := strings.TrimSpace(body.String())
			if text == "" {
				return fmt.Errorf("%s: statement %s is empty", file, name)
			}
			if _, dup := out[name]; dup {
				return fmt.Errorf("%s: statement %s is defined twice", file, name)
			}
			out[name] = strings.TrimSuffix(text, ";")
			return nil
		}
		sc := bufio.NewScanner(strings.NewReader(string(data)))
		for sc.Scan() {
			line := sc.Text()
			if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "-- name:"); ok {
				if err := flush(); err != nil {
					return nil, err
				}
				name = strings.TrimSpace(rest)
				body.Reset()
				continue
			}
			if name != "" {
				body.WriteString(line)
				body.WriteByte('\n')
			}
		}
		if err := flush(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// sumFS hashes the names and contents of the files under dir.
func sumFS(fsys fs.FS, dir string) string {
	var names []string
	_ = fs.WalkDir(fsys, dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, path)
		}
		return nil
	})
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		data, _ := fs.ReadFile(fsys, n)
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(data))
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// selectColumn returns the one column of a query's rows.
func selectColumn[T any](ctx context.Context, db DBTX, query string, args ...any) ([]T, error) {
	return selectRows(ctx, db, 0, func(v *T) []any { return []any{v} }, query, args...)
}

// selectRows runs query and reads its rows into values of T, each scanned
// into what fields gives for it; limit > 0 stops reading after that many.
func selectRows[T any](ctx context.Context, db DBTX, limit int, fields func(*T) []any, query string, args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for (limit <= 0 || len(out) < limit) && rows.Next() {
		var v T
		if err := rows.Scan(fields(&v)...); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// selectAll scans every row of a query into dest, a pointer to a slice of
// structs (by db tags).
func selectAll(ctx context.Context, db DBTX, dest any, query string, args ...any) error {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	return sqlx.StructScan(rows, dest)
}
