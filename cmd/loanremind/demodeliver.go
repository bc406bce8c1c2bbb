package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/loanremind/loanremind/jobs"
	"github.com/loanremind/loanremind/jobs/deliver"
	"github.com/loanremind/loanremind/jobs/deliver/filebox"
	"github.com/loanremind/loanremind/queries"
)

// demoDeliver delivers the demo's outbox through the file provider, after
// one borrower pays an installment that a message is about to remind
// them of (so that the claim cancels it), and prints what was sent,
// cancelled and deferred.
func demoDeliver(ctx context.Context, w io.Writer, s *setup, db *sql.DB, dir string) error {
	path := filepath.Join(dir, "messages.jsonl")
	box, err := filebox.New("outbox-file", path, time.Now)
	if err != nil {
		return err
	}
	defer box.Close()
	// A borrower pays tonight: the message due to remind them is not sent.
	var paidSend, paidInstallment int64
	err = db.QueryRowContext(ctx, `SELECT i.send_id, i.installment_id FROM reminder_send_items i
		JOIN reminder_sends s ON s.id = i.send_id
		WHERE s.status = 'pending' AND s.scheduled_for <= $1 AND s.valid_until > $1 ORDER BY s.id LIMIT 1`, time.Now()).
		Scan(&paidSend, &paidInstallment)
	switch {
	case err == nil:
		if _, err := db.ExecContext(ctx, `UPDATE installments SET amount_paid_minor = amount_due_minor WHERE id = $1`, paidInstallment); err != nil {
			return err
		}
	case err != sql.ErrNoRows:
		return err
	}
	quiet := logrus.New()
	quiet.SetOutput(io.Discard)
	providers := &builtProviders{list: []deliver.ProviderConfig{{Provider: box, MaxInFlight: 4}}}
	s.cfg.Delivery.Routes = map[string]string{"sms": "outbox-file", "email": "outbox-file"}
	cfg := deliveryConfig(s, providers, jobs.Shard{Index: 0, Count: 1})
	d, err := deliver.New(db, cfg, logrus.NewEntry(quiet), nil, nil)
	if err != nil {
		return err
	}
	if err := d.RunOnce(ctx); err != nil {
		return err
	}
	t := d.Totals()
	var deferred int64
	var next sql.NullTime
	if err := db.QueryRowContext(ctx, `SELECT count(*), min(scheduled_for) FROM reminder_sends WHERE status = 'pending'`).
		Scan(&deferred, &next); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nDelivered through the file provider (%s):\n", path)
	fmt.Fprintf(w, "  sent %d, cancelled %d (the facts changed before the send), refused %d, expired %d\n",
		t[deliver.OutcomeSent], t[deliver.OutcomeCancelled], t[deliver.OutcomeRefused], t[deliver.OutcomeExpired])
	if deferred > 0 {
		fmt.Fprintf(w, "  deferred: %d message(s) wait for their window (the next from %s); `loanremind deliver` sends them then\n",
			deferred, next.Time.UTC().Format(time.RFC3339))
	}
	if paidSend != 0 {
		events, err := queries.DeliveriesOfSends(ctx, db, []int64{paidSend})
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "  message %d: the borrower paid installment %d before it went out:", paidSend, paidInstallment)
		for i := range events {
			fmt.Fprintf(w, " %s;", deliver.Describe(&events[i]))
		}
		fmt.Fprintln(w)
	}
	if sent, err := firstSent(ctx, db); err == nil && sent != 0 {
		events, err := queries.DeliveriesOfSends(ctx, db, []int64{sent})
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "  message %d:", sent)
		for i := range events {
			fmt.Fprintf(w, " %s;", deliver.Describe(&events[i]))
		}
		fmt.Fprintln(w)
	}
	if st, err := os.Stat(path); err == nil {
		fmt.Fprintf(w, "  the file holds %d bytes, one JSON line per message (phone numbers and bodies: keep it private)\n", st.Size())
	}
	return nil
}

func firstSent(ctx context.Context, db *sql.DB) (int64, error) {
	var id int64
	err := db.QueryRowContext(ctx, `SELECT id FROM reminder_sends WHERE status = 'sent' ORDER BY id LIMIT 1`).Scan(&id)
	return id, err
}

// demoDir is where the demo writes its messages: LOANREMIND_DEMO_DIR, or a
// new directory under the system's temporary directory.
func demoDir(e *env) (string, error) {
	if d := e.getenv("LOANREMIND_DEMO_DIR"); d != "" {
		return d, nil
	}
	return os.MkdirTemp("", "loanremind-demo-")
}
