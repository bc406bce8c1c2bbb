package audit

import (
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/loanremind/loanremind/queries"
)

// Verification hashes the driver's bytes, the job hashes a row's planned
// part with what the write adds, and Row.Hash hashes Row values: the three
// must agree on every row.
func TestHashPathsAgree(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		at := time.UnixMicro(rapid.Int64Range(0, 4e15).Draw(t, "at"))
		var sched, valid time.Time
		if rapid.Bool().Draw(t, "sent") {
			sched = time.UnixMicro(rapid.Int64Range(0, 4e15).Draw(t, "sched"))
			valid = sched.Add(time.Duration(rapid.Int64Range(1, 1e12).Draw(t, "valid")))
		}
		row := Row{
			RunID: rapid.Int64().Draw(t, "run"), At: at, BorrowerID: rapid.Int64().Draw(t, "b"),
			LoanID: rapid.Int64().Draw(t, "l"), InstallmentID: rapid.Int64().Draw(t, "i"),
			Stage: rapid.String().Draw(t, "stage"), Channel: rapid.String().Draw(t, "ch"),
			Decision: rapid.String().Draw(t, "d"), Reason: rapid.String().Draw(t, "r"),
			SendID: rapid.Int64().Draw(t, "send"), ScheduledFor: sched, ValidUntil: valid,
			TimeZones: rapid.String().Draw(t, "z"), PolicySHA256: rapid.String().Draw(t, "p"),
			Details: rapid.String().Draw(t, "det"), PrevHash: rapid.String().Draw(t, "prev"),
		}
		raw := queries.RawChainRow{
			BorrowerID: row.BorrowerID, LoanID: row.LoanID, InstallmentID: row.InstallmentID, SendID: row.SendID,
			At: row.At, ScheduledFor: sql.NullTime{Time: sched, Valid: !sched.IsZero()},
			ValidUntil: sql.NullTime{Time: valid, Valid: !valid.IsZero()},
			Stage:      []byte(row.Stage), Channel: []byte(row.Channel), Decision: []byte(row.Decision),
			Reason: []byte(row.Reason), TimeZones: []byte(row.TimeZones), PolicySHA256: []byte(row.PolicySHA256),
			Details: []byte(row.Details), PrevHash: []byte(row.PrevHash),
		}
		var sum [sha256.Size]byte
		rawHash(row.RunID, []byte("the run's policy"), &raw, &sum)
		if got, want := hex.EncodeToString(sum[:]), row.Hash(); got != want {
			t.Fatalf("raw hash %s, row hash %s", got, want)
		}
		// The job hashes the row from its planned part.
		planned, arena := row.Plan([]byte("something before"))
		var hexSum [2 * sha256.Size]byte
		planned.Hash(append(arena, "and after"...), row.RunID, row.At, row.SendID, []byte(row.PrevHash), &hexSum)
		if got, want := string(hexSum[:]), row.Hash(); got != want {
			t.Fatalf("planned hash %s, row hash %s", got, want)
		}
		// A row with the run's policy reads it as null.
		raw.PolicySHA256, raw.RunPolicy = nil, true
		rawHash(row.RunID, []byte(row.PolicySHA256), &raw, &sum)
		if got, want := hex.EncodeToString(sum[:]), row.Hash(); got != want {
			t.Fatalf("raw hash with the run's policy %s, row hash %s", got, want)
		}
	})
}
