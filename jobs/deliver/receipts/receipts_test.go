package receipts

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/loanremind/loanremind/jobs/deliver"
	"github.com/loanremind/loanremind/jobs/deliver/httpgw"
)

const (
	token       = "f0e1d2c3b4a5968778695a4b3c2d1e0f"
	otherToken  = "00112233445566778899aabbccddeeff"
	callbackURL = "https://loanremind.lender.example/receipts/twilio"
	secret      = "gateway-hmac-secret"
	sid         = "SM1f0e8ae6ade43cb3c0ce4525424e404f"
)

var now = time.Date(2026, 11, 21, 8, 2, 20, 0, time.UTC)

// memorySink records receipts as the dispatcher does: the first outcome
// of a message stands, a repeat changes nothing.
type memorySink struct {
	mu      sync.Mutex
	calls   []deliver.ReceiptEvent
	outcome map[string]deliver.ReceiptEvent
	err     error
}

func (s *memorySink) Receipt(_ context.Context, ev deliver.ReceiptEvent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.calls = append(s.calls, ev)
	key := ev.Provider + "/" + ev.ProviderMessageID + "/" + strconv.FormatInt(ev.SendID, 10)
	if _, done := s.outcome[key]; !done {
		s.outcome[key] = ev
	}
	return nil
}

func newHandler(t *testing.T, sink *memorySink, edit func(*Options)) (*Handler, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	o := Options{
		Twilio: []TwilioAccount{
			{Provider: "carrier", AuthToken: token, CallbackURL: callbackURL},
			{Provider: "carrier-eu", AuthToken: otherToken, CallbackURL: "https://loanremind.lender.example/receipts/twilio?region=eu"},
		},
		Gateways:   []Gateway{{Provider: "gateway", Secret: secret}},
		Registerer: reg,
		Now:        func() time.Time { return now },
	}
	if edit != nil {
		edit(&o)
	}
	h, err := NewHandler(sink, o)
	if err != nil {
		t.Fatal(err)
	}
	return h, reg
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func newSink() *memorySink { return &memorySink{outcome: map[string]deliver.ReceiptEvent{}} }

// signTwilio is Twilio's documented scheme: base64 HMAC-SHA1 of the
// URL followed by each POST parameter's name and value, sorted by name.
func signTwilio(authToken, u string, form url.Values) string {
	names := make([]string, 0, len(form))
	for k := range form {
		names = append(names, k)
	}
	slices.Sort(names)
	s := u
	for _, k := range names {
		s += k + form.Get(k)
	}
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(s))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func statusCallback(status, errorCode string) url.Values {
	f := url.Values{
		"AccountSid": {"AC0123456789abcdef0123456789abcdef"}, "ApiVersion": {"2010-04-01"},
		"From": {"+15557122661"}, "To": {"+8613812341234"},
		"MessageSid": {sid}, "SmsSid": {sid}, "SmsStatus": {status}, "MessageStatus": {status},
	}
	if errorCode != "" {
		f.Set("ErrorCode", errorCode)
	}
	return f
}

func postTwilio(h http.Handler, form url.Values, signature string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "http://10.0.0.7:9090"+TwilioPath, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if signature != "" {
		req.Header.Set("X-Twilio-Signature", signature)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func TestTwilioReceipts(t *testing.T) {
	for _, tc := range []struct {
		name, status, code  string
		delivered, recorded bool
	}{
		{"delivered", "delivered", "", true, true},
		{"undelivered", "undelivered", "30003", false, true},
		{"failed", "failed", "30008", false, true},
		{"queued is ignored", "queued", "", false, false},
		{"sent is ignored", "sent", "", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := newSink()
			h, _ := newHandler(t, sink, nil)
			form := statusCallback(tc.status, tc.code)
			w := postTwilio(h, form, signTwilio(token, callbackURL, form))
			if w.Code != http.StatusNoContent {
				t.Fatalf("status %d, want 204: %s", w.Code, w.Body)
			}
			if !tc.recorded {
				if len(sink.calls) != 0 {
					t.Errorf("an intermediate status was recorded: %+v", sink.calls)
				}
				return
			}
			want := deliver.ReceiptEvent{Provider: "carrier", ProviderMessageID: sid, Delivered: tc.delivered, At: now, Code: tc.code}
			if len(sink.calls) != 1 || sink.calls[0] != want {
				t.Errorf("sink got %+v, want %+v", sink.calls, want)
			}
		})
	}
	t.Run("the account whose token signed it", func(t *testing.T) {
		sink := newSink()
		h, _ := newHandler(t, sink, nil)
		form := statusCallback("delivered", "")
		eu := "https://loanremind.lender.example/receipts/twilio?region=eu"
		if w := postTwilio(h, form, signTwilio(otherToken, eu, form)); w.Code != http.StatusNoContent {
			t.Fatalf("status %d", w.Code)
		}
		if len(sink.calls) != 1 || sink.calls[0].Provider != "carrier-eu" {
			t.Errorf("sink got %+v, want a receipt of carrier-eu", sink.calls)
		}
	})
	t.Run("replay is idempotent", func(t *testing.T) {
		sink := newSink()
		h, _ := newHandler(t, sink, nil)
		delivered := statusCallback("delivered", "")
		sig := signTwilio(token, callbackURL, delivered)
		for i := range 3 {
			if w := postTwilio(h, delivered, sig); w.Code != http.StatusNoContent {
				t.Fatalf("replay %d: status %d", i, w.Code)
			}
		}
		late := statusCallback("undelivered", "30003") // out of order, after the final word
		postTwilio(h, late, signTwilio(token, callbackURL, late))
		if got := sink.outcome["carrier/"+sid+"/0"]; !got.Delivered || len(sink.outcome) != 1 {
			t.Errorf("outcomes %+v: the first final status must stand", sink.outcome)
		}
		for _, c := range sink.calls[:3] {
			if c != sink.calls[0] {
				t.Errorf("replays gave different events: %+v", sink.calls)
			}
		}
	})
}

func TestTwilioRejects(t *testing.T) {
	form := statusCallback("delivered", "")
	for _, tc := range []struct {
		name   string
		post   func(h http.Handler) *httptest.ResponseRecorder
		status int
	}{
		{"no signature", func(h http.Handler) *httptest.ResponseRecorder { return postTwilio(h, form, "") }, http.StatusForbidden},
		{"another token", func(h http.Handler) *httptest.ResponseRecorder {
			return postTwilio(h, form, signTwilio("ffffffffffffffffffffffffffffffff", callbackURL, form))
		}, http.StatusForbidden},
		{"signed over another URL", func(h http.Handler) *httptest.ResponseRecorder {
			return postTwilio(h, form, signTwilio(token, "http://10.0.0.7:9090/receipts/twilio", form))
		}, http.StatusForbidden},
		{"a parameter changed after signing", func(h http.Handler) *httptest.ResponseRecorder {
			sig := signTwilio(token, callbackURL, form)
			changed := statusCallback("undelivered", "")
			return postTwilio(h, changed, sig)
		}, http.StatusForbidden},
		{"too large", func(h http.Handler) *httptest.ResponseRecorder {
			big := statusCallback("delivered", "")
			big.Set("Body", strings.Repeat("x", 70<<10))
			return postTwilio(h, big, signTwilio(token, callbackURL, big))
		}, http.StatusRequestEntityTooLarge},
		{"GET", func(h http.Handler) *httptest.ResponseRecorder {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, TwilioPath, nil))
			return w
		}, http.StatusMethodNotAllowed},
		{"signed without MessageSid", func(h http.Handler) *httptest.ResponseRecorder {
			f := url.Values{"MessageStatus": {"delivered"}}
			return postTwilio(h, f, signTwilio(token, callbackURL, f))
		}, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := newSink()
			h, reg := newHandler(t, sink, nil)
			if w := tc.post(h); w.Code != tc.status {
				t.Fatalf("status %d, want %d", w.Code, tc.status)
			}
			if len(sink.calls) != 0 {
				t.Errorf("a refused receipt reached the sink: %+v", sink.calls)
			}
			if got := counterValue(t, h.Rejected().WithLabelValues("twilio")); got != 1 {
				t.Errorf("loanremind_receipts_rejected_total{provider=twilio} = %v, want 1", got)
			}
			families, err := reg.Gather()
			if err != nil || len(families) != 1 || families[0].GetName() != "loanremind_receipts_rejected_total" || len(families[0].GetMetric()) != 2 {
				t.Errorf("registry %v (%v): want loanremind_receipts_rejected_total for twilio and http", families, err)
			}
		})
	}
}

func gatewayReceiptJSON(id string, sendID int64, status, at, code string) string {
	return `{"id": "` + id + `", "send_id": ` + strconv.FormatInt(sendID, 10) + `, "status": "` + status + `", "at": "` + at + `", "code": "` + code + `"}`
}

func postGateway(h http.Handler, body string, ts time.Time, sigs ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, HTTPPath, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	stamp := strconv.FormatInt(ts.Unix(), 10)
	req.Header.Set(TimestampHeader, stamp)
	if sigs == nil {
		sigs = []string{secret}
	}
	var header []string
	for _, s := range sigs {
		header = append(header, httpgw.Sign([]byte(s), stamp, []byte(body)))
	}
	req.Header.Set(SignatureHeader, strings.Join(header, ","))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func TestGatewayReceipts(t *testing.T) {
	at := "2026-11-21T08:02:20Z"
	t.Run("delivered", func(t *testing.T) {
		sink := newSink()
		h, _ := newHandler(t, sink, nil)
		w := postGateway(h, gatewayReceiptJSON("gw-881", 42, "delivered", at, "DELIVRD"), now.Add(-30*time.Second))
		if w.Code != http.StatusNoContent {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		want := deliver.ReceiptEvent{Provider: "gateway", SendID: 42, ProviderMessageID: "gw-881", Delivered: true, At: now, Code: "DELIVRD"}
		if len(sink.calls) != 1 || !sink.calls[0].At.Equal(want.At) || sink.calls[0].SendID != 42 || !sink.calls[0].Delivered || sink.calls[0].ProviderMessageID != want.ProviderMessageID || sink.calls[0].Code != want.Code {
			t.Errorf("sink got %+v, want %+v", sink.calls, want)
		}
	})
	t.Run("undelivered", func(t *testing.T) {
		sink := newSink()
		h, _ := newHandler(t, sink, nil)
		postGateway(h, gatewayReceiptJSON("gw-882", 43, "undelivered", at, "UNDELIV"), now)
		if len(sink.calls) != 1 || sink.calls[0].Delivered || sink.calls[0].Code != "UNDELIV" {
			t.Errorf("sink got %+v", sink.calls)
		}
	})
	t.Run("during a change of secret", func(t *testing.T) {
		sink := newSink()
		h, _ := newHandler(t, sink, nil)
		if w := postGateway(h, gatewayReceiptJSON("gw-883", 44, "delivered", at, ""), now, "old-secret", secret); w.Code != http.StatusNoContent {
			t.Fatalf("status %d", w.Code)
		}
	})
	t.Run("a status on the way is ignored", func(t *testing.T) {
		sink := newSink()
		h, _ := newHandler(t, sink, nil)
		if w := postGateway(h, gatewayReceiptJSON("gw-884", 45, "sent", at, ""), now); w.Code != http.StatusNoContent || len(sink.calls) != 0 {
			t.Fatalf("status %d, %d calls", w.Code, len(sink.calls))
		}
	})
	t.Run("replay is idempotent", func(t *testing.T) {
		sink := newSink()
		h, _ := newHandler(t, sink, nil)
		body := gatewayReceiptJSON("gw-885", 46, "delivered", at, "")
		for range 3 {
			if w := postGateway(h, body, now); w.Code != http.StatusNoContent {
				t.Fatalf("status %d", w.Code)
			}
		}
		if len(sink.outcome) != 1 || len(sink.calls) != 3 || sink.calls[0] != sink.calls[2] {
			t.Errorf("calls %+v, outcomes %+v", sink.calls, sink.outcome)
		}
	})
	t.Run("no such message", func(t *testing.T) {
		sink := newSink()
		sink.err = fmt.Errorf("record: %w", deliver.ErrNoSuchMessage)
		h, _ := newHandler(t, sink, nil)
		if w := postGateway(h, gatewayReceiptJSON("gw-887", 48, "delivered", at, ""), now); w.Code != http.StatusNotFound {
			t.Fatalf("status %d, want 404: a retry cannot help", w.Code)
		}
	})
	t.Run("the database is down", func(t *testing.T) {
		sink := newSink()
		sink.err = errors.New("connection refused")
		h, _ := newHandler(t, sink, nil)
		if w := postGateway(h, gatewayReceiptJSON("gw-886", 47, "delivered", at, ""), now); w.Code != http.StatusServiceUnavailable {
			t.Fatalf("status %d, want 503 so that the gateway retries", w.Code)
		}
		if got := counterValue(t, h.Rejected().WithLabelValues("http")); got != 0 {
			t.Errorf("a good receipt the database could not take was counted as rejected")
		}
	})
}

func TestGatewayRejects(t *testing.T) {
	good := gatewayReceiptJSON("gw-900", 50, "delivered", "2026-11-21T08:02:20Z", "")
	for _, tc := range []struct {
		name   string
		post   func(h http.Handler) *httptest.ResponseRecorder
		status int
	}{
		{"another secret", func(h http.Handler) *httptest.ResponseRecorder { return postGateway(h, good, now, "not-the-secret") }, http.StatusForbidden},
		{"no signature", func(h http.Handler) *httptest.ResponseRecorder { return postGateway(h, good, now, []string{}...) }, http.StatusForbidden},
		{"body changed after signing", func(h http.Handler) *httptest.ResponseRecorder {
			req := httptest.NewRequest(http.MethodPost, HTTPPath, strings.NewReader(strings.Replace(good, "delivered", "undelivered", 1)))
			stamp := strconv.FormatInt(now.Unix(), 10)
			req.Header.Set(TimestampHeader, stamp)
			req.Header.Set(SignatureHeader, httpgw.Sign([]byte(secret), stamp, []byte(good)))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			return w
		}, http.StatusForbidden},
		{"a replay ten minutes later", func(h http.Handler) *httptest.ResponseRecorder { return postGateway(h, good, now.Add(-10*time.Minute)) }, http.StatusForbidden},
		{"no timestamp", func(h http.Handler) *httptest.ResponseRecorder {
			req := httptest.NewRequest(http.MethodPost, HTTPPath, strings.NewReader(good))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			return w
		}, http.StatusForbidden},
		{"too large", func(h http.Handler) *httptest.ResponseRecorder {
			return postGateway(h, gatewayReceiptJSON(strings.Repeat("x", 70<<10), 50, "delivered", "", ""), now)
		}, http.StatusRequestEntityTooLarge},
		{"signed but not a receipt", func(h http.Handler) *httptest.ResponseRecorder { return postGateway(h, `{"status": "delivered"}`, now) }, http.StatusBadRequest},
		{"signed with a bad time", func(h http.Handler) *httptest.ResponseRecorder {
			return postGateway(h, gatewayReceiptJSON("gw-900", 50, "delivered", "yesterday", ""), now)
		}, http.StatusBadRequest},
		{"signed but not JSON", func(h http.Handler) *httptest.ResponseRecorder { return postGateway(h, `delivered`, now) }, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := newSink()
			var told []string
			h, _ := newHandler(t, sink, func(o *Options) {
				o.OnReject = func(endpoint, reason string) { told = append(told, endpoint+" "+reason) }
			})
			if w := tc.post(h); w.Code != tc.status {
				t.Fatalf("status %d, want %d", w.Code, tc.status)
			}
			if len(sink.calls) != 0 {
				t.Errorf("a refused receipt reached the sink: %+v", sink.calls)
			}
			if got := counterValue(t, h.Rejected().WithLabelValues("http")); got != 1 {
				t.Errorf("loanremind_receipts_rejected_total{provider=http} = %v, want 1", got)
			}
			want := "http " + RejectMalformed
			if tc.status == http.StatusForbidden {
				want = "http " + RejectBadSignature
			}
			if !slices.Equal(told, []string{want}) {
				t.Errorf("OnReject told %q, want %q", told, want)
			}
		})
	}
}

// An endpoint with no provider to check its signatures does not exist, and
// the handler works behind a real server with its own routes beside it.
func TestMounting(t *testing.T) {
	sink := newSink()
	h, _ := newHandler(t, sink, func(o *Options) { o.Twilio = nil })
	mux := http.NewServeMux()
	mux.Handle("/receipts/", h)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(200) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	resp, err := http.PostForm(srv.URL+TwilioPath, statusCallback("delivered", ""))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("POST %s without a twilio provider: %d, want 404", TwilioPath, resp.StatusCode)
	}
	body := gatewayReceiptJSON("gw-1", 1, "delivered", "", "")
	req, _ := http.NewRequest(http.MethodPost, srv.URL+HTTPPath, strings.NewReader(body))
	stamp := strconv.FormatInt(now.Unix(), 10)
	req.Header.Set(TimestampHeader, stamp)
	req.Header.Set(SignatureHeader, httpgw.Sign([]byte(secret), stamp, []byte(body)))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent || len(sink.calls) != 1 || !sink.calls[0].At.Equal(now) {
		t.Errorf("status %d, calls %+v", resp.StatusCode, sink.calls)
	}
	if _, err := NewHandler(sink, Options{Twilio: []TwilioAccount{{Provider: "x", AuthToken: token}}}); err == nil {
		t.Error("a twilio account without its callback URL was accepted")
	}
}
