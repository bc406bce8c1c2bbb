// Package prometheus holds loanremind's Prometheus alerting rules
// (alerts.yaml) and their unit tests (alerts_test.yaml). Its Go test runs
// `promtool check rules` and `promtool test rules` on them (promtool comes
// with Debian's prometheus package; `make promtool` installs it), and
// checks that every loanremind_* series the rules use is one the code
// exports.
package prometheus
