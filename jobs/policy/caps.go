package policy

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// Cap allows at most Max messages in any rolling window of length Per,
// counted over the borrower's existing sends (their scheduled_for) plus the
// messages planned in the same Decide call. With Channels nil every channel
// counts and the cap applies to every message; otherwise only sends and
// messages on those channels count and the cap applies only to them.
type Cap struct {
	Max      int
	Per      time.Duration
	Channels []Channel
}

// Name returns the cap's name as used in reasons: "3/24h", "7/168h", and
// with channels "3/24h:sms" (hours when Per is a whole number of hours,
// else a Go duration such as "2/1h30m0s").
func (c Cap) Name() string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(c.Max))
	b.WriteByte('/')
	b.WriteString(durationText(c.Per))
	for i, ch := range c.Channels {
		if i == 0 {
			b.WriteByte(':')
		} else {
			b.WriteByte(',')
		}
		b.WriteString(string(ch))
	}
	return b.String()
}

// durationText formats d in hours when it is a whole number of them ("24h",
// "168h"), else as a Go duration ("1h30m0s").
func durationText(d time.Duration) string {
	if d > 0 && d%time.Hour == 0 {
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	}
	return d.String()
}

// capRule is a validated Cap with what Decide needs precomputed.
type capRule struct {
	max         int
	per         int64 // nanoseconds
	channelMask uint8 // the channels counted (and capped), chanBit bits
	name        string
	reason      string // ReasonFrequencyCapPrefix + name
}

// countSends counts the instants of the sorted list sends in [from, to).
func countSends(sends []int64, from, to int64) int {
	i, _ := slices.BinarySearch(sends, from)
	j, _ := slices.BinarySearch(sends, to)
	return j - i
}

// feasible reports whether one more send at t keeps every rolling window of
// length per that contains t at or under max sends (sends sorted). The
// windows containing t start in (t-per, t]; the fullest of them starts at t
// itself or at one of the sends in that range.
func (c *capRule) feasible(sends []int64, t int64) bool {
	if countSends(sends, t, addNS(t, time.Duration(c.per))) >= c.max {
		return false
	}
	lo, _ := slices.BinarySearch(sends, addNS(t, -time.Duration(c.per))+1)
	for i := lo; i < len(sends) && sends[i] <= t; i++ {
		if countSends(sends[i:], sends[i], addNS(sends[i], time.Duration(c.per))) >= c.max {
			return false
		}
	}
	return true
}

// nextEvent returns the earliest instant after t at which the cap can turn
// feasible again: the smallest send+per after t (maxNS when there is none).
func (c *capRule) nextEvent(sends []int64, t int64) int64 {
	for _, x := range sends {
		if e := addNS(x, time.Duration(c.per)); e > t {
			return e
		}
	}
	return maxNS
}
