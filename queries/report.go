package queries

import "context"

// SMSOfRun calls each with the locale and body of every SMS of a run, in no
// particular order, and stops at the first error it returns.
func SMSOfRun(ctx context.Context, db DBTX, runID int64, each func(locale, body string) error) error {
	rows, err := db.QueryContext(ctx, stmt("SMSOfRun"), runID)
	if err != nil {
		return err
	}
	defer rows.Close()
	var locale, body string
	for rows.Next() {
		if err := rows.Scan(&locale, &body); err != nil {
			return err
		}
		if err := each(locale, body); err != nil {
			return err
		}
	}
	return rows.Err()
}
