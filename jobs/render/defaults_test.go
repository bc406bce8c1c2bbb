package render

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"pgregory.net/rapid"

	"github.com/loanremind/loanremind/jobs/civil"
)

// The default budget of SMS segments (channels.sms.max_segments).
const defaultMaxSegments = 2

// smsActions is what each default SMS asks the borrower to do, per stage and
// locale.
func smsActions() map[string]map[string]string {
	return map[string]map[string]string{
		"zh-CN": {"upcoming_3d": "请按时还款", "due_today": "请于今日还款", "overdue_1d": "请尽快还款",
			"overdue_7d": "请尽快还款", "overdue_30d": "请尽快还款"},
		"en-US": {"upcoming_3d": "Please pay on time.", "due_today": "Please pay today.",
			"overdue_1d": "Please pay as soon as you can.", "overdue_7d": "Please pay as soon as you can.",
			"overdue_30d": "Please pay now or get help in the app."},
	}
}

// smsSays returns what a default SMS for m, rendered as r, fails to say:
// the signature first and the opt-out line last; for one item its amount,
// for several how many and the total per currency; the kind of reminder
// with the days overdue, or the date or days until it is due; the action;
// "ignore if paid"; and no link.
func smsSays(e *Engine, m *Message, r Rendered) []string {
	tm := e.lookup(m.Channel, m.Stage, m.Locale)
	opts := testOptions()
	zh := tm.zh
	var want []string
	var problems []string
	if sig := opts.Signature[tm.locale]; !strings.HasPrefix(r.Body, sig) {
		problems = append(problems, fmt.Sprintf("does not start with the signature %q", sig))
	}
	if optOut := opts.OptOut["sms"][tm.locale]; !strings.HasSuffix(r.Body, optOut) {
		problems = append(problems, fmt.Sprintf("does not end with the opt-out line %q", optOut))
	}
	if l := findLink(r.Body); l != "" {
		problems = append(problems, fmt.Sprintf("has a link %q", l))
	}
	date := func(d civil.Date) string { return string(appendItemDate(nil, d, m.BusinessDate, tm)) }
	plural := func(n int) string {
		if n == 1 {
			return "1 day"
		}
		return strconv.Itoa(n) + " days"
	}
	mostOverdue, dueToday, earliest := 0, false, m.Items[0].DueDate
	for _, it := range m.Items {
		mostOverdue = max(mostOverdue, it.DaysPastDue)
		dueToday = dueToday || it.DaysPastDue == 0
		earliest = min(earliest, it.DueDate)
	}
	if len(m.Items) == 1 {
		it := m.Items[0]
		want = append(want, FormatSMSMoney(it.AmountMinor, it.Currency, tm.locale))
		switch {
		case zh && mostOverdue > 0:
			want = append(want, fmt.Sprintf("已逾期%d天", mostOverdue))
		case zh && dueToday:
			want = append(want, "今日（"+date(it.DueDate)+"）到期")
		case zh:
			want = append(want, "将于"+date(it.DueDate)+"到期")
		case mostOverdue > 0:
			want = append(want, "is "+plural(mostOverdue)+" past due")
		case dueToday:
			want = append(want, "is due today, "+date(it.DueDate))
		default:
			want = append(want, "is due "+date(it.DueDate))
		}
	} else {
		var codes []string
		totals := map[string]int64{}
		for _, it := range m.Items {
			if !slices.Contains(codes, it.Currency) {
				codes = append(codes, it.Currency)
			}
			totals[it.Currency] += it.AmountMinor
		}
		for _, code := range codes {
			want = append(want, FormatSMSMoney(totals[code], code, tm.locale))
		}
		daysUntil := int(earliest - m.BusinessDate)
		switch {
		case zh:
			want = append(want, fmt.Sprintf("您%d笔账单共", len(m.Items)))
		default:
			want = append(want, fmt.Sprintf(": %d payments totaling ", len(m.Items)))
		}
		switch {
		case zh && mostOverdue > 0:
			want = append(want, fmt.Sprintf("最长逾期%d天", mostOverdue))
		case zh && dueToday:
			want = append(want, "最早今日到期")
		case zh:
			want = append(want, fmt.Sprintf("最早%d天后到期", daysUntil))
		case mostOverdue > 0:
			want = append(want, "up to "+plural(mostOverdue)+" past due")
		case dueToday:
			want = append(want, "the first today, "+date(earliest))
		default:
			want = append(want, "the first on "+date(earliest))
		}
	}
	want = append(want, smsActions()[tm.locale][m.Stage])
	if zh {
		want = append(want, "已还请忽略")
	} else {
		want = append(want, "Ignore if paid.")
	}
	for _, w := range want {
		if !strings.Contains(r.Body, w) {
			problems = append(problems, fmt.Sprintf("does not say %q", w))
		}
	}
	return problems
}

// TestDefaultSMSSay checks every default SMS template with every sample
// message New renders (1, 2, 3, 10 and 1,000 items, in one to three
// currencies): what it says (smsSays), within the default budget of
// segments, and an en-US SMS in GSM-7.
func TestDefaultSMSSay(t *testing.T) {
	e := newDefaultEngine(t)
	for _, st := range testStages {
		for _, loc := range []string{"zh-CN", "en-US"} {
			tm := e.resolved[tmplKey{"sms", st, loc}]
			for _, s := range append(append(e.samples(tm), e.budgetSamples(tm)...), largestSMS(tm, 1), largestSMS(tm, 1000)) {
				t.Run(tm.name+"/"+s.label, func(t *testing.T) {
					r, err := e.Render(&s.msg)
					if err != nil {
						t.Fatal(err)
					}
					for _, p := range smsSays(e, &s.msg, r) {
						t.Errorf("%s %s", p, r.Body)
					}
					if r.Segments > defaultMaxSegments || loc == "en-US" && r.Encoding != EncodingGSM7 {
						t.Errorf("%d segments, %s: %s", r.Segments, r.Encoding, r.Body)
					}
				})
			}
		}
	}
}

// largestSMS is the longest SMS the default stages can ask tm for with count
// items: the largest amounts (totals as large as a bigint allows, in three
// currencies that write their codes out), the most days overdue the
// property test draws, installment number 999, on the last day of a year.
func largestSMS(tm *tmpl, count int) sample {
	biz := civil.DateOf(2026, 12, 31)
	days := map[string]int{"upcoming_3d": -1, "due_today": 0, "overdue_1d": 6, "overdue_7d": 29, "overdue_30d": 9999}[tm.stage]
	codes := []string{"KWD", "NPR", "HKD"}
	m := Message{Channel: tm.channel, Stage: tm.stage, Locale: tm.locale, BusinessDate: biz}
	for i := range count {
		m.Items = append(m.Items, Item{AccountRef: "LN-2024-00012345", Seq: 999, DueDate: biz.AddDays(-days),
			AmountMinor: math.MaxInt64 / int64(count), Currency: codes[i%3], Stage: tm.stage, DaysPastDue: days})
	}
	return sample{fmt.Sprintf("largest, %d items", count), m}
}

// stageDays draws the days past due of an item in a stage of the default
// stages (each stage runs until the next one starts; the last for years).
func stageDays(t *rapid.T, stage, label string) int {
	switch stage {
	case "upcoming_3d":
		return rapid.IntRange(-3, -1).Draw(t, label)
	case "due_today":
		return 0
	case "overdue_1d":
		return rapid.IntRange(1, 6).Draw(t, label)
	case "overdue_7d":
		return rapid.IntRange(7, 29).Draw(t, label)
	}
	return rapid.IntRange(30, 9999).Draw(t, label)
}

// drawSMS draws an SMS message: 1 to 1,000 items in one to three
// currencies, amounts up to the largest the schema allows (a bigint; as
// many items as there are share it, so that no total overflows), any stage
// and either locale, any business date of 2016-2035.
func drawSMS(t *rapid.T) *Message {
	locale := rapid.SampledFrom([]string{"zh-CN", "en-US"}).Draw(t, "locale")
	stage := rapid.IntRange(0, len(testStages)-1).Draw(t, "stage")
	count := rapid.IntRange(1, 1000).Draw(t, "items")
	currencies := rapid.SliceOfNDistinct(rapid.SampledFrom([]string{"CNY", "USD", "EUR", "GBP", "INR", "NPR", "JPY", "KWD", "HKD"}),
		1, min(3, count), rapid.ID[string]).Draw(t, "currencies")
	biz := civil.DateOf(2026, 1, 1).AddDays(rapid.IntRange(-3650, 3650).Draw(t, "business date"))
	maxAmount := int64(math.MaxInt64) / int64(count)
	m := &Message{Channel: "sms", Stage: testStages[stage], Locale: locale, Name: "张伟", BusinessDate: biz}
	for i := range count {
		itemStage := stage
		if i > 0 {
			itemStage = rapid.IntRange(0, stage).Draw(t, "item stage")
		}
		days := stageDays(t, testStages[itemStage], "days")
		m.Items = append(m.Items, Item{
			AccountRef:  fmt.Sprintf("LN-%08d", rapid.IntRange(0, 99999999).Draw(t, "account")),
			Seq:         rapid.IntRange(1, 999).Draw(t, "seq"),
			DueDate:     biz.AddDays(-days),
			AmountMinor: rapid.Int64Range(1, maxAmount).Draw(t, "amount"),
			Currency:    currencies[i%len(currencies)],
			Stage:       testStages[itemStage],
			DaysPastDue: days,
		})
	}
	slices.SortStableFunc(m.Items, func(a, b Item) int { return b.DaysPastDue - a.DaysPastDue })
	return m
}

// TestDefaultSMSProperty: for any message drawSMS draws, every default SMS
// template renders within the default budget of segments, says what it
// must (smsSays: signature, opt-out line, no link, amount or totals, kind,
// days or date, action), and en-US stays in GSM-7. One installment of up
// to 100,000.00 (10^7 minor units), number up to 99, at most 999 days
// overdue, is one segment: zh-CN at most 70 characters, en-US 160.
func TestDefaultSMSProperty(t *testing.T) {
	opts := testOptions()
	opts.MaxSMSSegments = defaultMaxSegments
	e, err := New(defaultTemplates(), opts)
	if err != nil {
		t.Fatal(err)
	}
	rapid.Check(t, func(t *rapid.T) {
		m := drawSMS(t)
		r, err := e.Render(m)
		if err != nil {
			t.Fatalf("render: %v", err)
		}
		if r.Segments > defaultMaxSegments {
			t.Fatalf("%d segments (%s, %d characters): %s", r.Segments, r.Encoding, utf8.RuneCountInString(r.Body), r.Body)
		}
		if m.Locale == "en-US" && r.Encoding != EncodingGSM7 {
			t.Fatalf("en-US SMS in %s: %s", r.Encoding, r.Body)
		}
		if problems := smsSays(e, m, r); len(problems) > 0 {
			t.Fatalf("%s: %s", strings.Join(problems, "; "), r.Body)
		}
		if it := m.Items[0]; len(m.Items) == 1 && it.AmountMinor <= 1e7 && it.Seq <= 99 && it.DaysPastDue <= 999 && r.Segments != 1 {
			t.Fatalf("one installment is %d segments (%d characters): %s", r.Segments, utf8.RuneCountInString(r.Body), r.Body)
		}
	})
}

// TestDefaultEmailDetails: a default email carries the detail the SMS
// leaves out: every item (loan, installment, amount, due date, days overdue
// or until due), the total per currency, the action, the signature and the
// opt-out line, under a subject.
func TestDefaultEmailDetails(t *testing.T) {
	e := newDefaultEngine(t)
	opts := testOptions()
	total := map[string]string{"zh-CN": "合计应还：", "en-US": "Total due: "}
	action := map[string]string{"zh-CN": "还款", "en-US": "Please pay"}
	for _, st := range testStages {
		for _, loc := range []string{"zh-CN", "en-US"} {
			tm := e.resolved[tmplKey{"email", st, loc}]
			for _, s := range append(e.samples(tm), e.sample(tm, 10, 3)) {
				t.Run(tm.name+"/"+s.label, func(t *testing.T) {
					r, err := e.Render(&s.msg)
					if err != nil {
						t.Fatal(err)
					}
					if r.Subject == "" || strings.Contains(r.Subject, "\n") {
						t.Errorf("subject %q", r.Subject)
					}
					mustContain(t, r.Body, opts.Signature[loc], opts.OptOut["email"][loc], total[loc], action[loc])
					lines := strings.Split(r.Body, "\n")
					sums := map[string]int64{}
					var codes []string
					for _, it := range s.msg.Items {
						line := fmt.Sprintf("%s，第%d期：应还%s，到期日%s", string(appendAccount(nil, it.AccountRef, true)), it.Seq,
							FormatMoney(it.AmountMinor, it.Currency, loc), string(appendItemDate(nil, it.DueDate, s.msg.BusinessDate, tm)))
						days := map[bool]string{true: fmt.Sprintf("已逾期%d天", it.DaysPastDue), false: fmt.Sprintf("%d天后", -it.DaysPastDue)}[it.DaysPastDue > 0]
						if loc == "en-US" {
							line = fmt.Sprintf("Loan %s, installment %d: %s, due %s", string(appendAccount(nil, it.AccountRef, false)), it.Seq,
								FormatMoney(it.AmountMinor, it.Currency, loc), FormatDate(it.DueDate, loc))
							days = map[bool]string{true: fmt.Sprintf("%d day", it.DaysPastDue), false: fmt.Sprintf("in %d day", -it.DaysPastDue)}[it.DaysPastDue > 0]
						}
						if it.DaysPastDue == 0 {
							days = map[string]string{"zh-CN": "（今日）", "en-US": "(today)"}[loc]
						}
						if !slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, line) && strings.Contains(l, days) }) {
							t.Errorf("no line with %q and %q", line, days)
						}
						if !slices.Contains(codes, it.Currency) {
							codes = append(codes, it.Currency)
						}
						sums[it.Currency] += it.AmountMinor
					}
					for _, code := range codes {
						mustContain(t, r.Body, FormatMoney(sums[code], code, loc))
					}
				})
			}
		}
	}
}
