package queries

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var migrationsFS embed.FS

// MigrationState is one migration and whether it has been applied.
type MigrationState struct {
	Version   int64
	Name      string
	Applied   bool
	AppliedAt time.Time
}

func newProvider(db *sql.DB) (*goose.Provider, error) {
	fsys, err := fs.Sub(migrationsFS, "migrations")
	if err != nil {
		return nil, err
	}
	// A session-level advisory lock makes concurrent migrate processes safe:
	// the second waits for the first and then finds nothing to do.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(5, 120))
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(goose.DialectPostgres, db, fsys,
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true),
	)
}

// Migrate applies every pending migration and returns the versions it
// applied; none when the schema is current.
func Migrate(ctx context.Context, db *sql.DB) ([]MigrationState, error) {
	p, err := newProvider(db)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	applied := make([]MigrationState, 0, len(results))
	for _, r := range results {
		applied = append(applied, MigrationState{Version: r.Source.Version, Name: baseName(r.Source.Path), Applied: true})
	}
	return applied, nil
}

// MigrationStatus lists every migration the binary knows and whether the
// database has it.
func MigrationStatus(ctx context.Context, db *sql.DB) ([]MigrationState, error) {
	p, err := newProvider(db)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	status, err := p.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("migration status: %w", err)
	}
	out := make([]MigrationState, 0, len(status))
	for _, s := range status {
		out = append(out, MigrationState{
			Version:   s.Source.Version,
			Name:      baseName(s.Source.Path),
			Applied:   s.State == goose.StateApplied,
			AppliedAt: s.AppliedAt,
		})
	}
	return out, nil
}

// MigrationsSHA256 identifies the set of migrations this binary carries; the
// test harness names its template database after it.
func MigrationsSHA256() string {
	return sumFS(migrationsFS, "migrations")
}

func baseName(path string) string {
	for i := len(path) - 1; i >= 0; i-- {
		if path[i] == '/' {
			return path[i+1:]
		}
	}
	return path
}
