// Package policy is the contact policy engine of loanremind: given a
// borrower, their candidate installments and their existing sends, it decides
// per installment and channel whether, when and how a reminder may be sent.
//
// The package is pure: values in, decisions out. It never reads the clock,
// touches a database or logs; the run's instant is passed in Request.AsOf.
// A Policy built by New is immutable apart from an internal time zone cache
// and is safe for concurrent use.
//
// # Time
//
// Allowed windows, holidays and borrower quiet windows are evaluated on the
// wall clock of every candidate time zone at once (Reg F comment
// 6(b)(1)(i)-2). The engine works on instants and reads each zone's wall
// clock from its UTC offset and offset transitions, so it is exact across
// daylight-saving changes: a window that opens at a wall time skipped by a
// spring-forward change opens at the transition instant, and during a
// repeated fall-back hour every instant is judged by the wall clock it shows.
// Permissibility only changes at whole seconds; instants are handled with
// nanosecond precision between 1684 and 2255 (inputs outside are clamped).
//
// # Rules
//
// Decide applies the rules in the order of a run's pipeline: stage,
// item-level suppressions, time zones, channels, grouping, scheduling
// (windows, holidays, quiet windows, frequency caps, validity). Every (item,
// channel) it decides yields exactly one Outcome, the audit row.
//
// The rules and their sources are listed in docs/compliance.md; those this
// package encodes:
//
//   - Allowed windows, [08:00, 21:00) local by default: US Regulation F,
//     12 CFR 1006.6(b)(1)(i); China, NIFA post-loan collection guideline
//     (2024). Region overrides such as Fla. Stat. 501.616(6) (US-FL).
//   - Every candidate zone at once, no_common_window when they share no
//     instant: Reg F comment 6(b)(1)(i)-2.
//   - Every candidate region at once (the borrower's region, the phone's
//     state or province and country, the time_zone's country): an instant
//     is allowed only when every region's windows allow it, and every
//     region's holidays apply, so that a missing region never drops a rule
//     (issue 14). Inferred regions add rules, not candidate zones.
//   - scheduled_for is the time that counts, and valid_until bounds delivery:
//     Reg F comment 6(b)(1)(i)-1.
//   - Borrower quiet windows: Reg F comment 6(b)(1)-1.
//   - Frequency caps counted over the job's own sends, with audited
//     exemptions for legally required notices: Reg F 1006.14(b)(2); NIFA
//     (2024), at most 3 automated reminders a day.
//   - Opt-out per channel: Reg F 1006.6(e) and 1006.14(h).
//   - One message per borrower, never merged with another who shares the
//     phone number: a debt is never disclosed to a third party.
//
// # Choices where the rules are silent
//
//   - When several rules block the instant that decides a reason (NotBefore
//     for a deferral, the last instant of an item's validity for an expiry),
//     the most specific is reported: holiday, then borrower_quiet_window,
//     then quiet_hours.
//   - A quiet window with From == To covers 24 hours and one with no days
//     covers every day: a borrower's request is never dropped silently. Its
//     NotBefore/NotAfter bounds apply to the date on which an occurrence
//     starts (a night that starts on NotAfter is quiet until morning).
//   - A region's Allowed that is empty (not only nil) means "not set".
//   - A candidate region without rules of its own has the defaults: with
//     another region's looser windows, the default windows still bound them.
//   - A borrower's region that is no ISO 3166-2 code (after trimming and
//     upper-casing) is ignored, and noted.
//   - Currency XXX ("no currency") is treated as unknown.
//   - Config.LateValidity 0 means DefaultLateValidity (24 hours).
//   - ExpiresAfter is elapsed time from the stage start (a 72h stage that
//     spans a spring-forward night ends at 01:00 local time).
package policy
