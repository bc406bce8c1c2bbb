package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/mattn/go-isatty"
	"github.com/sirupsen/logrus"

	"github.com/loanremind/loanremind/queries"
)

// addConfigFlag adds --config, defaulting from LOANREMIND_CONFIG.
func addConfigFlag(fs *flag.FlagSet, e *env) *string {
	return fs.String("config", e.getenv("LOANREMIND_CONFIG"), "configuration `file` (env LOANREMIND_CONFIG; built-in defaults when empty)")
}

// addDatabaseFlag adds --database-url, defaulting from DATABASE_URL.
func addDatabaseFlag(fs *flag.FlagSet, e *env) *string {
	return fs.String("database-url", e.getenv("DATABASE_URL"), "PostgreSQL connection `URL` (env DATABASE_URL)")
}

// openDB opens the pool and checks that the server answers.
func openDB(ctx context.Context, url string) (*sqlx.DB, error) {
	if url == "" {
		return nil, usageError{errors.New("no database: set DATABASE_URL or --database-url")}
	}
	db, err := queries.Open(url)
	if err != nil {
		return nil, usageError{redactedError{"database URL", url, err}}
	}
	pingCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		db.Close()
		return nil, redactedError{"connect to database", url, err}
	}
	db.SetMaxOpenConns(8)
	db.SetConnMaxIdleTime(5 * time.Minute)
	return db, nil
}

// redactedError is an error about a connection string: its text never
// carries the string's password (a URL that does not parse is quoted
// whole), and it wraps err for errors.Is and As.
type redactedError struct {
	context, dsn string
	err          error
}

func (e redactedError) Error() string {
	return e.context + ": " + queries.RedactPasswords(e.err.Error(), e.dsn)
}

func (e redactedError) Unwrap() error { return e.err }

// newLogger makes the process logger: JSON, or text on a terminal (format
// "auto"). Bodies, phone numbers, emails and account references are never
// logged; the jobs packages log masked values only.
func newLogger(w io.Writer, format, level string) (*logrus.Logger, error) {
	log := logrus.New()
	log.SetOutput(w)
	lvl, err := logrus.ParseLevel(level)
	if err != nil {
		return nil, usageErrorf("log level %q: %v", level, err)
	}
	log.SetLevel(lvl)
	if format == "auto" {
		format = "json"
		if f, ok := w.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
			format = "text"
		}
	}
	switch format {
	case "json":
		log.SetFormatter(&logrus.JSONFormatter{TimestampFormat: time.RFC3339Nano})
	case "text":
		log.SetFormatter(&logrus.TextFormatter{FullTimestamp: true, TimestampFormat: time.RFC3339})
	default:
		return nil, usageErrorf("log format %q: want auto, json or text", format)
	}
	return log, nil
}
