package filebox_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/loanremind/loanremind/jobs/deliver"
	"github.com/loanremind/loanremind/jobs/deliver/filebox"
)

// Each message is one JSON line, whole, however many are written at once;
// the file is its owner's only; a repeat is a second line (not idempotent).
func TestAppendsOneLinePerMessage(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "out", "messages.jsonl")
	at := time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC)
	p, err := filebox.New("outbox-file", path, func() time.Time { return at })
	if err != nil {
		t.Fatal(err)
	}
	if p.Idempotent() || p.Type() != "file" || p.Name() != "outbox-file" {
		t.Fatalf("%s %s idempotent=%v", p.Name(), p.Type(), p.Idempotent())
	}
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := &deliver.Message{SendID: int64(i + 1), Channel: "sms", To: "+8613812345678", Body: "line\nbreak",
				ScheduledFor: at, ValidUntil: at.Add(time.Hour), Attempt: 1}
			if r, err := p.Send(context.Background(), m); err != nil || r.ProviderMessageID == "" {
				t.Errorf("Send: %+v %v", r, err)
			}
		}()
	}
	wg.Wait()
	p.Send(context.Background(), &deliver.Message{SendID: 1, Channel: "sms", Body: "again", ScheduledFor: at, ValidUntil: at.Add(time.Hour)})
	p.Close()
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("file mode %v, %v", st.Mode(), err)
	}
	f, _ := os.Open(path)
	defer f.Close()
	seen := map[int64]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l filebox.Line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		seen[l.ID]++
	}
	if len(seen) != 50 || seen[1] != 2 {
		t.Errorf("%d messages, message 1 %d times; want 50, and 1 twice", len(seen), seen[1])
	}
}
