package console

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/loanremind/loanremind/jobs/clean"
	"github.com/loanremind/loanremind/jobs/pii"
	"github.com/loanremind/loanremind/queries"
)

// timelineLimit bounds each source of a borrower's timeline.
const (
	timelineLimit    = 500
	installmentLimit = 200
)

// person is a borrower's personal data as a page shows it: masked, unless
// an investigator revealed it for this page.
type person struct {
	Name, Phone, Email string
	Revealed           bool
}

// maskBorrower masks a borrower's name (first letter), phone number and
// email (pii's masks), every value cleaned of what could disguise it.
func maskBorrower(b *queries.Borrower) person {
	return person{
		Name:  maskName(clean.Text(b.FullName, 200)),
		Phone: clean.Text(pii.MaskPhone(b.Phone), 60),
		Email: clean.Text(pii.MaskEmail(b.Email), 120),
	}
}

// revealBorrower is the borrower's data in full (cleaned: one line, no
// invisible characters; the template escapes it).
func revealBorrower(b *queries.Borrower) person {
	return person{Name: clean.Text(b.FullName, 200), Phone: clean.Text(b.Phone, 60), Email: clean.Text(b.Email, 320), Revealed: true}
}

// maskName keeps a name's first letter.
func maskName(s string) string {
	if s == "" {
		return ""
	}
	r, _ := utf8.DecodeRuneInString(s)
	return string(r) + "**"
}

type borrowerData struct {
	Borrower     *queries.Borrower // ids, locale, zone, region, flags: no personal data is shown from here
	Person       person
	Locale       string
	TimeZone     string
	Region       string
	Loans        []loanView
	Installments []queries.Installment
	Timeline     []timelineEntry
	Reveal       *revealNote
	ExportFrom   string
	ExportTo     string
}

type loanView struct {
	ID                           int64
	AccountRef, Currency, Status string
}

// timelineEntry is one thing that happened about a borrower: a decision, a
// message, an event of a message's delivery trail, or an administrative
// event (a reveal, an export).
type timelineEntry struct {
	At       time.Time
	Kind     string // "decision", "message", "delivery", "event"
	Decision *queries.AuditDecision
	Message  *messageRow
	Delivery *deliveryView
	Event    *eventView
}

// messageRow is a message in a list: no text, recipient masked, and the
// time it is to go out in each zone it was planned in.
type messageRow struct {
	queries.Message
	To    string // masked
	Local []zoneTime
}

// zoneTime is an instant in one of the borrower's candidate zones.
type zoneTime struct {
	Zone, Source string
	Time         time.Time
}

// revealNote says that this page shows what an investigator revealed, and
// under which recorded event.
type revealNote struct {
	EventID int64
	Reason  string
}

func (s *Server) borrowerPage(w http.ResponseWriter, r *http.Request, rq *request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	d, err := s.loadBorrower(r.Context(), id)
	if err != nil {
		return err
	}
	return s.render(w, r, rq, http.StatusOK, "borrower.html", "Borrower", d)
}

// loadBorrower reads a borrower's page, masked.
func (s *Server) loadBorrower(ctx context.Context, id int64) (*borrowerData, error) {
	b, err := queries.ConsoleBorrower(ctx, s.db, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNotFound
	}
	if err != nil {
		return nil, err
	}
	d := &borrowerData{Borrower: b, Person: maskBorrower(b), Locale: clean.Text(b.Locale, 20),
		TimeZone: clean.Text(b.TimeZone, 60), Region: clean.Text(b.Region, 20)}
	loans, err := queries.ConsoleBorrowerLoans(ctx, s.db, id)
	if err != nil {
		return nil, err
	}
	for _, l := range loans {
		d.Loans = append(d.Loans, loanView{ID: l.ID, AccountRef: clean.Text(pii.MaskAccount(l.AccountRef), 40),
			Currency: clean.Text(l.Currency, 3), Status: clean.Text(l.Status, 40)})
	}
	if d.Installments, err = queries.ConsoleBorrowerInstallments(ctx, s.db, id, installmentLimit); err != nil {
		return nil, err
	}
	if d.Timeline, err = s.timeline(ctx, b); err != nil {
		return nil, err
	}
	today := s.cfg.Now()
	d.ExportTo = today.In(s.cfg.BusinessZone).Format(time.DateOnly)
	d.ExportFrom = today.In(s.cfg.BusinessZone).AddDate(-1, 0, 0).Format(time.DateOnly)
	if n := len(d.Timeline); n > 0 {
		d.ExportFrom = d.Timeline[n-1].At.In(s.cfg.BusinessZone).Format(time.DateOnly)
	}
	return d, nil
}

// timeline merges a borrower's decisions, messages, delivery events and
// administrative events, newest first. Each source reads through its own
// index.
func (s *Server) timeline(ctx context.Context, b *queries.Borrower) ([]timelineEntry, error) {
	decisions, err := queries.ConsoleBorrowerDecisions(ctx, s.db, b.ID, timelineLimit)
	if err != nil {
		return nil, err
	}
	messages, err := queries.ConsoleBorrowerMessages(ctx, s.db, b.ID, timelineLimit)
	if err != nil {
		return nil, err
	}
	deliveries, err := queries.ConsoleBorrowerDeliveries(ctx, s.db, b.ID, timelineLimit)
	if err != nil {
		return nil, err
	}
	events, err := queries.ConsoleBorrowerEvents(ctx, s.db, b.ID, timelineLimit)
	if err != nil {
		return nil, err
	}
	// The zones each message was planned in: those its decisions name.
	zones := map[int64][]zoneUse{}
	for _, dcs := range decisions {
		if dcs.SendID != 0 {
			zones[dcs.SendID] = mergeZones(zones[dcs.SendID], parseZones(dcs.TimeZones))
		}
	}
	var out []timelineEntry
	for i := range decisions {
		out = append(out, timelineEntry{At: decisions[i].At, Kind: "decision", Decision: &decisions[i]})
	}
	for _, m := range messages {
		mr := s.messageRow(m, zones[m.ID], b.TimeZone)
		out = append(out, timelineEntry{At: m.CreatedAt, Kind: "message", Message: mr})
	}
	for _, e := range deliveries {
		dv := newDeliveryView(e, messageZones(zones[e.SendID], b.TimeZone))
		out = append(out, timelineEntry{At: e.At, Kind: "delivery", Delivery: dv})
	}
	for _, e := range events {
		out = append(out, timelineEntry{At: e.At, Kind: "event", Event: newEventView(e)})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.After(out[j].At) })
	return out, nil
}

// messageRow masks a message for a list, with its send time in each of
// its zones (or, when its decisions are not at hand, the borrower's own
// time_zone).
func (s *Server) messageRow(m queries.Message, zones []zoneUse, borrowerZone string) *messageRow {
	mr := &messageRow{Message: m, To: clean.Text(pii.MaskContact(m.Channel, m.Recipient), 120)}
	mr.Recipient, mr.Body, mr.Subject = "", "", ""
	mr.Local = localTimes(m.ScheduledFor, messageZones(zones, borrowerZone))
	return mr
}

// zoneUse is an entry of an audit row's time_zones.
type zoneUse struct {
	Zone   string `json:"zone"`
	Source string `json:"source"`
}

func parseZones(text string) []zoneUse {
	var z []zoneUse
	if json.Unmarshal([]byte(text), &z) != nil {
		return nil
	}
	for i := range z {
		z[i].Zone, z[i].Source = clean.Text(z[i].Zone, 60), clean.Text(z[i].Source, 40)
	}
	return z
}

func mergeZones(a, b []zoneUse) []zoneUse {
	for _, z := range b {
		if !slices.ContainsFunc(a, func(x zoneUse) bool { return x.Zone == z.Zone }) {
			a = append(a, z)
		}
	}
	return a
}

// eventView is an administrative event as pages show it.
type eventView struct {
	queries.EventRow
	Fields []eventField
}

type eventField struct{ Key, Value string }

// newEventView lists an event's details as keys and values, cleaned.
func newEventView(e queries.EventRow) *eventView {
	v := &eventView{EventRow: e, Fields: detailFields(e.Details, true, nil)}
	v.Actor = clean.Text(e.Actor, 200)
	return v
}

// Names a kind of event for people.
func (v *eventView) Name() string {
	return strings.ReplaceAll(v.Event, "_", " ")
}
