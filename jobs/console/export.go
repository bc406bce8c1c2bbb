package console

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/loanremind/loanremind/jobs/audit"
	"github.com/loanremind/loanremind/jobs/civil"
	"github.com/loanremind/loanremind/jobs/clean"
	"github.com/loanremind/loanremind/queries"
)

// exportForm is the export's filter as typed: `audit export`'s flags.
type exportForm struct {
	From, To, Borrower, Loan, Installment, Run, Decision, Format string
}

type exportData struct {
	Form    exportForm
	Message string
}

func readExportForm(get func(string) string) exportForm {
	f := exportForm{}
	for p, key := range map[*string]string{&f.From: "from", &f.To: "to", &f.Borrower: "borrower", &f.Loan: "loan",
		&f.Installment: "installment", &f.Run: "run", &f.Decision: "decision", &f.Format: "format"} {
		*p = strings.TrimSpace(get(key))
	}
	return f
}

// Query is the form as a query string (a link to the same export).
func (f exportForm) Query() string {
	v := url.Values{}
	for key, val := range map[string]string{"from": f.From, "to": f.To, "borrower": f.Borrower, "loan": f.Loan,
		"installment": f.Installment, "run": f.Run, "decision": f.Decision, "format": f.Format} {
		if val != "" {
			v.Set(key, val)
		}
	}
	return v.Encode()
}

// filter turns the form into the filter `audit export` uses, checked as
// it checks its flags: dates of the decisions in the business zone, both
// included.
func (f exportForm) filter(zone *time.Location) (queries.ExportFilter, error) {
	var q queries.ExportFilter
	if f.From == "" || f.To == "" {
		return q, errorf(http.StatusBadRequest, "An export needs a first and a last date.")
	}
	from, err1 := civil.ParseDate(f.From)
	to, err2 := civil.ParseDate(f.To)
	if err1 != nil || err2 != nil {
		return q, errorf(http.StatusBadRequest, "Dates are written YYYY-MM-DD.")
	}
	if to < from {
		return q, errorf(http.StatusBadRequest, "The last date is before the first.")
	}
	q.From, q.To = from.Time(zone), to.AddDays(1).Time(zone)
	for p, val := range map[*int64]string{&q.BorrowerID: f.Borrower, &q.LoanID: f.Loan, &q.InstallmentID: f.Installment, &q.RunID: f.Run} {
		if val == "" {
			continue
		}
		n, err := strconv.ParseInt(val, 10, 64)
		if err != nil || n <= 0 {
			return q, errorf(http.StatusBadRequest, "Ids are positive whole numbers.")
		}
		*p = n
	}
	switch f.Decision {
	case "", "queued", "deferred", "suppressed", "skipped", "expired":
		q.Decision = f.Decision
	default:
		return q, errorf(http.StatusBadRequest, "Unknown decision.")
	}
	switch f.Format {
	case "csv", "json":
	default:
		return q, errorf(http.StatusBadRequest, "The format is csv or json.")
	}
	return q, nil
}

// exportGet: without a format, the export form (filled from the query);
// with one, the export itself, masked: the same rows as `audit export`
// with the same flags, streamed.
func (s *Server) exportGet(w http.ResponseWriter, r *http.Request, rq *request) error {
	form := readExportForm(r.URL.Query().Get)
	if form.Format == "" {
		if form.From == "" && form.To == "" {
			today := civil.DateIn(s.cfg.Now(), s.cfg.BusinessZone)
			form.From, form.To = today.AddDays(-29).String(), today.String()
		}
		form.Format = "csv"
		return s.render(w, r, rq, http.StatusOK, "export.html", "Export", &exportData{Form: form})
	}
	f, err := form.filter(s.cfg.BusinessZone)
	if err != nil {
		return s.exportFormError(w, r, rq, form, err)
	}
	return s.streamExport(w, r, form, f, false)
}

// exportUnmasked is an investigator's unmasked export, for a typed reason
// recorded (as `audit export --unmasked` records it) before the first row
// is written.
func (s *Server) exportUnmasked(w http.ResponseWriter, r *http.Request, rq *request) error {
	form := readExportForm(r.PostFormValue)
	f, err := form.filter(s.cfg.BusinessZone)
	if err != nil {
		return s.exportFormError(w, r, rq, form, err)
	}
	why, err := reason(r)
	if err != nil {
		return s.exportFormError(w, r, rq, form, err)
	}
	details := s.eventOrigin(r).String("from", form.From).String("to", form.To).String("format", form.Format).
		Int("borrower", f.BorrowerID).Int("loan", f.LoanID).Int("installment", f.InstallmentID).
		Int("run", f.RunID).String("decision", f.Decision).String("reason", why)
	if _, err := audit.RecordEvent(r.Context(), s.db, s.cfg.Now(), rq.id.user, audit.EventUnmaskedExport, details); err != nil {
		return fmt.Errorf("record the unmasked export: %w", err)
	}
	return s.streamExport(w, r, form, f, true)
}

func (s *Server) exportFormError(w http.ResponseWriter, r *http.Request, rq *request, form exportForm, err error) error {
	he, ok := err.(*httpError)
	if !ok {
		return err
	}
	return s.render(w, r, rq, he.code, "export.html", "Export", &exportData{Form: form, Message: fmt.Sprintf(rq.T(he.msg), he.args...)})
}

// streamExport writes the export as a download, in constant memory.
func (s *Server) streamExport(w http.ResponseWriter, r *http.Request, form exportForm, f queries.ExportFilter, unmasked bool) error {
	name := fmt.Sprintf("loanremind-audit-%s-%s", form.From, form.To)
	if unmasked {
		name += "-unmasked"
	}
	if form.Format == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		name += ".csv"
	} else {
		w.Header().Set("Content-Type", "application/x-ndjson; charset=utf-8")
		name += ".jsonl"
	}
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	n, err := audit.Export(r.Context(), s.db, f, form.Format, unmasked, w)
	if err != nil {
		// The rows already sent cannot be taken back: the download ends
		// short, and the log says why.
		s.log.WithField(fieldError, clean.Text(err.Error(), 500)).WithField(fieldRows, n).Error("export failed midway")
	}
	return nil
}
