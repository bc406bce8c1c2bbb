package tencentcloud

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loanremind/loanremind/jobs/civil"
	"github.com/loanremind/loanremind/jobs/deliver"
)

const (
	secretID  = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"
	secretKey = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"
	appID     = "1400006666"
	signName  = "安心金融"
	region    = "ap-guangzhou"
	to        = "+8613812341234"
)

// sent is one SendSms request as the local server read it.
type sent struct {
	header http.Header
	host   string
	body   []byte
	params struct {
		PhoneNumberSet   []string
		SmsSdkAppId      string
		SignName         string
		TemplateId       string
		TemplateParamSet []string
		SessionContext   string
	}
}

// fakeSMS is a local server that answers SendSms like Tencent Cloud and
// keeps what it was sent.
type fakeSMS struct {
	t      *testing.T
	mu     sync.Mutex
	sent   []sent
	answer func(w http.ResponseWriter, s sent)
}

func (f *fakeSMS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var s sent
	s.header, s.host = r.Header.Clone(), r.Host
	s.body, _ = io.ReadAll(r.Body)
	if err := json.Unmarshal(s.body, &s.params); err != nil {
		f.t.Errorf("body %q is not JSON: %v", s.body, err)
	}
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		f.t.Errorf("%s %s, want POST /", r.Method, r.URL.Path)
	}
	f.mu.Lock()
	f.sent = append(f.sent, s)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	f.answer(w, s)
}

// ok answers as Tencent Cloud does for a message it accepted.
func ok(w http.ResponseWriter, s sent) {
	fmt.Fprintf(w, `{"Response": {"SendStatusSet": [{"SerialNo": "5000:1045710669157053657849499619", "PhoneNumber": %q, "Fee": 1, "SessionContext": %q, "Code": "Ok", "Message": "send success", "IsoCode": "CN"}], "RequestId": "a0aabda6-cf91-4f3e-a81f-9198114a2279"}}`,
		s.params.PhoneNumberSet[0], s.params.SessionContext)
}

// statusError answers with a per-number error in SendStatusSet.
func statusError(code, msg string) func(w http.ResponseWriter, s sent) {
	return func(w http.ResponseWriter, s sent) {
		fmt.Fprintf(w, `{"Response": {"SendStatusSet": [{"SerialNo": "", "PhoneNumber": %q, "Fee": 0, "SessionContext": "", "Code": %q, "Message": %q, "IsoCode": "CN"}], "RequestId": "r"}}`,
			s.params.PhoneNumberSet[0], code, msg)
	}
}

// apiError answers with an error of the whole request.
func apiError(code, msg string) func(w http.ResponseWriter, s sent) {
	return func(w http.ResponseWriter, s sent) {
		fmt.Fprintf(w, `{"Response": {"Error": {"Code": %q, "Message": %q}, "RequestId": "r"}}`, code, msg)
	}
}

func newFake(t *testing.T, answer func(w http.ResponseWriter, s sent)) (*fakeSMS, *httptest.Server) {
	f := &fakeSMS{t: t, answer: answer}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func templates() []Template {
	return []Template{
		{Stage: "overdue_7d", Locale: "zh-CN", TemplateID: "1110007", Params: []string{ParamAccountTail, ParamSeq, ParamAmount, ParamDueDate, ParamDaysOverdue}},
		{Stage: "overdue_7d", Locale: "en-US", TemplateID: "1110008", Params: []string{ParamAccountTail, ParamAmount, ParamDueDate}},
		{Stage: "due_today", Locale: "zh-CN", TemplateID: "1110001", Params: []string{ParamItems, ParamTotal}},
	}
}

func newProvider(t *testing.T, endpoint string) *Provider {
	t.Helper()
	p, err := New(Options{
		Name: "cn-sms", Endpoint: endpoint, Region: region, SmsSdkAppID: appID, SignName: signName,
		SecretID: secretID, SecretKey: secretKey, Templates: templates(), Timeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var businessDate = civil.DateOf(2026, 11, 21)

func message() *deliver.Message {
	return &deliver.Message{
		SendID: 42, Channel: "sms", To: to, Locale: "zh-CN", Stage: "overdue_7d", Attempt: 1,
		Body:         "【安心金融】您尾号2345的贷款第3期¥1,234.50已逾期7天。回复TD退订",
		Template:     "sms/overdue_7d.zh-CN.tmpl",
		BusinessDate: businessDate,
		Items: []deliver.Item{
			{InstallmentID: 11, LoanID: 1, AccountRef: "LN-2024-00019876", Seq: 4, DueDate: businessDate.AddDays(-1), AmountMinor: 50000, Currency: "CNY", Stage: "overdue_1d"},
			{InstallmentID: 10, LoanID: 1, AccountRef: "LN-2024-00012345", Seq: 3, DueDate: businessDate.AddDays(-7), AmountMinor: 123450, Currency: "CNY", Stage: "overdue_7d"},
		},
	}
}

// tc3Signature computes the TC3-HMAC-SHA256 signature Tencent Cloud's
// server expects, from its published algorithm: the test's oracle that the
// SDK signed this request with this SecretKey.
func tc3Signature(s sent, timestamp int64) string {
	hash := func(b string) string { h := sha256.Sum256([]byte(b)); return hex.EncodeToString(h[:]) }
	mac := func(key []byte, msg string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(msg))
		return h.Sum(nil)
	}
	date := time.Unix(timestamp, 0).UTC().Format(time.DateOnly)
	canonical := strings.Join([]string{"POST", "/", "",
		"content-type:" + s.header.Get("Content-Type") + "\nhost:" + s.host + "\n", "content-type;host", hash(string(s.body))}, "\n")
	toSign := strings.Join([]string{"TC3-HMAC-SHA256", strconv.FormatInt(timestamp, 10), date + "/sms/tc3_request", hash(canonical)}, "\n")
	key := mac(mac(mac([]byte("TC3"+secretKey), date), "sms"), "tc3_request")
	return hex.EncodeToString(mac(key, toSign))
}

func TestSendSmsRequest(t *testing.T) {
	f, srv := newFake(t, ok)
	r, err := newProvider(t, srv.URL).Send(context.Background(), message())
	if err != nil {
		t.Fatal(err)
	}
	if r.ProviderMessageID != "5000:1045710669157053657849499619" {
		t.Errorf("receipt %+v, want the SerialNo", r)
	}
	if len(f.sent) != 1 {
		t.Fatalf("%d requests, want 1", len(f.sent))
	}
	s := f.sent[0]
	t.Run("action, version, region", func(t *testing.T) {
		for name, want := range map[string]string{"X-TC-Action": "SendSms", "X-TC-Version": "2021-01-11", "X-TC-Region": region, "Content-Type": "application/json"} {
			if got := s.header.Get(name); got != want {
				t.Errorf("%s: %q, want %q", name, got, want)
			}
		}
	})
	t.Run("the SDK's TC3 signature", func(t *testing.T) {
		ts, err := strconv.ParseInt(s.header.Get("X-TC-Timestamp"), 10, 64)
		if err != nil || time.Since(time.Unix(ts, 0)).Abs() > time.Minute {
			t.Fatalf("X-TC-Timestamp %q is not now", s.header.Get("X-TC-Timestamp"))
		}
		date := time.Unix(ts, 0).UTC().Format(time.DateOnly)
		auth := s.header.Get("Authorization")
		re := regexp.MustCompile(`^TC3-HMAC-SHA256 Credential=` + secretID + `/` + date + `/sms/tc3_request, SignedHeaders=content-type;host, Signature=([0-9a-f]{64})$`)
		m := re.FindStringSubmatch(auth)
		if m == nil {
			t.Fatalf("Authorization %q is not the SDK's TC3-HMAC-SHA256 for %s", auth, secretID)
		}
		if want := tc3Signature(s, ts); m[1] != want {
			t.Errorf("signature %s, want %s: not signed with the SecretKey over this request", m[1], want)
		}
	})
	t.Run("template and parameters, never the body", func(t *testing.T) {
		p := s.params
		if !slices.Equal(p.PhoneNumberSet, []string{to}) || p.SmsSdkAppId != appID || p.SignName != signName || p.TemplateId != "1110007" || p.SessionContext != "loanremind-42" {
			t.Errorf("params %+v", p)
		}
		// The lead item is the one longest overdue: installment 3 of ****2345.
		want := []string{"2345", "3", "¥1,234.50", "2026年11月14日", "7"}
		if !slices.Equal(p.TemplateParamSet, want) {
			t.Errorf("TemplateParamSet %q, want %q", p.TemplateParamSet, want)
		}
		var keys map[string]any
		json.Unmarshal(s.body, &keys)
		var names []string
		for k := range keys {
			names = append(names, k)
		}
		slices.Sort(names)
		if want := []string{"PhoneNumberSet", "SessionContext", "SignName", "SmsSdkAppId", "TemplateId", "TemplateParamSet"}; !slices.Equal(names, want) {
			t.Errorf("request fields %q, want %q", names, want)
		}
		if strings.Contains(string(s.body), "退订") || strings.Contains(string(s.body), "LN-2024") {
			t.Errorf("the request carries the body or a full account reference: %s", s.body)
		}
	})
}

func TestTemplateMapping(t *testing.T) {
	for _, tc := range []struct {
		name   string
		edit   func(m *deliver.Message)
		id     string
		params []string
	}{
		{"zh-CN overdue_7d", func(*deliver.Message) {}, "1110007", []string{"2345", "3", "¥1,234.50", "2026年11月14日", "7"}},
		{"en-US overdue_7d", func(m *deliver.Message) { m.Locale = "en-US" }, "1110008", []string{"2345", "CN¥1,234.50", "Nov 14, 2026"}},
		{"locale case", func(m *deliver.Message) { m.Locale = "zh-cn" }, "1110007", []string{"2345", "3", "¥1,234.50", "2026年11月14日", "7"}},
		{"due_today totals per currency", func(m *deliver.Message) {
			m.Stage = "due_today"
			m.Items = append(m.Items, deliver.Item{AccountRef: "US-1", Seq: 1, DueDate: businessDate, AmountMinor: 2000, Currency: "USD"})
		}, "1110001", []string{"3", "¥1,734.50 + US$20.00"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, srv := newFake(t, ok)
			m := message()
			tc.edit(m)
			if _, err := newProvider(t, srv.URL).Send(context.Background(), m); err != nil {
				t.Fatal(err)
			}
			p := f.sent[0].params
			if p.TemplateId != tc.id || !slices.Equal(p.TemplateParamSet, tc.params) {
				t.Errorf("TemplateId %s with %q, want %s with %q", p.TemplateId, p.TemplateParamSet, tc.id, tc.params)
			}
		})
	}
	t.Run("no template for the stage and locale", func(t *testing.T) {
		f, srv := newFake(t, ok)
		m := message()
		m.Locale = "ne-NP"
		_, err := newProvider(t, srv.URL).Send(context.Background(), m)
		var pe *deliver.Error
		if !errors.As(err, &pe) || !pe.Permanent || pe.Code != "no_template" || len(f.sent) != 0 {
			t.Fatalf("error %v after %d requests, want a permanent no_template before any request", err, len(f.sent))
		}
	})
	t.Run("a short account reference stays masked", func(t *testing.T) {
		m := message()
		m.Items = m.Items[1:]
		m.Items[0].AccountRef = "A12"
		got, err := TemplateParams([]string{ParamAccountTail, ParamDaysOverdue}, m)
		if err != nil || !slices.Equal(got, []string{"****", "7"}) {
			t.Errorf("TemplateParams = %q, %v", got, err)
		}
	})
	t.Run("not yet due", func(t *testing.T) {
		m := message()
		m.Items = []deliver.Item{{AccountRef: "LN-1-0001", Seq: 1, DueDate: businessDate.AddDays(3), AmountMinor: 100, Currency: "CNY"}}
		got, err := TemplateParams([]string{ParamDaysOverdue, ParamItems}, m)
		if err != nil || !slices.Equal(got, []string{"0", "1"}) {
			t.Errorf("TemplateParams = %q, %v", got, err)
		}
	})
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name      string
		answer    func(w http.ResponseWriter, s sent)
		permanent bool
		code      string
	}{
		{"incorrect number", statusError("InvalidParameterValue.IncorrectPhoneNumber", "incorrect number "+to), true, "InvalidParameterValue.IncorrectPhoneNumber"},
		{"unsubscribed", statusError("FailedOperation.PhoneNumberInBlacklist", "number in blacklist"), true, "FailedOperation.PhoneNumberInBlacklist"},
		{"template not approved", apiError("FailedOperation.TemplateIncorrectOrUnapproved", "template unapproved"), true, "FailedOperation.TemplateIncorrectOrUnapproved"},
		{"daily limit of the number", statusError("LimitExceeded.PhoneNumberDailyLimit", "daily limit"), false, "LimitExceeded.PhoneNumberDailyLimit"},
		{"rate limit", apiError("RequestLimitExceeded", "too many requests"), false, "RequestLimitExceeded"},
		{"signature refused", apiError("AuthFailure.SignatureFailure", "signature"), false, "AuthFailure.SignatureFailure"},
		{"internal error", apiError("InternalError.Timeout", "timeout"), false, "InternalError.Timeout"},
		{"no balance", statusError("FailedOperation.InsufficientBalanceInSmsPackage", "balance"), false, "FailedOperation.InsufficientBalanceInSmsPackage"},
		{"502 from a proxy", func(w http.ResponseWriter, s sent) { w.WriteHeader(502) }, false, "ClientError.ParseJsonError"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, srv := newFake(t, tc.answer)
			_, err := newProvider(t, srv.URL).Send(context.Background(), message())
			var pe *deliver.Error
			if !errors.As(err, &pe) || pe.Permanent != tc.permanent || pe.Code != tc.code {
				t.Fatalf("error %v, want permanent %v with code %s", err, tc.permanent, tc.code)
			}
			if strings.Contains(err.Error(), "13812341234") {
				t.Errorf("the error shows the phone number: %v", err)
			}
		})
	}
	t.Run("server down", func(t *testing.T) {
		_, srv := newFake(t, ok)
		srv.Close()
		_, err := newProvider(t, srv.URL).Send(context.Background(), message())
		if err == nil || deliver.IsPermanent(err) {
			t.Fatalf("error %v, want a transient one", err)
		}
	})
	t.Run("context cancelled", func(t *testing.T) {
		block := make(chan struct{})
		_, srv := newFake(t, func(http.ResponseWriter, sent) { <-block })
		defer close(block)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := newProvider(t, srv.URL).Send(ctx, message())
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("error %v, want the context's", err)
		}
	})
	t.Run("email", func(t *testing.T) {
		m := message()
		m.Channel = "email"
		if _, err := newProvider(t, "http://127.0.0.1:1").Send(context.Background(), m); !deliver.IsPermanent(err) {
			t.Fatalf("error %v, want a permanent one", err)
		}
	})
}

func TestProvider(t *testing.T) {
	p := newProvider(t, "")
	if p.Name() != "cn-sms" || p.Type() != "tencentcloud" || p.Idempotent() {
		t.Errorf("Name %q, Type %q, Idempotent %v", p.Name(), p.Type(), p.Idempotent())
	}
	if _, err := New(Options{Name: "x", Region: region, SmsSdkAppID: appID, SignName: signName}); err == nil {
		t.Error("New without credentials succeeded")
	}
}
