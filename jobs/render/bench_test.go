package render

import (
	"testing"
	"time"

	"github.com/loanremind/loanremind/jobs/civil"
)

// benchMessages are typical messages: 1- and 2-item SMS in both locales and
// a 2-item email.
func benchMessages() map[string]*Message {
	biz := civil.DateOf(2026, time.November, 18)
	one := []Item{{AccountRef: "LN-2024-00012345", Seq: 3, DueDate: biz - 7, AmountMinor: 123456, Currency: "CNY", Stage: "overdue_7d", DaysPastDue: 7}}
	two := append(one[:1:1], Item{AccountRef: "LN-2023-00098765", Seq: 12, DueDate: biz, AmountMinor: 9876543, Currency: "USD", Stage: "due_today", DaysPastDue: 0})
	oneUSD := []Item{{AccountRef: "LN-2024-00012345", Seq: 3, DueDate: biz - 7, AmountMinor: 123456, Currency: "USD", Stage: "overdue_7d", DaysPastDue: 7}}
	return map[string]*Message{
		"sms/zh-CN/1":   {Channel: "sms", Stage: "overdue_7d", Locale: "zh-CN", BusinessDate: biz, Items: one},
		"sms/zh-CN/2":   {Channel: "sms", Stage: "overdue_7d", Locale: "zh-CN", BusinessDate: biz, Items: two},
		"sms/en-US/1":   {Channel: "sms", Stage: "overdue_7d", Locale: "en-US", BusinessDate: biz, Items: oneUSD},
		"email/en-US/2": {Channel: "email", Stage: "overdue_7d", Locale: "en-US", Name: "Jordan Smith", BusinessDate: biz, Items: two},
	}
}

// BenchmarkRender measures Render on the default templates (go test
// -bench Render -benchmem ./jobs/render). The 1,000,000-borrower benchmark
// run renders 162,912 messages.
func BenchmarkRender(b *testing.B) {
	e := newDefaultEngine(b)
	msgs := benchMessages()
	for _, name := range []string{"sms/zh-CN/1", "sms/zh-CN/2", "sms/en-US/1", "email/en-US/2"} {
		m := msgs[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.Render(m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("sms/zh-CN/2/parallel", func(b *testing.B) {
		m := msgs["sms/zh-CN/2"]
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := e.Render(m); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
