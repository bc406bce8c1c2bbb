// Package smtp sends email through a mail server with
// github.com/wneessen/go-mail: STARTTLS (required, not opportunistic) or
// implicit TLS, PLAIN or LOGIN authentication, a plain-text UTF-8 body,
// From and Reply-To as configured, and a Message-ID of its own,
// <loanremind-SENDID@DOMAIN>, the same on every attempt so that a copy can
// be recognised. A mail server takes no idempotency key, so the provider is
// not idempotent.
package smtp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/mail"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/loanremind/loanremind/jobs/deliver"
)

// TLS modes.
const (
	StartTLS = "starttls" // plain connection upgraded with STARTTLS, which the server must offer
	Implicit = "implicit" // TLS from the first byte ("SMTPS")
	NoTLS    = "none"     // a relay on the loopback interface only
)

// Options configure a Provider.
type Options struct {
	Name string
	Host string
	Port int    // 0: 587 for starttls, 465 for implicit, 25 for none
	TLS  string // StartTLS (default), Implicit or NoTLS
	// RootCAs verify the server's certificate; nil: the system's.
	RootCAs *x509.CertPool
	// Username turns on authentication with Password; Auth is "plain"
	// (the default) or "login".
	Username, Password, Auth string
	From, ReplyTo            string
	HELO                     string // "" : the host's name
	// MessageIDDomain is Message-ID's right-hand side; "": From's domain.
	MessageIDDomain string
	Timeout         time.Duration // to connect and for each command; 0: 30 s
}

// Provider sends email through one mail server.
type Provider struct {
	o      Options
	opts   []gomail.Option
	domain string
}

var _ deliver.Provider = (*Provider)(nil)

// New returns a Provider.
func New(o Options) (*Provider, error) {
	if o.Host == "" {
		return nil, fmt.Errorf("smtp %s: no host", o.Name)
	}
	from, err := mail.ParseAddress(o.From)
	if err != nil {
		return nil, fmt.Errorf("smtp %s: From %q: %w", o.Name, o.From, err)
	}
	if o.ReplyTo != "" {
		if _, err := mail.ParseAddress(o.ReplyTo); err != nil {
			return nil, fmt.Errorf("smtp %s: Reply-To %q: %w", o.Name, o.ReplyTo, err)
		}
	}
	domain := o.MessageIDDomain
	if domain == "" {
		_, domain, _ = strings.Cut(from.Address, "@")
	}
	if domain == "" {
		return nil, fmt.Errorf("smtp %s: no domain for Message-ID", o.Name)
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	opts := []gomail.Option{
		gomail.WithTimeout(o.Timeout),
		gomail.WithTLSConfig(&tls.Config{ServerName: o.Host, RootCAs: o.RootCAs, MinVersion: tls.VersionTLS12}),
	}
	switch o.TLS {
	case "", StartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory), gomail.WithPort(portOr(o.Port, 587)))
	case Implicit:
		opts = append(opts, gomail.WithSSL(), gomail.WithPort(portOr(o.Port, 465)))
	case NoTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS), gomail.WithPort(portOr(o.Port, 25)))
	default:
		return nil, fmt.Errorf("smtp %s: TLS %q is not starttls, implicit or none", o.Name, o.TLS)
	}
	if o.Username != "" {
		auth := gomail.SMTPAuthPlain
		switch o.Auth {
		case "", "plain":
			if o.TLS == NoTLS {
				auth = gomail.SMTPAuthPlainNoEnc
			}
		case "login":
			auth = gomail.SMTPAuthLogin
			if o.TLS == NoTLS {
				auth = gomail.SMTPAuthLoginNoEnc
			}
		default:
			return nil, fmt.Errorf("smtp %s: auth %q is not plain or login", o.Name, o.Auth)
		}
		opts = append(opts, gomail.WithSMTPAuth(auth), gomail.WithUsername(o.Username), gomail.WithPassword(o.Password))
	}
	if o.HELO != "" {
		opts = append(opts, gomail.WithHELO(o.HELO))
	}
	return &Provider{o: o, opts: opts, domain: domain}, nil
}

func portOr(port, def int) int {
	if port > 0 {
		return port
	}
	return def
}

// Name is the configured name.
func (p *Provider) Name() string { return p.o.Name }

// Type is "smtp".
func (p *Provider) Type() string { return "smtp" }

// Idempotent is false: a mail server takes no idempotency key.
func (p *Provider) Idempotent() bool { return false }

// MessageID is the Message-ID of a send, without its angle brackets.
func (p *Provider) MessageID(sendID int64) string {
	return "loanremind-" + strconv.FormatInt(sendID, 10) + "@" + p.domain
}

// Send delivers one message to the mail server, on a connection of its
// own. Its receipt holds the Message-ID.
func (p *Provider) Send(ctx context.Context, m *deliver.Message) (deliver.Receipt, error) {
	if m.Channel != "email" {
		return deliver.Receipt{}, &deliver.Error{Permanent: true, Code: "channel", Message: "smtp sends email only, not " + m.Channel}
	}
	msg, err := p.message(m)
	if err != nil {
		return deliver.Receipt{}, err
	}
	client, err := gomail.NewClient(p.o.Host, p.opts...)
	if err != nil {
		return deliver.Receipt{}, fmt.Errorf("smtp %s: %w", p.o.Name, err)
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		return deliver.Receipt{}, p.classify(ctx, err)
	}
	return deliver.Receipt{ProviderMessageID: p.MessageID(m.SendID)}, nil
}

// message builds the email: plain text in UTF-8, marked as sent by a
// machine (Auto-Submitted, RFC 3834) so that auto-responders stay quiet.
func (p *Provider) message(m *deliver.Message) (*gomail.Msg, error) {
	msg := gomail.NewMsg(gomail.WithCharset(gomail.CharsetUTF8), gomail.WithEncoding(gomail.EncodingQP))
	if err := msg.From(p.o.From); err != nil {
		return nil, fmt.Errorf("smtp %s: From: %w", p.o.Name, err)
	}
	if err := msg.To(m.To); err != nil {
		return nil, &deliver.Error{Permanent: true, Code: "address", Message: "the recipient is not an email address"}
	}
	if p.o.ReplyTo != "" {
		if err := msg.ReplyTo(p.o.ReplyTo); err != nil {
			return nil, fmt.Errorf("smtp %s: Reply-To: %w", p.o.Name, err)
		}
	}
	msg.Subject(m.Subject)
	msg.SetMessageIDWithValue(p.MessageID(m.SendID))
	msg.SetDate()
	msg.SetGenHeader(gomail.Header("Auto-Submitted"), "auto-generated")
	msg.SetBodyString(gomail.TypeTextPlain, m.Body)
	return msg, nil
}

// classify maps go-mail's error to a deliver.Error. A 5xx answer to the
// recipient or to the message's content is permanent (550 no such
// mailbox, 554 rejected as spam); a 4xx answer, a failure to connect, to
// start TLS or to authenticate, and any answer about the sender are
// transient: they are the server's or the configuration's, not the
// message's.
func (p *Provider) classify(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("smtp %s: %w", p.o.Name, ctx.Err())
	}
	var se *gomail.SendError
	if !errors.As(err, &se) || se.ErrorCode() == 0 {
		return &deliver.Error{Code: "smtp", Message: deliver.ProviderText(err.Error())}
	}
	code := strconv.Itoa(se.ErrorCode())
	if e := se.EnhancedStatusCode(); e != "" {
		code += " " + e
	}
	permanent := se.ErrorCode() >= 500 && !se.IsTemp() &&
		(se.Reason == gomail.ErrSMTPRcptTo || se.Reason == gomail.ErrSMTPData || se.Reason == gomail.ErrSMTPDataClose)
	return &deliver.Error{Permanent: permanent, Code: code, Message: deliver.ProviderText(se.Error())}
}
