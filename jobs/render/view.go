package render

// View is the data a template sees as its dot. Every string in it is already
// formatted for the template's locale; a template never sees a full account
// reference, a raw amount or a raw date.
//
//	{{.Signature}}        sender signature for the locale, e.g. "【安心金融】", "Anxin Finance"
//	{{.OptOut}}           opt-out line for the channel and locale, e.g. "回复TD退订"
//	{{.Name}}             borrower's full name, control characters removed (email greetings;
//	                      SMS templates should not use it: a phone can be shared)
//	{{.Count}}            number of items (1 or more)
//	{{.Items}}            the items, in the caller's order (overdue first), see ItemView;
//	                      at most MaxListedItems of them
//	{{.More}}             how many items .Items leaves out (0 when it lists all)
//	{{.Totals}}           formatted total per currency, in order of first appearance
//	{{.Total}}            the formatted total when all items share one currency, else ""
//	{{.MultiCurrency}}    true when the items are in several currencies
//	{{.Overdue}}          true when some item is overdue
//	{{.MostDaysOverdue}}  the most days an item is past due (0 when none is overdue)
//	{{.DueToday}}         true when some item is due on the business date
//	{{.DaysUntilDue}}     days before the earliest due date, > 0 only when no item is due yet
//	{{.EarliestDueDate}}  the earliest due date of the items, formatted as ItemView.DueDate
//
// Templates test .Count with `{{if eq .Count 1}}` and join totals with
// `{{range $i, $t := .Totals}}{{if $i}} + {{end}}{{$t}}{{end}}`. A summary of
// several items says how many (.Count), the total per currency (.Totals),
// and the most days overdue (.MostDaysOverdue) or, when none is, when the
// first is due (.DueToday; .EarliestDueDate or .DaysUntilDue).
//
// Amounts (ItemView.Amount, .Totals, .Total) of an SMS that is not in
// Chinese are in a GSM-7 form: "$", "£" and "€" amounts with their symbol,
// any other currency with its ISO code first ("INR 3,637.05"), so that the
// SMS stays in GSM-7 (see FormatSMSMoney).
// MaxListedItems is the most items a message lists (View.Items): the
// rest are counted (View.More), so that no number of installments makes a
// message grow without bound.
const MaxListedItems = 50

type View struct {
	Signature     string
	OptOut        string
	Name          string
	Count         int
	Items         []ItemView
	More          int
	Totals        []string
	Total         string
	MultiCurrency bool

	Overdue         bool
	MostDaysOverdue int
	DueToday        bool
	DaysUntilDue    int
	EarliestDueDate string
}

// ItemView is one installment as a template sees it (an element of
// View.Items).
//
//	{{.Account}}       masked account reference: "****2345", for Chinese "尾号2345"
//	{{.Seq}}           installment number
//	{{.DueDate}}       due date for the locale: "Nov 21, 2026"; Chinese "11月21日", with the
//	                   year ("2026年11月21日") only when it differs from the business date's
//	{{.Amount}}        amount left to pay: "¥1,234.56", "$1,234.56"
//	{{.DaysOverdue}}   days past the due date, > 0 only when overdue
//	{{.DaysUntilDue}}  days before the due date, > 0 only before it
//	{{.Stage}}         the item's stage name ("overdue_7d")
//	{{.Overdue}}       DaysOverdue > 0
//	{{.DueToday}}      due on the business date
type ItemView struct {
	Account      string
	Seq          int
	DueDate      string
	Amount       string
	DaysOverdue  int
	DaysUntilDue int
	Stage        string
	Overdue      bool
	DueToday     bool
}
