package audit_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"io"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loanremind/loanremind/jobs/audit"
	"github.com/loanremind/loanremind/jobs/pii"
	"github.com/loanremind/loanremind/queries"
	"github.com/loanremind/loanremind/queries/pgtest"
)

func export(tb testing.TB, db *sql.DB, f queries.ExportFilter, format string, unmasked bool) (string, int64) {
	tb.Helper()
	var buf bytes.Buffer
	n, err := audit.Export(context.Background(), db, f, format, unmasked, &buf)
	if err != nil {
		tb.Fatalf("export %+v: %v", f, err)
	}
	return buf.String(), n
}

// parseCSV checks the header and returns the records.
func parseCSV(tb testing.TB, text string) [][]string {
	tb.Helper()
	records, err := csv.NewReader(strings.NewReader(text)).ReadAll()
	if err != nil {
		tb.Fatalf("export is not CSV: %v", err)
	}
	if len(records) == 0 || !slices.Equal(records[0], audit.ExportColumns()) {
		tb.Fatalf("CSV header %v, want %v", records[:min(1, len(records))], audit.ExportColumns())
	}
	return records[1:]
}

func column(name string) int { return slices.Index(audit.ExportColumns(), name) }

func ids(tb testing.TB, db *sql.DB, query string, args ...any) []string {
	tb.Helper()
	rows, err := db.Query(query, args...)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			tb.Fatal(err)
		}
		out = append(out, strconv.FormatInt(id, 10))
	}
	return out
}

// TestExportFiltersAndMasks checks each filter against SQL over rows whose
// decision times spread over several days, and the masking of every row.
func TestExportFiltersAndMasks(t *testing.T) {
	t.Parallel()
	db := pgtest.DB(t).DB
	insertPeople(t, db, 40)
	runA := insertBulkRun(t, db, 3000, 5, 40)
	runB := insertBulkRun(t, db, 1200, 3, 40)
	all := queries.ExportFilter{From: fixtureAt.AddDate(-1, 0, 0), To: fixtureAt.AddDate(1, 0, 0)}
	day := func(n int) time.Time { return fixtureAt.Truncate(24*time.Hour).AddDate(0, 0, n) }
	const where = `SELECT id FROM reminder_audit WHERE at >= $1 AND at < $2 AND `
	for _, c := range []struct {
		name  string
		f     queries.ExportFilter
		query string
		args  []any
	}{
		{"all", all, where + `true ORDER BY id`, nil},
		{"borrower", with(all, func(f *queries.ExportFilter) { f.BorrowerID = 7 }), where + `borrower_id = 7 ORDER BY id`, nil},
		{"loan", with(all, func(f *queries.ExportFilter) { f.LoanID = 131 }), where + `loan_id = 131 ORDER BY id`, nil},
		{"run", with(all, func(f *queries.ExportFilter) { f.RunID = runB }), where + `run_id = $3 ORDER BY id`, []any{runB}},
		{"decision", with(all, func(f *queries.ExportFilter) { f.Decision = "expired" }), where + `decision = 'expired' ORDER BY id`, nil},
		{"installment", with(all, func(f *queries.ExportFilter) { f.InstallmentID = runA*10000000 + 77 }),
			where + `installment_id = $3 ORDER BY id`, []any{runA*10000000 + 77}},
		{"date range", queries.ExportFilter{From: day(1), To: day(3)}, where + `true ORDER BY id`, nil},
		{"a day with nothing", queries.ExportFilter{From: day(9), To: day(10)}, where + `true ORDER BY id`, nil},
		{"combined", queries.ExportFilter{From: day(0), To: day(1), BorrowerID: 6, Decision: "queued", RunID: runA},
			where + `borrower_id = 6 AND decision = 'queued' AND run_id = $3 ORDER BY id`, []any{runA}},
	} {
		t.Run(c.name, func(t *testing.T) {
			want := ids(t, db, c.query, append([]any{c.f.From, c.f.To}, c.args...)...)
			if c.name != "a day with nothing" && len(want) == 0 {
				t.Fatal("the filter matches nothing: the fixture is wrong")
			}
			text, n := export(t, db, c.f, "csv", false)
			records := parseCSV(t, text)
			got := []string{}
			for _, r := range records {
				got = append(got, r[column("audit_id")])
			}
			if !slices.Equal(got, want) || n != int64(len(want)) {
				t.Fatalf("exported %d rows (count %d), SQL finds %d; first exported %v, first wanted %v",
					len(got), n, len(want), got[:min(5, len(got))], want[:min(5, len(want))])
			}
		})
	}

	t.Run("masked by default, full with unmasked", func(t *testing.T) {
		f := with(all, func(f *queries.ExportFilter) { f.RunID = runB })
		masked := parseCSV(t, mustText(export(t, db, f, "csv", false)))
		full := parseCSV(t, mustText(export(t, db, f, "csv", true)))
		if len(masked) != len(full) || len(masked) == 0 {
			t.Fatalf("masked %d rows, unmasked %d", len(masked), len(full))
		}
		rc, ac, cc := column("recipient"), column("account_ref"), column("channel")
		for i := range masked {
			m, u := masked[i], full[i]
			b, _ := strconv.Atoi(u[column("borrower_id")])
			phone, email := "+8613"+pad9(b), "person"+strconv.Itoa(b)+"@example.com"
			wantRecipient := phone
			if u[cc] == "email" {
				wantRecipient = email
			}
			if u[rc] != wantRecipient || u[ac] != "LN-2024-"+pad8(b) {
				t.Fatalf("unmasked row %v: recipient %q account %q", u[0], u[rc], u[ac])
			}
			wantMasked := pii.MaskPhone(phone)
			if u[cc] == "email" {
				wantMasked = pii.MaskEmail(email)
			}
			if m[rc] != wantMasked || m[ac] != pii.MaskAccount(u[ac]) {
				t.Fatalf("masked row %v: recipient %q account %q, want %q %q", m[0], m[rc], m[ac], wantMasked, pii.MaskAccount(u[ac]))
			}
			line := strings.Join(m, ",")
			for _, secret := range []string{phone, phone[3:], email, u[ac]} {
				if strings.Contains(line, secret) {
					t.Fatalf("masked row %v shows %q", m[0], secret)
				}
			}
			m[rc], m[ac], u[rc], u[ac] = "", "", "", ""
			if !slices.Equal(m, u) {
				t.Fatalf("masking changed other columns:\n%v\n%v", m, u)
			}
		}
	})

	t.Run("JSON lines", func(t *testing.T) {
		text, n := export(t, db, all, "json", false)
		csvRecords := parseCSV(t, mustText(export(t, db, all, "csv", false)))
		lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
		if int64(len(lines)) != n || len(lines) != len(csvRecords) {
			t.Fatalf("%d JSON lines, count %d, %d CSV rows", len(lines), n, len(csvRecords))
		}
		for i, line := range lines {
			dec := json.NewDecoder(strings.NewReader(line))
			dec.UseNumber()
			var obj map[string]any
			if err := dec.Decode(&obj); err != nil || dec.More() {
				t.Fatalf("line %d is not one JSON object: %v: %s", i+1, err, line)
			}
			for k := range obj {
				if column(k) < 0 {
					t.Fatalf("line %d: key %q is not an export column", i+1, k)
				}
			}
			for _, k := range []string{"audit_id", "run_id", "decision", "recipient", "account_ref", "time_zones"} {
				got, ok := obj[k]
				if !ok {
					t.Fatalf("line %d lacks %s: %s", i+1, k, line)
				}
				want := csvRecords[i][column(k)]
				var gotText string
				switch v := got.(type) {
				case string:
					gotText = v
				case json.Number:
					gotText = v.String()
				default:
					b, _ := json.Marshal(v)
					var canon any
					json.Unmarshal([]byte(want), &canon)
					wb, _ := json.Marshal(canon)
					gotText, want = string(b), string(wb)
				}
				if gotText != want {
					t.Fatalf("line %d: %s is %q in JSON, %q in CSV", i+1, k, gotText, want)
				}
			}
		}
	})

	if _, err := audit.Export(context.Background(), db, all, "xml", false, io.Discard); err == nil {
		t.Error("export accepts format xml")
	}
}

func with(f queries.ExportFilter, change func(*queries.ExportFilter)) queries.ExportFilter {
	change(&f)
	return f
}

func mustText(s string, _ int64) string { return s }

func pad8(n int) string { return strings.Repeat("0", 8-len(strconv.Itoa(n))) + strconv.Itoa(n) }
func pad9(n int) string { return strings.Repeat("0", 9-len(strconv.Itoa(n))) + strconv.Itoa(n) }

// heapProbe is an io.Writer that discards what it gets and, every so many
// bytes, measures the live heap: it forces a collection and reads the heap
// left. The export writes through a 64 KiB buffer, so this samples the
// middle of the export, not only its end.
type heapProbe struct {
	every, written, next int64
	peakLive             uint64
	samples              int
}

func (p *heapProbe) Write(b []byte) (int, error) {
	p.written += int64(len(b))
	if p.written >= p.next {
		p.next = p.written + p.every
		p.sample()
	}
	return len(b), nil
}

func (p *heapProbe) sample() {
	p.peakLive = max(p.peakLive, liveHeap())
	p.samples++
}

func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

const mib = 1 << 20

// TestExportMemoryIsFlat exports 10,000 and then 100,000 rows and compares
// the live heap measured during each: streaming keeps it the same. Not
// parallel: the heap is the whole process's.
func TestExportMemoryIsFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 110,000 rows")
	}
	db := pgtest.DB(t).DB
	insertPeople(t, db, 1000)
	small := insertBulkRun(t, db, 10_000, 3, 1000)
	large := insertBulkRun(t, db, 100_000, 3, 1000)
	ctx := context.Background()
	measure := func(t *testing.T, run int64, format string, want int64) (growth uint64, probe *heapProbe) {
		f := queries.ExportFilter{From: fixtureAt.AddDate(0, 0, -1), To: fixtureAt.AddDate(0, 0, 7), RunID: run}
		probe = &heapProbe{every: mib}
		base := liveHeap()
		n, err := audit.Export(ctx, db, f, format, false, probe)
		if err != nil {
			t.Fatal(err)
		}
		if n != want {
			t.Fatalf("exported %d rows, want %d", n, want)
		}
		probe.sample()
		if probe.peakLive < base {
			return 0, probe
		}
		return probe.peakLive - base, probe
	}
	for _, format := range []string{"csv", "json"} {
		t.Run(format, func(t *testing.T) {
			// Warm up: the first export loads statements and code paths once.
			measure(t, small, format, 10_000)
			g10, p10 := measure(t, small, format, 10_000)
			g100, p100 := measure(t, large, format, 100_000)
			t.Logf("%s: live heap growth during export: %.2f MiB for 10,000 rows (%d samples, %.1f MiB written), %.2f MiB for 100,000 rows (%d samples, %.1f MiB written)",
				format, float64(g10)/mib, p10.samples, float64(p10.written)/mib, float64(g100)/mib, p100.samples, float64(p100.written)/mib)
			if p100.samples < 10 {
				t.Fatalf("%s: only %d heap samples during the large export", format, p100.samples)
			}
			if g100 > g10 && g100-g10 >= 8*mib {
				t.Errorf("%s: the live heap grows with the rows exported: +%.2f MiB for 10,000 rows, +%.2f MiB for 100,000",
					format, float64(g10)/mib, float64(g100)/mib)
			}
		})
	}
}

// BenchmarkExportMillion streams 1,000,000 audit rows to io.Discard and
// reports the rate, the peak heap in use and the allocation per row.
//
//	go test ./jobs/audit -run '^$' -bench BenchmarkExportMillion -benchtime 1x
func BenchmarkExportMillion(b *testing.B) {
	db := pgtest.DB(b).DB
	const rows = 1_000_000
	start := time.Now()
	insertPeople(b, db, 10_000)
	insertBulkRun(b, db, rows, 30, 10_000)
	if _, err := db.Exec(`VACUUM ANALYZE reminder_audit, borrowers, loans`); err != nil {
		b.Fatal(err)
	}
	b.Logf("inserted %d audit rows in %s", rows, time.Since(start).Round(time.Millisecond))
	f := queries.ExportFilter{From: fixtureAt.AddDate(0, 0, -1), To: fixtureAt.AddDate(0, 0, 40)}
	for _, format := range []string{"csv", "json"} {
		b.Run(format, func(b *testing.B) {
			ctx := context.Background()
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			stop := make(chan struct{})
			var wg sync.WaitGroup
			var peakInuse, peakSys uint64
			wg.Add(1)
			go func() {
				defer wg.Done()
				tick := time.NewTicker(5 * time.Millisecond)
				defer tick.Stop()
				var m runtime.MemStats
				for {
					runtime.ReadMemStats(&m)
					peakInuse, peakSys = max(peakInuse, m.HeapInuse), max(peakSys, m.Sys)
					select {
					case <-stop:
						return
					case <-tick.C:
					}
				}
			}()
			var total int64
			for b.Loop() {
				n, err := audit.Export(ctx, db, f, format, false, io.Discard)
				if err != nil {
					b.Fatal(err)
				}
				if n != rows {
					b.Fatalf("exported %d rows, want %d", n, rows)
				}
				total += n
			}
			close(stop)
			wg.Wait()
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(peakInuse)/mib, "peak-heap-inuse-MiB")
			b.ReportMetric(float64(peakSys)/mib, "peak-sys-MiB")
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(total), "alloc-B/row")
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(total), "allocs/row")
		})
	}
}
