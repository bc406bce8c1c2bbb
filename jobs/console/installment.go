package console

import (
	"database/sql"
	"errors"
	"net/http"
	"time"

	"github.com/loanremind/loanremind/jobs"
	"github.com/loanremind/loanremind/jobs/civil"
	"github.com/loanremind/loanremind/jobs/clean"
	"github.com/loanremind/loanremind/queries"
)

type installmentData struct {
	ID, LoanID, BorrowerID int64
	Explanation            *jobs.Explanation
	Outcomes               []outcomeView
	History                []historyRow
	ExportFrom, ExportTo   string
}

type outcomeView struct {
	jobs.ExplainedOutcome
}

type historyRow struct {
	queries.InstallmentDecision
	Zones []zoneUse
}

// installmentPage is `loanremind explain --installment ID`, formatted: the
// facts, the policy's reasoning, its outcome per channel with the local
// send times, the differences from what the run recorded, and the
// installment's audit history. The explanation masks personal data.
func (s *Server) installmentPage(w http.ResponseWriter, r *http.Request, rq *request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	loanID, borrowerID, err := queries.ConsoleInstallmentOwner(ctx, s.db, id)
	if errors.Is(err, sql.ErrNoRows) {
		return errNotFound
	}
	if err != nil {
		return err
	}
	ex, err := s.cfg.Explainer.Explain(ctx, id, time.Time{})
	if errors.Is(err, jobs.ErrNoInstallment) {
		return errNotFound
	}
	if err != nil {
		return err
	}
	// The explanation quotes the lender's data (a loan status, a time
	// zone): one clean line each.
	for _, list := range [][]string{ex.Facts, ex.Trace, ex.Differences} {
		for i := range list {
			list[i] = clean.Text(list[i], 2000)
		}
	}
	ex.Basis = clean.Text(ex.Basis, 1000)
	d := &installmentData{ID: id, LoanID: loanID, BorrowerID: borrowerID, Explanation: ex}
	for _, o := range ex.Outcomes {
		d.Outcomes = append(d.Outcomes, outcomeView{o})
	}
	for i := len(ex.History) - 1; i >= 0; i-- {
		h := ex.History[i]
		h.Actor = clean.Text(h.Actor, 200)
		d.History = append(d.History, historyRow{InstallmentDecision: h, Zones: parseZones(h.TimeZones)})
	}
	today := civil.DateIn(s.cfg.Now(), s.cfg.BusinessZone)
	d.ExportFrom, d.ExportTo = today.String(), today.String()
	if len(ex.History) > 0 {
		d.ExportFrom = civil.DateIn(ex.History[0].At, s.cfg.BusinessZone).String()
	}
	return s.render(w, r, rq, http.StatusOK, "installment.html", "Installment", d)
}
