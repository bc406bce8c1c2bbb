package console

import (
	"context"
	"database/sql"
	"errors"
	"net/http"

	"github.com/loanremind/loanremind/jobs/clean"
	"github.com/loanremind/loanremind/queries"
)

type messageData struct {
	Message   messageRow
	To        string // masked, or in full when revealed
	Subject   string // only when revealed
	Body      string // only when revealed
	Items     []queries.MessageItem
	Decisions []queries.AuditDecision
	// Deliveries is the message's delivery trail, oldest first.
	Deliveries []*deliveryView
	Reveal     *revealNote
}

func (s *Server) messagePage(w http.ResponseWriter, r *http.Request, rq *request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	d, _, err := s.loadMessage(r.Context(), id)
	if err != nil {
		return err
	}
	return s.render(w, r, rq, http.StatusOK, "message.html", "Message", d)
}

// loadMessage reads a message's page, masked: its text is not on the page
// until an investigator reveals it. It returns the message too.
func (s *Server) loadMessage(ctx context.Context, id int64) (*messageData, *queries.Message, error) {
	m, err := queries.ConsoleMessage(ctx, s.db, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, errNotFound
	}
	if err != nil {
		return nil, nil, err
	}
	d := &messageData{}
	if d.Items, err = queries.ConsoleMessageItems(ctx, s.db, id); err != nil {
		return nil, nil, err
	}
	installments := make([]int64, len(d.Items))
	for i, it := range d.Items {
		installments[i] = it.InstallmentID
	}
	if d.Decisions, err = queries.ConsoleMessageDecisions(ctx, s.db, id, installments); err != nil {
		return nil, nil, err
	}
	var zones []zoneUse
	for _, dc := range d.Decisions {
		zones = mergeZones(zones, parseZones(dc.TimeZones))
	}
	borrowerZone := ""
	if b, err := queries.ConsoleBorrower(ctx, s.db, m.BorrowerID); err == nil {
		borrowerZone = b.TimeZone
	}
	d.Message = *s.messageRow(*m, zones, borrowerZone)
	d.Message.Locale, d.Message.Template = clean.Text(m.Locale, 20), clean.Text(m.Template, 200)
	d.To = d.Message.To
	// The sender's attempts and outcomes (reminder_deliveries), with their
	// times in the zones the message was planned in.
	trail, err := queries.DeliveriesOfSends(ctx, s.db, []int64{id})
	if err != nil {
		return nil, nil, err
	}
	msgZones := zonesOf(d.Message.Local)
	for _, e := range trail {
		d.Deliveries = append(d.Deliveries, newDeliveryView(e, msgZones))
	}
	return d, m, nil
}

// revealMessage puts a message's recipient, subject and text on the page,
// cleaned of what could disguise it (the template escapes it). The text
// keeps its line breaks.
func revealMessage(d *messageData, m *queries.Message) {
	d.To = clean.Text(m.Recipient, 320)
	d.Subject = clean.Text(m.Subject, 500)
	d.Body = cleanLines(m.Body)
}

// cleanLines cleans each line of a text.
func cleanLines(s string) string {
	var out []byte
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '\n' {
			if len(out) > 0 {
				out = append(out, '\n')
			}
			out = append(out, clean.Text(s[start:i], 2000)...)
			start = i + 1
		}
	}
	return string(out)
}
