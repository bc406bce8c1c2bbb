package deliver_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nyaruka/phonenumbers"

	"github.com/loanremind/loanremind/jobs/audit"
	"github.com/loanremind/loanremind/jobs/deliver"
	"github.com/loanremind/loanremind/jobs/deliver/httpgw"
	"github.com/loanremind/loanremind/queries"
	"github.com/loanremind/loanremind/queries/pgtest"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(childMain())
	}
	pgtest.Main(m)
}

// base is the fixtures' "now": messages are due from it.
var base = time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC)

// outbox is a run's worth of messages as the job writes them: borrowers
// with one loan and one installment each, one SMS message each, its ledger
// item and its queued audit row, chained, in a finished run whose record
// vouches for them.
type outbox struct {
	runID int64
	ids   []int64 // message ids, in borrower order
	first int64   // the first borrower's id
}

// window is a message's scheduled_for and valid_until.
type window func(i int) (time.Time, time.Time)

// dueNow makes every message due at base, valid for six hours.
func dueNow(int) (time.Time, time.Time) { return base, base.Add(6 * time.Hour) }

// phoneOf is borrower b's number, E.164 (as the job writes it).
func phoneOf(b int64) string { return fmt.Sprintf("+86138%08d", b) }

// normalizePhone normalizes as the job does: the region's country or CN.
func normalizePhone(raw, region string) string {
	country := "CN"
	if len(region) >= 2 {
		country = strings.ToUpper(region[:2])
	}
	n, err := phonenumbers.Parse(raw, country)
	if err != nil || !phonenumbers.IsValidNumber(n) {
		return ""
	}
	return phonenumbers.Format(n, phonenumbers.E164)
}

// buildOutbox writes n messages for borrowers first..first+n-1 in one
// finished run.
func buildOutbox(tb testing.TB, db *sql.DB, first int64, n int, win window) *outbox {
	tb.Helper()
	ctx := context.Background()
	for _, q := range []string{
		`INSERT INTO borrowers (id, full_name, phone, email, locale, time_zone, region)
		 SELECT g, 'Borrower ' || g, '+86138' || lpad(g::text, 8, '0'), 'b' || g || '@example.com', 'zh-CN', 'Asia/Shanghai', 'CN-31'
		 FROM generate_series($1::bigint, $1::bigint + $2 - 1) g`,
		`INSERT INTO loans (id, borrower_id, account_ref, currency, status)
		 SELECT g * 10 + 1, g, 'LN-' || lpad(g::text, 10, '0'), 'CNY', 'active'
		 FROM generate_series($1::bigint, $1::bigint + $2 - 1) g`,
		`INSERT INTO installments (id, loan_id, seq, due_date, amount_due_minor, amount_paid_minor)
		 SELECT g * 100 + 1, g * 10 + 1, 1, DATE '2026-11-27', 100000 + g % 1000, 0
		 FROM generate_series($1::bigint, $1::bigint + $2 - 1) g`,
	} {
		if _, err := db.ExecContext(ctx, q, first, n); err != nil {
			tb.Fatalf("lender data: %v", err)
		}
	}
	runID, err := queries.NextRunID(ctx, db)
	if err != nil {
		tb.Fatal(err)
	}
	header := audit.RunHeader{
		ID: runID, Mode: "manual", AsOf: base.Add(-time.Hour), BusinessDate: "2026-11-28", ShardIndex: 0, ShardCount: 1,
		Actor: "test", Reason: "delivery fixture", Host: "fixture", StartedAt: base.Add(-time.Hour),
		ConfigSHA256: strings.Repeat("c", 64), PolicySHA256: strings.Repeat("p", 64), TemplatesSHA256: strings.Repeat("t", 64),
		Version: "test",
	}
	rec := header.Record()
	rec.Status = "running"
	if err := queries.InsertRun(ctx, db, rec); err != nil {
		tb.Fatal(err)
	}
	sendIDs, err := queries.ReserveIDs(ctx, db, "reminder_sends_id_seq", n)
	if err != nil {
		tb.Fatal(err)
	}
	auditIDs, err := queries.ReserveIDs(ctx, db, "reminder_audit_id_seq", n)
	if err != nil {
		tb.Fatal(err)
	}
	zones := string(audit.AppendArray(nil, []*audit.Object{(&audit.Object{}).String("zone", "Asia/Shanghai").String("source", "time_zone")}))
	at := base.Add(-time.Hour + time.Minute)
	type msg struct {
		id, borrower        int64
		to, body            string
		sched, until        time.Time
		amount              int64
		details, prev, hash string
		auditID             int64
	}
	msgs := make([]msg, n)
	head := header.Hash()
	for i := range msgs {
		b := first + int64(i)
		m := &msgs[i]
		m.id, m.borrower, m.auditID = sendIDs[i], b, auditIDs[i]
		m.to = phoneOf(b)
		m.amount = 100000 + b%1000
		m.sched, m.until = win(i)
		m.sched, m.until = m.sched.Truncate(time.Microsecond), m.until.Truncate(time.Microsecond)
		m.body = fmt.Sprintf("【安心金融】您尾号%04d的借款第1期¥%d.%02d已逾期1天，请尽快还款。回复TD退订", b%10000, m.amount/100, m.amount%100)
		m.details = (&audit.Object{}).Int("seq", 1).String("currency", "CNY").String("due_date", "2026-11-27").
			Int("days_past_due", 1).String("message_sha256", audit.MessageDigest("sms", m.to, "", m.body, m.sched, m.until)).
			Int("amount_due_minor", m.amount).Int("amount_paid_minor", 0).Text()
		row := audit.Row{RunID: runID, At: at, BorrowerID: b, LoanID: b*10 + 1, InstallmentID: b*100 + 1,
			Stage: "overdue_1d", Channel: "sms", Decision: "queued", SendID: m.id, ScheduledFor: m.sched, ValidUntil: m.until,
			TimeZones: zones, PolicySHA256: header.PolicySHA256, Details: m.details, PrevHash: head}
		m.prev, m.hash = head, row.Hash()
		head = m.hash
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer tx.Rollback()
	i := 0
	if _, err := queries.CopyFrom(ctx, tx, "reminder_sends", []string{"id", "run_id", "borrower_id", "channel", "recipient",
		"locale", "template", "template_sha256", "body", "segments", "stage", "currency", "total_due_minor",
		"scheduled_for", "valid_until", "created_at"}, func(row []any) bool {
		if i == n {
			return false
		}
		m := &msgs[i]
		i++
		row[0], row[1], row[2], row[3], row[4] = m.id, runID, m.borrower, "sms", m.to
		row[5], row[6], row[7], row[8], row[9] = "zh-CN", "sms/overdue_1d.zh-CN.tmpl", strings.Repeat("t", 64), m.body, int64(1)
		row[10], row[11], row[12], row[13], row[14], row[15] = "overdue_1d", "CNY", m.amount, m.sched, m.until, at
		return true
	}); err != nil {
		tb.Fatal(err)
	}
	i = 0
	if _, err := queries.CopyFrom(ctx, tx, "reminder_send_items", []string{"send_id", "installment_id", "loan_id", "stage",
		"channel", "amount_minor"}, func(row []any) bool {
		if i == n {
			return false
		}
		m := &msgs[i]
		i++
		row[0], row[1], row[2], row[3], row[4], row[5] = m.id, m.borrower*100+1, m.borrower*10+1, "overdue_1d", "sms", m.amount
		return true
	}); err != nil {
		tb.Fatal(err)
	}
	i = 0
	if _, err := queries.CopyFrom(ctx, tx, "reminder_audit", []string{"id", "run_id", "at", "borrower_id", "loan_id",
		"installment_id", "stage", "channel", "decision", "reason", "send_id", "scheduled_for", "valid_until", "time_zones",
		"policy_sha256", "details", "prev_hash", "hash"}, func(row []any) bool {
		if i == n {
			return false
		}
		m := &msgs[i]
		i++
		row[0], row[1], row[2], row[3], row[4] = m.auditID, runID, at, m.borrower, m.borrower*10+1
		row[5], row[6], row[7], row[8], row[9] = m.borrower*100+1, "overdue_1d", "sms", "queued", ""
		row[10], row[11], row[12], row[13], row[14], row[15] = m.id, m.sched, m.until, zones, header.PolicySHA256, m.details
		row[16], row[17] = m.prev, m.hash
		return true
	}); err != nil {
		tb.Fatal(err)
	}
	counts := queries.BatchCounts{Candidates: int64(n), Messages: int64(n), Queued: int64(n), AuditRows: int64(n)}
	if err := queries.AddBatchToRun(ctx, tx, runID, counts, header.Hash(), head); err != nil {
		tb.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
	totals := audit.RunTotals{Status: "succeeded", FinishedAt: base.Add(-time.Hour + 2*time.Minute), Candidates: int64(n),
		Messages: int64(n), Queued: int64(n), AuditRows: int64(n), AuditHead: head}
	if ok, err := queries.FinishRun(ctx, db, runID, "succeeded", totals.FinishedAt, "", totals.Seal(header.Hash())); err != nil || !ok {
		tb.Fatalf("finish run: %v %v", ok, err)
	}
	return &outbox{runID: runID, ids: sendIDs, first: first}
}

// gateway is a local http gateway: it checks every request's signature
// and window, counts calls per idempotency key and accepts each key once
// (a repeat gets the first answer), answering as answer says.
type gateway struct {
	t      testing.TB
	srv    *httptest.Server
	secret []byte
	clock  deliver.Clock

	mu       sync.Mutex
	calls    map[string]int // idempotency key → calls
	accepted map[string]int // idempotency key → calls answered 2xx
	bodies   map[string][]byte
	problems []string
	answer   func(key string, call int) (int, http.Header) // nil: 200
	delay    time.Duration
	total    int
}

func newGateway(t testing.TB, clock deliver.Clock) *gateway {
	g := &gateway{t: t, secret: []byte("gateway-secret"), clock: clock, calls: map[string]int{}, accepted: map[string]int{},
		bodies: map[string][]byte{}}
	g.srv = httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(g.srv.Close)
	return g
}

func (g *gateway) serve(w http.ResponseWriter, r *http.Request) {
	body := make([]byte, 0, 512)
	buf := make([]byte, 512)
	for {
		n, err := r.Body.Read(buf)
		body = append(body, buf[:n]...)
		if err != nil {
			break
		}
	}
	now := g.clock.Now()
	key := r.Header.Get("Idempotency-Key")
	var problem string
	switch {
	case r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json":
		problem = "not a JSON POST"
	case !httpgw.Verify(g.secret, r.Header.Get("X-Loanremind-Timestamp"), body, r.Header.Get("X-Loanremind-Signature")):
		problem = "bad signature on " + key
	}
	if problem == "" {
		if sched, until, ok := windowOf(body); !ok {
			problem = "no window in " + string(body)
		} else if now.Before(sched) || !now.Before(until) {
			problem = fmt.Sprintf("%s sent at %s outside its window [%s, %s)", key, now.Format(time.RFC3339Nano), sched, until)
		}
	}
	g.mu.Lock()
	g.total++
	g.calls[key]++
	call := g.calls[key]
	g.bodies[key] = body
	if problem != "" {
		g.problems = append(g.problems, problem)
	}
	answer := g.answer
	delay := g.delay
	g.mu.Unlock()
	if delay > 0 {
		time.Sleep(delay)
	}
	code, header := http.StatusOK, http.Header(nil)
	if answer != nil {
		code, header = answer(key, call)
	}
	for k, v := range header {
		w.Header()[k] = v
	}
	if code >= 200 && code < 300 {
		g.mu.Lock()
		g.accepted[key]++
		g.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"id": "gw-%s"}`, strings.TrimPrefix(key, "loanremind-"))
		return
	}
	w.WriteHeader(code)
}

// windowOf reads a request's window.
func windowOf(body []byte) (time.Time, time.Time, bool) {
	s := string(body)
	get := func(k string) (time.Time, bool) {
		i := strings.Index(s, `"`+k+`":"`)
		if i < 0 {
			return time.Time{}, false
		}
		rest := s[i+len(k)+4:]
		j := strings.IndexByte(rest, '"')
		t, err := time.Parse(time.RFC3339Nano, rest[:j])
		return t, err == nil
	}
	a, ok1 := get("scheduled_for")
	b, ok2 := get("valid_until")
	return a, b, ok1 && ok2
}

func (g *gateway) provider(t testing.TB, name string) *httpgw.Provider {
	p, err := httpgw.New(httpgw.Options{Name: name, URL: g.srv.URL, Secret: g.secret, Timeout: 5 * time.Second, MaxInFlight: 64})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// check fails the test on any request that was not signed, or not inside
// its window.
func (g *gateway) check(t testing.TB) {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, p := range g.problems {
		t.Error("gateway: " + p)
	}
}

// manualClock is a clock the test moves. After moves it by d at once:
// an idle dispatcher's wait is over immediately.
type manualClock struct {
	mu  sync.Mutex
	now time.Time
}

func newManualClock(t time.Time) *manualClock { return &manualClock{now: t} }

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func (c *manualClock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

func (c *manualClock) After(d time.Duration) <-chan time.Time {
	c.Advance(d)
	ch := make(chan time.Time, 1)
	ch <- c.Now()
	return ch
}

// offsetClock is the wall clock moved to start at a given instant.
type offsetClock struct {
	offset time.Duration
}

func newOffsetClock(at time.Time) *offsetClock { return &offsetClock{offset: time.Until(at)} }

func (c *offsetClock) Now() time.Time                         { return time.Now().Add(c.offset) }
func (c *offsetClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// dispatcher builds a dispatcher on db with the providers routed to sms.
func dispatcher(t testing.TB, db *sql.DB, clock deliver.Clock, tune func(*deliver.Config), providers ...deliver.ProviderConfig) *deliver.Dispatcher {
	t.Helper()
	cfg := deliver.Config{
		Providers: providers, Routes: map[string]string{"sms": providers[0].Provider.Name()},
		PollInterval: 50 * time.Millisecond, Host: "test", Version: "test", NormalizePhone: normalizePhone,
		RetryInitial: time.Second, RetryMax: time.Minute, Lease: time.Minute, GracePeriod: 5 * time.Second,
	}
	if tune != nil {
		tune(&cfg)
	}
	d, err := deliver.New(db, cfg, nil, clock, nil)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// statuses counts the messages of the outbox by status.
func statuses(t testing.TB, db *sql.DB) map[string]int {
	t.Helper()
	rows, err := db.Query(`SELECT status, count(*) FROM reminder_sends GROUP BY status`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			t.Fatal(err)
		}
		out[s] = n
	}
	return out
}

// newDB is a fresh database for a test.
func newDB(t testing.TB) *sql.DB {
	t.Helper()
	return pgtest.DB(t).DB
}
