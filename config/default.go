package config

import "time"

// Default returns the built-in configuration: the policy of a Chinese
// consumer lender that also has borrowers in the US, Europe, India and
// Nepal. Each value encodes a rule of ../shared/COMPLIANCE.md:
//   - contact 08:00–21:00 local time in every candidate zone (Reg F
//     1006.6(b)(1)(i) and comment 6(b)(1)(i)-2; NIFA 2024 and the 2018
//     convention for Asia/Shanghai);
//   - US-FL 08:00–20:00, as lenders often adopt Fla. Stat. 501.616(6);
//   - at most 3 messages in 24 hours (NIFA 2024; Florida) and 7 in 168 hours
//     (Reg F 1006.14(b)(2) as a benchmark), across channels;
//   - an opt-out line in every text and email (Reg F 1006.6(e); China SMS
//     rules) and a sender signature (【安心金融】);
//   - audit retention of three years (Reg F 1006.100).
func Default() *Config {
	day := Duration(24 * time.Hour)
	return &Config{
		BusinessTimeZone:   "Asia/Shanghai",
		DefaultTimeZone:    "Asia/Shanghai",
		DefaultPhoneRegion: "CN",
		MaxPhoneZones:      3,
		Schedule:           "CRON_TZ=Asia/Shanghai 0 * * * *",
		BatchSize:          5000,
		LockTimeout:        Duration(10 * time.Second),
		StatementTimeout:   Duration(10 * time.Minute),
		MinSendWindow:      Duration(15 * time.Minute),
		LateValidity:       day,
		Stages: []Stage{
			{Name: "upcoming_3d", DaysFromDue: -3, Channels: []string{"sms"}, Fallback: "email"},
			{Name: "due_today", DaysFromDue: 0, Channels: []string{"sms"}, Fallback: "email"},
			{Name: "overdue_1d", DaysFromDue: 1, Channels: []string{"sms"}, Fallback: "email"},
			{Name: "overdue_7d", DaysFromDue: 7, Channels: []string{"sms"}, Fallback: "email"},
			{Name: "overdue_30d", DaysFromDue: 30, Channels: []string{"sms"}, Fallback: "email", ExpiresAfter: 30 * day},
		},
		ContactWindows: []Window{{Days: AllDays, From: 8 * 3600, To: 21 * 3600}},
		Regions:        defaultRegions(),
		FrequencyCaps: []Cap{
			{Max: 3, Per: day},
			{Max: 7, Per: 7 * day},
		},
		Templates: Templates{DefaultLocale: "zh-CN"},
		Signature: map[string]string{
			"zh-CN": "【安心金融】",
			"en-US": "Anxin Finance",
		},
		Channels: Channels{
			SMS: Channel{
				MaxSegments: 3,
				OptOut: map[string]string{
					"zh-CN": "回复TD退订",
					"en-US": "Reply STOP to opt out.",
				},
			},
			Email: Channel{
				OptOut: map[string]string{
					"zh-CN": "如不希望再收到此类邮件，请回复“退订”。",
					"en-US": "To stop these emails, reply UNSUBSCRIBE.",
				},
			},
		},
		Audit:    Audit{Retention: 3 * 365 * day},
		Delivery: defaultDelivery(),
		Serve:    Serve{Listen: ":9090", GracePeriod: Duration(30 * time.Second)},
		Metrics:  Metrics{},
		Log:      Log{Format: "auto", Level: "info"},
	}
}

// defaultRegions maps regions to their IANA zones, and carries the regional
// rules: Florida's 08:00–20:00 window. A region spanning several zones lists
// them all: without the borrower's own zone, a time must be convenient in
// each (Reg F comment 6(b)(1)(i)-2).
func defaultRegions() map[string]Region {
	r := map[string]Region{
		// Countries with one zone (or one legal zone: China).
		"CN":    {TimeZones: []string{"Asia/Shanghai"}},
		"HK":    {TimeZones: []string{"Asia/Hong_Kong"}},
		"MO":    {TimeZones: []string{"Asia/Macau"}},
		"TW":    {TimeZones: []string{"Asia/Taipei"}},
		"SG":    {TimeZones: []string{"Asia/Singapore"}},
		"JP":    {TimeZones: []string{"Asia/Tokyo"}},
		"KR":    {TimeZones: []string{"Asia/Seoul"}},
		"IN":    {TimeZones: []string{"Asia/Kolkata"}},
		"NP":    {TimeZones: []string{"Asia/Kathmandu"}},
		"PH":    {TimeZones: []string{"Asia/Manila"}},
		"TH":    {TimeZones: []string{"Asia/Bangkok"}},
		"VN":    {TimeZones: []string{"Asia/Ho_Chi_Minh"}},
		"MY":    {TimeZones: []string{"Asia/Kuala_Lumpur"}},
		"GB":    {TimeZones: []string{"Europe/London"}},
		"IE":    {TimeZones: []string{"Europe/Dublin"}},
		"DE":    {TimeZones: []string{"Europe/Berlin"}},
		"FR":    {TimeZones: []string{"Europe/Paris"}},
		"IT":    {TimeZones: []string{"Europe/Rome"}},
		"NL":    {TimeZones: []string{"Europe/Amsterdam"}},
		"BE":    {TimeZones: []string{"Europe/Brussels"}},
		"AT":    {TimeZones: []string{"Europe/Vienna"}},
		"CH":    {TimeZones: []string{"Europe/Zurich"}},
		"PL":    {TimeZones: []string{"Europe/Warsaw"}},
		"SE":    {TimeZones: []string{"Europe/Stockholm"}},
		"ES":    {TimeZones: []string{"Europe/Madrid"}},
		"ES-CN": {TimeZones: []string{"Atlantic/Canary"}},
		"PT":    {TimeZones: []string{"Europe/Lisbon"}},
		"NZ":    {TimeZones: []string{"Pacific/Auckland"}},
		// Florida: Eastern, and Central in the western panhandle. Lenders
		// often adopt Fla. Stat. 501.616(6)'s 08:00–20:00.
		"US-FL": {
			TimeZones:      []string{"America/New_York", "America/Chicago"},
			ContactWindows: []Window{{Days: AllDays, From: 8 * 3600, To: 20 * 3600}},
		},
	}
	for state, zones := range usStateZones() {
		if _, ok := r["US-"+state]; !ok {
			r["US-"+state] = Region{TimeZones: zones}
		}
	}
	return r
}

// usStateZones lists the zones of each US state, territory and DC.
func usStateZones() map[string][]string {
	return map[string][]string{
		"AL": {"America/Chicago"}, "AK": {"America/Anchorage", "America/Adak"}, "AZ": {"America/Phoenix"},
		"AR": {"America/Chicago"}, "CA": {"America/Los_Angeles"}, "CO": {"America/Denver"},
		"CT": {"America/New_York"}, "DE": {"America/New_York"}, "DC": {"America/New_York"},
		"FL": {"America/New_York", "America/Chicago"}, "GA": {"America/New_York"}, "HI": {"Pacific/Honolulu"},
		"ID": {"America/Boise", "America/Los_Angeles"}, "IL": {"America/Chicago"},
		"IN": {"America/Indiana/Indianapolis", "America/Chicago"}, "IA": {"America/Chicago"},
		"KS": {"America/Chicago", "America/Denver"}, "KY": {"America/New_York", "America/Chicago"},
		"LA": {"America/Chicago"}, "ME": {"America/New_York"}, "MD": {"America/New_York"},
		"MA": {"America/New_York"}, "MI": {"America/Detroit", "America/Menominee"}, "MN": {"America/Chicago"},
		"MS": {"America/Chicago"}, "MO": {"America/Chicago"}, "MT": {"America/Denver"},
		"NE": {"America/Chicago", "America/Denver"}, "NV": {"America/Los_Angeles"}, "NH": {"America/New_York"},
		"NJ": {"America/New_York"}, "NM": {"America/Denver"}, "NY": {"America/New_York"},
		"NC": {"America/New_York"}, "ND": {"America/Chicago", "America/Denver"}, "OH": {"America/New_York"},
		"OK": {"America/Chicago"}, "OR": {"America/Los_Angeles", "America/Boise"}, "PA": {"America/New_York"},
		"RI": {"America/New_York"}, "SC": {"America/New_York"}, "SD": {"America/Chicago", "America/Denver"},
		"TN": {"America/Chicago", "America/New_York"}, "TX": {"America/Chicago", "America/Denver"},
		"UT": {"America/Denver"}, "VT": {"America/New_York"}, "VA": {"America/New_York"},
		"WA": {"America/Los_Angeles"}, "WV": {"America/New_York"}, "WI": {"America/Chicago"},
		"WY": {"America/Denver"}, "PR": {"America/Puerto_Rico"}, "GU": {"Pacific/Guam"},
		"VI": {"America/St_Thomas"}, "AS": {"Pacific/Pago_Pago"}, "MP": {"Pacific/Saipan"},
	}
}
