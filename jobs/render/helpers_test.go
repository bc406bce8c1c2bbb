package render

import (
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"testing/fstest"
)

// defaultTemplates is the built-in template folder, read from disk so that
// this package's tests do not import config (jobs never imports config).
func defaultTemplates() fstest.MapFS {
	fsys := fstest.MapFS{}
	root := "../../config/templates"
	for _, ch := range []string{"sms", "email"} {
		entries, err := os.ReadDir(root + "/" + ch)
		if err != nil {
			panic(err)
		}
		for _, e := range entries {
			b, err := os.ReadFile(root + "/" + ch + "/" + e.Name())
			if err != nil {
				panic(err)
			}
			fsys[ch+"/"+e.Name()] = &fstest.MapFile{Data: b}
		}
	}
	return fsys
}

var testStages = []string{"upcoming_3d", "due_today", "overdue_1d", "overdue_7d", "overdue_30d"}

// testOptions are the options the tests and golden files use: the
// signatures and opt-out lines a Chinese/US lender configures.
func testOptions() Options {
	return Options{
		DefaultLocale: "zh-CN",
		Signature:     map[string]string{"zh-CN": "【安心金融】", "en-US": "Anxin Finance"},
		OptOut: map[string]map[string]string{
			"sms":   {"zh-CN": "回复TD退订", "en-US": "Reply STOP to opt out."},
			"email": {"zh-CN": "如不想再收到此类邮件，请直接回复“退订”。", "en-US": "To stop these emails, reply UNSUBSCRIBE."},
		},
		Stages:   testStages,
		Channels: []string{"sms", "email"},
	}
}

func newDefaultEngine(t testing.TB) *Engine {
	t.Helper()
	e, err := New(defaultTemplates(), testOptions())
	if err != nil {
		t.Fatalf("New with the default templates: %v", err)
	}
	return e
}

// miniFS returns a complete, valid template set for one locale (zh-CN) and
// the sms channel, with the file name overridden by the given files.
func miniFS(override map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for _, st := range testStages {
		fsys["sms/"+st+".zh-CN.tmpl"] = &fstest.MapFile{Data: []byte(
			"{{.Signature}}{{range .Items}}{{.Account}}第{{.Seq}}期{{.Amount}}，{{.DueDate}}到期。{{end}}{{.OptOut}}")}
	}
	for name, src := range override {
		if src == "" {
			delete(fsys, name)
			continue
		}
		fsys[name] = &fstest.MapFile{Data: []byte(src)}
	}
	return fsys
}

func miniOptions() Options {
	o := testOptions()
	o.Channels = []string{"sms"}
	return o
}

func mustContain(t *testing.T, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%q does not contain %q", s, sub)
		}
	}
}

// sampleMessage returns a valid 1-item message (¥1,234.56 due on the
// business date) for channel, stage and locale.
func sampleMessage(channel, stage, locale string) *Message {
	biz := sampleBusinessDate()
	return &Message{Channel: channel, Stage: stage, Locale: locale, Name: "张伟", BusinessDate: biz,
		Items: []Item{{AccountRef: "LN-2024-00012345", Seq: 3, DueDate: biz, AmountMinor: 123456, Currency: "CNY",
			Stage: stage, DaysPastDue: 0}}}
}

// randomMessages returns n valid messages with random channels, stages,
// locales, names, item counts, currencies, amounts and days.
func randomMessages(n int, seed uint64) []*Message {
	r := rand.New(rand.NewPCG(seed, 99))
	pick := func(s []string) string { return s[r.IntN(len(s))] }
	names := []string{"", "张伟", "Jordan Smith", "Maximilian Alexander Featherstonehaugh-Worthington III", "O'Brien\tMary", "李\n娜"}
	biz := sampleBusinessDate()
	out := make([]*Message, n)
	for i := range out {
		m := &Message{
			Channel:      pick([]string{"sms", "email"}),
			Stage:        pick(testStages),
			Locale:       pick([]string{"zh-CN", "en-US", "en-GB", "zh-TW", "fr-FR", ""}),
			Name:         pick(names),
			BusinessDate: biz,
		}
		for range 1 + r.IntN(5) {
			days := r.IntN(130) - 5
			m.Items = append(m.Items, Item{
				AccountRef:  pick([]string{"LN-2024-00012345", "9", "CL-88", "账户一二三四五"}),
				Seq:         r.IntN(40),
				DueDate:     biz.AddDays(-days),
				AmountMinor: 1 + r.Int64N(1<<40),
				Currency:    pick([]string{"CNY", "USD", "JPY", "KWD", "EUR", "NPR"}),
				Stage:       pick(testStages),
				DaysPastDue: days,
			})
		}
		out[i] = m
	}
	return out
}
