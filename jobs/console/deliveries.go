package console

import (
	"encoding/json"
	"slices"
	"sort"
	"time"

	"github.com/loanremind/loanremind/jobs/clean"
	"github.com/loanremind/loanremind/jobs/deliver"
	"github.com/loanremind/loanremind/queries"
)

// messageStatuses are the outbox's statuses (reminder_sends.status), in
// the order of a message's life; deliveryEvents the trail's events.
var (
	messageStatuses = []string{"pending", "sending", "sent", "delivered", "undelivered", "failed", "expired",
		"cancelled", "refused", "unknown"}
	deliveryEvents = []string{deliver.EventClaimed, deliver.EventSent, deliver.EventRetry, deliver.EventFailed,
		deliver.EventCancelled, deliver.EventRefused, deliver.EventExpired, deliver.EventUnknown,
		deliver.EventDelivered, deliver.EventUndelivered}
)

// needsAttention says whether a message in a status needs a person:
// refused (the audit does not vouch for it as it stands) or unknown (a
// provider may have sent it before the sender stopped; never resent).
func needsAttention(status string) bool { return status == "refused" || status == "unknown" }

// deliveryView is one event of a message's delivery trail
// (reminder_deliveries) as pages show it, every value cleaned (the
// template escapes it). The trail holds no phone number, address or text,
// by contract; but a provider's own words (details.message) come from
// outside, and a lender's gateway may quote the recipient in an error, so
// they are shown as deliver.ProviderText makes them for providers that
// keep the contract: with what looks like a phone number or an email
// address masked.
type deliveryView struct {
	SendID            int64
	At                time.Time
	Event             string // one of deliveryEvents
	Reason            string
	Provider          string
	ProviderMessageID string
	Attempt           int
	Fields            []eventField // the details
	Local             []zoneTime   // At in the message's zones
}

// newDeliveryView cleans an event of the trail; zones are its message's.
func newDeliveryView(e queries.DeliveryEvent, zones []zoneUse) *deliveryView {
	v := &deliveryView{SendID: e.SendID, At: e.At, Event: e.Event, Attempt: e.Attempt,
		Reason:            clean.Text(e.Reason, 200),
		Provider:          clean.Text(e.Provider, 60),
		ProviderMessageID: clean.Text(e.ProviderMessageID, 100),
		Fields:            detailFields(e.Details, false, providerWords),
		Local:             localTimes(e.At, zones),
	}
	if !slices.Contains(deliveryEvents, v.Event) {
		// The table's check allows no other; shown as it is, cleaned.
		v.Event = clean.Text(e.Event, 20)
	}
	return v
}

// providerWords masks what looks like a phone number or an email address
// in the provider's words (the member "message" of an event's details);
// the sender's own members (codes, times, counts, ids) are shown as they
// are.
func providerWords(key, value string) string {
	if key == "message" {
		return deliver.ProviderText(value)
	}
	return value
}

// detailFields lists a jsonb object's members as keys and values, cleaned,
// keys sorted; skipUnset leaves out zeros and empty strings (an unset
// filter), and show, when not nil, passes on each member's value.
func detailFields(details string, skipUnset bool, show func(key, value string) string) []eventField {
	var m map[string]any
	if json.Unmarshal([]byte(details), &m) != nil {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []eventField
	for _, k := range keys {
		val := m[k]
		if n, ok := val.(float64); ok && n == 0 && skipUnset {
			continue
		}
		if s, ok := val.(string); ok && s == "" && skipUnset {
			continue
		}
		text, _ := json.Marshal(val)
		str := string(text)
		if s, ok := val.(string); ok {
			str = s
		}
		key, str := clean.Text(k, 60), clean.Text(str, 300)
		if show != nil {
			str = show(key, str)
		}
		out = append(out, eventField{Key: key, Value: str})
	}
	return out
}

// localTimes is an instant in each of zones that exists.
func localTimes(t time.Time, zones []zoneUse) []zoneTime {
	var out []zoneTime
	for _, z := range zones {
		if _, err := time.LoadLocation(z.Zone); err == nil {
			out = append(out, zoneTime{Zone: z.Zone, Source: z.Source, Time: t})
		}
	}
	return out
}

// messageZones are the zones a message was planned in (those its
// decisions name), or, when none is at hand, the borrower's own
// time_zone.
func messageZones(zones []zoneUse, borrowerZone string) []zoneUse {
	if len(zones) == 0 && borrowerZone != "" {
		return []zoneUse{{Zone: borrowerZone, Source: "time_zone"}}
	}
	return zones
}

// zonesOf are the zones of a message's local times.
func zonesOf(local []zoneTime) []zoneUse {
	out := make([]zoneUse, len(local))
	for i, l := range local {
		out[i] = zoneUse{Zone: l.Zone, Source: l.Source}
	}
	return out
}
