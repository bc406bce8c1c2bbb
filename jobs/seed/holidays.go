package seed

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/loanremind/loanremind/jobs/civil"
)

// holidays returns the seeded holiday calendar, ordered by region and date:
// China's public holidays of 2026 and 2027 for region "CN" and the US federal
// holidays of the same years for region "US".
func holidays() []Holiday {
	var out []Holiday
	add := func(region, name string, from civil.Date, days int) {
		for i := range days {
			out = append(out, Holiday{Region: region, Date: from.AddDays(i), Name: name})
		}
	}
	d := civil.DateOf

	// 2026: the State Council's arrangement (国务院办公厅关于2026年部分节假日安排的
	// 通知, 4 November 2025). The make-up working days it also lists (e.g. 4
	// January, 14 and 28 February) are working days and so not listed here.
	add("CN", "元旦 New Year's Day", d(2026, time.January, 1), 3)
	add("CN", "春节 Spring Festival", d(2026, time.February, 15), 9)
	add("CN", "清明节 Qingming Festival", d(2026, time.April, 4), 3)
	add("CN", "劳动节 Labour Day", d(2026, time.May, 1), 5)
	add("CN", "端午节 Dragon Boat Festival", d(2026, time.June, 19), 3)
	add("CN", "中秋节 Mid-Autumn Festival", d(2026, time.September, 25), 3)
	add("CN", "国庆节 National Day", d(2026, time.October, 1), 7)

	// 2027: the statutory days off of the national regulation on public
	// holidays (全国年节及纪念日放假办法, as amended by State Council decree No.
	// 793, in force from 2025) on the 2027 dates of the lunar festivals
	// (Spring Festival 6 February, Dragon Boat 9 June, Mid-Autumn 15
	// September). The State Council publishes the bridging days for 2027
	// late in 2026; replace these rows with that notice's ranges then.
	add("CN", "元旦 New Year's Day", d(2027, time.January, 1), 1)
	add("CN", "春节 Spring Festival", d(2027, time.February, 5), 4) // New Year's Eve to the third day
	add("CN", "清明节 Qingming Festival", d(2027, time.April, 5), 1)
	add("CN", "劳动节 Labour Day", d(2027, time.May, 1), 2)
	add("CN", "端午节 Dragon Boat Festival", d(2027, time.June, 9), 1)
	add("CN", "中秋节 Mid-Autumn Festival", d(2027, time.September, 15), 1)
	add("CN", "国庆节 National Day", d(2027, time.October, 1), 3)

	// US federal holidays (5 U.S.C. 6103), on the days they are observed: a
	// holiday on a Saturday is observed on the Friday before, one on a
	// Sunday on the Monday after.
	for _, year := range []int{2026, 2027} {
		fixed := func(name string, m time.Month, day int) {
			date := d(year, m, day)
			switch date.Weekday() {
			case time.Saturday:
				date = date.AddDays(-1)
			case time.Sunday:
				date = date.AddDays(1)
			}
			add("US", name, date, 1)
		}
		nth := func(name string, m time.Month, wd time.Weekday, n int) {
			add("US", name, nthWeekday(year, m, wd, n), 1)
		}
		fixed("New Year's Day", time.January, 1)
		nth("Birthday of Martin Luther King, Jr.", time.January, time.Monday, 3)
		nth("Washington's Birthday", time.February, time.Monday, 3)
		nth("Memorial Day", time.May, time.Monday, -1)
		fixed("Juneteenth National Independence Day", time.June, 19)
		fixed("Independence Day", time.July, 4)
		nth("Labor Day", time.September, time.Monday, 1)
		nth("Columbus Day", time.October, time.Monday, 2)
		fixed("Veterans Day", time.November, 11)
		nth("Thanksgiving Day", time.November, time.Thursday, 4)
		fixed("Christmas Day", time.December, 25)
		// A Saturday New Year's Day is observed on the last day of the
		// year before (1 January 2028: 31 December 2027).
		if next := d(year+1, time.January, 1); next.Weekday() == time.Saturday {
			add("US", "New Year's Day", next.AddDays(-1), 1)
		}
	}
	slices.SortStableFunc(out, func(a, b Holiday) int {
		return cmp.Or(strings.Compare(a.Region, b.Region), cmp.Compare(a.Date, b.Date))
	})
	return out
}

// nthWeekday returns the n-th weekday wd of the month (n = -1: the last).
func nthWeekday(year int, m time.Month, wd time.Weekday, n int) civil.Date {
	if n < 0 {
		last := civil.DateOf(year, m+1, 0)
		return last.AddDays(-((int(last.Weekday()) - int(wd) + 7) % 7))
	}
	first := civil.DateOf(year, m, 1)
	return first.AddDays((int(wd)-int(first.Weekday())+7)%7 + 7*(n-1))
}
