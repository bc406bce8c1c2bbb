package render

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/template"

	"github.com/loanremind/loanremind/jobs/civil"
	"github.com/loanremind/loanremind/jobs/clean"
)

// Item is one installment in a message.
type Item struct {
	AccountRef  string     // full reference; templates only ever see it masked (last 4)
	Seq         int        // installment number
	DueDate     civil.Date // due date
	AmountMinor int64      // amount left to pay, integer minor units (> 0)
	Currency    string     // ISO 4217
	Stage       string     // the item's stage
	DaysPastDue int        // business date - due date; negative = days until due
}

// Message is one reminder to one borrower on one channel.
type Message struct {
	Channel, Stage, Locale string     // Stage = the most severe stage among the items
	Name                   string     // borrower's full name (may be used in email greetings)
	BusinessDate           civil.Date // DaysPastDue of every item = BusinessDate - DueDate
	Items                  []Item     // caller orders them (overdue first)
}

// Rendered is a rendered message.
type Rendered struct {
	Template       string // name used, e.g. "sms/overdue_7d.zh-CN.tmpl"
	TemplateSHA256 string // sha256 hex of the template source
	Locale         string // locale actually used after fallback
	Subject        string // email only
	Body           string
	Segments       int    // SMS parts (GSM-7 160/153, UCS-2 70/67); 0 for email
	Encoding       string // "GSM-7" or "UCS-2" for sms, "" for email
}

// Render renders m with the template for (m.Channel, m.Stage, m.Locale),
// falling back as New describes. It checks the data (see ErrBadMessage),
// formats amounts, dates and masked account references for the template's
// locale, and checks the result again (signature, opt-out line, no link).
// It is safe for concurrent use.
func (e *Engine) Render(m *Message) (Rendered, error) {
	if m == nil {
		return Rendered{}, fmt.Errorf("render: %w: nil message", ErrBadMessage)
	}
	t := e.lookup(m.Channel, m.Stage, m.Locale)
	if t == nil {
		return Rendered{}, fmt.Errorf("render: %w for channel %q, stage %q", ErrNoTemplate, m.Channel, m.Stage)
	}
	r, err := e.render(t, m)
	if err != nil {
		return Rendered{}, fmt.Errorf("render %s: %w", t.name, err)
	}
	return r, nil
}

// lookup returns the template for a message, or nil for an unknown channel
// or stage. An empty or malformed locale gets the default locale.
func (e *Engine) lookup(channel, stage, locale string) *tmpl {
	if t := e.resolved[tmplKey{channel, stage, locale}]; t != nil {
		return t
	}
	if l, ok := canonicalLocale(strings.TrimSpace(locale)); ok {
		if t := e.resolved[tmplKey{channel, stage, l}]; t != nil {
			return t
		}
		if t := e.byLanguage[tmplKey{channel, stage, language(l)}]; t != nil {
			return t
		}
	}
	return e.resolved[tmplKey{channel, stage, e.defaultLocale}]
}

// scratch is the per-call working memory of render, pooled.
type scratch struct {
	view       View
	items      []ItemView
	totals     []string
	sums       []currencySum // total per currency, in order of first appearance
	currencyOf []int         // per item, the index of its currency in sums
	offs       []int         // end offsets of the formatted strings in text
	text       []byte        // every formatted string of the view, back to back
	out        bytes.Buffer
}

// exec runs a template on sc.view into sc.out.
func (sc *scratch) exec(tt *template.Template) error {
	sc.out.Reset()
	return tt.Execute(&sc.out, &sc.view)
}

type currencySum struct {
	info    currencyInfo
	asGiven string // the code as the first item in it gave it ("usd")
	total   int64
}

// render renders m with t and checks the result.
func (e *Engine) render(t *tmpl, m *Message) (Rendered, error) {
	if len(m.Items) == 0 {
		return Rendered{}, fmt.Errorf("%w: no items", ErrBadMessage)
	}
	sc := e.pool.Get().(*scratch)
	defer e.putScratch(sc)
	if err := sc.build(t, m); err != nil {
		return Rendered{}, err
	}

	r := Rendered{Template: t.name, TemplateSHA256: t.sha256, Locale: t.locale}
	if err := sc.exec(t.main); err != nil {
		return Rendered{}, fmt.Errorf("%w: %v", ErrTemplate, err)
	}
	body := bytes.TrimSpace(sc.out.Bytes())
	if len(body) == 0 {
		return Rendered{}, fmt.Errorf("%w: empty body", ErrTemplate)
	}
	r.Body = string(body)
	if t.subject != nil {
		if err := sc.exec(t.subject); err != nil {
			return Rendered{}, fmt.Errorf("%w: subject: %v", ErrTemplate, err)
		}
		sc.text = appendFolded(sc.text[:0], sc.out.Bytes())
		r.Subject = string(sc.text)
		if r.Subject == "" {
			return Rendered{}, fmt.Errorf("%w: empty subject", ErrTemplate)
		}
	}
	if !strings.Contains(r.Body, t.signature) {
		return Rendered{}, fmt.Errorf("%w: rendered text lacks the signature %q", ErrTemplate, t.signature)
	}
	if !strings.Contains(r.Body, t.optOut) {
		return Rendered{}, fmt.Errorf("%w: rendered text lacks the opt-out line %q", ErrTemplate, t.optOut)
	}
	if !e.allowLinks {
		if l := findLink(r.Body); l != "" {
			return Rendered{}, fmt.Errorf("%w: rendered text contains a link %q (links are not allowed)", linkErr(m, l), l)
		}
		if l := findLink(r.Subject); l != "" {
			return Rendered{}, fmt.Errorf("%w: subject contains a link %q (links are not allowed)", linkErr(m, l), l)
		}
	}
	if max := e.maxBytes[t.channel]; max > 0 && len(r.Body)+len(r.Subject) > max {
		kind := ErrTemplate
		if len(m.Items) > 1 || len(m.Name) > 0 {
			kind = ErrBadMessage // the data made it so, or may have
		}
		return Rendered{}, fmt.Errorf("%w: %w: %d bytes, over the %s channel's max_bytes of %d",
			kind, ErrTooLarge, len(r.Body)+len(r.Subject), t.channel, max)
	}
	if t.sms {
		r.Segments, r.Encoding = Segments(r.Body)
	}
	return r, nil
}

// appendFolded appends b with every run of white space (line breaks
// included) replaced by one space and leading and trailing space dropped.
func appendFolded(dst, b []byte) []byte {
	space := false
	for _, c := range bytes.TrimSpace(b) {
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' {
			space = true
			continue
		}
		if space {
			dst = append(dst, ' ')
			space = false
		}
		dst = append(dst, c)
	}
	return dst
}

// linkErr classifies a link found in rendered text: one that comes from the
// borrower's name is bad data, any other a template problem.
func linkErr(m *Message, link string) Error {
	if strings.Contains(m.Name, link) {
		return ErrBadMessage
	}
	return ErrTemplate
}

func (e *Engine) putScratch(sc *scratch) {
	clear(sc.items)
	clear(sc.totals)
	sc.view = View{}
	if sc.out.Cap() > 64<<10 { // do not keep a huge buffer around
		sc.out = bytes.Buffer{}
	}
	e.pool.Put(sc)
}

// build fills sc.view for m formatted for template t. All formatted strings
// are appended to one buffer and converted to a string once.
func (sc *scratch) build(t *tmpl, m *Message) error {
	if err := sc.sumItems(m); err != nil {
		return err
	}
	// Formatted strings, back to back: per item its account, due date and
	// amount, then each currency's total, then the earliest due date.
	sc.text, sc.offs = sc.text[:0], sc.offs[:0]
	earliest := m.Items[0].DueDate
	for i := range m.Items {
		item := &m.Items[i]
		earliest = min(earliest, item.DueDate)
		sc.text = appendAccount(sc.text, item.AccountRef, t.zh)
		sc.offs = append(sc.offs, len(sc.text))
		sc.text = appendItemDate(sc.text, item.DueDate, m.BusinessDate, t)
		sc.offs = append(sc.offs, len(sc.text))
		sc.text = appendMoney(sc.text, item.AmountMinor, sc.sums[sc.currencyOf[i]].info, t.money)
		sc.offs = append(sc.offs, len(sc.text))
	}
	for _, sum := range sc.sums {
		sc.text = appendMoney(sc.text, sum.total, sum.info, t.money)
		sc.offs = append(sc.offs, len(sc.text))
	}
	sc.text = appendItemDate(sc.text, earliest, m.BusinessDate, t)
	sc.offs = append(sc.offs, len(sc.text))

	formatted := string(sc.text)
	start, nextIndex := 0, 0
	next := func() string {
		s := formatted[start:sc.offs[nextIndex]]
		start = sc.offs[nextIndex]
		nextIndex++
		return s
	}
	sc.view = View{
		Signature: t.signature,
		OptOut:    t.optOut,
		Name:      clean.Name(m.Name),
		Count:     len(m.Items),
	}
	sc.items = sc.items[:0]
	for i := range m.Items {
		item := &m.Items[i]
		v := ItemView{Seq: item.Seq, Stage: item.Stage}
		v.Account, v.DueDate, v.Amount = next(), next(), next()
		switch days := item.DaysPastDue; {
		case days > 0:
			v.DaysOverdue, v.Overdue = days, true
			sc.view.Overdue = true
			sc.view.MostDaysOverdue = max(sc.view.MostDaysOverdue, days)
		case days < 0:
			v.DaysUntilDue = -days
		default:
			v.DueToday = true
			sc.view.DueToday = true
		}
		sc.items = append(sc.items, v)
	}
	sc.totals = sc.totals[:0]
	for range sc.sums {
		sc.totals = append(sc.totals, next())
	}
	sc.view.EarliestDueDate = next()
	if !sc.view.Overdue && !sc.view.DueToday {
		sc.view.DaysUntilDue = int(earliest - m.BusinessDate)
	}
	sc.view.Items, sc.view.Totals = sc.items, sc.totals
	if len(sc.items) > MaxListedItems {
		sc.view.Items, sc.view.More = sc.items[:MaxListedItems], len(sc.items)-MaxListedItems
	}
	sc.view.MultiCurrency = len(sc.totals) > 1
	if len(sc.totals) == 1 {
		sc.view.Total = sc.totals[0]
	}
	return nil
}

// sumItems checks every item of m (see ErrBadMessage) and adds its amount
// to its currency's total in sc.sums, in order of first appearance;
// sc.currencyOf[i] is the index in sc.sums of item i's currency.
func (sc *scratch) sumItems(m *Message) error {
	sc.sums, sc.currencyOf = sc.sums[:0], sc.currencyOf[:0]
	for i := range m.Items {
		item := &m.Items[i]
		if days := int(m.BusinessDate - item.DueDate); days != item.DaysPastDue {
			return fmt.Errorf("%w: item %d: DaysPastDue %d but business date %s - due date %s = %d",
				ErrBadMessage, i+1, item.DaysPastDue, m.BusinessDate, item.DueDate, days)
		}
		currency := slices.IndexFunc(sc.sums, func(sum currencySum) bool { return sum.asGiven == item.Currency })
		if currency < 0 { // a code not seen yet in this message, in the case given
			info, ok := lookupCurrency(item.Currency)
			if !ok {
				return fmt.Errorf("%w: item %d: invalid currency %q", ErrBadMessage, i+1, item.Currency)
			}
			currency = slices.IndexFunc(sc.sums, func(sum currencySum) bool { return sum.info.code == info.code })
			if currency < 0 {
				currency = len(sc.sums)
				sc.sums = append(sc.sums, currencySum{info: info, asGiven: item.Currency})
			}
		}
		if err := sc.addToTotal(item, currency); err != nil {
			return err
		}
	}
	return nil
}

// addToTotal checks the amount of item, the next of the message's items,
// and adds it to the total sc.sums[currency].
func (sc *scratch) addToTotal(item *Item, currency int) error {
	n := len(sc.currencyOf) + 1 // the item's number, for errors
	if item.AmountMinor <= 0 {
		return fmt.Errorf("%w: item %d: amount %d is not positive", ErrBadMessage, n, item.AmountMinor)
	}
	if sc.sums[currency].total > math.MaxInt64-item.AmountMinor {
		return fmt.Errorf("%w: total in %s overflows", ErrBadMessage, sc.sums[currency].info.code)
	}
	sc.sums[currency].total += item.AmountMinor
	sc.currencyOf = append(sc.currencyOf, currency)
	return nil
}

// appendItemDate appends an item's due date as templates see it: FormatDate,
// except that Chinese drops the year when it is the business date's year
// ("11月21日"), as Chinese reminders do: a UCS-2 SMS part holds only 67
// characters. English keeps "Nov 21, 2026".
func appendItemDate(dst []byte, due, biz civil.Date, t *tmpl) []byte {
	if t.zh {
		y, m, d := due.YMD()
		if by, _, _ := biz.YMD(); by == y {
			dst = strconv.AppendInt(dst, int64(m), 10)
			dst = append(dst, "月"...)
			dst = strconv.AppendInt(dst, int64(d), 10)
			return append(dst, "日"...)
		}
	}
	return appendDate(dst, due, t.locale)
}

// appendAccount appends the masked account reference: its last 4 letters
// or digits (clean.AccountTail) after "****" ("****2345"), or after "尾号"
// for Chinese ("尾号2345"); a reference of 4 or fewer is all masked. Same
// rule as pii.MaskAccount.
func appendAccount(dst []byte, ref string, zh bool) []byte {
	if zh {
		dst = append(dst, "尾号"...)
	} else {
		dst = append(dst, "****"...)
	}
	tail := clean.AccountTail(ref)
	if tail == "" && zh {
		return append(dst, "****"...)
	}
	return append(dst, tail...)
}
