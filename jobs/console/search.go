package console

import (
	"database/sql"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/loanremind/loanremind/jobs/phone"
	"github.com/loanremind/loanremind/queries"
)

// maxContactMatches bounds a search by contact address.
const maxContactMatches = 50

type searchData struct {
	Kind, ID string
	Message  string // a search that found nothing
	Searched bool   // a contact search was made
	Matches  []contactMatch
}

type contactMatch struct {
	BorrowerID int64
	Name       string // masked
	Phone      string // masked
	Email      string // masked
	Decisions  int64
	Latest     time.Time
}

// searchKinds are what an id may name, and where each one's page is.
var searchKinds = []string{"borrower", "loan", "installment", "message", "run"}

// search: with kind and id, go to that page (a loan goes to its
// borrower); without, the search forms. Ids are not personal data: the
// search by id is a GET. A phone number or an email is (searchContact).
func (s *Server) search(w http.ResponseWriter, r *http.Request, rq *request) error {
	q := r.URL.Query()
	d := &searchData{Kind: q.Get("kind"), ID: strings.TrimSpace(q.Get("id"))}
	if d.Kind == "" && d.ID == "" {
		return s.render(w, r, rq, http.StatusOK, "search.html", "Search", d)
	}
	if err := s.limitSearch(w, rq); err != nil {
		return err
	}
	id, err := strconv.ParseInt(strings.TrimPrefix(d.ID, "#"), 10, 64)
	if err != nil || id <= 0 {
		d.Message = "An id is a positive whole number."
		return s.render(w, r, rq, http.StatusBadRequest, "search.html", "Search", d)
	}
	ctx := r.Context()
	var target string
	switch d.Kind {
	case "borrower":
		_, err = queries.ConsoleBorrower(ctx, s.db, id)
		target = "/borrowers/" + itoa(id)
	case "loan":
		var borrower int64
		borrower, err = queries.ConsoleLoanBorrower(ctx, s.db, id)
		target = "/borrowers/" + itoa(borrower)
	case "installment":
		_, _, err = queries.ConsoleInstallmentOwner(ctx, s.db, id)
		target = "/installments/" + itoa(id)
	case "message":
		_, err = queries.ConsoleMessage(ctx, s.db, id)
		target = "/messages/" + itoa(id)
	case "run":
		_, err = queries.SelectRun(ctx, s.db, id)
		target = "/runs/" + itoa(id)
	default:
		return errorf(http.StatusBadRequest, "Unknown kind of id.")
	}
	if errors.Is(err, sql.ErrNoRows) {
		d.Message = "Nothing has that id."
		return s.render(w, r, rq, http.StatusNotFound, "search.html", "Search", d)
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
	return nil
}

// searchContact finds borrowers by phone number or email, through the keyed
// hashes the job stored in the audit (as `audit export --contact` does): a
// POST, so that the address is in no URL, history or access log.
func (s *Server) searchContact(w http.ResponseWriter, r *http.Request, rq *request) error {
	if err := s.limitSearch(w, rq); err != nil {
		return err
	}
	contact := strings.TrimSpace(r.PostFormValue("contact"))
	d := &searchData{Searched: true}
	if contact == "" || len(contact) > 320 {
		d.Message = "Type a phone number or an email address."
		return s.render(w, r, rq, http.StatusBadRequest, "search.html", "Search", d)
	}
	ctx := r.Context()
	hashes := phone.ContactHashes(s.cfg.Hasher, contact, s.cfg.DefaultPhoneRegion)
	found, err := queries.ConsoleBorrowersByContact(ctx, s.db, hashes, maxContactMatches)
	if err != nil {
		return err
	}
	for _, f := range found {
		m := contactMatch{BorrowerID: f.BorrowerID, Decisions: f.Decisions, Latest: f.Latest}
		b, err := queries.ConsoleBorrower(ctx, s.db, f.BorrowerID)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		default:
			p := maskBorrower(b)
			m.Name, m.Phone, m.Email = p.Name, p.Phone, p.Email
		}
		d.Matches = append(d.Matches, m)
	}
	if len(d.Matches) == 0 {
		d.Message = "No decision was made about that address (under the current key)."
	}
	return s.render(w, r, rq, http.StatusOK, "search.html", "Search", d)
}
