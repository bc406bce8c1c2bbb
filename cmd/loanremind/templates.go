package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/loanremind/loanremind/jobs/render"
)

func runTemplates(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] != "preview" {
		return usageErrorf("templates: want a subcommand: preview")
	}
	fs := newFlagSet(e, "templates preview", "templates preview [--config FILE]")
	cf := addConfigFlag(fs, e)
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	s, err := loadSetup(e, *cf)
	if err != nil {
		return err
	}
	engine := s.jobs.Renderer
	fmt.Fprintf(e.stdout, "Message templates for review (templates sha256 %s)\n", engine.SHA256())
	fmt.Fprintln(e.stdout, "Every stage, channel and locale, rendered with sample data: 1 item, 3 items in 2 currencies,")
	fmt.Fprintln(e.stdout, "and for SMS 1,000 items in 3 currencies, with the SMS segments and encoding. To approve the texts,")
	fmt.Fprintln(e.stdout, "pin these hashes under templates.approved in the configuration:")
	fmt.Fprintln(e.stdout)
	hashes := engine.Hashes()
	names := make([]string, 0, len(hashes))
	for n := range hashes {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintln(e.stdout, "templates:\n  approved:")
	for _, n := range names {
		fmt.Fprintf(e.stdout, "    %s: %s\n", n, hashes[n])
	}
	for i, p := range engine.Preview() {
		if i == 0 || p.Sample == "1 item" || p.Template != engine.Preview()[i-1].Template {
			fmt.Fprintf(e.stdout, "\n=== %s (locale %s, sha256 %.12s…)\n", p.Template, p.Locale, p.TemplateSHA256)
		}
		printPreview(e.stdout, p)
	}
	for _, w := range engine.Warnings() {
		fmt.Fprintf(e.stdout, "\nwarning: %s\n", w)
	}
	return nil
}

// printPreview prints one sample text: its sample and, for SMS, its
// segments, encoding and length, then the subject and the body.
func printPreview(w io.Writer, p render.PreviewText) {
	fmt.Fprintf(w, "--- %s", p.Sample)
	if p.Segments > 0 {
		plural := "s"
		if p.Segments == 1 {
			plural = ""
		}
		fmt.Fprintf(w, ": %d SMS segment%s, %s, %d characters", p.Segments, plural, p.Encoding, utf8.RuneCountInString(p.Body))
	}
	fmt.Fprintln(w)
	if p.Subject != "" {
		fmt.Fprintf(w, "Subject: %s\n", p.Subject)
	}
	for _, line := range strings.Split(p.Body, "\n") {
		fmt.Fprintf(w, "| %s\n", line)
	}
}
