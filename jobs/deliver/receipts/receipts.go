// Package receipts serves the providers' delivery receipts: POST
// /receipts/twilio (Twilio's status callbacks, signed with
// X-Twilio-Signature) and POST /receipts/http (the generic gateway's JSON,
// signed as the http provider signs its requests). A receipt whose
// signature checks out is handed to the dispatcher's ReceiptSink, which
// moves the message to delivered or undelivered, idempotently; a status on
// the way (queued, sent, …) is acknowledged and ignored. A request that is
// not signed, too old, too large or malformed is refused, and nothing is
// recorded but loanremind_receipts_rejected_total{provider}.
package receipts

import (
	"crypto/hmac"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
	twclient "github.com/twilio/twilio-go/client"

	"github.com/loanremind/loanremind/jobs/clean"
	"github.com/loanremind/loanremind/jobs/deliver"
	"github.com/loanremind/loanremind/jobs/deliver/httpgw"
)

// The paths served.
const (
	TwilioPath = "/receipts/twilio"
	HTTPPath   = "/receipts/http"
)

// Reasons given to Options.OnReject.
const (
	RejectBadSignature = "bad_signature" // no signature, a wrong one, or a stale timestamp
	RejectMalformed    = "malformed"     // not a receipt, too large, not a POST
)

// Headers of the generic gateway's signature (DESIGN.md, "Delivery").
const (
	TimestampHeader       = "X-Loanremind-Timestamp"
	SignatureHeader       = "X-Loanremind-Signature"
	TwilioSignatureHeader = "X-Twilio-Signature"
)

// TwilioAccount is a twilio provider whose callbacks are accepted.
type TwilioAccount struct {
	Provider  string // the configured provider's name
	AuthToken string
	// CallbackURL is the provider's status_callback: the public URL
	// Twilio calls, and signs over, exactly as configured.
	CallbackURL string
}

// Gateway is an http provider whose receipts are accepted.
type Gateway struct {
	Provider string
	Secret   string // the HMAC key the provider signs its requests with
}

// Options configure the handler.
type Options struct {
	Twilio   []TwilioAccount
	Gateways []Gateway
	// MaxBodyBytes bounds a receipt's body; 0: 64 KiB.
	MaxBodyBytes int64
	// MaxSkew is how far a gateway receipt's timestamp may be from now;
	// older ones are refused as replays. 0: 5 minutes.
	MaxSkew time.Duration
	// Registerer registers loanremind_receipts_rejected_total; nil: none.
	Registerer prometheus.Registerer
	// OnReject, if set, is told of each refusal too: the endpoint (twilio
	// or http) and RejectBadSignature or RejectMalformed (the dispatcher's
	// loanremind_receipts_total{result}).
	OnReject func(endpoint, reason string)
	Log      *logrus.Entry // nil: discard
	Now      func() time.Time
}

// Handler serves the receipt endpoints.
type Handler struct {
	sink     deliver.ReceiptSink
	o        Options
	rejected *prometheus.CounterVec
	mux      *http.ServeMux
}

// NewHandler returns the handler of POST /receipts/twilio and POST
// /receipts/http, for the dispatcher's server to mount as it is (it
// routes on the full path). An endpoint without a provider to check its
// signatures answers 404.
func NewHandler(sink deliver.ReceiptSink, o Options) (*Handler, error) {
	if sink == nil {
		return nil, errors.New("receipts: no sink")
	}
	for _, a := range o.Twilio {
		if a.AuthToken == "" || a.CallbackURL == "" {
			return nil, errors.New("receipts: twilio provider " + a.Provider + " needs an auth token and its status_callback URL")
		}
	}
	for _, g := range o.Gateways {
		if g.Secret == "" {
			return nil, errors.New("receipts: http provider " + g.Provider + " needs its secret")
		}
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 64 << 10
	}
	if o.MaxSkew <= 0 {
		o.MaxSkew = 5 * time.Minute
	}
	if o.Log == nil {
		l := logrus.New()
		l.Out = io.Discard
		o.Log = logrus.NewEntry(l)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	h := &Handler{
		sink: sink,
		o:    o,
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loanremind_receipts_rejected_total",
			Help: "Receipts refused (bad or missing signature, stale timestamp, too large, malformed), by endpoint: twilio or http.",
		}, []string{"provider"}),
		mux: http.NewServeMux(),
	}
	if o.Registerer != nil {
		if err := o.Registerer.Register(h.rejected); err != nil {
			return nil, err
		}
	}
	if len(o.Twilio) > 0 {
		h.rejected.WithLabelValues("twilio")
		h.mux.HandleFunc(TwilioPath, h.twilio)
	}
	if len(o.Gateways) > 0 {
		h.rejected.WithLabelValues("http")
		h.mux.HandleFunc(HTTPPath, h.gateway)
	}
	return h, nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// Rejected is the rejection counter (for tests and the dispatcher's
// registry).
func (h *Handler) Rejected() *prometheus.CounterVec { return h.rejected }

// reject answers status and counts the request; reason is logged, never
// the body.
func (h *Handler) reject(w http.ResponseWriter, endpoint string, status int, reason string) {
	h.rejected.WithLabelValues(endpoint).Inc()
	if h.o.OnReject != nil {
		kind := RejectMalformed
		if status == http.StatusForbidden {
			kind = RejectBadSignature
		}
		h.o.OnReject(endpoint, kind)
	}
	h.o.Log.WithFields(logrus.Fields{"endpoint": endpoint, "status": status}).Warn("receipt refused: " + reason)
	http.Error(w, http.StatusText(status), status)
}

// body reads the request's body within the size limit, or answers.
func (h *Handler) body(w http.ResponseWriter, r *http.Request, endpoint string) ([]byte, bool) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.reject(w, endpoint, http.StatusMethodNotAllowed, "method "+r.Method)
		return nil, false
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.o.MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		h.reject(w, endpoint, http.StatusRequestEntityTooLarge, "body over "+strconv.FormatInt(h.o.MaxBodyBytes, 10)+" bytes")
		return nil, false
	case err != nil:
		h.reject(w, endpoint, http.StatusBadRequest, "body unreadable")
		return nil, false
	}
	return b, true
}

// record hands a checked receipt to the sink. A receipt of no message of
// that provider (deliver.ErrNoSuchMessage) gets 404: a retry cannot help.
// Any other error is the dispatcher's (the database): 503, so that the
// provider retries.
func (h *Handler) record(w http.ResponseWriter, r *http.Request, ev deliver.ReceiptEvent) {
	err := h.sink.Receipt(r.Context(), ev)
	if errors.Is(err, deliver.ErrNoSuchMessage) {
		h.o.Log.WithField("provider", ev.Provider).Warn("receipt of no message of this provider")
		http.Error(w, "no such message", http.StatusNotFound)
		return
	}
	if err != nil {
		h.o.Log.WithError(err).WithField("provider", ev.Provider).Error("receipt could not be recorded")
		http.Error(w, "receipt not recorded", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// twilio serves Twilio's status callbacks: form-encoded, signed with the
// account's auth token over the callback URL and the sorted parameters.
func (h *Handler) twilio(w http.ResponseWriter, r *http.Request) {
	const endpoint = "twilio"
	body, ok := h.body(w, r, endpoint)
	if !ok {
		return
	}
	sig := r.Header.Get(TwilioSignatureHeader)
	var account *TwilioAccount
	for i, a := range h.o.Twilio {
		v := twclient.NewRequestValidator(a.AuthToken)
		if sig != "" && v.ValidateBody(a.CallbackURL, body, sig) {
			account = &h.o.Twilio[i]
			break
		}
	}
	if account == nil {
		h.reject(w, endpoint, http.StatusForbidden, "X-Twilio-Signature does not check out")
		return
	}
	form, err := url.ParseQuery(string(body))
	sid := form.Get("MessageSid")
	if err != nil || sid == "" {
		h.reject(w, endpoint, http.StatusBadRequest, "no MessageSid")
		return
	}
	var delivered bool
	switch status := form.Get("MessageStatus"); status {
	case "delivered", "read":
		delivered = true
	case "undelivered", "failed", "canceled":
	default: // accepted, scheduled, queued, sending, sent, …: on the way
		w.WriteHeader(http.StatusNoContent)
		return
	}
	h.record(w, r, deliver.ReceiptEvent{
		Provider:          account.Provider,
		ProviderMessageID: sid,
		Delivered:         delivered,
		At:                h.o.Now(),
		Code:              clean.Text(form.Get("ErrorCode"), 64),
	})
}

// gatewayReceipt is the generic gateway's receipt (DESIGN.md).
type gatewayReceipt struct {
	ID     string `json:"id"`
	SendID int64  `json:"send_id"`
	Status string `json:"status"`
	At     string `json:"at"` // RFC 3339; empty: when it came
	Code   string `json:"code"`
}

// gateway serves the generic gateway's receipts: JSON signed with
// X-Loanremind-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." +
// body)>, the http provider's own scheme, the timestamp within MaxSkew of
// now.
func (h *Handler) gateway(w http.ResponseWriter, r *http.Request) {
	const endpoint = "http"
	body, ok := h.body(w, r, endpoint)
	if !ok {
		return
	}
	ts := r.Header.Get(TimestampHeader)
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		h.reject(w, endpoint, http.StatusForbidden, "no "+TimestampHeader)
		return
	}
	if skew := h.o.Now().Sub(time.Unix(secs, 0)); skew.Abs() > h.o.MaxSkew {
		h.reject(w, endpoint, http.StatusForbidden, "timestamp "+skew.Round(time.Second).String()+" from now: a replay, or a clock off")
		return
	}
	gw := h.signedBy(ts, body, r.Header.Get(SignatureHeader))
	if gw == nil {
		h.reject(w, endpoint, http.StatusForbidden, SignatureHeader+" does not check out")
		return
	}
	var rc gatewayReceipt
	if err := json.Unmarshal(body, &rc); err != nil || (rc.ID == "" && rc.SendID <= 0) || rc.SendID < 0 {
		h.reject(w, endpoint, http.StatusBadRequest, "not a receipt: want {\"id\", \"send_id\", \"status\", \"at\", \"code\"}")
		return
	}
	var delivered bool
	switch rc.Status {
	case "delivered":
		delivered = true
	case "undelivered":
	case "":
		h.reject(w, endpoint, http.StatusBadRequest, "no status")
		return
	default: // a status on the way
		w.WriteHeader(http.StatusNoContent)
		return
	}
	at := h.o.Now()
	if rc.At != "" {
		if at, err = time.Parse(time.RFC3339Nano, rc.At); err != nil {
			h.reject(w, endpoint, http.StatusBadRequest, "at is not an RFC 3339 time")
			return
		}
	}
	h.record(w, r, deliver.ReceiptEvent{
		Provider:          gw.Provider,
		SendID:            rc.SendID,
		ProviderMessageID: clean.Text(rc.ID, 200),
		Delivered:         delivered,
		At:                at,
		Code:              clean.Text(rc.Code, 64),
	})
}

// signedBy returns the gateway whose secret signed timestamp and body as
// the http provider signs its requests (httpgw.Sign), or nil. The header
// may carry several signatures ("v1=…,v1=…"), as during a change of secret.
func (h *Handler) signedBy(timestamp string, body []byte, header string) *Gateway {
	for part := range strings.SplitSeq(header, ",") {
		sig := strings.TrimSpace(part)
		if !strings.HasPrefix(sig, "v1=") {
			continue
		}
		for i, g := range h.o.Gateways {
			if hmac.Equal([]byte(httpgw.Sign([]byte(g.Secret), timestamp, body)), []byte(sig)) {
				return &h.o.Gateways[i]
			}
		}
	}
	return nil
}
