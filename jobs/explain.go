package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/loanremind/loanremind/jobs/civil"
	"github.com/loanremind/loanremind/jobs/pii"
	"github.com/loanremind/loanremind/jobs/policy"
	"github.com/loanremind/loanremind/queries"
)

// Explanation says, in plain words, why an installment was or was not
// reminded: the facts, the policy's reasoning step by step, its outcome on
// each channel, and the installment's audit history.
type Explanation struct {
	InstallmentID int64
	AsOf          time.Time
	Basis         string // what the evaluation instant is
	Facts         []string
	Trace         []string
	Outcomes      []ExplainedOutcome
	// Differences name where this evaluation disagrees with what the run
	// it re-evaluates recorded, and why it may.
	Differences []string
	History     []queries.InstallmentDecision
	// Deliveries is what became of the messages in History: their
	// delivery trail, message by message, in order.
	Deliveries []queries.DeliveryEvent
}

// ExplainedOutcome is the policy's verdict on one channel.
type ExplainedOutcome struct {
	Stage, Channel, Decision, Reason string
	ScheduledFor, ValidUntil         time.Time
	Local                            []string // the send time in each candidate zone
}

// ErrNoInstallment means the installment does not exist.
var ErrNoInstallment = errors.New("no such installment")

// Explain evaluates the policy for one installment. With a zero asOf it
// re-evaluates its latest recorded decision as that run saw it (as of the
// run, counting only sends that existed when the run started), or, if it
// was never decided, as of now.
func (r *Runner) Explain(ctx context.Context, installmentID int64, asOf time.Time) (*Explanation, error) {
	c, err := queries.LoadInstallment(ctx, r.DB, installmentID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("installment %d: %w", installmentID, ErrNoInstallment)
	}
	if err != nil {
		return nil, fmt.Errorf("installment %d: %w", installmentID, err)
	}
	history, err := queries.InstallmentAudit(ctx, r.DB, installmentID)
	if err != nil {
		return nil, fmt.Errorf("audit history: %w", err)
	}
	ex := &Explanation{InstallmentID: installmentID, History: history}
	var sendIDs []int64
	for _, h := range history {
		if h.SendID != 0 && !slices.Contains(sendIDs, h.SendID) {
			sendIDs = append(sendIDs, h.SendID)
		}
	}
	if len(sendIDs) > 0 {
		if ex.Deliveries, err = queries.DeliveriesOfSends(ctx, r.DB, sendIDs); err != nil {
			return nil, fmt.Errorf("delivery trail: %w", err)
		}
	}
	notBefore, sendsBefore := asOf, asOf
	sendLate := false
	var recorded []queries.InstallmentDecision // the decisions being re-evaluated
	switch {
	case !asOf.IsZero():
		ex.Basis = "as of the instant asked for, with the sends that existed then"
	case len(history) > 0:
		last := history[len(history)-1]
		asOf, notBefore, sendsBefore = last.AsOf, last.AsOf, last.StartedAt
		if last.Mode == ModeBackfill {
			notBefore = last.StartedAt
		}
		sendLate = last.SendLate
		for _, h := range history {
			if h.RunID == last.RunID {
				recorded = append(recorded, h)
			}
		}
		late := ""
		if sendLate {
			late = " with --send-late"
		}
		ex.Basis = fmt.Sprintf("as run %d saw it (%s run%s as of %s, started %s), with the sends that existed then",
			last.RunID, last.Mode, late, last.AsOf.Format(time.RFC3339), last.StartedAt.Format(time.RFC3339))
		if last.RunPolicySHA256 != r.Config.PolicySHA256 {
			ex.Basis += fmt.Sprintf("; NOTE: the policy has changed since that run (policy %.12s… then, %.12s… now): this re-evaluation uses the current policy",
				last.RunPolicySHA256, r.Config.PolicySHA256)
		}
	default:
		asOf = r.Now()
		notBefore, sendsBefore = asOf, asOf
		ex.Basis = "as of now: no run has decided this installment yet"
	}
	asOf = asOf.Truncate(time.Microsecond)
	ex.AsOf = asOf

	bd := civil.DateIn(asOf, r.Config.Policy.BusinessZone)
	pol, err := r.policyFor(ctx, bd)
	if err != nil {
		return nil, err
	}
	region := phoneRegion(c.Region, r.Config.DefaultPhoneRegion)
	ph := parsePhone(c.Phone, region)
	b := policy.Borrower{
		ID: c.BorrowerID, TimeZone: c.TimeZone, Region: c.Region, Email: c.Email,
		SMSOptOut: c.SMSOptOut, EmailOptOut: c.EmailOptOut, DoNotContact: c.DoNotContact,
		Phone: policyPhone(c.Phone, ph.Valid, ph.E164, ph.Zones),
	}
	quiet, err := queries.QuietWindows(ctx, r.DB, []int64{c.BorrowerID})
	if err != nil {
		return nil, err
	}
	for _, q := range quiet {
		b.Quiet = append(b.Quiet, quietWindow(q))
	}
	since := asOf.Add(-maxCapWindow(r.Config.Policy.Caps))
	sends, err := queries.SendsBefore(ctx, r.DB, c.BorrowerID, since, sendsBefore)
	if err != nil {
		return nil, err
	}
	var existing []policy.Contact
	for _, s := range sends {
		existing = append(existing, policy.Contact{At: s.ScheduledFor, Channel: policy.Channel(s.Channel)})
	}
	item := policy.Item{
		InstallmentID: c.InstallmentID, LoanID: c.LoanID, Seq: c.Seq, DueDate: civil.Date(c.DueDay),
		AmountDueMinor: c.AmountDueMinor, AmountPaidMinor: c.AmountPaidMinor, Currency: c.Currency,
		LoanStatus: c.LoanStatus,
	}
	ex.Facts = []string{
		fmt.Sprintf("Installment %d: number %d of loan %d (account %s), due %s, %d due and %d paid (minor units of %s).",
			c.InstallmentID, c.Seq, c.LoanID, pii.MaskAccount(c.AccountRef), item.DueDate, c.AmountDueMinor, c.AmountPaidMinor, c.Currency),
		fmt.Sprintf("Loan status: %s.", orNone(c.LoanStatus)),
		fmt.Sprintf("Borrower %d: locale %s, time zone %s, region %s, phone %s (%s), email %s.",
			c.BorrowerID, orNone(c.Locale), orNone(c.TimeZone), orNone(c.Region), orNone(pii.MaskPhone(c.Phone)),
			phoneVerdict(c.Phone, ph), orNone(pii.MaskEmail(c.Email))),
		fmt.Sprintf("Flags: SMS opt-out %s, email opt-out %s, do not contact %s; %d quiet window(s) on file.",
			yesNo(c.SMSOptOut), yesNo(c.EmailOptOut), yesNo(c.DoNotContact), len(quiet)),
		fmt.Sprintf("Business date %s (%s); %d send(s) to this borrower counted for frequency caps.",
			bd, r.Config.Policy.BusinessZone, len(existing)),
	}
	if c.AmountPaidMinor >= c.AmountDueMinor && c.AmountDueMinor >= 0 {
		ex.Facts = append(ex.Facts, "Nothing is left to pay: the job does not select this installment at all.")
	}
	// The other installments of the message the run put this one in: the
	// message's validity is the earliest of its items'.
	items := []policy.Item{item}
	for _, h := range recorded {
		if h.SendID == 0 {
			continue
		}
		others, err := queries.MessageInstallments(ctx, r.DB, h.SendID)
		if err != nil {
			return nil, fmt.Errorf("message %d: %w", h.SendID, err)
		}
		for _, id := range others {
			if id == installmentID || slices.ContainsFunc(items, func(it policy.Item) bool { return it.InstallmentID == id }) {
				continue
			}
			o, err := queries.LoadInstallment(ctx, r.DB, id)
			if err != nil {
				return nil, fmt.Errorf("installment %d of message %d: %w", id, h.SendID, err)
			}
			items = append(items, policy.Item{
				InstallmentID: o.InstallmentID, LoanID: o.LoanID, Seq: o.Seq, DueDate: civil.Date(o.DueDay),
				AmountDueMinor: o.AmountDueMinor, AmountPaidMinor: o.AmountPaidMinor, Currency: o.Currency,
				LoanStatus: o.LoanStatus,
			})
		}
	}
	if len(items) > 1 {
		ex.Facts = append(ex.Facts, fmt.Sprintf("The run put it in one message with %d other installment(s), which are evaluated with it.", len(items)-1))
	}
	req := policy.Request{AsOf: asOf, NotBefore: notBefore.Truncate(time.Microsecond), Borrower: &b,
		Items: items, Existing: existing, Options: policy.Options{Trace: true, SendLate: sendLate}}
	var plan policy.Plan
	pol.Decide(&req, &plan)
	ex.Trace = plan.Trace
	stages := r.Config.Policy.Stages
	for _, o := range plan.Outcomes {
		if o.Item != 0 {
			continue // another installment of the message
		}
		eo := ExplainedOutcome{Channel: string(o.Channel), Decision: string(o.Decision), Reason: o.Reason}
		if o.Stage >= 0 {
			eo.Stage = stages[o.Stage].Name
		}
		if o.Message >= 0 {
			m := plan.Messages[o.Message]
			eo.ScheduledFor, eo.ValidUntil = m.At, m.ValidUntil
			for _, z := range plan.Zones {
				if loc, err := time.LoadLocation(z.Name); err == nil {
					eo.Local = append(eo.Local, fmt.Sprintf("%s %s", m.At.In(loc).Format("2006-01-02 15:04 MST"), z.Name))
				}
			}
		}
		ex.Outcomes = append(ex.Outcomes, eo)
	}
	ex.Differences = differences(ex.Outcomes, recorded)
	ex.Facts = append(ex.Facts, selectionFacts(ex, bd, item.DueDate, recorded != nil)...)
	return ex, nil
}

// selectionFacts says when a run at the evaluated instant would not select
// the installment at all, so that its outcome is not read as a decision a
// run would record: no stage applies, or the ledger already holds the
// stage and channel.
func selectionFacts(ex *Explanation, bd, due civil.Date, reevaluating bool) []string {
	var out []string
	if len(ex.Outcomes) > 0 && !slices.ContainsFunc(ex.Outcomes, func(o ExplainedOutcome) bool { return o.Stage != "" }) {
		out = append(out, fmt.Sprintf("Not a candidate on %s: no stage applies %d day(s) from its due date %s; the outcome below is what the policy says, not a decision any run records.",
			bd, int(bd-due), due))
	}
	if reevaluating {
		return out // the run being re-evaluated decided it
	}
	for _, o := range ex.Outcomes {
		for _, h := range ex.History {
			if h.Stage == o.Stage && h.Channel == o.Channel && !h.AsOf.After(ex.AsOf) {
				out = append(out, fmt.Sprintf("Not a candidate for stage %s, %s at this instant: run %d (as of %s) already decided it (%s); a run then would not select it again.",
					o.Stage, o.Channel, h.RunID, h.AsOf.UTC().Format(time.RFC3339), h.Decision))
				break
			}
		}
	}
	return out
}

// differences compares a re-evaluation with what its run recorded. They
// differ when the borrower's facts changed since (explain reads them as
// they are now), or when the policy did.
func differences(outcomes []ExplainedOutcome, recorded []queries.InstallmentDecision) []string {
	var out []string
	for _, h := range recorded {
		i := slices.IndexFunc(outcomes, func(o ExplainedOutcome) bool { return o.Stage == h.Stage && o.Channel == h.Channel })
		if i < 0 {
			out = append(out, fmt.Sprintf("run %d decided stage %s, %s: %s (%s); this evaluation has no outcome for it",
				h.RunID, h.Stage, h.Channel, h.Decision, orNone(h.Reason)))
			continue
		}
		o := outcomes[i]
		if o.Decision != h.Decision || o.Reason != h.Reason || !o.ScheduledFor.Equal(h.ScheduledFor.Time) || !o.ValidUntil.Equal(h.ValidUntil.Time) {
			out = append(out, fmt.Sprintf("run %d recorded stage %s, %s: %s (%s)%s; this evaluation says %s (%s)%s",
				h.RunID, h.Stage, h.Channel, h.Decision, orNone(h.Reason), window(h.ScheduledFor.Time, h.ValidUntil.Time),
				o.Decision, orNone(o.Reason), window(o.ScheduledFor, o.ValidUntil)))
		}
	}
	for _, o := range outcomes {
		if len(recorded) > 0 && !slices.ContainsFunc(recorded, func(h queries.InstallmentDecision) bool { return o.Stage == h.Stage && o.Channel == h.Channel }) {
			out = append(out, fmt.Sprintf("this evaluation decides stage %s, %s: %s, which run %d did not record",
				orNone(o.Stage), o.Channel, o.Decision, recorded[0].RunID))
		}
	}
	return out
}

func window(from, until time.Time) string {
	if from.IsZero() {
		return ""
	}
	return fmt.Sprintf(", from %s until %s", from.UTC().Format(time.RFC3339), until.UTC().Format(time.RFC3339))
}

func orNone(s string) string {
	if strings.TrimSpace(s) == "" {
		return "(none)"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func phoneVerdict(raw string, p queries.PhoneParse) string {
	switch {
	case raw == "":
		return "missing"
	case !p.Valid:
		return "not a valid number"
	case p.Zones == "":
		return "valid, no time zone known for it"
	default:
		return "valid, zones " + strings.ReplaceAll(p.Zones, ",", ", ")
	}
}
