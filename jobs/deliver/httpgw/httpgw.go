// Package httpgw is the http provider: a lender's own SMS or email gateway
// behind DESIGN.md's generic wire format. Each message is one signed JSON
// POST carrying an idempotency key that is the same on every attempt, so
// the gateway can drop a repeat: the provider is idempotent, and a claim
// that lapsed mid-call is sent again safely.
//
//	POST {url}
//	Content-Type: application/json
//	Idempotency-Key: loanremind-<send id>
//	X-Loanremind-Timestamp: <unix seconds>
//	X-Loanremind-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>
//
//	{"id": 42, "channel": "sms", "to": "+8613812345678", "subject": null,
//	 "body": "...", "scheduled_for": "2026-11-28T02:00:00Z", "valid_until": "2026-11-28T03:00:00Z"}
//
// A 2xx answer accepts the message (its optional JSON {"id": "..."} is the
// gateway's message id); 429 (honouring Retry-After), 408, 5xx, a timeout
// or a reset connection are transient; any other answer is permanent.
package httpgw

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/loanremind/loanremind/jobs/deliver"
)

// Options configure a gateway.
type Options struct {
	Name    string
	URL     string
	Secret  []byte        // the HMAC key
	Timeout time.Duration // per call; 0: 10s
	// MaxInFlight sizes the connection pool (the dispatcher's limit).
	MaxInFlight int
	// Now is the clock of the signature's timestamp (nil: the wall clock).
	Now func() time.Time
	// Transport, if set, replaces the default transport (tests).
	Transport http.RoundTripper
}

// Provider is an http gateway.
type Provider struct {
	name, url string
	secret    []byte
	timeout   time.Duration
	now       func() time.Time
	client    *http.Client
}

// New checks the options and builds the provider.
func New(o Options) (*Provider, error) {
	if o.URL == "" || !(strings.HasPrefix(o.URL, "http://") || strings.HasPrefix(o.URL, "https://")) {
		return nil, fmt.Errorf("http provider %q: url %q is not an http(s) URL", o.Name, o.URL)
	}
	if len(o.Secret) == 0 {
		return nil, fmt.Errorf("http provider %q: no secret to sign requests with", o.Name)
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	tr := o.Transport
	if tr == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConns = max(100, o.MaxInFlight)
		t.MaxIdleConnsPerHost = max(16, o.MaxInFlight)
		t.DisableCompression = true
		tr = t
	}
	return &Provider{
		name: o.Name, url: o.URL, secret: o.Secret, timeout: o.Timeout, now: o.Now,
		client: &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // a gateway answers; it does not send the message elsewhere
		}},
	}, nil
}

// Name is the configured name.
func (p *Provider) Name() string { return p.name }

// Type is "http".
func (p *Provider) Type() string { return "http" }

// Idempotent: the gateway deduplicates by the idempotency key.
func (p *Provider) Idempotent() bool { return true }

// request is the JSON body, in DESIGN.md's order.
type request struct {
	ID           int64   `json:"id"`
	Channel      string  `json:"channel"`
	To           string  `json:"to"`
	Subject      *string `json:"subject"`
	Body         string  `json:"body"`
	ScheduledFor string  `json:"scheduled_for"`
	ValidUntil   string  `json:"valid_until"`
}

// Body is the JSON body of a message's request.
func Body(m *deliver.Message) ([]byte, error) {
	r := request{ID: m.SendID, Channel: m.Channel, To: m.To, Body: m.Body,
		ScheduledFor: m.ScheduledFor.UTC().Format(time.RFC3339Nano), ValidUntil: m.ValidUntil.UTC().Format(time.RFC3339Nano)}
	if m.Subject != "" {
		s := m.Subject
		r.Subject = &s
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&r); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// Sign returns the signature header's value for a timestamp and body.
func Sign(secret []byte, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(timestamp))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify checks a signature header against a timestamp and body, in
// constant time; a receipt endpoint uses it on what the gateway sends.
func Verify(secret []byte, timestamp string, body []byte, signature string) bool {
	return hmac.Equal([]byte(Sign(secret, timestamp, body)), []byte(signature))
}

// IdempotencyKey is the key of a message, the same on every attempt.
func IdempotencyKey(sendID int64) string { return "loanremind-" + strconv.FormatInt(sendID, 10) }

// Send posts one message.
func (p *Provider) Send(ctx context.Context, m *deliver.Message) (deliver.Receipt, error) {
	body, err := Body(m)
	if err != nil {
		return deliver.Receipt{}, &deliver.Error{Permanent: true, Code: "encode", Message: "the message cannot be encoded as JSON"}
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(body))
	if err != nil {
		return deliver.Receipt{}, &deliver.Error{Permanent: true, Code: "request", Message: "the gateway's URL cannot be requested"}
	}
	ts := strconv.FormatInt(p.now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", IdempotencyKey(m.SendID))
	req.Header.Set("X-Loanremind-Timestamp", ts)
	req.Header.Set("X-Loanremind-Signature", Sign(p.secret, ts, body))
	resp, err := p.client.Do(req)
	if err != nil {
		// A timeout, a refused or reset connection: transient. The error
		// names the URL, never the message.
		return deliver.Receipt{}, transportError(err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // let the connection be reused
	code := resp.StatusCode
	switch {
	case code >= 200 && code < 300:
		return deliver.Receipt{ProviderMessageID: messageID(answer)}, nil
	case code == http.StatusTooManyRequests:
		return deliver.Receipt{}, &deliver.Error{Code: strconv.Itoa(code), Message: http.StatusText(code),
			RetryAfter: retryAfter(resp.Header.Get("Retry-After"), p.now())}
	case code >= 500, code == http.StatusRequestTimeout:
		return deliver.Receipt{}, &deliver.Error{Code: strconv.Itoa(code), Message: http.StatusText(code),
			RetryAfter: retryAfter(resp.Header.Get("Retry-After"), p.now())}
	}
	return deliver.Receipt{}, &deliver.Error{Permanent: true, Code: strconv.Itoa(code), Message: http.StatusText(code)}
}

// transportError keeps what failed without the error's text.
func transportError(err error) error {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return fmt.Errorf("gateway: %w", context.DeadlineExceeded)
	}
	return errors.New("gateway: connection failed")
}

// messageID reads the gateway's optional {"id": ...}: a string or a
// number, at most 200 bytes; anything else is no id.
func messageID(answer []byte) string {
	var r struct {
		ID json.RawMessage `json:"id"`
	}
	if json.Unmarshal(answer, &r) != nil || len(r.ID) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(r.ID, &s) == nil {
		if len(s) > 200 {
			return ""
		}
		return s
	}
	var n json.Number
	if json.Unmarshal(r.ID, &n) == nil {
		return n.String()
	}
	return ""
}

// retryAfter reads Retry-After: seconds, or an HTTP date (0: none).
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return min(time.Duration(n)*time.Second, 24*time.Hour)
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(t.Sub(now), 0), 24*time.Hour)
	}
	return 0
}
