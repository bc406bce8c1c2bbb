package httpgw_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/loanremind/loanremind/jobs/deliver"
	"github.com/loanremind/loanremind/jobs/deliver/httpgw"
)

var at = time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC)

func message() *deliver.Message {
	return &deliver.Message{SendID: 42, Channel: "sms", To: "+8613812345678", Body: "【安心金融】<b>&\"x\"",
		ScheduledFor: at, ValidUntil: at.Add(90 * time.Minute).Add(123456 * time.Microsecond), Attempt: 1}
}

// The request is DESIGN.md's, byte for byte: the JSON body, the
// idempotency key, the timestamp and the HMAC over timestamp "." body.
func TestWireFormat(t *testing.T) {
	t.Parallel()
	secret := []byte("s3cret")
	type seen struct {
		method, path, contentType, key, ts, sig string
		body                                    []byte
	}
	got := make(chan seen, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.URL.Path, r.Header.Get("Content-Type"), r.Header.Get("Idempotency-Key"),
			r.Header.Get("X-Loanremind-Timestamp"), r.Header.Get("X-Loanremind-Signature"), b}
		w.Write([]byte(`{"id": "gw-77", "status": "queued"}`))
	}))
	defer srv.Close()
	p, err := httpgw.New(httpgw.Options{Name: "gateway", URL: srv.URL + "/v1/messages", Secret: secret,
		Now: func() time.Time { return time.Unix(1764295200, 0) }})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []*deliver.Message{message(), func() *deliver.Message {
		m := message()
		m.Channel, m.To, m.Subject, m.Attempt = "email", "zhang@example.com", "Payment reminder", 2
		return m
	}()} {
		r, err := p.Send(context.Background(), m)
		if err != nil || r.ProviderMessageID != "gw-77" {
			t.Fatalf("Send: %+v, %v", r, err)
		}
		s := <-got
		subject := "null"
		if m.Subject != "" {
			subject = `"` + m.Subject + `"`
		}
		body := `{"id":42,"channel":"` + m.Channel + `","to":"` + m.To + `","subject":` + subject +
			`,"body":"【安心金融】<b>&\"x\"","scheduled_for":"2026-11-28T02:00:00Z","valid_until":"2026-11-28T03:30:00.123456Z"}`
		mac := hmac.New(sha256.New, secret)
		mac.Write([]byte("1764295200." + body))
		for name, c := range map[string][2]string{
			"method":       {s.method, "POST"},
			"path":         {s.path, "/v1/messages"},
			"content type": {s.contentType, "application/json"},
			"key":          {s.key, "loanremind-42"},
			"timestamp":    {s.ts, "1764295200"},
			"signature":    {s.sig, "v1=" + hex.EncodeToString(mac.Sum(nil))},
			"body":         {string(s.body), body},
		} {
			if c[0] != c[1] {
				t.Errorf("%s attempt %d: %s: %q, want %q", m.Channel, m.Attempt, name, c[0], c[1])
			}
		}
		if !httpgw.Verify(secret, s.ts, s.body, s.sig) || httpgw.Verify([]byte("other"), s.ts, s.body, s.sig) {
			t.Error("Verify disagrees with the signature")
		}
	}
}

// What each answer means: 2xx accepted (an id or none), 429, 408 and 5xx
// transient (Retry-After read), any other status permanent with its
// code; a timeout and a refused connection transient.
func TestAnswers(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 28, 2, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name       string
		status     int
		header     http.Header
		body       string
		id         string
		permanent  bool
		transient  bool
		code       string
		retryAfter time.Duration
	}{
		{name: "200 with id", status: 200, body: `{"id":"abc"}`, id: "abc"},
		{name: "202 numeric id", status: 202, body: `{"id": 12345}`, id: "12345"},
		{name: "204 no body", status: 204},
		{name: "200 not json", status: 200, body: `ok`},
		{name: "429 seconds", status: 429, header: http.Header{"Retry-After": {"30"}}, transient: true, code: "429", retryAfter: 30 * time.Second},
		{name: "429 date", status: 429, header: http.Header{"Retry-After": {now.Add(2 * time.Minute).Format(http.TimeFormat)}}, transient: true, code: "429", retryAfter: 2 * time.Minute},
		{name: "429 none", status: 429, transient: true, code: "429"},
		{name: "500", status: 500, transient: true, code: "500"},
		{name: "503 retry after", status: 503, header: http.Header{"Retry-After": {"5"}}, transient: true, code: "503", retryAfter: 5 * time.Second},
		{name: "408", status: 408, transient: true, code: "408"},
		{name: "400", status: 400, permanent: true, code: "400"},
		{name: "401", status: 401, permanent: true, code: "401"},
		{name: "422", status: 422, permanent: true, code: "422"},
		{name: "302", status: 302, header: http.Header{"Location": {"/elsewhere"}}, permanent: true, code: "302"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tc.header {
					w.Header()[k] = v
				}
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			p, _ := httpgw.New(httpgw.Options{Name: "g", URL: srv.URL, Secret: []byte("k"), Now: func() time.Time { return now }})
			r, err := p.Send(context.Background(), message())
			var pe *deliver.Error
			switch {
			case !tc.permanent && !tc.transient:
				if err != nil || r.ProviderMessageID != tc.id {
					t.Errorf("%+v, %v; want accepted with id %q", r, err, tc.id)
				}
			case !errors.As(err, &pe):
				t.Errorf("%v, want a provider error", err)
			case pe.Permanent != tc.permanent || pe.Code != tc.code || pe.RetryAfter != tc.retryAfter:
				t.Errorf("%+v, want permanent %v code %s retry after %s", pe, tc.permanent, tc.code, tc.retryAfter)
			}
		})
	}
	t.Run("timeout", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(time.Second):
			}
		}))
		defer srv.Close()
		p, _ := httpgw.New(httpgw.Options{Name: "g", URL: srv.URL, Secret: []byte("k"), Timeout: 50 * time.Millisecond})
		_, err := p.Send(context.Background(), message())
		if err == nil || deliver.IsPermanent(err) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%v, want a transient timeout", err)
		}
	})
	t.Run("refused", func(t *testing.T) {
		t.Parallel()
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := ln.Addr().String()
		ln.Close()
		p, _ := httpgw.New(httpgw.Options{Name: "g", URL: "http://" + addr, Secret: []byte("k")})
		_, err := p.Send(context.Background(), message())
		if err == nil || deliver.IsPermanent(err) {
			t.Errorf("%v, want transient", err)
		}
	})
	t.Run("reset", func(t *testing.T) {
		t.Parallel()
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.(*net.TCPConn).SetLinger(0)
				c.Close()
			}
		}()
		p, _ := httpgw.New(httpgw.Options{Name: "g", URL: "http://" + ln.Addr().String(), Secret: []byte("k")})
		_, err := p.Send(context.Background(), message())
		if err == nil || deliver.IsPermanent(err) {
			t.Errorf("%v, want transient", err)
		}
	})
}

func TestNewChecksOptions(t *testing.T) {
	t.Parallel()
	for _, o := range []httpgw.Options{
		{Name: "g", URL: "ftp://x", Secret: []byte("k")},
		{Name: "g", URL: "", Secret: []byte("k")},
		{Name: "g", URL: "https://x"},
	} {
		if _, err := httpgw.New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
	if got := httpgw.IdempotencyKey(7); got != "loanremind-"+strconv.Itoa(7) {
		t.Errorf("key %q", got)
	}
}
