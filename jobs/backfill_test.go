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
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	newYork, _ := time.LoadLocation("America/New_York")
	kathmandu, _ := time.LoadLocation("Asia/Kathmandu")
	for _, tc := range []struct {
		schedule string
		day      string
		zone     *time.Location
		want     string
	}{
		{"CRON_TZ=Asia/Shanghai 0 * * * *", "2026-11-22", shanghai, "2026-11-22T00:00:00+08:00"},
		{"CRON_TZ=Asia/Shanghai 30 9 * * *", "2026-11-22", shanghai, "2026-11-22T09:30:00+08:00"},
		{"* * * * * *", "2026-11-22", shanghai, "2026-11-22T00:00:00+08:00"},
		{"CRON_TZ=Asia/Shanghai 15 */6 * * *", "2028-02-29", shanghai, "2028-02-29T00:15:00+08:00"},
		// The schedule's zone is not the business zone: the first tick
		// inside the business day.
		{"CRON_TZ=America/New_York 0 9 * * *", "2026-11-22", shanghai, "2026-11-22T22:00:00+08:00"},
		{"CRON_TZ=America/New_York 0 13 * * *", "2026-11-22", shanghai, "2026-11-22T02:00:00+08:00"},
		// Weekly on Mondays: 2026-11-22 is a Sunday.
		{"CRON_TZ=Asia/Shanghai 0 9 * * MON", "2026-11-22", shanghai, "2026-11-22T00:00:00+08:00"},
		{"CRON_TZ=Asia/Shanghai 0 9 * * MON", "2026-11-23", shanghai, "2026-11-23T09:00:00+08:00"},
		// DST days in New York (23 and 25 hours), a quarter-hour zone.
		{"CRON_TZ=America/New_York 0 8 * * *", "2026-03-08", newYork, "2026-03-08T08:00:00-04:00"},
		{"CRON_TZ=America/New_York 0 8 * * *", "2026-11-01", newYork, "2026-11-01T08:00:00-05:00"},
		{"CRON_TZ=Asia/Kathmandu 0 9 * * *", "2026-11-22", kathmandu, "2026-11-22T09:00:00+05:45"},
	} {
		s, err := parser.Parse(tc.schedule)
		if err != nil {
			t.Fatalf("%s: %v", tc.schedule, err)
		}
		day, err := civil.ParseDate(tc.day)
		if err != nil {
			t.Fatal(err)
		}
		got := jobs.DayAsOf(s, day, tc.zone)
		want, _ := time.Parse(time.RFC3339, tc.want)
		if !got.Equal(want) {
			t.Errorf("%q on %s: as of %s, want %s", tc.schedule, tc.day, got.In(tc.zone).Format(time.RFC3339), tc.want)
		}
		if civil.DateIn(got, tc.zone) != day {
			t.Errorf("%q on %s: as of %s is another business day", tc.schedule, tc.day, got.In(tc.zone).Format(time.RFC3339))
		}
	}
	if got := jobs.DayAsOf(nil, civil.DateOf(2026, 11, 22), shanghai); !got.Equal(time.Date(2026, 11, 22, 0, 0, 0, 0, shanghai)) {
		t.Errorf("no schedule: as of %s, want midnight", got)
	}
}
