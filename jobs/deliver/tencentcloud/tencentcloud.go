// Package tencentcloud sends SMS through Tencent Cloud SMS (API version
// 2021-01-11, action SendSms) with the generic CommonRequest of Tencent
// Cloud's Go SDK, which signs every request itself (TC3-HMAC-SHA256).
//
// Chinese carriers deliver only carrier-approved templates: the provider
// never sends the message's body. It sends the TemplateId configured for
// the message's stage and locale, and fills the template's placeholders
// from the message's items (masked account tail, installment number,
// amount and due date formatted as the job's templates format them, days
// overdue). Tencent Cloud takes no idempotency key, so the provider is not
// idempotent.
package tencentcloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	tc "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tcerr "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"
	tchttp "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/http"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"

	"github.com/loanremind/loanremind/jobs/deliver"
	"github.com/loanremind/loanremind/jobs/pii"
	"github.com/loanremind/loanremind/jobs/render"
)

// DefaultEndpoint is Tencent Cloud SMS's endpoint.
const DefaultEndpoint = "https://sms.tencentcloudapi.com"

// The API this provider calls.
const (
	service = "sms"
	version = "2021-01-11"
	action  = "SendSms"
)

// The template parameters (config.TencentCloudParams names the same).
const (
	ParamAccountTail = "account_tail"
	ParamSeq         = "seq"
	ParamAmount      = "amount"
	ParamDueDate     = "due_date"
	ParamDaysOverdue = "days_overdue"
	ParamItems       = "items"
	ParamTotal       = "total"
)

// Template is one approved template: what messages of a stage in a locale
// are sent as.
type Template struct {
	Stage, Locale string
	TemplateID    string
	Params        []string // parameter names, in placeholder order ({1}, {2}, …)
}

// Options configure a Provider.
type Options struct {
	Name string
	// Endpoint is the API's URL (tests point it at a local server); empty:
	// DefaultEndpoint.
	Endpoint    string
	Region      string
	SmsSdkAppID string
	SignName    string
	SecretID    string
	SecretKey   string
	Templates   []Template
	Timeout     time.Duration // per request; 0: 10 s
}

// Provider sends SMS through Tencent Cloud.
type Provider struct {
	o         Options
	client    *tc.Client
	templates map[templateKey]Template
}

type templateKey struct{ stage, locale string }

var _ deliver.Provider = (*Provider)(nil)

// New returns a Provider.
func New(o Options) (*Provider, error) {
	if o.Endpoint == "" {
		o.Endpoint = DefaultEndpoint
	}
	u, err := url.Parse(o.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("tencentcloud %s: endpoint %q is not an http(s) URL", o.Name, o.Endpoint)
	}
	switch {
	case o.SecretID == "" || o.SecretKey == "":
		return nil, fmt.Errorf("tencentcloud %s: no SecretId or SecretKey", o.Name)
	case o.Region == "" || o.SmsSdkAppID == "" || o.SignName == "":
		return nil, fmt.Errorf("tencentcloud %s: region, SmsSdkAppId and SignName are needed", o.Name)
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	prof := profile.NewClientProfile()
	prof.SignMethod = "TC3-HMAC-SHA256"
	prof.HttpProfile.ReqMethod = http.MethodPost
	prof.HttpProfile.Scheme = strings.ToUpper(u.Scheme)
	prof.HttpProfile.Endpoint = u.Host + strings.TrimSuffix(u.Path, "/")
	prof.HttpProfile.ReqTimeout = max(1, int((o.Timeout+time.Second-1)/time.Second))
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 64 // calls in flight reuse their connections
	p := &Provider{
		o:         o,
		client:    tc.NewCommonClient(tc.NewCredential(o.SecretID, o.SecretKey), o.Region, prof).WithHttpTransport(transport),
		templates: map[templateKey]Template{},
	}
	for _, t := range o.Templates {
		p.templates[templateKey{t.Stage, strings.ToLower(t.Locale)}] = t
	}
	return p, nil
}

// Name is the configured name.
func (p *Provider) Name() string { return p.o.Name }

// Type is "tencentcloud".
func (p *Provider) Type() string { return "tencentcloud" }

// Idempotent is false: SendSms takes no idempotency key.
func (p *Provider) Idempotent() bool { return false }

// Send calls SendSms with the template of the message's stage and locale.
// Its receipt holds the SerialNo Tencent Cloud gives the message.
func (p *Provider) Send(ctx context.Context, m *deliver.Message) (deliver.Receipt, error) {
	if m.Channel != "sms" {
		return deliver.Receipt{}, &deliver.Error{Permanent: true, Code: "channel", Message: "tencentcloud sends SMS only, not " + m.Channel}
	}
	t, ok := p.templates[templateKey{m.Stage, strings.ToLower(m.Locale)}]
	if !ok {
		return deliver.Receipt{}, &deliver.Error{Permanent: true, Code: "no_template",
			Message: fmt.Sprintf("no TemplateId for stage %s, locale %s", m.Stage, m.Locale)}
	}
	params, err := TemplateParams(t.Params, m)
	if err != nil {
		return deliver.Receipt{}, &deliver.Error{Permanent: true, Code: "template_params", Message: err.Error()}
	}
	req := tchttp.NewCommonRequest(service, version, action)
	if err := req.SetActionParameters(map[string]any{
		"PhoneNumberSet":   []string{m.To},
		"SmsSdkAppId":      p.o.SmsSdkAppID,
		"SignName":         p.o.SignName,
		"TemplateId":       t.TemplateID,
		"TemplateParamSet": params,
		// Returned as it is in Tencent Cloud's status reports.
		"SessionContext": "loanremind-" + strconv.FormatInt(m.SendID, 10),
	}); err != nil {
		return deliver.Receipt{}, fmt.Errorf("tencentcloud %s: %w", p.o.Name, err)
	}
	req.SetContext(ctx)
	resp := tchttp.NewCommonResponse()
	if err := p.client.Send(req, resp); err != nil {
		if ctx.Err() != nil {
			return deliver.Receipt{}, fmt.Errorf("tencentcloud %s: %w", p.o.Name, ctx.Err())
		}
		var sdkErr *tcerr.TencentCloudSDKError
		if errors.As(err, &sdkErr) {
			return deliver.Receipt{}, codeError(sdkErr.Code, sdkErr.Message)
		}
		return deliver.Receipt{}, fmt.Errorf("tencentcloud %s: %w", p.o.Name, err)
	}
	var out struct {
		Response struct {
			SendStatusSet []struct {
				SerialNo, Code, Message string
			}
			RequestID string `json:"RequestId"`
		}
	}
	if err := json.Unmarshal(resp.GetBody(), &out); err != nil || len(out.Response.SendStatusSet) != 1 {
		return deliver.Receipt{}, &deliver.Error{Code: "bad_response", Message: "SendSms answered without one SendStatus"}
	}
	st := out.Response.SendStatusSet[0]
	if st.Code != "Ok" {
		return deliver.Receipt{}, codeError(st.Code, st.Message)
	}
	return deliver.Receipt{ProviderMessageID: st.SerialNo}, nil
}

// codeError maps a Tencent Cloud error code to a deliver.Error. The
// service's and the account's troubles are transient: internal errors,
// rate and frequency limits, credentials and authorisation, an empty SMS
// package, and the SDK's own network and HTTP errors (ClientError.*).
// Everything about the message itself (an incorrect number, an unapproved
// template or signature, bad parameters, a number that unsubscribed) is
// permanent.
func codeError(code, msg string) error {
	transient := false
	for _, prefix := range []string{"InternalError", "RequestLimitExceeded", "LimitExceeded", "AuthFailure",
		"UnauthorizedOperation", "ClientError", "ResourceUnavailable", "FailedOperation.InsufficientBalanceInSmsPackage"} {
		if strings.HasPrefix(code, prefix) {
			transient = true
		}
	}
	return &deliver.Error{Permanent: !transient, Code: code, Message: deliver.ProviderText(msg)}
}

// TemplateParams builds a template's parameters from the message's items:
// each name (config.TencentCloudParams) is a value of the lead item (the
// one longest overdue) or of all items, formatted for the message's locale
// as the job's own templates format it.
func TemplateParams(names []string, m *deliver.Message) ([]string, error) {
	if len(m.Items) == 0 {
		return nil, errors.New("the message names no installment")
	}
	lead := m.Items[0]
	for _, it := range m.Items[1:] {
		if it.DueDate < lead.DueDate {
			lead = it
		}
	}
	out := make([]string, 0, len(names))
	for _, name := range names {
		var v string
		switch name {
		case ParamAccountTail:
			v = pii.MaskAccount(lead.AccountRef) // "****2345", or "****" for a short reference
			if tail := strings.TrimPrefix(v, "****"); tail != "" {
				v = tail
			}
		case ParamSeq:
			v = strconv.Itoa(lead.Seq)
		case ParamAmount:
			v = render.FormatMoney(lead.AmountMinor, lead.Currency, m.Locale)
		case ParamDueDate:
			v = render.FormatDate(lead.DueDate, m.Locale)
		case ParamDaysOverdue:
			v = strconv.Itoa(max(0, int(m.BusinessDate-lead.DueDate)))
		case ParamItems:
			v = strconv.Itoa(len(m.Items))
		case ParamTotal:
			v = total(m.Items, m.Locale)
		default:
			return nil, fmt.Errorf("unknown template parameter %q", name)
		}
		if v == "" {
			return nil, fmt.Errorf("template parameter %s is empty", name)
		}
		out = append(out, v)
	}
	return out, nil
}

// total is the amount left on all items, one sum per currency in the order
// the currencies first appear.
func total(items []deliver.Item, locale string) string {
	var currencies []string
	sums := map[string]int64{}
	for _, it := range items {
		if _, ok := sums[it.Currency]; !ok {
			currencies = append(currencies, it.Currency)
		}
		sums[it.Currency] += it.AmountMinor
	}
	parts := make([]string, len(currencies))
	for i, c := range currencies {
		parts[i] = render.FormatMoney(sums[c], c, locale)
	}
	return strings.Join(parts, " + ")
}
