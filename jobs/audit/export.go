package audit

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/loanremind/loanremind/jobs/pii"
	"github.com/loanremind/loanremind/queries"
)

// ExportColumns lists the columns of an export, in order.
func ExportColumns() []string {
	return []string{"audit_id", "run_id", "mode", "actor", "at", "borrower_id", "loan_id", "installment_id",
		"stage", "channel", "decision", "reason", "time_zones", "scheduled_for", "valid_until", "message_id",
		"recipient", "account_ref", "policy_sha256", "sent_at", "provider", "provider_message_id", "delivery_status"}
}

// Export streams the matching decisions to w as CSV (with a header) or as
// JSON lines, in constant memory. Phone numbers, emails and account
// references are masked unless unmasked. It returns the number of rows.
func Export(ctx context.Context, db queries.DBTX, f queries.ExportFilter, format string, unmasked bool, w io.Writer) (int64, error) {
	if format != "csv" && format != "json" {
		return 0, fmt.Errorf("export format %q: want csv or json", format)
	}
	rows, err := queries.ExportAudit(ctx, db, f)
	if err != nil {
		return 0, fmt.Errorf("export: %w", err)
	}
	defer rows.Close()
	bw := bufio.NewWriterSize(w, 64<<10)
	columns := ExportColumns()
	var cw *csv.Writer
	var enc *json.Encoder
	if format == "csv" {
		cw = csv.NewWriter(bw)
		if err := cw.Write(columns); err != nil {
			return 0, err
		}
	} else {
		enc = json.NewEncoder(bw)
		enc.SetEscapeHTML(false)
	}
	var (
		r      queries.ExportRow
		n      int64
		record = make([]string, len(columns))
	)
	for rows.Next() {
		if err := queries.ScanExportRow(rows, &r); err != nil {
			return n, fmt.Errorf("export: %w", err)
		}
		recipient, account := r.Recipient, r.AccountRef
		if !unmasked {
			account, recipient = pii.MaskAccount(account), pii.MaskContact(r.Channel, recipient)
		}
		if cw != nil {
			record[0], record[1], record[2], record[3] = itoa(r.ID), itoa(r.RunID), r.Mode, csvText(r.Actor)
			record[4], record[5], record[6], record[7] = stamp(r.At), itoa(r.BorrowerID), itoa(r.LoanID), itoa(r.InstallmentID)
			record[8], record[9], record[10], record[11] = r.Stage, r.Channel, r.Decision, csvText(r.Reason)
			record[12], record[13], record[14] = r.TimeZones, nullStamp(r.ScheduledFor), nullStamp(r.ValidUntil)
			record[15], record[16], record[17], record[18] = optID(r.SendID), csvText(recipient), csvText(account), r.PolicySHA256
			record[19], record[20], record[21], record[22] = nullStamp(r.SentAt), csvText(r.Provider), csvText(r.ProviderMessageID), r.DeliveryStatus
			if err := cw.Write(record); err != nil {
				return n, err
			}
		} else {
			err := enc.Encode(exportJSON{
				AuditID: r.ID, RunID: r.RunID, Mode: r.Mode, Actor: r.Actor, At: stamp(r.At), BorrowerID: r.BorrowerID,
				LoanID: r.LoanID, InstallmentID: r.InstallmentID, Stage: r.Stage, Channel: r.Channel,
				Decision: r.Decision, Reason: r.Reason, TimeZones: json.RawMessage(r.TimeZones),
				ScheduledFor: nullStamp(r.ScheduledFor), ValidUntil: nullStamp(r.ValidUntil), MessageID: r.SendID,
				Recipient: recipient, AccountRef: account, PolicySHA256: r.PolicySHA256,
				SentAt: nullStamp(r.SentAt), Provider: r.Provider, ProviderMessageID: r.ProviderMessageID,
				DeliveryStatus: r.DeliveryStatus,
			})
			if err != nil {
				return n, err
			}
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return n, fmt.Errorf("export: %w", err)
	}
	if cw != nil {
		cw.Flush()
		if err := cw.Error(); err != nil {
			return n, err
		}
	}
	return n, bw.Flush()
}

// csvText keeps a free-text cell from being read as a formula when the
// export is opened in a spreadsheet (CWE-1236): a cell that starts with =,
// @, a tab or a carriage return, or with + or - followed by anything but a
// phone number's characters, gets a leading apostrophe. Phone numbers,
// masked or not, stay as they are.
func csvText(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '@', '\t', '\r':
		return "'" + s
	case '+', '-':
		if strings.Trim(s[1:], "0123456789 *-().") != "" {
			return "'" + s
		}
	}
	return s
}

type exportJSON struct {
	AuditID       int64           `json:"audit_id"`
	RunID         int64           `json:"run_id"`
	Mode          string          `json:"mode"`
	Actor         string          `json:"actor"`
	At            string          `json:"at"`
	BorrowerID    int64           `json:"borrower_id"`
	LoanID        int64           `json:"loan_id"`
	InstallmentID int64           `json:"installment_id"`
	Stage         string          `json:"stage"`
	Channel       string          `json:"channel"`
	Decision      string          `json:"decision"`
	Reason        string          `json:"reason"`
	TimeZones     json.RawMessage `json:"time_zones"`
	ScheduledFor  string          `json:"scheduled_for,omitempty"`
	ValidUntil    string          `json:"valid_until,omitempty"`
	MessageID     int64           `json:"message_id,omitempty"`
	Recipient     string          `json:"recipient"`
	AccountRef    string          `json:"account_ref"`
	PolicySHA256  string          `json:"policy_sha256"`
	// What became of the message (empty without one, or before it left).
	SentAt            string `json:"sent_at,omitempty"`
	Provider          string `json:"provider,omitempty"`
	ProviderMessageID string `json:"provider_message_id,omitempty"`
	DeliveryStatus    string `json:"delivery_status,omitempty"`
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func optID(n int64) string {
	if n == 0 {
		return ""
	}
	return itoa(n)
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func nullStamp(t sql.NullTime) string {
	if !t.Valid {
		return ""
	}
	return stamp(t.Time)
}
