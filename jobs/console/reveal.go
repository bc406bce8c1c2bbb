package console

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/loanremind/loanremind/jobs/audit"
	"github.com/loanremind/loanremind/jobs/clean"
)

// Reasons typed for a reveal or an unmasked export.
const (
	minReasonRunes = 5
	maxReasonRunes = 500
)

// reason reads the typed reason of a reveal or an unmasked export: one
// clean line of 5 to 500 characters.
func reason(r *http.Request) (string, error) {
	text := clean.Text(r.PostFormValue("reason"), 0)
	if n := utf8.RuneCountInString(text); n < minReasonRunes || n > maxReasonRunes {
		return "", errorf(http.StatusBadRequest, "Give a reason of %d to %d characters: it is recorded.", minReasonRunes, maxReasonRunes)
	}
	return text, nil
}

// reveal shows one borrower's contact data or one message's text to an
// investigator, for a typed reason. The route admits investigators only,
// with the form's CSRF token. The reveal is recorded in the audit events,
// and committed, before the data is written to the response; it shows on
// this response only (the page's address shows it masked again).
func (s *Server) reveal(w http.ResponseWriter, r *http.Request, rq *request) error {
	what := r.PostFormValue("what")
	id, err := strconv.ParseInt(strings.TrimSpace(r.PostFormValue("id")), 10, 64)
	if err != nil || id <= 0 {
		return errorf(http.StatusBadRequest, "Not an id.")
	}
	why, err := reason(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	switch what {
	case "borrower":
		d, err := s.loadBorrower(ctx, id)
		if err != nil {
			return err
		}
		details := s.eventOrigin(r).String("what", "borrower").Int("borrower", id).String("reason", why)
		anchor, err := audit.RecordEvent(ctx, s.db, s.cfg.Now(), rq.id.user, audit.EventReveal, details)
		if err != nil {
			return fmt.Errorf("record the reveal: %w", err)
		}
		d.Person = revealBorrower(d.Borrower)
		d.Reveal = &revealNote{EventID: anchor.EventID, Reason: why}
		// The new event heads the timeline.
		if d.Timeline, err = s.timeline(ctx, d.Borrower); err != nil {
			return err
		}
		return s.render(w, r, rq, http.StatusOK, "borrower.html", "Borrower", d)
	case "message":
		d, m, err := s.loadMessage(ctx, id)
		if err != nil {
			return err
		}
		details := s.eventOrigin(r).String("what", "message").Int("message", id).Int("borrower", m.BorrowerID).String("reason", why)
		anchor, err := audit.RecordEvent(ctx, s.db, s.cfg.Now(), rq.id.user, audit.EventReveal, details)
		if err != nil {
			return fmt.Errorf("record the reveal: %w", err)
		}
		revealMessage(d, m)
		d.Reveal = &revealNote{EventID: anchor.EventID, Reason: why}
		return s.render(w, r, rq, http.StatusOK, "message.html", "Message", d)
	}
	return errorf(http.StatusBadRequest, "Only a borrower's contact data or a message's text can be revealed.")
}

// eventOrigin starts an event's details with where it was made (PCI DSS
// 10.2.2: origin): the console, its host, and the client's address.
func (s *Server) eventOrigin(r *http.Request) *audit.Object {
	client, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		client = r.RemoteAddr
	}
	return (&audit.Object{}).String("via", "console").String("host", clean.Text(s.cfg.Host, 100)).String("client", clean.Text(client, 60))
}
