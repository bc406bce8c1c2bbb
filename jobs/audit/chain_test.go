package audit_test

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/loanremind/loanremind/jobs/audit"
)

// The hashes must change when any hashed field changes, and only then. The
// checks walk the struct fields by reflection, so a field added later is
// covered without touching these tests.

var timeType = reflect.TypeOf(time.Time{})

// mutations returns copies of the struct v with one field changed each,
// named by the field: a string gets a byte more, or loses its last one; a
// number is one more or one less; a bool flips; a time moves one
// microsecond (what timestamptz keeps), and a zero time becomes the epoch
// (which must not encode like "none").
func mutations(v any) map[string]any {
	orig := reflect.ValueOf(v)
	out := map[string]any{}
	add := func(name string, i int, set func(f reflect.Value)) {
		c := reflect.New(orig.Type()).Elem()
		c.Set(orig)
		set(c.Field(i))
		out[name] = c.Interface()
	}
	for i := 0; i < orig.NumField(); i++ {
		sf := orig.Type().Field(i)
		f := orig.Field(i)
		switch {
		case sf.Type == timeType:
			t := f.Interface().(time.Time)
			if t.IsZero() {
				add(sf.Name+" zero→epoch", i, func(f reflect.Value) { f.Set(reflect.ValueOf(time.Unix(0, 0))) })
			} else {
				add(sf.Name+" +1µs", i, func(f reflect.Value) { f.Set(reflect.ValueOf(t.Add(time.Microsecond))) })
				add(sf.Name+" →zero", i, func(f reflect.Value) { f.Set(reflect.ValueOf(time.Time{})) })
			}
		case sf.Type.Kind() == reflect.String:
			add(sf.Name+" +byte", i, func(f reflect.Value) { f.SetString(f.String() + "x") })
			if f.Len() > 0 {
				add(sf.Name+" -byte", i, func(f reflect.Value) { f.SetString(f.String()[:f.Len()-1]) })
			}
		case sf.Type.Kind() == reflect.Int || sf.Type.Kind() == reflect.Int64:
			add(sf.Name+" +1", i, func(f reflect.Value) { f.SetInt(f.Int() + 1) })
			add(sf.Name+" -1", i, func(f reflect.Value) { f.SetInt(f.Int() - 1) })
		case sf.Type.Kind() == reflect.Bool:
			add(sf.Name+" flipped", i, func(f reflect.Value) { f.SetBool(!f.Bool()) })
		default:
			panic(fmt.Sprintf("mutations: field %s of type %s: teach this test how to change it", sf.Name, sf.Type))
		}
	}
	// Moving a byte across the boundary of two adjacent string fields keeps
	// the concatenation: the encoding must still tell them apart.
	for i := 0; i+1 < orig.NumField(); i++ {
		a, b := orig.Field(i), orig.Field(i+1)
		if a.Kind() != reflect.String || b.Kind() != reflect.String || a.Len() == 0 {
			continue
		}
		name := orig.Type().Field(i).Name + "→" + orig.Type().Field(i+1).Name
		c := reflect.New(orig.Type()).Elem()
		c.Set(orig)
		s := a.String()
		c.Field(i).SetString(s[:len(s)-1])
		c.Field(i + 1).SetString(s[len(s)-1:] + b.String())
		out[name] = c.Interface()
	}
	return out
}

// checkAllFieldsMutated checks that mutations changed every field of v.
func checkAllFieldsMutated(t testing.TB, v any, muts map[string]any) {
	t.Helper()
	typ := reflect.TypeOf(v)
	for i := 0; i < typ.NumField(); i++ {
		found := false
		for name := range muts {
			if len(name) > len(typ.Field(i).Name) && name[:len(typ.Field(i).Name)+1] == typ.Field(i).Name+" " {
				found = true
			}
		}
		if !found {
			t.Fatalf("no mutation of field %s", typ.Field(i).Name)
		}
	}
}

func genTime(t *rapid.T, label string) time.Time {
	if rapid.IntRange(0, 4).Draw(t, label+" zero?") == 0 {
		return time.Time{}
	}
	// Any instant from 1900 to 2200, at microsecond precision.
	us := rapid.Int64Range(-2208988800_000000, 7258118400_000000).Draw(t, label)
	return time.UnixMicro(us)
}

func genRow(t *rapid.T) audit.Row {
	s := genString()
	return audit.Row{
		RunID: genInt().Draw(t, "run"), At: genTime(t, "at"), BorrowerID: genInt().Draw(t, "borrower"),
		LoanID: genInt().Draw(t, "loan"), InstallmentID: genInt().Draw(t, "installment"),
		Stage: s.Draw(t, "stage"), Channel: s.Draw(t, "channel"), Decision: s.Draw(t, "decision"),
		Reason: s.Draw(t, "reason"), SendID: genInt().Draw(t, "send"), ScheduledFor: genTime(t, "scheduled"),
		ValidUntil: genTime(t, "valid"), TimeZones: s.Draw(t, "zones"), PolicySHA256: s.Draw(t, "policy"),
		Details: s.Draw(t, "details"), PrevHash: s.Draw(t, "prev"),
	}
}

func genHeader(t *rapid.T) audit.RunHeader {
	s := genString()
	return audit.RunHeader{
		ID: genInt().Draw(t, "id"), Mode: s.Draw(t, "mode"), AsOf: genTime(t, "as of"), BusinessDate: s.Draw(t, "date"),
		ShardIndex: rapid.Int().Draw(t, "shard"), ShardCount: rapid.Int().Draw(t, "shards"), Actor: s.Draw(t, "actor"),
		Reason: s.Draw(t, "reason"), Host: s.Draw(t, "host"), StartedAt: genTime(t, "started"),
		SendLate: rapid.Bool().Draw(t, "late"), ConfigSHA256: s.Draw(t, "config"), PolicySHA256: s.Draw(t, "policy"),
		TemplatesSHA256: s.Draw(t, "templates"), Version: s.Draw(t, "version"), PrevRunID: genInt().Draw(t, "prev id"),
		PrevRunHead: s.Draw(t, "prev head"),
	}
}

func genTotals(t *rapid.T) audit.RunTotals {
	s := genString()
	return audit.RunTotals{
		Status: s.Draw(t, "status"), FinishedAt: genTime(t, "finished"), Error: s.Draw(t, "error"),
		Candidates: genInt().Draw(t, "candidates"), Messages: genInt().Draw(t, "messages"),
		Queued: genInt().Draw(t, "queued"), Deferred: genInt().Draw(t, "deferred"),
		Suppressed: genInt().Draw(t, "suppressed"), Skipped: genInt().Draw(t, "skipped"),
		Expired: genInt().Draw(t, "expired"), AuditRows: genInt().Draw(t, "rows"), AuditHead: s.Draw(t, "head"),
	}
}

func genEvent(t *rapid.T) audit.Event {
	s := genString()
	return audit.Event{At: genTime(t, "at"), Actor: s.Draw(t, "actor"), Event: s.Draw(t, "event"),
		Details: s.Draw(t, "details"), PrevHash: s.Draw(t, "prev")}
}

func rowHash(v any) string    { r := v.(audit.Row); return r.Hash() }
func headerHash(v any) string { h := v.(audit.RunHeader); return h.Hash() }
func eventHash(v any) string  { e := v.(audit.Event); return e.Hash() }

// checkMutations checks that every mutation of v changes hash(v), and that
// no two mutations collide.
func checkMutations(t *rapid.T, v any, hash func(any) string) {
	base := hash(v)
	if base != hash(v) {
		t.Fatalf("hash of %+v is not deterministic", v)
	}
	if len(base) != 64 {
		t.Fatalf("hash %q is not hex SHA-256", base)
	}
	seen := map[string]string{base: "original"}
	for name, m := range mutations(v) {
		h := hash(m)
		if prev, dup := seen[h]; dup {
			t.Fatalf("%s gives the same hash as %s: %+v", name, prev, m)
		}
		seen[h] = name
	}
}

func TestRowHashChangesWithEveryField(t *testing.T) {
	t.Parallel()
	checkAllFieldsMutated(t, audit.Row{}, mutations(sampleRow()))
	rapid.Check(t, func(t *rapid.T) { checkMutations(t, genRow(t), rowHash) })
}

func TestRunHeaderHashChangesWithEveryField(t *testing.T) {
	t.Parallel()
	checkAllFieldsMutated(t, audit.RunHeader{}, mutations(sampleHeader()))
	rapid.Check(t, func(t *rapid.T) { checkMutations(t, genHeader(t), headerHash) })
}

func TestRunTotalsSealChangesWithEveryFieldAndTheHeader(t *testing.T) {
	t.Parallel()
	checkAllFieldsMutated(t, audit.RunTotals{}, mutations(sampleTotals()))
	rapid.Check(t, func(t *rapid.T) {
		h := genHeader(t)
		header := h.Hash()
		seal := func(v any) string { tt := v.(audit.RunTotals); return tt.Seal(header) }
		totals := genTotals(t)
		checkMutations(t, totals, seal)
		// The seal is bound to its header: any change to the header
		// changes it.
		base := totals.Seal(header)
		for name, m := range mutations(h) {
			mh := m.(audit.RunHeader)
			if totals.Seal(mh.Hash()) == base {
				t.Fatalf("header change %s leaves the seal as it was", name)
			}
		}
	})
}

func TestEventHashChangesWithEveryField(t *testing.T) {
	t.Parallel()
	checkAllFieldsMutated(t, audit.Event{}, mutations(audit.Event{At: time.Unix(1, 0), Actor: "a", Event: "e", Details: "{}", PrevHash: audit.EventsGenesis}))
	rapid.Check(t, func(t *rapid.T) { checkMutations(t, genEvent(t), eventHash) })
}

// TestHashesIgnoreWhatTheDatabaseDoesNotKeep: timestamptz keeps
// microseconds and no zone, so verification reads back a time in another
// location, without a monotonic reading and without nanoseconds; the hash
// written before must be the hash read after.
func TestHashesIgnoreWhatTheDatabaseDoesNotKeep(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		r := genRow(t)
		if r.At.IsZero() {
			r.At = time.UnixMicro(1)
		}
		base := r.Hash()
		shanghai, _ := time.LoadLocation("Asia/Shanghai")
		for name, at := range map[string]time.Time{
			"in another zone":     r.At.In(shanghai),
			"in UTC":              r.At.UTC(),
			"with a fixed offset": r.At.In(time.FixedZone("x", -9*3600-30*60)),
		} {
			c := r
			c.At = at
			if c.Hash() != base {
				t.Fatalf("the same instant %s hashes differently", name)
			}
		}
		c := r
		c.At = r.At.Add(time.Duration(rapid.IntRange(1, 999).Draw(t, "ns")))
		if c.Hash() != base {
			t.Fatalf("nanoseconds the database drops change the hash")
		}
	})
	now := time.Now() // has a monotonic reading
	r1 := audit.Row{At: now.Truncate(time.Microsecond)}
	r2 := audit.Row{At: now.Truncate(time.Microsecond).Round(0)}
	if r1.Hash() != r2.Hash() {
		t.Error("a monotonic clock reading changes the hash")
	}
}

func sampleRow() audit.Row {
	at := time.Date(2026, 11, 28, 2, 0, 0, 123456000, time.UTC)
	return audit.Row{
		RunID: 7, At: at, BorrowerID: 42, LoanID: 4201, InstallmentID: 420103, Stage: "overdue_1d", Channel: "sms",
		Decision: "deferred", Reason: "quiet_hours", SendID: 9, ScheduledFor: at.Add(6 * time.Hour),
		ValidUntil: at.Add(11 * time.Hour), TimeZones: `[{"zone": "Asia/Shanghai", "source": "time_zone"}]`,
		PolicySHA256: "p", Details: `{"seq": 3}`, PrevHash: "0123",
	}
}

func sampleHeader() audit.RunHeader {
	return audit.RunHeader{
		ID: 7, Mode: "scheduled", AsOf: time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC), BusinessDate: "2026-11-28",
		ShardIndex: 1, ShardCount: 4, Actor: "system:cron", Reason: "hourly", Host: "pod-1",
		StartedAt: time.Date(2026, 11, 28, 2, 0, 1, 5000, time.UTC), SendLate: false, ConfigSHA256: "c",
		PolicySHA256: "p", TemplatesSHA256: "t", Version: "v1.2.3", PrevRunID: 6, PrevRunHead: "h",
	}
}

func sampleTotals() audit.RunTotals {
	return audit.RunTotals{
		Status: "succeeded", FinishedAt: time.Date(2026, 11, 28, 2, 0, 9, 0, time.UTC), Error: "",
		Candidates: 10, Messages: 6, Queued: 4, Deferred: 2, Suppressed: 2, Skipped: 1, Expired: 1, AuditRows: 10,
		AuditHead: "head",
	}
}

// TestHashesAreStable pins the encoding: a change to it makes every trail
// already written fail verification. If this fails on purpose, the change
// needs a new version tag ("loanremind.audit.v2") and a verifier for both.
func TestHashesAreStable(t *testing.T) {
	t.Parallel()
	row, header, totals := sampleRow(), sampleHeader(), sampleTotals()
	event := audit.Event{At: time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC), Actor: "alice", Event: audit.EventPrune,
		Details: `{"runs": 1}`, PrevHash: audit.EventsGenesis}
	empty := audit.Row{}
	for _, c := range []struct{ name, got, want string }{
		{"row", row.Hash(), "d7fc724bf2686e0d6f8adc5c87a6540484be189fb333c98148f48c590eb68bd8"},
		// The documented encoding, spelt out: sha256 of
		// "loanremind.audit.v1|i0|n|i0|i0|i0|s0:|s0:|s0:|s0:|i0|n|n|s0:|s0:|s0:|s0:".
		{"empty row", empty.Hash(), "d1b48e50f07c69862b207ea96a8890fdf6d12c34667263be664e94fa03b83ad1"},
		{"header", header.Hash(), "5d0a535feabf08b8899ab7c83e1badaa076ddc0d7c58eba78e7fd93e237f9e18"},
		{"seal", totals.Seal(header.Hash()), "153a9670ed55974ace8eba3f6ae2a0110e278a8550d4491e222328a6470e2e16"},
		{"event", event.Hash(), "3ed206f8e80fd73ef29d9e3518ecf33d06c9ad538cceae7c58a4a2251ddb3cb9"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.got != c.want {
				t.Errorf("%s hash %s, want %s", c.name, c.got, c.want)
			}
		})
	}
}
