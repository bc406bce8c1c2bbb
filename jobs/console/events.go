package console

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/loanremind/loanremind/jobs/audit"
	"github.com/loanremind/loanremind/jobs/clean"
	"github.com/loanremind/loanremind/queries"
)

const eventsPageSize = 100

type eventsData struct {
	Event, Actor string
	Kinds        []string
	Events       []*eventView
	Older        string
}

// eventsPage: who revealed or exported what, when and why, and the
// prunes; newest first.
func (s *Server) eventsPage(w http.ResponseWriter, r *http.Request, rq *request) error {
	q := r.URL.Query()
	d := &eventsData{Event: q.Get("event"), Actor: clean.Text(q.Get("actor"), 100),
		Kinds: []string{audit.EventReveal, audit.EventUnmaskedExport, audit.EventPrune}}
	f := queries.EventFilter{Event: d.Event, Actor: d.Actor, Limit: eventsPageSize}
	if b := q.Get("before"); b != "" {
		id, err := strconv.ParseInt(b, 10, 64)
		if err != nil || id <= 0 {
			return errorf(http.StatusBadRequest, "Not an event id.")
		}
		f.Before = id
	}
	events, err := queries.ConsoleEvents(r.Context(), s.db, f)
	if err != nil {
		return err
	}
	for _, e := range events {
		d.Events = append(d.Events, newEventView(e))
	}
	if len(events) == eventsPageSize {
		v := url.Values{}
		if d.Event != "" {
			v.Set("event", d.Event)
		}
		if d.Actor != "" {
			v.Set("actor", d.Actor)
		}
		v.Set("before", itoa(events[len(events)-1].ID))
		d.Older = v.Encode()
	}
	return s.render(w, r, rq, http.StatusOK, "events.html", "Events", d)
}
