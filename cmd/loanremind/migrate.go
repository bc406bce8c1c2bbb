package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/loanremind/loanremind/queries"
)

func runMigrate(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "migrate", "migrate [status] [--database-url URL]")
	dbURL := addDatabaseFlag(fs, e)
	status := false
	if len(args) > 0 && args[0] == "status" {
		status, args = true, args[1:]
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	db, err := openDB(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	if status {
		list, err := queries.MigrationStatus(ctx, db.DB)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "VERSION\tNAME\tSTATE\tAPPLIED AT")
		for _, m := range list {
			state, at := "pending", ""
			if m.Applied {
				state, at = "applied", m.AppliedAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", m.Version, m.Name, state, at)
		}
		return tw.Flush()
	}
	applied, err := queries.Migrate(ctx, db.DB)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintln(e.stdout, "migrate: the schema is up to date")
		return nil
	}
	for _, m := range applied {
		fmt.Fprintf(e.stdout, "migrate: applied %d %s\n", m.Version, m.Name)
	}
	return nil
}
