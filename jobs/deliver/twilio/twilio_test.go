package twilio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loanremind/loanremind/jobs/deliver"
)

const (
	accountSID = "AC0123456789abcdef0123456789abcdef"
	authToken  = "f0e1d2c3b4a5968778695a4b3c2d1e0f"
	serviceSID = "MG0123456789abcdef0123456789abcdef"
	callback   = "https://loanremind.lender.example/receipts/twilio"
	to         = "+8613812341234"
)

// created is Twilio's answer to a created Message, as its documentation
// shows it (HTTP 201).
const created = `{
  "account_sid": "AC0123456789abcdef0123456789abcdef",
  "api_version": "2010-04-01",
  "body": "x",
  "date_created": "Thu, 24 Aug 2023 05:01:45 +0000",
  "date_sent": null,
  "date_updated": "Thu, 24 Aug 2023 05:01:45 +0000",
  "direction": "outbound-api",
  "error_code": null,
  "error_message": null,
  "from": "+15557122661",
  "num_media": "0",
  "num_segments": "1",
  "price": null,
  "price_unit": "USD",
  "messaging_service_sid": null,
  "sid": "SM1f0e8ae6ade43cb3c0ce4525424e404f",
  "status": "queued",
  "subresource_uris": {"media": "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages/SM1f0e8ae6ade43cb3c0ce4525424e404f/Media.json"},
  "to": "+8613812341234",
  "uri": "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages/SM1f0e8ae6ade43cb3c0ce4525424e404f.json"
}`

// fakeTwilio is a local server that checks each request against the wire
// format of Twilio's Message resource and answers as told.
type fakeTwilio struct {
	t      *testing.T
	mu     sync.Mutex
	forms  []url.Values
	answer func(w http.ResponseWriter)
}

func (f *fakeTwilio) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t := f.t
	wantPath := "/2010-04-01/Accounts/" + accountSID + "/Messages.json"
	switch {
	case r.Method != http.MethodPost:
		t.Errorf("method %s, want POST", r.Method)
	case r.URL.Path != wantPath:
		t.Errorf("path %s, want %s", r.URL.Path, wantPath)
	case r.URL.RawQuery != "":
		t.Errorf("query %q, want none: the parameters go in the form body", r.URL.RawQuery)
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		t.Errorf("Content-Type %q, want application/x-www-form-urlencoded", r.Header.Get("Content-Type"))
	}
	if user, pass, ok := r.BasicAuth(); !ok || user != accountSID || pass != authToken {
		t.Errorf("basic auth %q:%q (%v), want the account SID and auth token", user, pass, ok)
	}
	if ua := r.Header.Get("User-Agent"); !strings.HasPrefix(ua, "twilio-go/") {
		t.Errorf("User-Agent %q: not Twilio's library", ua)
	}
	body, _ := io.ReadAll(r.Body)
	form, err := url.ParseQuery(string(body))
	if err != nil {
		t.Errorf("body %q is not form-encoded: %v", body, err)
	}
	f.mu.Lock()
	f.forms = append(f.forms, form)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	f.answer(w)
}

func newFake(t *testing.T, answer func(w http.ResponseWriter)) (*fakeTwilio, *httptest.Server) {
	f := &fakeTwilio{t: t, answer: answer}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func answer(status int, body string, headers ...string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

var now = time.Date(2026, 11, 21, 8, 2, 13, 0, time.UTC)

func newProvider(t *testing.T, base string, edit func(*Options)) *Provider {
	t.Helper()
	o := Options{
		Name: "carrier", BaseURL: base, AccountSID: accountSID, AuthToken: authToken,
		From: "+15557122661", StatusCallback: callback, Now: func() time.Time { return now },
	}
	if edit != nil {
		edit(&o)
	}
	p, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func message() *deliver.Message {
	return &deliver.Message{
		SendID: 42, Channel: "sms", To: to, Body: "【安心金融】您尾号2345的贷款第3期¥1,234.50已逾期7天。回复TD退订",
		Locale: "zh-CN", Stage: "overdue_7d", ScheduledFor: now.Add(-2 * time.Minute), ValidUntil: now.Add(2 * time.Hour), Attempt: 1,
	}
}

func keys(v url.Values) []string {
	var k []string
	for name := range v {
		k = append(k, name)
	}
	slices.Sort(k)
	return k
}

func TestWireFormat(t *testing.T) {
	t.Run("from a number", func(t *testing.T) {
		f, srv := newFake(t, answer(http.StatusCreated, created))
		p := newProvider(t, srv.URL, nil)
		r, err := p.Send(context.Background(), message())
		if err != nil {
			t.Fatal(err)
		}
		if r.ProviderMessageID != "SM1f0e8ae6ade43cb3c0ce4525424e404f" {
			t.Errorf("receipt %+v, want the SID", r)
		}
		if len(f.forms) != 1 {
			t.Fatalf("%d requests, want 1", len(f.forms))
		}
		form := f.forms[0]
		if got, want := keys(form), []string{"Body", "From", "StatusCallback", "To", "ValidityPeriod"}; !slices.Equal(got, want) {
			t.Errorf("form fields %q, want %q", got, want)
		}
		want := map[string]string{"To": to, "From": "+15557122661", "Body": message().Body, "StatusCallback": callback, "ValidityPeriod": "7200"}
		for k, v := range want {
			if got := form[k]; len(got) != 1 || got[0] != v {
				t.Errorf("%s = %q, want %q", k, got, v)
			}
		}
	})
	t.Run("from a messaging service", func(t *testing.T) {
		f, srv := newFake(t, answer(http.StatusCreated, created))
		p := newProvider(t, srv.URL, func(o *Options) { o.From, o.MessagingServiceSID, o.StatusCallback = "", serviceSID, "" })
		if _, err := p.Send(context.Background(), message()); err != nil {
			t.Fatal(err)
		}
		form := f.forms[0]
		if got, want := keys(form), []string{"Body", "MessagingServiceSid", "To", "ValidityPeriod"}; !slices.Equal(got, want) {
			t.Errorf("form fields %q, want %q", got, want)
		}
		if got := form.Get("MessagingServiceSid"); got != serviceSID {
			t.Errorf("MessagingServiceSid = %q", got)
		}
	})
	t.Run("validity is capped at ten hours", func(t *testing.T) {
		f, srv := newFake(t, answer(http.StatusCreated, created))
		m := message()
		m.ValidUntil = now.Add(72 * time.Hour)
		if _, err := newProvider(t, srv.URL, nil).Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		if got := f.forms[0].Get("ValidityPeriod"); got != "36000" {
			t.Errorf("ValidityPeriod = %s, want 36000", got)
		}
	})
	t.Run("base URL with a path", func(t *testing.T) {
		mux := http.NewServeMux()
		f := &fakeTwilio{t: t, answer: answer(http.StatusCreated, created)}
		mux.Handle("/twilio/", http.StripPrefix("/twilio", f))
		srv := httptest.NewServer(mux)
		defer srv.Close()
		if _, err := newProvider(t, srv.URL+"/twilio/", nil).Send(context.Background(), message()); err != nil {
			t.Fatal(err)
		}
	})
}

func TestErrors(t *testing.T) {
	twilioError := func(status, code int, msg string) string {
		return fmt.Sprintf(`{"code": %d, "message": %q, "more_info": "https://www.twilio.com/docs/errors/%d", "status": %d}`, code, msg, code, status)
	}
	for _, tc := range []struct {
		name       string
		answer     func(w http.ResponseWriter)
		permanent  bool
		code       string
		retryAfter time.Duration
	}{
		{"21211 invalid To", answer(400, twilioError(400, 21211, "The 'To' number "+to+" is not a valid phone number.")), true, "21211", 0},
		{"21610 unsubscribed", answer(400, twilioError(400, 21610, "Attempt to send to unsubscribed recipient")), true, "21610", 0},
		{"21408 region not enabled", answer(400, twilioError(400, 21408, "Permission to send an SMS has not been enabled for the region indicated by the 'To' number: "+to)), true, "21408", 0},
		{"429 too many requests", answer(429, twilioError(429, 20429, "Too Many Requests"), "Retry-After", "7"), false, "20429", 7 * time.Second},
		{"401 credentials", answer(401, twilioError(401, 20003, "Authenticate")), false, "20003", 0},
		{"500 with Twilio's body", answer(500, twilioError(500, 20500, "Internal Server Error")), false, "20500", 0},
		{"502 from a proxy", answer(502, "<html><body>Bad Gateway</body></html>", "Content-Type", "text/html"), false, "502", 0},
		{"503 with an HTTP date", answer(503, "", "Retry-After", now.Add(30*time.Second).Format(http.TimeFormat)), false, "503", 30 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, srv := newFake(t, tc.answer)
			_, err := newProvider(t, srv.URL, nil).Send(context.Background(), message())
			var pe *deliver.Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %v (%T), want a *deliver.Error", err, err)
			}
			if pe.Permanent != tc.permanent || pe.Code != tc.code || pe.RetryAfter != tc.retryAfter {
				t.Errorf("error %+v, want permanent %v, code %s, retry after %s", pe, tc.permanent, tc.code, tc.retryAfter)
			}
			if strings.Contains(err.Error(), "13812341234") {
				t.Errorf("the error shows the phone number: %v", err)
			}
		})
	}
	t.Run("server down", func(t *testing.T) {
		_, srv := newFake(t, answer(http.StatusCreated, created))
		srv.Close()
		_, err := newProvider(t, srv.URL, nil).Send(context.Background(), message())
		if err == nil || deliver.IsPermanent(err) {
			t.Fatalf("error %v, want a transient one", err)
		}
	})
	t.Run("context cancelled", func(t *testing.T) {
		block := make(chan struct{})
		_, srv := newFake(t, func(w http.ResponseWriter) { <-block })
		defer close(block)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := newProvider(t, srv.URL, nil).Send(ctx, message())
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("error %v, want the context's", err)
		}
	})
	t.Run("not an SMS", func(t *testing.T) {
		m := message()
		m.Channel = "email"
		_, err := newProvider(t, "http://127.0.0.1:1", nil).Send(context.Background(), m)
		if !deliver.IsPermanent(err) {
			t.Fatalf("error %v, want a permanent one", err)
		}
	})
	t.Run("window passed", func(t *testing.T) {
		f, srv := newFake(t, answer(http.StatusCreated, created))
		m := message()
		m.ValidUntil = now
		_, err := newProvider(t, srv.URL, nil).Send(context.Background(), m)
		if err == nil || len(f.forms) != 0 {
			t.Fatalf("error %v after %d requests: a message past valid_until must not reach Twilio", err, len(f.forms))
		}
	})
}

func TestProvider(t *testing.T) {
	p := newProvider(t, "", nil)
	if p.Name() != "carrier" || p.Type() != "twilio" || p.Idempotent() {
		t.Errorf("Name %q, Type %q, Idempotent %v", p.Name(), p.Type(), p.Idempotent())
	}
	for _, o := range []Options{
		{Name: "x", AuthToken: authToken, From: "+1"},
		{Name: "x", AccountSID: accountSID, From: "+1"},
		{Name: "x", AccountSID: accountSID, AuthToken: authToken},
		{Name: "x", BaseURL: "ftp://x", AccountSID: accountSID, AuthToken: authToken, From: "+1"},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) succeeded", o)
		}
	}
}
