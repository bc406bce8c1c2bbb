package smtp

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"

	"github.com/loanremind/loanremind/jobs/deliver"
)

const (
	user     = "reminders"
	password = "s3cret-pass"
	from     = "Anxin Finance <reminders@anxin.example>"
	replyTo  = "service@anxin.example"
	to       = "zhang.wei@example.com"
)

// selfSigned makes a certificate for 127.0.0.1 and localhost, and a pool
// that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "loanremind test mail server"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}, pool
}

// received is one message the test server accepted.
type received struct {
	from  string
	rcpts []string
	data  []byte
	tls   bool
	user  string
}

// mailServer is a real SMTP server (emersion/go-smtp) on 127.0.0.1 that
// requires authentication and keeps what it accepts.
type mailServer struct {
	mu       sync.Mutex
	got      []received
	rcptErr  error // answer to RCPT TO, when set
	addr     string
	pool     *x509.CertPool
	sessions int
}

func (s *mailServer) NewSession(c *gosmtp.Conn) (gosmtp.Session, error) {
	s.mu.Lock()
	s.sessions++
	s.mu.Unlock()
	return &session{srv: s, conn: c}, nil
}

type session struct {
	srv  *mailServer
	conn *gosmtp.Conn
	user string
	cur  received
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain, sasl.Login} }

func (s *session) Auth(mech string) (sasl.Server, error) {
	check := func(username, pass string) error {
		if username != user || pass != password {
			return &gosmtp.SMTPError{Code: 535, EnhancedCode: gosmtp.EnhancedCode{5, 7, 8}, Message: "authentication failed"}
		}
		s.user = username
		return nil
	}
	if mech == sasl.Login {
		return &loginServer{check: check}, nil
	}
	return sasl.NewPlainServer(func(_, username, pass string) error { return check(username, pass) }), nil
}

// loginServer is the server side of AUTH LOGIN (go-sasl has only the
// client's): "Username:", then "Password:".
type loginServer struct {
	check    func(user, pass string) error
	username string
	step     int
}

func (l *loginServer) Next(response []byte) ([]byte, bool, error) {
	l.step++
	switch l.step {
	case 1:
		if len(response) > 0 { // the username sent with AUTH LOGIN
			l.username, l.step = string(response), 2
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 2:
		l.username = string(response)
		return []byte("Password:"), false, nil
	default:
		return nil, true, l.check(l.username, string(response))
	}
}

func (s *session) Mail(addr string, _ *gosmtp.MailOptions) error {
	if s.user == "" {
		return gosmtp.ErrAuthRequired
	}
	s.cur = received{from: addr, user: s.user}
	return nil
}

func (s *session) Rcpt(addr string, _ *gosmtp.RcptOptions) error {
	if s.srv.rcptErr != nil {
		return s.srv.rcptErr
	}
	s.cur.rcpts = append(s.cur.rcpts, addr)
	return nil
}

func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.data = b
	_, s.cur.tls = s.conn.TLSConnectionState()
	s.srv.mu.Lock()
	s.srv.got = append(s.srv.got, s.cur)
	s.srv.mu.Unlock()
	return nil
}

func (s *session) Reset()        {}
func (s *session) Logout() error { return nil }

// startServer starts the server with STARTTLS (implicit false) or TLS from
// the first byte, or with no TLS at all (withTLS false).
func startServer(t *testing.T, implicit, withTLS bool) *mailServer {
	t.Helper()
	cert, pool := selfSigned(t)
	ms := &mailServer{pool: pool}
	srv := gosmtp.NewServer(ms)
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.MaxMessageBytes = 1 << 20
	srv.ErrorLog = nopLogger{}
	tlsConfig := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	var l net.Listener
	var err error
	switch {
	case implicit:
		l, err = tls.Listen("tcp", "127.0.0.1:0", tlsConfig)
	default:
		l, err = net.Listen("tcp", "127.0.0.1:0")
		if withTLS {
			srv.TLSConfig = tlsConfig
		} else {
			srv.AllowInsecureAuth = true
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	ms.addr = l.Addr().String()
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return ms
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}
func (nopLogger) Println(...any)        {}

func newProvider(t *testing.T, ms *mailServer, edit func(*Options)) *Provider {
	t.Helper()
	host, port, _ := net.SplitHostPort(ms.addr)
	o := Options{
		Name: "mail", Host: host, TLS: StartTLS, RootCAs: ms.pool,
		Username: user, Password: password, From: from, ReplyTo: replyTo, HELO: "loanremind.test",
		Timeout: 5 * time.Second,
	}
	o.Port, _ = strconv.Atoi(port)
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
		SendID: 42, Channel: "email", To: to, Locale: "zh-CN", Stage: "overdue_7d", Attempt: 1,
		Subject: "还款提醒：贷款 ****2345 已逾期 7 天",
		Body:    "张先生，您好：\n\n您尾号2345的贷款第3期 ¥1,234.50 已逾期7天，请尽快还款。\n\n安心金融\n如不希望再收到此类邮件，请回复“退订”。\n",
	}
}

// checkMessage parses what the server received as an email and checks its
// headers and body.
func checkMessage(t *testing.T, r received, m *deliver.Message) {
	t.Helper()
	if r.from != "reminders@anxin.example" || len(r.rcpts) != 1 || r.rcpts[0] != to {
		t.Errorf("envelope MAIL FROM %q RCPT TO %q", r.from, r.rcpts)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(r.data))
	if err != nil {
		t.Fatalf("not an email: %v\n%s", err, r.data)
	}
	h := msg.Header
	dec := new(mime.WordDecoder)
	subject, err := dec.DecodeHeader(h.Get("Subject"))
	if err != nil {
		t.Errorf("Subject %q: %v", h.Get("Subject"), err)
	}
	fromAddr, _ := mail.ParseAddress(h.Get("From"))
	replyAddr, _ := mail.ParseAddress(h.Get("Reply-To"))
	toAddr, _ := mail.ParseAddress(h.Get("To"))
	checks := []struct{ name, got, want string }{
		{"From", fromAddr.String(), `"Anxin Finance" <reminders@anxin.example>`},
		{"Reply-To", replyAddr.Address, replyTo},
		{"To", toAddr.Address, to},
		{"Subject", subject, m.Subject},
		{"Message-ID", h.Get("Message-ID"), "<loanremind-42@anxin.example>"},
		{"MIME-Version", h.Get("MIME-Version"), "1.0"},
		{"Auto-Submitted", h.Get("Auto-Submitted"), "auto-generated"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: %q, want %q", c.name, c.got, c.want)
		}
	}
	if d, err := h.Date(); err != nil || time.Since(d).Abs() > time.Minute {
		t.Errorf("Date %q (%v) is not now", h.Get("Date"), err)
	}
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mt != "text/plain" || !strings.EqualFold(params["charset"], "utf-8") {
		t.Errorf("Content-Type %q: want text/plain; charset=UTF-8", h.Get("Content-Type"))
	}
	var body io.Reader = msg.Body
	if strings.EqualFold(h.Get("Content-Transfer-Encoding"), "quoted-printable") {
		body = quotedprintable.NewReader(msg.Body)
	}
	b, _ := io.ReadAll(body)
	if got := strings.ReplaceAll(string(b), "\r\n", "\n"); got != m.Body {
		t.Errorf("body %q\nwant %q", got, m.Body)
	}
}

func TestSend(t *testing.T) {
	for _, tc := range []struct {
		name     string
		implicit bool
		edit     func(*Options)
	}{
		{"STARTTLS and PLAIN", false, nil},
		{"STARTTLS and LOGIN", false, func(o *Options) { o.Auth = "login" }},
		{"implicit TLS", true, func(o *Options) { o.TLS = Implicit }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ms := startServer(t, tc.implicit, true)
			p := newProvider(t, ms, tc.edit)
			r, err := p.Send(context.Background(), message())
			if err != nil {
				t.Fatal(err)
			}
			if r.ProviderMessageID != "loanremind-42@anxin.example" {
				t.Errorf("receipt %+v, want the Message-ID", r)
			}
			if len(ms.got) != 1 {
				t.Fatalf("the server received %d messages, want 1", len(ms.got))
			}
			if !ms.got[0].tls || ms.got[0].user != user {
				t.Errorf("message received with TLS %v, user %q", ms.got[0].tls, ms.got[0].user)
			}
			checkMessage(t, ms.got[0], message())
		})
	}
	t.Run("the same Message-ID on every attempt", func(t *testing.T) {
		ms := startServer(t, false, true)
		p := newProvider(t, ms, nil)
		for attempt := 1; attempt <= 2; attempt++ {
			m := message()
			m.Attempt = attempt
			if _, err := p.Send(context.Background(), m); err != nil {
				t.Fatal(err)
			}
		}
		a, _ := mail.ReadMessage(bytes.NewReader(ms.got[0].data))
		b, _ := mail.ReadMessage(bytes.NewReader(ms.got[1].data))
		if a.Header.Get("Message-ID") != b.Header.Get("Message-ID") {
			t.Errorf("Message-IDs %q and %q differ", a.Header.Get("Message-ID"), b.Header.Get("Message-ID"))
		}
	})
}

func TestErrors(t *testing.T) {
	t.Run("mailbox unavailable is permanent", func(t *testing.T) {
		ms := startServer(t, false, true)
		ms.rcptErr = &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1}, Message: "<" + to + ">: Recipient address rejected: User unknown"}
		_, err := newProvider(t, ms, nil).Send(context.Background(), message())
		var pe *deliver.Error
		if !errors.As(err, &pe) || !pe.Permanent || pe.Code != "550 5.1.1" {
			t.Fatalf("error %v, want permanent 550 5.1.1", err)
		}
		if strings.Contains(err.Error(), "zhang.wei") {
			t.Errorf("the error shows the address: %v", err)
		}
	})
	t.Run("greylisting is transient", func(t *testing.T) {
		ms := startServer(t, false, true)
		ms.rcptErr = &gosmtp.SMTPError{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 7, 1}, Message: "Greylisted, try again later"}
		_, err := newProvider(t, ms, nil).Send(context.Background(), message())
		if err == nil || deliver.IsPermanent(err) {
			t.Fatalf("error %v, want a transient one", err)
		}
	})
	t.Run("a wrong password is transient", func(t *testing.T) {
		ms := startServer(t, false, true)
		_, err := newProvider(t, ms, func(o *Options) { o.Password = "wrong" }).Send(context.Background(), message())
		if err == nil || deliver.IsPermanent(err) || len(ms.got) != 0 {
			t.Fatalf("error %v, %d messages: want a transient error and nothing sent", err, len(ms.got))
		}
		if strings.Contains(err.Error(), "wrong") {
			t.Errorf("the error shows the password: %v", err)
		}
	})
	t.Run("no STARTTLS, no message", func(t *testing.T) {
		ms := startServer(t, false, false)
		_, err := newProvider(t, ms, nil).Send(context.Background(), message())
		if err == nil || deliver.IsPermanent(err) || len(ms.got) != 0 {
			t.Fatalf("error %v, %d messages: a server without STARTTLS must get nothing", err, len(ms.got))
		}
	})
	t.Run("an untrusted certificate", func(t *testing.T) {
		ms := startServer(t, false, true)
		_, err := newProvider(t, ms, func(o *Options) { o.RootCAs = x509.NewCertPool() }).Send(context.Background(), message())
		if err == nil || len(ms.got) != 0 {
			t.Fatalf("error %v, %d messages: want a refusal of the certificate", err, len(ms.got))
		}
	})
	t.Run("server down", func(t *testing.T) {
		l, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := l.Addr().String()
		l.Close()
		ms := &mailServer{addr: addr}
		_, err := newProvider(t, ms, nil).Send(context.Background(), message())
		if err == nil || deliver.IsPermanent(err) {
			t.Fatalf("error %v, want a transient one", err)
		}
	})
	t.Run("not an email", func(t *testing.T) {
		ms := startServer(t, false, true)
		m := message()
		m.Channel = "sms"
		if _, err := newProvider(t, ms, nil).Send(context.Background(), m); !deliver.IsPermanent(err) {
			t.Fatalf("error %v, want a permanent one", err)
		}
		m = message()
		m.To = "not an address"
		if _, err := newProvider(t, ms, nil).Send(context.Background(), m); !deliver.IsPermanent(err) {
			t.Fatalf("error %v, want a permanent one", err)
		}
	})
}

func TestNoTLSOnTheLoopback(t *testing.T) {
	ms := startServer(t, false, false)
	p := newProvider(t, ms, func(o *Options) { o.TLS = NoTLS })
	if _, err := p.Send(context.Background(), message()); err != nil {
		t.Fatal(err)
	}
	if len(ms.got) != 1 || ms.got[0].tls {
		t.Fatalf("%d messages: want one, without TLS", len(ms.got))
	}
	checkMessage(t, ms.got[0], message())
	if p.Name() != "mail" || p.Type() != "smtp" || p.Idempotent() {
		t.Errorf("Name %q, Type %q, Idempotent %v", p.Name(), p.Type(), p.Idempotent())
	}
}
