package jobs_test

import (
	"testing"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/loanremind/loanremind/jobs"
	"github.com/loanremind/loanremind/jobs/civil"
)

// A backfill day runs as of its first scheduled time in the business zone,
// or its midnight when the schedule has no time that day.
func TestDayAsOf(t *testing.T) {
	t.Parallel()
	// The parser of config.ParseSchedule.
	parser := cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)
	shanghai := location(t, "Asia/Shanghai")
	newYork := location(t, "America/New_York")
	kathmandu := location(t, "Asia/Kathmandu")
	for _, tc := range []struct {
		name     string
		schedule string
		day      string
		zone     *time.Location
		want     string
	}{
		{"hourly", "CRON_TZ=Asia/Shanghai 0 * * * *", "2026-11-22", shanghai, "2026-11-22T00:00:00+08:00"},
		{"daily", "CRON_TZ=Asia/Shanghai 30 9 * * *", "2026-11-22", shanghai, "2026-11-22T09:30:00+08:00"},
		{"every second", "* * * * * *", "2026-11-22", shanghai, "2026-11-22T00:00:00+08:00"},
		{"leap day", "CRON_TZ=Asia/Shanghai 15 */6 * * *", "2028-02-29", shanghai, "2028-02-29T00:15:00+08:00"},
		// The schedule's zone is not the business zone: the first tick
		// inside the business day.
		{"other zone, evening", "CRON_TZ=America/New_York 0 9 * * *", "2026-11-22", shanghai, "2026-11-22T22:00:00+08:00"},
		{"other zone, night", "CRON_TZ=America/New_York 0 13 * * *", "2026-11-22", shanghai, "2026-11-22T02:00:00+08:00"},
		// Weekly on Mondays: 2026-11-22 is a Sunday.
		{"weekly, another day", "CRON_TZ=Asia/Shanghai 0 9 * * MON", "2026-11-22", shanghai, "2026-11-22T00:00:00+08:00"},
		{"weekly, its day", "CRON_TZ=Asia/Shanghai 0 9 * * MON", "2026-11-23", shanghai, "2026-11-23T09:00:00+08:00"},
		// DST days in New York (23 and 25 hours), a quarter-hour zone.
		{"23-hour day", "CRON_TZ=America/New_York 0 8 * * *", "2026-03-08", newYork, "2026-03-08T08:00:00-04:00"},
		{"25-hour day", "CRON_TZ=America/New_York 0 8 * * *", "2026-11-01", newYork, "2026-11-01T08:00:00-05:00"},
		{"quarter-hour zone", "CRON_TZ=Asia/Kathmandu 0 9 * * *", "2026-11-22", kathmandu, "2026-11-22T09:00:00+05:45"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := parser.Parse(tc.schedule)
			if err != nil {
				t.Fatalf("%s: %v", tc.schedule, err)
			}
			day, err := civil.ParseDate(tc.day)
			if err != nil {
				t.Fatal(err)
			}
			want, err := time.Parse(time.RFC3339, tc.want)
			if err != nil {
				t.Fatal(err)
			}
			got := jobs.DayAsOf(s, day, tc.zone)
			if !got.Equal(want) {
				t.Errorf("%q on %s: as of %s, want %s", tc.schedule, tc.day, got.In(tc.zone).Format(time.RFC3339), tc.want)
			}
			if civil.DateIn(got, tc.zone) != day {
				t.Errorf("%q on %s: as of %s is another business day", tc.schedule, tc.day, got.In(tc.zone).Format(time.RFC3339))
			}
		})
	}
	t.Run("no schedule", func(t *testing.T) {
		t.Parallel()
		if got := jobs.DayAsOf(nil, civil.DateOf(2026, 11, 22), shanghai); !got.Equal(time.Date(2026, 11, 22, 0, 0, 0, 0, shanghai)) {
			t.Errorf("no schedule: as of %s, want midnight", got)
		}
	})
}

func location(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}
