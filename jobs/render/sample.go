package render

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/loanremind/loanremind/jobs/civil"
)

// sample is a fixed message used to check and preview a template.
type sample struct {
	label string
	msg   Message
}

// sampleBusinessDate is the business date of every sample message.
func sampleBusinessDate() civil.Date { return civil.DateOf(2026, time.November, 18) }

// samples returns the sample messages for t: one item in the locale's home
// currency, then three items in two currencies for a borrower with a long
// name (the second currency's item in the stage before t's, when there is
// one, so that a message mixes stages as real ones do).
func (e *Engine) samples(t *tmpl) []sample {
	home, other := "USD", "CNY"
	name, longName := "Jordan Smith", "Maximilian Alexander Featherstonehaugh-Worthington III"
	if t.zh {
		home, other = "CNY", "USD"
		name, longName = "张伟", "欧阳·阿卜杜热合曼·买买提明·司马相如"
	}
	biz := sampleBusinessDate()
	item := func(ref string, seq int, stage string, amount int64, cur string) Item {
		d := sampleDays(stage)
		return Item{AccountRef: ref, Seq: seq, DueDate: biz.AddDays(-d), AmountMinor: amount,
			Currency: cur, Stage: stage, DaysPastDue: d}
	}
	prev := t.stage
	if i := slices.Index(e.stages, t.stage); i > 0 {
		prev = e.stages[i-1]
	}
	three := []Item{
		item("LN-2024-00012345", 3, t.stage, 123456, home),
		item("LN-2023-00098765", 12, prev, 9876543, other),
		item("CL-2025-00004321", 1, t.stage, 500000, home),
	}
	slices.SortStableFunc(three, func(a, b Item) int { return b.DaysPastDue - a.DaysPastDue })
	return []sample{
		{"1 item", Message{Channel: t.channel, Stage: t.stage, Locale: t.locale, Name: name,
			BusinessDate: biz, Items: []Item{item("LN-2024-00012345", 3, t.stage, 123456, home)}}},
		{"3 items, 2 currencies", Message{Channel: t.channel, Stage: t.stage, Locale: t.locale, Name: longName,
			BusinessDate: biz, Items: three}},
	}
}

// sampleDays guesses a stage's days past due from its name, for sample data
// only: "upcoming_3d" → -3, "due_today" → 0, "overdue_7d" → 7. A name without
// a number counts 1 day; one that says neither "upcoming"/"before"/"pre" nor
// "overdue"/"past"/"late" counts as due today.
func sampleDays(stage string) int {
	s := strings.ToLower(stage)
	if strings.Contains(s, "today") {
		return 0
	}
	n := 1
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			j := i
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			if v, err := strconv.Atoi(s[i:j]); err == nil && v > 0 && v < 3650 {
				n = v
			}
			break
		}
	}
	switch {
	case strings.Contains(s, "upcoming"), strings.Contains(s, "before"), strings.HasPrefix(s, "pre"):
		return -n
	case strings.Contains(s, "overdue"), strings.Contains(s, "past"), strings.Contains(s, "late"):
		return n
	}
	return 0
}
