package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
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
	fmt.Fprintln(e.stdout, "Every stage, channel and locale, rendered with sample data. To approve the texts,")
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
	for _, r := range engine.Preview() {
		fmt.Fprintf(e.stdout, "\n=== %s (locale %s, sha256 %.12s…)", r.Template, r.Locale, r.TemplateSHA256)
		if r.Segments > 0 {
			fmt.Fprintf(e.stdout, " %d SMS part(s), %s, %d characters", r.Segments, r.Encoding, len([]rune(r.Body)))
		}
		fmt.Fprintln(e.stdout)
		if r.Subject != "" {
			fmt.Fprintf(e.stdout, "Subject: %s\n", r.Subject)
		}
		for _, line := range strings.Split(r.Body, "\n") {
			fmt.Fprintf(e.stdout, "| %s\n", line)
		}
	}
	for _, w := range engine.Warnings() {
		fmt.Fprintf(e.stdout, "\nwarning: %s\n", w)
	}
	return nil
}
