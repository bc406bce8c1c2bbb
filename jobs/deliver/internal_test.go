package deliver

import (
	"testing"
	"time"

	"github.com/loanremind/loanremind/queries"
)

func TestBackoff(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		attempt    int
		jitter     float64
		retryAfter time.Duration
		want       time.Duration
	}{
		{"first, no jitter", 1, 0.5, 0, 5 * time.Second},
		{"first, least", 1, 0, 0, 2500 * time.Millisecond},
		{"first, most", 1, 0.999999, 0, 7499995 * time.Microsecond},
		{"third doubles twice", 3, 0.5, 0, 20 * time.Second},
		{"capped", 30, 0.5, 0, time.Minute},
		{"retry-after longer", 1, 0.5, 90 * time.Second, 90 * time.Second},
		{"retry-after shorter", 3, 0.5, time.Second, 20 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := backoff(tc.attempt, 5*time.Second, time.Minute, tc.retryAfter, tc.jitter); got.Round(time.Microsecond) != tc.want {
				t.Errorf("backoff = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestBreaker(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC)
	var changes []bool
	b := newBreaker(3, time.Minute, func(open bool) { changes = append(changes, open) })
	for i := range 2 {
		b.failure(now)
		if st, _ := b.state(now); st != breakerClosed {
			t.Fatalf("open after %d failures", i+1)
		}
	}
	b.success()
	b.failure(now)
	b.failure(now)
	if st, _ := b.state(now); st != breakerClosed {
		t.Fatal("a success did not reset the count")
	}
	b.failure(now)
	if st, until := b.state(now); st != breakerOpen || !until.Equal(now.Add(time.Minute)) {
		t.Fatalf("after 3 failures: %v until %s", st, until)
	}
	if ok, _ := b.allow(now.Add(59 * time.Second)); ok {
		t.Fatal("allowed a call while open")
	}
	later := now.Add(time.Minute)
	if st, _ := b.state(later); st != breakerHalfOpen {
		t.Fatal("not half-open after the cooldown")
	}
	if ok, _ := b.allow(later); !ok {
		t.Fatal("no trial call")
	}
	if ok, _ := b.allow(later); ok {
		t.Fatal("two trial calls at once")
	}
	b.failure(later)
	if st, until := b.state(later); st != breakerOpen || !until.Equal(later.Add(time.Minute)) {
		t.Fatalf("a failed trial: %v until %s", st, until)
	}
	b.allow(later.Add(time.Minute))
	b.success()
	if st, _ := b.state(later.Add(time.Minute)); st != breakerClosed {
		t.Fatal("a good trial did not close it")
	}
	if len(changes) != 3 || !changes[0] || !changes[1] || changes[2] {
		t.Errorf("changes %v, want open, open, closed", changes)
	}
}

func TestCheckFacts(t *testing.T) {
	t.Parallel()
	normalize := func(raw, region string) string {
		if raw == "13812345678" || raw == "+8613812345678" {
			return "+8613812345678"
		}
		return ""
	}
	ok := func() queries.SendFact {
		return queries.SendFact{SendID: 1, Channel: "sms", Recipient: "+8613812345678", BorrowerFound: true,
			Phone: "+8613812345678", Email: "a@example.com", ItemInstallmentID: 10, ItemAmountMinor: 500,
			InstallmentFound: true, AmountDueMinor: 1000, AmountPaidMinor: 500, LoanFound: true, LoanStatus: "active"}
	}
	for _, tc := range []struct {
		name string
		edit func(rows []queries.SendFact) []queries.SendFact
		want string
	}{
		{"as written", nil, ""},
		{"national number", func(r []queries.SendFact) []queries.SendFact { r[0].Phone = "13812345678"; return r }, ""},
		{"paid", func(r []queries.SendFact) []queries.SendFact { r[0].AmountPaidMinor = 1000; return r }, ReasonPaid},
		{"overpaid", func(r []queries.SendFact) []queries.SendFact { r[0].AmountPaidMinor = 2000; return r }, ReasonPaid},
		{"installment gone", func(r []queries.SendFact) []queries.SendFact { r[0].InstallmentFound = false; return r }, ReasonPaid},
		{"partly paid", func(r []queries.SendFact) []queries.SendFact { r[0].AmountPaidMinor = 600; return r }, ReasonAmountChanged},
		{"amount raised", func(r []queries.SendFact) []queries.SendFact { r[0].AmountDueMinor = 1200; return r }, ReasonAmountChanged},
		{"one of two paid", func(r []queries.SendFact) []queries.SendFact {
			o := ok()
			o.ItemInstallmentID, o.AmountPaidMinor = 11, 1000
			return append(r, o)
		}, ReasonAmountChanged},
		{"both paid", func(r []queries.SendFact) []queries.SendFact {
			r[0].AmountPaidMinor = 1000
			o := ok()
			o.ItemInstallmentID, o.AmountPaidMinor = 11, 1000
			return append(r, o)
		}, ReasonPaid},
		{"sms opt-out", func(r []queries.SendFact) []queries.SendFact { r[0].SMSOptOut = true; return r }, ReasonOptedOut},
		{"email opt-out does not stop sms", func(r []queries.SendFact) []queries.SendFact { r[0].EmailOptOut = true; return r }, ""},
		{"do not contact beats paid", func(r []queries.SendFact) []queries.SendFact {
			r[0].NoCalls, r[0].AmountPaidMinor = true, 1000
			return r
		}, ReasonDoNotContact},
		{"new number", func(r []queries.SendFact) []queries.SendFact { r[0].Phone = "+8613900000000"; return r }, ReasonContactChanged},
		{"number removed", func(r []queries.SendFact) []queries.SendFact { r[0].Phone = ""; return r }, ReasonContactChanged},
		{"borrower gone", func(r []queries.SendFact) []queries.SendFact { r[0].BorrowerFound = false; return r }, ReasonContactChanged},
		{"email same but cased", func(r []queries.SendFact) []queries.SendFact {
			r[0].Channel, r[0].Recipient, r[0].Email = "email", "a@example.com", " A@Example.com"
			return r
		}, ""},
		{"email changed", func(r []queries.SendFact) []queries.SendFact {
			r[0].Channel, r[0].Recipient, r[0].Email = "email", "a@example.com", "b@example.com"
			return r
		}, ReasonContactChanged},
		{"email opt-out", func(r []queries.SendFact) []queries.SendFact {
			r[0].Channel, r[0].Recipient, r[0].EmailOptOut = "email", "a@example.com", true
			return r
		}, ReasonOptedOut},
		{"disputed", func(r []queries.SendFact) []queries.SendFact { r[0].LoanStatus = "disputed"; return r }, "loan_status:disputed"},
		{"deceased", func(r []queries.SendFact) []queries.SendFact { r[0].LoanStatus = "deceased"; return r }, "loan_status:deceased"},
		{"hostile status", func(r []queries.SendFact) []queries.SendFact { r[0].LoanStatus = "x\u202e\nDROP"; return r }, ReasonLoanStatusOther},
		{"empty status", func(r []queries.SendFact) []queries.SendFact { r[0].LoanStatus = ""; return r }, ReasonLoanStatusOther},
		{"loan gone", func(r []queries.SendFact) []queries.SendFact { r[0].LoanFound = false; return r }, ReasonLoanStatusOther},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows := []queries.SendFact{ok()}
			if tc.edit != nil {
				rows = tc.edit(rows)
			}
			if got := checkFacts(rows, normalize); got != tc.want {
				t.Errorf("checkFacts = %q, want %q", got, tc.want)
			}
		})
	}
}
