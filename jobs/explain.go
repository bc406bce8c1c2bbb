package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"github.com/loanremind/loanremind/jobs/clean"
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
// was never decided, as of now. It maps the installment's row to the
// policy's input as a run maps a candidate (input.go).
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
	eval := r.evaluation(history, asOf)
	ex := &Explanation{InstallmentID: installmentID, History: history, Basis: eval.basis, AsOf: eval.asOf}
	if ex.Deliveries, err = deliveriesOf(ctx, r.DB, history); err != nil {
		return nil, err
	}
	businessDate := civil.DateIn(eval.asOf, r.Config.Policy.BusinessZone)
	pol, err := r.policyFor(ctx, businessDate)
	if err != nil {
		return nil, err
	}
	in, existing, err := r.explainInput(ctx, c, &eval)
	if err != nil {
		return nil, err
	}
	ex.Facts = r.facts(c, in, len(existing), businessDate)
	if err := r.addMessageItems(ctx, in, eval.recorded); err != nil {
		return nil, err
	}
	if len(in.items) > 1 {
		ex.Facts = append(ex.Facts, fmt.Sprintf("The run put it in one message with %d other installment(s), which are evaluated with it.", len(in.items)-1))
	}
	req := in.request(eval.asOf, eval.notBefore, existing, policy.Options{Trace: true, SendLate: eval.sendLate})
	var plan policy.Plan
	pol.Decide(&req, &plan)
	ex.Trace = plan.Trace
	ex.Outcomes = r.explainOutcomes(&plan)
	ex.Differences = differences(ex.Outcomes, eval.recorded)
	ex.Facts = append(ex.Facts, selectionFacts(ex, businessDate, in.items[0].DueDate, eval.recorded != nil)...)
	return ex, nil
}

// evaluation is what explain evaluates an installment as.
type evaluation struct {
	asOf        time.Time // the run's instant
	notBefore   time.Time // the earliest send instant
	sendsBefore time.Time // sends created before this count for the caps
	sendLate    bool
	recorded    []queries.InstallmentDecision // the decisions being re-evaluated
	basis       string                        // what the evaluation instant is, in words
}

// evaluation chooses the instant to evaluate as: the one asked for, else as
// the latest run that decided the installment saw it, else now.
func (r *Runner) evaluation(history []queries.InstallmentDecision, asOf time.Time) evaluation {
	eval := evaluation{asOf: asOf, notBefore: asOf, sendsBefore: asOf}
	switch {
	case !asOf.IsZero():
		eval.basis = "as of the instant asked for, with the sends that existed then"
	case len(history) > 0:
		last := history[len(history)-1]
		eval.asOf, eval.notBefore, eval.sendsBefore = last.AsOf, last.AsOf, last.StartedAt
		if Mode(last.Mode) == ModeBackfill {
			eval.notBefore = last.StartedAt
		}
		eval.sendLate = last.SendLate
		for _, h := range history {
			if h.RunID == last.RunID {
				eval.recorded = append(eval.recorded, h)
			}
		}
		late := ""
		if eval.sendLate {
			late = " with --send-late"
		}
		eval.basis = fmt.Sprintf("as run %d saw it (%s run%s as of %s, started %s), with the sends that existed then",
			last.RunID, last.Mode, late, last.AsOf.Format(time.RFC3339), last.StartedAt.Format(time.RFC3339))
		if last.RunPolicySHA256 != r.Config.PolicySHA256 {
			eval.basis += fmt.Sprintf("; NOTE: the policy has changed since that run (policy %.12s… then, %.12s… now): this re-evaluation uses the current policy",
				last.RunPolicySHA256, r.Config.PolicySHA256)
		}
	default:
		now := r.Now()
		eval.asOf, eval.notBefore, eval.sendsBefore = now, now, now
		eval.basis = "as of now: no run has decided this installment yet"
	}
	eval.asOf = eval.asOf.Truncate(time.Microsecond)
	eval.notBefore = eval.notBefore.Truncate(time.Microsecond)
	return eval
}

// explainInput maps the installment's row as a run maps a candidate: its
// borrower (the phone number parsed as a run parses one the cache does not
// know), its item and its quiet windows; and the sends the caps count.
func (r *Runner) explainInput(ctx context.Context, c *queries.Candidate, eval *evaluation) (*borrowerInput, []policy.Contact, error) {
	inputs := []borrowerInput{newBorrowerInput(c, r.Config.DefaultPhoneRegion, r.Config.Hasher)}
	parsePhones(inputs, r.Config.Hasher)
	in := &inputs[0]
	in.items = []policy.Item{itemOf(c)}
	if !validUTF8(c.AccountRef, c.Currency, c.LoanStatus) {
		in.borrower.BadData = policy.ReasonInvalidEncoding
	}
	quiet, err := queries.QuietWindows(ctx, r.DB, []int64{c.BorrowerID})
	if err != nil {
		return nil, nil, err
	}
	windows, bad := quietWindowsByBorrower(quiet)
	in.borrower.Quiet = windows[c.BorrowerID]
	if bad[c.BorrowerID] {
		in.borrower.BadData = policy.ReasonInvalidQuietWindow
	}
	since := eval.asOf.Add(-capsWindow(r.Config.Policy.Caps))
	sends, err := queries.SendsBefore(ctx, r.DB, c.BorrowerID, since, eval.sendsBefore)
	if err != nil {
		return nil, nil, err
	}
	var existing []policy.Contact
	for _, s := range sends {
		existing = append(existing, contactOf(s.Channel, s.ScheduledFor))
	}
	return in, existing, nil
}

// facts are the installment's and the borrower's facts, personal data
// masked.
func (r *Runner) facts(c *queries.Candidate, in *borrowerInput, counted int, businessDate civil.Date) []string {
	facts := []string{
		fmt.Sprintf("Installment %d: number %d of loan %d (account %s), due %s, %d due and %d paid (minor units of %s).",
			c.InstallmentID, c.Seq, c.LoanID, pii.MaskAccount(c.AccountRef), in.items[0].DueDate, c.AmountDueMinor, c.AmountPaidMinor,
			clean.Text(c.Currency, 16)),
		fmt.Sprintf("Loan status: %s.", orNone(clean.Text(c.LoanStatus, 64))),
		fmt.Sprintf("Borrower %d: locale %s, time zone %s, region %s, phone %s (%s), email %s.",
			c.BorrowerID, orNone(clean.Text(c.Locale, 35)), orNone(clean.Text(c.TimeZone, 64)), orNone(clean.Text(c.Region, 16)), orNone(pii.MaskPhone(c.Phone)),
			phoneVerdict(in.borrower.Phone), orNone(pii.MaskEmail(c.Email))),
		fmt.Sprintf("Flags: SMS opt-out %s, email opt-out %s, do not contact %s; %d quiet window(s) on file.",
			yesNo(c.SMSOptOut), yesNo(c.EmailOptOut), yesNo(c.DoNotContact), len(in.borrower.Quiet)),
		fmt.Sprintf("Business date %s (%s); %d send(s) to this borrower counted for frequency caps.",
			businessDate, r.Config.Policy.BusinessZone, counted),
	}
	if c.AmountPaidMinor >= c.AmountDueMinor && c.AmountDueMinor >= 0 {
		facts = append(facts, "Nothing is left to pay: the job does not select this installment at all.")
	}
	return facts
}

// addMessageItems adds the other installments of the messages the run put
// this one in: a message's validity is the earliest of its items'.
func (r *Runner) addMessageItems(ctx context.Context, in *borrowerInput, recorded []queries.InstallmentDecision) error {
	for _, h := range recorded {
		if h.SendID == 0 {
			continue
		}
		others, err := queries.MessageInstallments(ctx, r.DB, h.SendID)
		if err != nil {
			return fmt.Errorf("message %d: %w", h.SendID, err)
		}
		for _, id := range others {
			if slices.ContainsFunc(in.items, func(it policy.Item) bool { return it.InstallmentID == id }) {
				continue
			}
			o, err := queries.LoadInstallment(ctx, r.DB, id)
			if err != nil {
				return fmt.Errorf("installment %d of message %d: %w", id, h.SendID, err)
			}
			in.items = append(in.items, itemOf(o))
			if !validUTF8(o.AccountRef, o.Currency, o.LoanStatus) {
				in.borrower.BadData = policy.ReasonInvalidEncoding
			}
		}
	}
	return nil
}

// explainOutcomes are the plan's outcomes for the installment explained
// (item 0), with the send time in each candidate zone.
func (r *Runner) explainOutcomes(plan *policy.Plan) []ExplainedOutcome {
	stages := r.Config.Policy.Stages
	var out []ExplainedOutcome
	for _, o := range plan.Outcomes {
		if o.Item != 0 {
			continue // another installment of the message
		}
		outcome := ExplainedOutcome{Channel: string(o.Channel), Decision: string(o.Decision), Reason: o.Reason}
		if o.Stage >= 0 {
			outcome.Stage = stages[o.Stage].Name
		}
		if o.Message >= 0 {
			m := plan.Messages[o.Message]
			outcome.ScheduledFor, outcome.ValidUntil = m.At, m.ValidUntil
			for _, z := range plan.Zones {
				if loc, err := time.LoadLocation(z.Name); err == nil {
					outcome.Local = append(outcome.Local, fmt.Sprintf("%s %s", m.At.In(loc).Format("2006-01-02 15:04 MST"), z.Name))
				}
			}
		}
		out = append(out, outcome)
	}
	return out
}

// selectionFacts says when a run at the evaluated instant would not select
// the installment at all, so that its outcome is not read as a decision a
// run would record: no stage applies, or the ledger already holds the
// stage and channel.
func selectionFacts(ex *Explanation, businessDate, due civil.Date, reevaluating bool) []string {
	var out []string
	if len(ex.Outcomes) > 0 && !slices.ContainsFunc(ex.Outcomes, func(o ExplainedOutcome) bool { return o.Stage != "" }) {
		out = append(out, fmt.Sprintf("Not a candidate on %s: no stage applies %d day(s) from its due date %s; the outcome below is what the policy says, not a decision any run records.",
			businessDate, int(businessDate-due), due))
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

func phoneVerdict(p policy.Phone) string {
	switch {
	case p.Raw == "":
		return "missing"
	case !p.Valid:
		return "not a valid number"
	}
	verdict := "valid, no time zone known for it"
	if len(p.Zones) > 0 {
		verdict = "valid, zones " + strings.Join(p.Zones, ", ")
	}
	if p.Country != "" {
		verdict += ", country " + p.Country
	}
	if len(p.Subdivisions) > 0 {
		verdict += ", state or province " + strings.Join(p.Subdivisions, ", ")
	}
	return verdict
}

// deliveriesOf reads the delivery trail of the messages in history.
func deliveriesOf(ctx context.Context, db queries.DBTX, history []queries.InstallmentDecision) ([]queries.DeliveryEvent, error) {
	var sendIDs []int64
	for _, h := range history {
		if h.SendID != 0 && !slices.Contains(sendIDs, h.SendID) {
			sendIDs = append(sendIDs, h.SendID)
		}
	}
	if len(sendIDs) == 0 {
		return nil, nil
	}
	events, err := queries.DeliveriesOfSends(ctx, db, sendIDs)
	if err != nil {
		return nil, fmt.Errorf("delivery trail: %w", err)
	}
	return events, nil
}
