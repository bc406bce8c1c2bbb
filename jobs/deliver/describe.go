package deliver

import (
	"fmt"
	"strings"
	"time"

	"github.com/loanremind/loanremind/jobs/clean"
	"github.com/loanremind/loanremind/queries"
)

// Describe says in plain words what one event of a message's trail
// recorded (times in UTC), for explain and the console:
//
//	sent 2026-11-28T00:02:13Z via twilio (SM123…)
func Describe(e *queries.DeliveryEvent) string {
	at := e.At.UTC().Format(time.RFC3339)
	provider := clean.Text(e.Provider, 40)
	reason := clean.Text(e.Reason, 80)
	switch e.Event {
	case EventClaimed:
		return fmt.Sprintf("claimed %s for %s (attempt %d)", at, provider, e.Attempt)
	case EventSent:
		s := fmt.Sprintf("sent %s via %s", at, provider)
		if e.ProviderMessageID != "" {
			s += " (" + clean.Text(e.ProviderMessageID, 40) + ")"
		}
		return s
	case EventRetry:
		return fmt.Sprintf("to be tried again after %s (%s)", at, orWhy(reason))
	case EventFailed:
		return fmt.Sprintf("failed %s: %s refused it (%s)", at, provider, orWhy(reason))
	case EventCancelled:
		return fmt.Sprintf("cancelled %s: %s", at, orWhy(reason))
	case EventRefused:
		return fmt.Sprintf("refused %s: the audit does not vouch for the message as it stands", at)
	case EventExpired:
		s := fmt.Sprintf("expired %s unsent: its window passed", at)
		if last := detail(e.Details, "last_error"); last != "" {
			s += " (last error " + clean.Text(last, 40) + ")"
		}
		if detail(e.Details, "released_items") != "" && detail(e.Details, "released_items") != "0" {
			s += "; its installments may be planned once more"
		}
		return s
	case EventUnknown:
		return fmt.Sprintf("unknown since %s: the dispatcher stopped while %s may have sent it; never resent automatically", at, orWhy(provider))
	case EventDelivered:
		return fmt.Sprintf("delivered %s (receipt from %s)", at, provider)
	case EventUndelivered:
		return fmt.Sprintf("undelivered %s (receipt from %s: %s)", at, provider, orWhy(reason))
	}
	return fmt.Sprintf("%s %s", clean.Text(e.Event, 20), at)
}

func orWhy(s string) string {
	if s == "" {
		return "no reason given"
	}
	return s
}

// detail reads a top-level member of an event's details as text ("" when
// absent): details are written by audit.Object, one level deep.
func detail(details, key string) string {
	i := strings.Index(details, `"`+key+`": `)
	if i < 0 {
		return ""
	}
	rest := details[i+len(key)+4:]
	if strings.HasPrefix(rest, `"`) {
		end := strings.IndexByte(rest[1:], '"')
		if end < 0 {
			return ""
		}
		return rest[1 : end+1]
	}
	end := strings.IndexAny(rest, ",}")
	if end < 0 {
		return ""
	}
	return rest[:end]
}
