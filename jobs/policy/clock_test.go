package policy

import (
	"fmt"
	"testing"
	"time"
)

func TestParseClock(t *testing.T) {
	valid := []struct {
		in   string
		want Clock
		str  string
	}{
		{"08:00", 8 * 3600, "08:00"},
		{"20:30", 20*3600 + 30*60, "20:30"},
		{"24:00", 86400, "24:00"},
		{"00:00", 0, "00:00"},
		{"08:00:30", 8*3600 + 30, "08:00:30"},
		{"8:05", 8*3600 + 5*60, "08:05"},
		{"23:59:59", 86399, "23:59:59"},
		{"24:00:00", 86400, "24:00"},
	}
	for _, tc := range valid {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseClock(tc.in)
			if err != nil || got != tc.want {
				t.Fatalf("ParseClock(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
			}
			if got.String() != tc.str {
				t.Errorf("%q.String() = %q, want %q", tc.in, got.String(), tc.str)
			}
		})
	}
	for _, in := range []string{"", "8", "08", "25:00", "24:01", "24:00:01", "08:60", "08:00:60", "08:0", "-1:00", "08:00:00:00", "ab:cd", "08:00pm", " 08:00", "008:00"} {
		t.Run(fmt.Sprintf("invalid %q", in), func(t *testing.T) {
			if c, err := ParseClock(in); err == nil {
				t.Errorf("ParseClock(%q) = %v, want an error", in, c)
			}
		})
	}
	if s := Clock(-5).String(); s != "Clock(-5)" {
		t.Errorf("invalid clock String() = %q", s)
	}
}

func TestParseWeekdays(t *testing.T) {
	tests := []struct {
		in   []string
		want Weekdays
		str  string
	}{
		{nil, AllDays, "mon-sun"},
		{[]string{"mon-fri"}, wd(time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday), "mon-fri"},
		{[]string{"Saturday", "SUN"}, wd(time.Saturday, time.Sunday), "sat-sun"},
		{[]string{"fri-mon"}, wd(time.Friday, time.Saturday, time.Sunday, time.Monday), "mon,fri-sun"},
		{[]string{"mon,wed", "fri"}, wd(time.Monday, time.Wednesday, time.Friday), "mon,wed,fri"},
		{[]string{"tue"}, wd(time.Tuesday), "tue"},
		{[]string{"sun-sat"}, AllDays, "mon-sun"},
		{[]string{"thursday-thursday"}, wd(time.Thursday), "thu"},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%q", tc.in), func(t *testing.T) {
			got, err := ParseWeekdays(tc.in)
			if err != nil || got != tc.want {
				t.Fatalf("ParseWeekdays(%q) = %07b, %v; want %07b", tc.in, got, err, tc.want)
			}
			if got.String() != tc.str {
				t.Errorf("String() = %q, want %q", got.String(), tc.str)
			}
		})
	}
	for _, in := range [][]string{{"funday"}, {"mon-"}, {"-fri"}, {""}, {"mon-xyz"}, {"mo"}} {
		t.Run(fmt.Sprintf("invalid %q", in), func(t *testing.T) {
			if w, err := ParseWeekdays(in); err == nil {
				t.Errorf("ParseWeekdays(%q) = %07b, want an error", in, w)
			}
		})
	}
	if Weekdays(0).String() != "none" {
		t.Error("empty set String")
	}
}

func TestCapName(t *testing.T) {
	tests := []struct {
		c    Cap
		want string
	}{
		{Cap{Max: 3, Per: 24 * time.Hour}, "3/24h"},
		{Cap{Max: 7, Per: 168 * time.Hour}, "7/168h"},
		{Cap{Max: 3, Per: 24 * time.Hour, Channels: []Channel{SMS}}, "3/24h:sms"},
		{Cap{Max: 2, Per: 90 * time.Minute}, "2/1h30m0s"},
		{Cap{Max: 1, Per: time.Hour, Channels: []Channel{SMS, Email}}, "1/1h:sms,email"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			if got := tc.c.Name(); got != tc.want {
				t.Errorf("Name() = %q, want %q", got, tc.want)
			}
		})
	}
}
