// Package render turns reminder messages into the exact texts borrowers
// receive: it picks the template for (channel, stage, locale), formats
// amounts from integer minor units, dates and masked account references for
// the locale, adds the sender signature and the opt-out line, and counts SMS
// segments.
//
// It is a pure stage of the pipeline: no database, clock, logger or mutable
// package state. An Engine is built once per run with New, which validates
// every template before anything is written (a broken, unapproved or
// non-compliant template, or an SMS template over the segment budget, fails
// the run at start, naming the file), and is then used concurrently by the
// workers.
//
// # Templates
//
// Templates are Go text/template files named <channel>/<stage>.<locale>.tmpl
// in an fs.FS (config.DefaultTemplates holds the built-in ones). Their data is
// a View; see View and ItemView for every field. An email template defines its
// subject:
//
//	{{define "subject"}}{{.Signature}}: Your loan payment is due today{{end -}}
//	Dear {{.Name}}, …
//
// Compliance rules checked on every sample rendering in New, and again on
// every message by Render:
//   - the text carries the signature and the opt-out line configured for the
//     locale and channel (Reg F 1006.6(e); Chinese SMS signature rules);
//   - no link, URL or domain name unless Options.AllowLinks (anti-phishing);
//   - the account reference is only ever shown masked (last 4 characters);
//   - when Options.Approved is set, each template's SHA-256 matches the
//     reviewed one;
//   - (New only) an SMS template renders every sample, 1, 2, 3, 10 and
//     1,000 items in one and in three currencies, within
//     Options.MaxSMSSegments parts: every part is billed.
//
// # SMS
//
// The default SMS say one installment in one part (zh-CN at most 70
// characters, en-US 160) and any number in two at most: several items are
// summed up (how many, the total per currency, the most days overdue or
// when the first is due), and their list goes to the email and the app. An
// SMS not in Chinese stays in GSM-7: its amounts are written with "$", "£"
// or "€", or else with the ISO code ("INR 3,637.05", never "₹", which is
// not GSM-7; see FormatSMSMoney); Segments counts GSM-7's extension
// characters ("€", "^", "{", …) as two.
//
// The pipeline records Rendered.Template and Rendered.TemplateSHA256 with
// each send, and Engine.SHA256 with each run.
//
// # Speed
//
// A run renders ~160k messages. Render takes its working memory from a pool
// and formats all strings of a message into one buffer; the templates run
// on text/template, the one interpreter. Run BenchmarkRender to measure.
package render
