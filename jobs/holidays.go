package jobs

import (
	"context"

	"github.com/loanremind/loanremind/jobs/civil"
	"github.com/loanremind/loanremind/queries"
)

// holidayHorizon is how far after the business date holidays can matter:
// the longest a reminder stays valid.
const holidayHorizon = 120

// loadHolidays reads the holidays table around the business date, by
// region.
func loadHolidays(ctx context.Context, db queries.DBTX, businessDate civil.Date) (map[string][]civil.Date, error) {
	rows, err := queries.Holidays(ctx, db, businessDate.AddDays(-2).UTC(), businessDate.AddDays(holidayHorizon).UTC())
	if err != nil {
		return nil, err
	}
	out := map[string][]civil.Date{}
	for _, h := range rows {
		out[h.Region] = append(out[h.Region], civil.Date(h.Day))
	}
	return out, nil
}
