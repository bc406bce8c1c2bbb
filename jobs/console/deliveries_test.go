package console_test

import (
	"context"
	"database/sql"
	"fmt"
	"html"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loanremind/loanremind/jobs/audit"
	"github.com/loanremind/loanremind/jobs/console"
	"github.com/loanremind/loanremind/jobs/deliver"
	"github.com/loanremind/loanremind/jobs/deliver/filebox"
	"github.com/loanremind/loanremind/jobs/phone"
	"github.com/loanremind/loanremind/queries"
)

// deliverAt is when the fixture's sender runs: ten minutes after the run,
// when the messages it queued are due and those it deferred are not.
func deliverAt() time.Time {
	asOf, _ := time.Parse(time.RFC3339, fixtureAsOf)
	return asOf.Add(10 * time.Minute)
}

// stoppedClock is the sender's clock stopped at an instant: every claim,
// call and record happens then. It waits on the wall clock.
type stoppedClock time.Time

func (c stoppedClock) Now() time.Time                         { return time.Time(c) }
func (c stoppedClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// fileProvider is the file provider, as the demo delivers, named "file",
// writing into a directory of the test's.
func fileProvider(t testing.TB, at time.Time) *filebox.Provider {
	t.Helper()
	box, err := filebox.New("file", filepath.Join(t.TempDir(), "messages.jsonl"), func() time.Time { return at })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { box.Close() })
	return box
}

// refusingFile is the file provider, except that it refuses the messages
// fail picks, permanently, with a carrier's code and words that quote the
// recipient (as a lender's own gateway might, whatever the Provider
// contract says).
type refusingFile struct {
	*filebox.Provider
	fail func(m *deliver.Message) bool

	mu      sync.Mutex
	refused []int64
}

func (p *refusingFile) Send(ctx context.Context, m *deliver.Message) (deliver.Receipt, error) {
	if p.fail(m) {
		p.mu.Lock()
		p.refused = append(p.refused, m.SendID)
		p.mu.Unlock()
		return deliver.Receipt{}, &deliver.Error{Permanent: true, Code: "21211",
			Message: "The 'To' number " + m.To + " is not a valid <b>mobile</b> number"}
	}
	return p.Provider.Send(ctx, m)
}

// deliver runs the real sender once, at an instant, through a provider
// (both channels), on the schema owner's connection as the demo does, and
// returns what it did.
func (f *fixture) deliver(t testing.TB, at time.Time, p deliver.Provider) map[string]int64 {
	t.Helper()
	cfg := deliver.Config{
		Providers:      []deliver.ProviderConfig{{Provider: p, MaxInFlight: 4}},
		Routes:         map[string]string{"sms": p.Name(), "email": p.Name()},
		Claimers:       1,
		PollInterval:   20 * time.Millisecond,
		GracePeriod:    5 * time.Second,
		Host:           "console-test",
		Version:        "test",
		NormalizePhone: func(raw, region string) string { return phone.Normalize(raw, region, "CN") },
	}
	d, err := deliver.New(f.owner.DB, cfg, quietLog(), stoppedClock(at), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := d.RunOnce(ctx); err != nil {
		t.Fatalf("deliver: %v", err)
	}
	return d.Totals()
}

// trailEvent is an event the test records as the sender records it; the
// message moves to status.
type trailEvent struct {
	send                  int64
	event, status, reason string
	provider, pmID        string
	attempt               int
	details               *audit.Object // nil: {}
}

// appendTrail records events at an instant as the sender records a sweep
// or a receipt, through the queries package's delivery functions: a
// delivery session of its own, its events chained from the session's
// header, the session's head moved and each message moved to its status
// in the same transaction; so audit verify finds the trail intact.
func (f *fixture) appendTrail(t testing.TB, at time.Time, evs ...trailEvent) {
	t.Helper()
	ctx := context.Background()
	db := f.owner.DB
	at = at.Truncate(time.Microsecond).Round(0)
	id, err := queries.NextDeliverySessionID(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	prevID, prevRows, prevHead, err := queries.PreviousDeliverySession(ctx, db, id)
	if err != nil {
		t.Fatal(err)
	}
	header := audit.DeliverySession{ID: id, StartedAt: at, Host: "console-test", Version: "test", Purpose: "outcomes",
		ShardIndex: 0, ShardCount: 1, PrevSessionID: prevID, PrevSessionRows: prevRows, PrevSessionHead: prevHead}
	head := header.Hash()
	if err := queries.InsertDeliverySession(ctx, db, &queries.DeliverySession{ID: id, StartedAt: at, Host: header.Host,
		Version: header.Version, Purpose: header.Purpose, ShardIndex: 0, ShardCount: 1, PrevSessionID: prevID,
		PrevSessionRows: prevRows, PrevSessionHead: prevHead, Head: head}); err != nil {
		t.Fatal(err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	ids, err := queries.ReserveIDs(ctx, tx, "reminder_deliveries_id_seq", len(evs))
	if err != nil {
		t.Fatal(err)
	}
	rows := make([]queries.DeliveryRow, len(evs))
	var sends []int64
	var statuses, reasons []string
	prev := head
	for i, e := range evs {
		details := "{}"
		if e.details != nil {
			details = e.details.Text()
		}
		d := audit.Delivery{SessionID: id, SendID: e.send, At: at, Event: e.event, Reason: e.reason, Provider: e.provider,
			ProviderMessageID: e.pmID, Attempt: e.attempt, Details: details, PrevHash: prev}
		rows[i] = queries.DeliveryRow{ID: ids[i], SessionID: id, SendID: e.send, At: at, Event: e.event, Reason: e.reason,
			Provider: e.provider, ProviderMessageID: e.pmID, Attempt: e.attempt, Details: details, PrevHash: prev, Hash: d.Hash()}
		prev = rows[i].Hash
		if e.status != "" {
			sends, statuses, reasons = append(sends, e.send), append(statuses, e.status), append(reasons, e.reason)
		}
	}
	if err := queries.MarkSends(ctx, tx, sends, statuses, reasons, at); err != nil {
		t.Fatal(err)
	}
	if err := queries.AppendDeliveries(ctx, tx, id, rows); err != nil {
		t.Fatal(err)
	}
	if err := queries.AdvanceDeliverySession(ctx, tx, id, len(rows), head, prev); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := queries.EndDeliverySession(ctx, db, id, at); err != nil {
		t.Fatal(err)
	}
}

// verifyIntact runs audit verify over everything: the fixture's trail is
// as the sender writes it.
func (f *fixture) verifyIntact(t testing.TB) {
	t.Helper()
	rep, err := audit.Verify(context.Background(), f.owner, audit.VerifyFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) > 0 || rep.Deliveries == 0 {
		t.Fatalf("audit verify: %d delivery events, problems %+v", rep.Deliveries, rep.Problems)
	}
}

// sendWith is a message in a status (the first by id; 0 when none).
func (f *fixture) sendWith(t testing.TB, status string) int64 {
	t.Helper()
	var id int64
	err := f.owner.QueryRow(`SELECT id FROM reminder_sends WHERE status = $1 ORDER BY id LIMIT 1`, status).Scan(&id)
	if err != nil && err != sql.ErrNoRows {
		t.Fatal(err)
	}
	return id
}

// sentBorrowerWithPhone is a borrower whose text went out, with the number
// as the lender's table holds it.
func (f *fixture) sentBorrowerWithPhone(t testing.TB) (id int64, phone string, message int64) {
	t.Helper()
	err := f.owner.QueryRow(`
		SELECT b.id, b.phone, s.id
		FROM reminder_sends s JOIN borrowers b ON b.id = s.borrower_id
		WHERE s.channel = 'sms' AND s.status = 'sent' AND b.phone LIKE '+86%'
		ORDER BY s.id LIMIT 1`).Scan(&id, &phone, &message)
	if err != nil {
		t.Fatal(err)
	}
	return id, phone, message
}

// payDueMessage pays the installments of a message due at an instant: the
// sender's claim then cancels it (reason paid). It returns the message.
func (f *fixture) payDueMessage(t testing.TB, at time.Time) int64 {
	t.Helper()
	var send int64
	err := f.owner.QueryRow(`SELECT max(id) FROM reminder_sends
		WHERE status = 'pending' AND scheduled_for <= $1 AND valid_until > $1`, at).Scan(&send)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.owner.Exec(`UPDATE installments SET amount_paid_minor = amount_due_minor
		WHERE id IN (SELECT installment_id FROM reminder_send_items WHERE send_id = $1)`, send); err != nil {
		t.Fatal(err)
	}
	return send
}

// trailRows are the delivery trail's rows on a message page: each row's
// event, then its cells' text.
func trailRows(body string) [][]string {
	table := regexp.MustCompile(`(?s)<table id="trail">.*?</table>`).FindString(body)
	var out [][]string
	for _, row := range regexp.MustCompile(`(?s)<tr class="delivery e-([a-z]+)">(.*?)</tr>`).FindAllStringSubmatch(table, -1) {
		cells := []string{row[1]}
		for _, c := range regexp.MustCompile(`(?s)<td[^>]*>(.*?)</td>`).FindAllStringSubmatch(row[2], -1) {
			cells = append(cells, textOf(c[1]))
		}
		out = append(out, cells)
	}
	return out
}

// textOf is a fragment of a page as text: tags made spaces, entities
// decoded, spaces folded.
func textOf(fragment string) string {
	s := regexp.MustCompile(`<[^>]+>`).ReplaceAllString(fragment, " ")
	return strings.Join(strings.Fields(html.UnescapeString(s)), " ")
}

// A message's page shows its delivery trail, oldest first: each event, its
// time in the business zone and the message's zones, the provider, the
// provider's id, the attempt, the reason or code and the details, cleaned
// and escaped, with what a provider quoted of the recipient masked.
func TestMessagePageShowsDeliveryTrail(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 100)
	at := deliverAt()
	paid := f.payDueMessage(t, at)
	var refuse int64
	if err := f.owner.QueryRow(`SELECT min(id) FROM reminder_sends WHERE status = 'pending' AND channel = 'sms'
		AND scheduled_for <= $1 AND id <> $2`, at, paid).Scan(&refuse); err != nil {
		t.Fatal(err)
	}
	p := &refusingFile{Provider: fileProvider(t, at), fail: func(m *deliver.Message) bool { return m.SendID == refuse }}
	totals := f.deliver(t, at, p)
	if totals[deliver.OutcomeSent] == 0 || totals[deliver.OutcomeFailed] != 1 || totals[deliver.OutcomeCancelled] != 1 {
		t.Fatalf("the sender did %v: want some sent, one failed, one cancelled", totals)
	}
	// Receipts, a day later: one delivered, one undelivered with a
	// carrier's code that tries to hide and to inject.
	sent := f.sendWith(t, "sent")
	var undelivered int64
	if err := f.owner.QueryRow(`SELECT min(id) FROM reminder_sends WHERE status = 'sent' AND id > $1`, sent).Scan(&undelivered); err != nil {
		t.Fatal(err)
	}
	receipt := at.Add(3 * time.Minute)
	f.appendTrail(t, receipt,
		trailEvent{send: sent, event: "delivered", status: "delivered", provider: "file", pmID: fmt.Sprintf("file-%d", sent), attempt: 1,
			details: (&audit.Object{}).String("reported_at", receipt.Add(-time.Minute).UTC().Format(time.RFC3339Nano))},
		trailEvent{send: undelivered, event: "undelivered", status: "undelivered", reason: "30003<script>x()</script>\u202e",
			provider: "file", pmID: fmt.Sprintf("file-%d\u200b<i>", undelivered), attempt: 1})
	f.verifyIntact(t)
	h := f.proxyServer(t)
	page := func(id int64) string {
		t.Helper()
		w := viewer.do(h, "GET", fmt.Sprintf("/messages/%d", id), nil)
		if w.Code != http.StatusOK {
			t.Fatalf("/messages/%d: %d", id, w.Code)
		}
		return w.Body.String()
	}

	t.Run("sent and delivered, oldest first", func(t *testing.T) {
		rows := trailRows(page(sent))
		var events []string
		for _, r := range rows {
			events = append(events, r[0])
		}
		if strings.Join(events, " ") != "claimed sent delivered" {
			t.Fatalf("trail %q, want claimed sent delivered", events)
		}
		// Event, when, local time, provider, provider's id, attempt,
		// reason, details.
		sentRow := rows[1]
		if sentRow[1] != "sent" || sentRow[2] != "2026-11-28 10:10:00 CST" || !strings.Contains(sentRow[3], "2026-11-28 10:10 CST · Asia/Shanghai") ||
			sentRow[4] != "file" || sentRow[5] != fmt.Sprintf("file-%d", sent) || sentRow[6] != "1" || sentRow[7] != "—" {
			t.Errorf("the sent event reads %q", sentRow)
		}
		if d := rows[2]; d[2] != "2026-11-28 10:13:00 CST" || !strings.Contains(d[8], "reported_at : ") {
			t.Errorf("the delivered event reads %q", d)
		}
		if claimed := rows[0]; !strings.Contains(claimed[8], "lease_until : ") {
			t.Errorf("the claim reads %q", claimed)
		}
	})
	t.Run("failed: the code, and the provider's words masked", func(t *testing.T) {
		body := page(refuse)
		rows := trailRows(body)
		if len(rows) != 2 || rows[1][0] != "failed" || rows[1][7] != "21211" {
			t.Fatalf("trail %q", rows)
		}
		var to string
		if err := f.owner.QueryRow(`SELECT recipient FROM reminder_sends WHERE id = $1`, refuse).Scan(&to); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(rows[1][8], "message : The 'To' number ") || strings.Contains(body, digits(to)) {
			i := strings.Index(body, digits(to))
			t.Errorf("the provider's words %q show the number %s: %s", rows[1][8], to, body[max(i-300, 0):min(i+100, len(body))])
		}
		if strings.Contains(body, "<b>") {
			t.Error("the provider's markup is not escaped")
		}
	})
	t.Run("cancelled: the reason", func(t *testing.T) {
		rows := trailRows(page(paid))
		if len(rows) != 1 || rows[0][0] != "cancelled" || rows[0][7] != "paid" {
			t.Errorf("trail %q, want one cancellation (paid)", rows)
		}
	})
	t.Run("hostile values are cleaned and escaped", func(t *testing.T) {
		body := page(undelivered)
		for _, bad := range []string{"<script>", "<i>", "\u202e", "\u200b"} {
			if strings.Contains(body, bad) {
				t.Errorf("the page carries %q", bad)
			}
		}
		rows := trailRows(body)
		if last := rows[len(rows)-1]; last[0] != "undelivered" || last[7] != "30003<script>x()</script>" || last[5] != fmt.Sprintf("file-%d<i>", undelivered) {
			t.Errorf("the undelivered event reads %q", last)
		}
	})
	t.Run("not taken up yet", func(t *testing.T) {
		pending := f.sendWith(t, "pending")
		if pending == 0 {
			t.Skip("the run deferred nothing")
		}
		if body := page(pending); !strings.Contains(body, `id="no-deliveries"`) || strings.Contains(body, `id="trail"`) {
			t.Error("a pending message shows a trail")
		}
	})
	t.Run("in Chinese", func(t *testing.T) {
		r := newRequest(viewer, "GET", fmt.Sprintf("/messages/%d", sent))
		r.Header.Set("Accept-Language", "zh-CN")
		body := serve(h, r).Body.String()
		for _, want := range []string{"投递记录", "已领取", "已发送", "已送达", "服务商消息编号"} {
			if !strings.Contains(body, want) {
				t.Errorf("the Chinese page lacks %q", want)
			}
		}
	})
}

// A borrower's timeline has the delivery events of their messages among
// the rest, newest first.
func TestBorrowerTimelineShowsDeliveries(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 100)
	at := deliverAt()
	f.deliver(t, at, fileProvider(t, at))
	borrower, _, message := f.sentBorrowerWithPhone(t)
	f.appendTrail(t, at.Add(time.Hour), trailEvent{send: message, event: "delivered", status: "delivered", provider: "file",
		pmID: fmt.Sprintf("file-%d", message), attempt: 1})
	f.verifyIntact(t)
	h := f.proxyServer(t)
	w := viewer.do(h, "GET", fmt.Sprintf("/borrowers/%d", borrower), nil)
	if w.Code != http.StatusOK {
		t.Fatalf("%d", w.Code)
	}
	timeline := regexp.MustCompile(`(?s)<ol class="timeline" id="timeline">.*?</ol>\n</section>`).FindString(w.Body.String())
	entries := strings.Split(timeline, `<li class="t-`)[1:]
	if len(entries) < 5 {
		t.Fatalf("%d timeline entries", len(entries))
	}
	var order []string
	var last string
	link := fmt.Sprintf(`href="/messages/%d"`, message)
	for i, e := range entries {
		kind, rest, _ := strings.Cut(e, `">`)
		m := regexp.MustCompile(`^\s*<span class="when">([^<]*)</span>`).FindStringSubmatch(rest)
		if m == nil {
			t.Fatalf("entry %d: %.200s", i, e)
		}
		if i > 0 && m[1] > last {
			t.Errorf("entry %d at %s is newer than the one before it (%s)", i, m[1], last)
		}
		last = m[1]
		text := textOf(rest)
		switch {
		case kind == "delivery" && strings.Contains(rest, link):
			order = append(order, strings.Fields(text)[4])
			if strings.Contains(text, " sent via") && (!strings.Contains(text, "sent via file ( file-") || !strings.Contains(text, "attempt 1") ||
				!strings.Contains(text, "2026-11-28 10:10 CST · Asia/Shanghai")) {
				t.Errorf("the sent entry reads %q", text)
			}
		case kind == "message" && strings.Contains(rest, link):
			order = append(order, "message")
		}
	}
	if got := strings.Join(order, " "); got != "delivered sent claimed message" {
		t.Errorf("the message's entries, newest first: %q, want delivered sent claimed message", got)
	}

	// Each of the message's installments says what became of it.
	var installment int64
	if err := f.owner.QueryRow(`SELECT installment_id FROM reminder_send_items WHERE send_id = $1 LIMIT 1`, message).Scan(&installment); err != nil {
		t.Fatal(err)
	}
	w = viewer.do(h, "GET", fmt.Sprintf("/installments/%d", installment), nil)
	trail := regexp.MustCompile(`(?s)<table id="installment-trail">.*?</table>`).FindString(w.Body.String())
	for _, want := range []string{link, ">sent<", ">delivered<", fmt.Sprintf("file-%d", message)} {
		if !strings.Contains(trail, want) {
			t.Errorf("the installment page's trail lacks %q:\n%s", want, trail)
		}
	}
}

// The overview shows the outbox and its delivery state: every status of
// the recent runs' messages, the pending messages and the oldest due one,
// and the refused and unknown ones, highlighted.
func TestOverviewShowsDeliveryState(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 120)
	at := deliverAt()
	server := func(now time.Time) http.Handler {
		cfg := f.consoleConfig(console.AuthProxy)
		cfg.Now = func() time.Time { return now }
		s, err := console.New(context.Background(), cfg, f.console.DB, quietLog())
		if err != nil {
			t.Fatal(err)
		}
		return s.Handler()
	}
	text := func(body, id string) string {
		t.Helper()
		m := regexp.MustCompile(`<dd id="` + id + `"[^>]*>([^<]*)</dd>`).FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no %s on the overview", id)
		}
		return m[1]
	}
	// Before the sender: everything pending, nothing to highlight.
	body := viewer.do(server(at), "GET", "/", nil).Body.String()
	if strings.Contains(body, "alert") || text(body, "refused") != "0" || text(body, "unknown") != "0" {
		t.Error("refused or unknown messages before any delivery")
	}
	var total int
	if err := f.owner.QueryRow(`SELECT count(*) FROM reminder_sends`).Scan(&total); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(body, fmt.Sprintf(`<tr id="status-pending"><td><span class="status m-pending">pending</span></td><td class="num">%d</td>`, total)) {
		t.Errorf("the overview does not count the %d pending messages", total)
	}

	// A message changed behind the job's back is refused; a claim that
	// lapsed while a provider without idempotency had it is unknown.
	var tampered int64
	if err := f.owner.QueryRow(`UPDATE reminder_sends SET body = body || ' ' WHERE id = (SELECT min(id) FROM reminder_sends
		WHERE status = 'pending' AND scheduled_for <= $1) RETURNING id`, at).Scan(&tampered); err != nil {
		t.Fatal(err)
	}
	totals := f.deliver(t, at, fileProvider(t, at))
	if totals[deliver.OutcomeRefused] != 1 {
		t.Fatalf("the sender did %v, want one refused", totals)
	}
	var lapsed int64
	if err := f.owner.QueryRow(`SELECT max(id) FROM reminder_sends WHERE status = 'pending'`).Scan(&lapsed); err != nil || lapsed == 0 {
		t.Fatalf("no deferred message: %v", err)
	}
	f.appendTrail(t, at.Add(time.Minute),
		trailEvent{send: lapsed, event: "claimed", provider: "file", attempt: 1},
		trailEvent{send: lapsed, event: "unknown", status: "unknown", reason: "claim_lapsed", provider: "file", attempt: 1,
			details: (&audit.Object{}).Bool("provider_idempotent", false)})

	now := at.Add(2 * time.Minute)
	body = viewer.do(server(now), "GET", "/", nil).Body.String()
	counts := map[string]int64{}
	rows, err := f.owner.Query(`SELECT status, count(*) FROM reminder_sends GROUP BY status`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		var n int64
		if err := rows.Scan(&s, &n); err != nil {
			t.Fatal(err)
		}
		counts[s] = n
	}
	rows.Close()
	if counts["sent"] == 0 || counts["refused"] != 1 || counts["unknown"] != 1 {
		t.Fatalf("statuses %v", counts)
	}
	for _, st := range []string{"pending", "sending", "sent", "delivered", "undelivered", "failed", "expired", "cancelled", "refused", "unknown"} {
		class := ""
		if st == "refused" || st == "unknown" {
			class = ` class="attention alert"`
		}
		want := fmt.Sprintf(`<tr id="status-%s"%s><td><span class="status m-%s">%s</span></td><td class="num">%d</td></tr>`, st, class, st, st, counts[st])
		if !strings.Contains(body, want) {
			t.Errorf("the overview lacks %s", want)
		}
	}
	for id, want := range map[string]string{"refused": "1", "unknown": "1", "sending": "0"} {
		if got := text(body, id); got != want {
			t.Errorf("%s: %q, want %s", id, got, want)
		}
	}
	if due, later := text(body, "pending-due"), text(body, "pending-later"); due+"+"+later != fmt.Sprintf("0+%d", counts["pending"]) {
		t.Errorf("pending: %s due and %s later, want 0 and %d: the sender took every due one", due, later, counts["pending"])
	}
	if !strings.Contains(body, `<dd id="refused" class="attention alert">`) || !strings.Contains(body, `<dd id="unknown" class="attention alert">`) {
		t.Error("refused and unknown are not highlighted")
	}

	// Later, the deferred messages are due: the oldest one's age.
	var oldest time.Time
	var due int64
	if err := f.owner.QueryRow(`SELECT min(scheduled_for) FROM reminder_sends WHERE status = 'pending'`).Scan(&oldest); err != nil {
		t.Fatal(err)
	}
	later := oldest.Add(3 * time.Hour)
	if err := f.owner.QueryRow(`SELECT count(*) FROM reminder_sends WHERE status = 'pending' AND scheduled_for <= $1`, later).Scan(&due); err != nil {
		t.Fatal(err)
	}
	body = viewer.do(server(later), "GET", "/", nil).Body.String()
	if got := text(body, "pending-due"); got != fmt.Sprint(due) {
		t.Errorf("pending, due now: %s, want %d", got, due)
	}
	if got, want := text(body, "oldest-due"), "due 3 h ago ("+oldest.In(f.zone).Format("2006-01-02 15:04:05 MST")+")"; got != want {
		t.Errorf("oldest due: %q, want %q", got, want)
	}
	if body := viewer.do(server(at), "GET", "/", nil).Body.String(); text(body, "oldest-due") != "—" {
		t.Errorf("oldest due before any is due: %q", text(body, "oldest-due"))
	}
	// Two days on, no run wrote a message since the day before.
	if body := viewer.do(server(at.Add(48*time.Hour)), "GET", "/", nil).Body.String(); !strings.Contains(body, `id="no-recent-messages"`) || strings.Contains(body, `id="by-status"`) {
		t.Error("the overview counts the messages of no recent run")
	}
}
