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
	label string // "1 item", "3 items, 2 currencies"
	msg   Message
}

// sampleBusinessDate is the business date of every sample message.
func sampleBusinessDate() civil.Date { return civil.DateOf(2026, time.November, 18) }

// samples returns the sample messages New renders a template with and
// Preview shows: one item in the locale's home currency; three items in two
// currencies for a borrower with a long name (the second currency's item in
// the stage before t's, when there is one, so that a message mixes stages
// as real ones do); for SMS also 1,000 items in three currencies.
func (e *Engine) samples(t *tmpl) []sample {
	out := []sample{e.sample(t, 1, 1), e.sample(t, 3, 2)}
	if t.sms {
		out = append(out, e.sample(t, 1000, 3))
	}
	return out
}

// budgetSamples returns the further messages an SMS template must render
// within the segment budget: 2, 3, 10 and 1,000 items in one currency, and
// in two or three (as many as there are items, up to three).
func (e *Engine) budgetSamples(t *tmpl) []sample {
	return []sample{
		e.sample(t, 2, 1), e.sample(t, 2, 2),
		e.sample(t, 3, 1), e.sample(t, 3, 3),
		e.sample(t, 10, 1), e.sample(t, 10, 3),
		e.sample(t, 1000, 1),
	}
}

// sample returns a message of count items in currencies currencies (1-3)
// for template t. Item i is in currency i mod currencies, in t's stage or,
// for odd i, the stage before it; items are ordered overdue first.
func (e *Engine) sample(t *tmpl, count, currencies int) sample {
	codes := []string{"USD", "CNY", "INR"}
	name, longName := "Jordan Smith", "Maximilian Alexander Featherstonehaugh-Worthington III"
	if t.zh {
		codes = []string{"CNY", "USD", "HKD"}
		name, longName = "张伟", "欧阳·阿卜杜热合曼·买买提明·司马相如"
	}
	prev := t.stage
	if i := slices.Index(e.stages, t.stage); i > 0 {
		prev = e.stages[i-1]
	}
	stageDays, prevDays := sampleDays(t.stage), sampleDays(prev)
	biz := sampleBusinessDate()
	refs := []string{"LN-2024-00012345", "LN-2023-00098765", "CL-2025-00004321", // then these in turn
		"LN-2025-00031416", "LN-2022-00027182", "CL-2024-00016180", "LN-2025-00014142", "LN-2021-00017320"}
	seqs := []int{3, 12, 1}
	amounts := []int64{123456, 9876543, 500000}
	items := make([]Item, count)
	for i := range items {
		stage, days := t.stage, stageDays
		if i%2 == 1 {
			stage, days = prev, prevDays
		}
		ref, seq := refs[3+i%(len(refs)-3)], 1+i%36
		if i < len(seqs) {
			ref, seq = refs[i], seqs[i]
		}
		items[i] = Item{AccountRef: ref, Seq: seq, DueDate: biz.AddDays(-days), AmountMinor: amounts[i%len(amounts)],
			Currency: codes[i%currencies], Stage: stage, DaysPastDue: days}
	}
	if first := max(stageDays, prevDays); stageDays != prevDays { // overdue first, else in order
		items = append(slices.DeleteFunc(slices.Clone(items), func(it Item) bool { return it.DaysPastDue != first }),
			slices.DeleteFunc(items, func(it Item) bool { return it.DaysPastDue == first })...)
	}
	msg := Message{Channel: t.channel, Stage: t.stage, Locale: t.locale, Name: longName, BusinessDate: biz, Items: items}
	if count == 1 {
		msg.Name = name
	}
	return sample{sampleLabel(count, currencies), msg}
}

// sampleLabel names a sample: "1 item", "3 items, 2 currencies", "1,000
// items, 1 currency".
func sampleLabel(count, currencies int) string {
	if count == 1 {
		return "1 item"
	}
	label := string(appendGrouped(nil, uint64(count))) + " items, " + strconv.Itoa(currencies)
	if currencies == 1 {
		return label + " currency"
	}
	return label + " currencies"
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
