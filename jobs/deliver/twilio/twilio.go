// Package twilio sends SMS through Twilio Programmable Messaging with
// Twilio's own Go library (github.com/twilio/twilio-go): POST
// /2010-04-01/Accounts/{AccountSid}/Messages.json, form-encoded To, From or
// MessagingServiceSid, Body, StatusCallback and ValidityPeriod, with basic
// authentication. Twilio takes no idempotency key, so the provider is not
// idempotent: a message whose claim lapsed while Twilio was being called
// is never sent again automatically.
package twilio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	twclient "github.com/twilio/twilio-go/client"
	api "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/loanremind/loanremind/jobs/deliver"
)

// DefaultBaseURL is Twilio's REST API.
const DefaultBaseURL = "https://api.twilio.com"

// maxValidity is the longest ValidityPeriod Twilio accepts, in seconds.
const maxValidity = 36000

// Options configure a Provider.
type Options struct {
	Name string
	// BaseURL replaces https://api.twilio.com (tests point it at a local
	// server); empty: Twilio's.
	BaseURL    string
	AccountSID string
	AuthToken  string
	// From or MessagingServiceSID (or both) name the sender.
	From                string
	MessagingServiceSID string
	// StatusCallback is where Twilio posts delivery receipts (this
	// sender's public /receipts/twilio); empty: none.
	StatusCallback string
	Timeout        time.Duration // per request; 0: 10 s
	// Transport carries the requests; nil: one of the provider's own that
	// keeps up to 64 idle connections to Twilio.
	Transport http.RoundTripper
	// Now is the clock for ValidityPeriod; nil: time.Now.
	Now func() time.Time
}

// Provider sends SMS through Twilio.
type Provider struct {
	o    Options
	base *url.URL
}

var _ deliver.Provider = (*Provider)(nil)

// New returns a Provider.
func New(o Options) (*Provider, error) {
	if o.BaseURL == "" {
		o.BaseURL = DefaultBaseURL
	}
	base, err := url.Parse(o.BaseURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("twilio %s: base URL %q is not an http(s) URL", o.Name, o.BaseURL)
	}
	switch {
	case o.AccountSID == "":
		return nil, fmt.Errorf("twilio %s: no account SID", o.Name)
	case o.AuthToken == "":
		return nil, fmt.Errorf("twilio %s: no auth token", o.Name)
	case o.From == "" && o.MessagingServiceSID == "":
		return nil, fmt.Errorf("twilio %s: no From nor MessagingServiceSid", o.Name)
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Transport == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 64 // calls in flight reuse their connections
		o.Transport = t
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Provider{o: o, base: base}, nil
}

// Name is the configured name.
func (p *Provider) Name() string { return p.o.Name }

// Type is "twilio".
func (p *Provider) Type() string { return "twilio" }

// Idempotent is false: Twilio takes no idempotency key.
func (p *Provider) Idempotent() bool { return false }

// Send creates one Message resource. Its receipt holds the message's SID
// ("SM…"), which Twilio's status callbacks name.
func (p *Provider) Send(ctx context.Context, m *deliver.Message) (deliver.Receipt, error) {
	if m.Channel != "sms" {
		return deliver.Receipt{}, &deliver.Error{Permanent: true, Code: "channel", Message: "twilio sends SMS only, not " + m.Channel}
	}
	params := &api.CreateMessageParams{}
	params.SetTo(m.To)
	params.SetBody(m.Body)
	if p.o.From != "" {
		params.SetFrom(p.o.From)
	}
	if p.o.MessagingServiceSID != "" {
		params.SetMessagingServiceSid(p.o.MessagingServiceSID)
	}
	if p.o.StatusCallback != "" {
		params.SetStatusCallback(p.o.StatusCallback)
	}
	// Twilio queues what it cannot send at once: ValidityPeriod makes it
	// drop the message rather than deliver it after valid_until.
	if !m.ValidUntil.IsZero() {
		left := int(m.ValidUntil.Sub(p.o.Now()) / time.Second)
		if left < 1 {
			return deliver.Receipt{}, &deliver.Error{Code: "expired", Message: "valid_until has passed"}
		}
		params.SetValidityPeriod(min(left, maxValidity))
	}

	rt := &roundTrip{ctx: ctx, base: p.base, next: p.o.Transport, now: p.o.Now}
	c := &twclient.Client{
		Credentials: twclient.NewCredentials(p.o.AccountSID, p.o.AuthToken),
		HTTPClient: &http.Client{
			Transport:     rt,
			Timeout:       p.o.Timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	c.SetAccountSid(p.o.AccountSID)
	// A RequestHandler of its own: the library's constructor would read
	// TWILIO_EDGE and TWILIO_REGION from the environment.
	msg, err := api.NewApiService(&twclient.RequestHandler{Client: c}).CreateMessage(params)
	if err != nil {
		return deliver.Receipt{}, p.classify(err, rt)
	}
	if msg.Sid == nil || *msg.Sid == "" {
		return deliver.Receipt{}, &deliver.Error{Code: strconv.Itoa(rt.status), Message: "Twilio accepted the message without a SID"}
	}
	return deliver.Receipt{ProviderMessageID: *msg.Sid}, nil
}

// classify maps the library's error to a deliver.Error: 429, 5xx and
// errors of the account rather than the message (401 credentials, 404
// account) are transient, other 4xx (21211 invalid To, 21610
// unsubscribed, 21408 region not enabled, …) permanent. A failure to
// connect or a timeout is returned as it is: transient.
func (p *Provider) classify(err error, rt *roundTrip) error {
	status := rt.status
	var rest *twclient.TwilioRestError
	if errors.As(err, &rest) {
		if rest.Status != 0 {
			status = rest.Status
		}
		code := strconv.Itoa(rest.Code)
		if rest.Code == 0 {
			code = strconv.Itoa(status)
		}
		return &deliver.Error{
			Permanent:  permanent(status, rest.Code),
			Code:       code,
			RetryAfter: rt.retryAfter,
			Message:    deliver.ProviderText(rest.Message),
		}
	}
	if status >= 300 { // an answer that is not Twilio's JSON (a proxy's 502 page, say)
		return &deliver.Error{
			Permanent:  permanent(status, 0),
			Code:       strconv.Itoa(status),
			RetryAfter: rt.retryAfter,
			Message:    "HTTP " + strconv.Itoa(status) + " without a Twilio error",
		}
	}
	if status >= 200 {
		return &deliver.Error{Code: strconv.Itoa(status), Message: "unreadable answer: " + deliver.ProviderText(err.Error())}
	}
	return fmt.Errorf("twilio %s: %w", p.o.Name, err)
}

func permanent(status, code int) bool {
	switch {
	case code == 20429, status == http.StatusTooManyRequests, status >= 500:
		return false
	case status == http.StatusUnauthorized, status == http.StatusNotFound, status == http.StatusRequestTimeout:
		return false // the account or the network, not the message: fix and retry
	}
	return status >= 400 && status < 500
}

// roundTrip sends the library's requests to the configured base URL with
// the Send's context, and keeps the answer's status and Retry-After.
type roundTrip struct {
	ctx        context.Context
	base       *url.URL
	next       http.RoundTripper
	now        func() time.Time
	status     int
	retryAfter time.Duration
}

func (rt *roundTrip) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(rt.ctx)
	r.URL.Scheme = rt.base.Scheme
	r.URL.Host = rt.base.Host
	r.URL.Path = strings.TrimSuffix(rt.base.Path, "/") + req.URL.Path
	r.URL.RawPath = ""
	r.Host = ""
	resp, err := rt.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	rt.status = resp.StatusCode
	rt.retryAfter = retryAfter(resp.Header.Get("Retry-After"), rt.now())
	if resp.StatusCode >= 300 {
		// The library does not close an error's body: read it here (up to
		// 64 KiB) so that the connection goes back to the pool.
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
	}
	return resp, nil
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
