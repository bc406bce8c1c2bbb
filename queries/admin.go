package queries

import (
	"context"
	"fmt"

	"github.com/lib/pq"
)

// CreateDatabase creates a database with the given name.
func CreateDatabase(ctx context.Context, db DBTX, name string) error {
	_, err := db.ExecContext(ctx, fmt.Sprintf(stmt("CreateDatabase"), pq.QuoteIdentifier(name)))
	if err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}
