package render

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// SMSFigures tallies SMS texts as a carrier bills them: how many take how
// many parts, and in which encoding, per locale. make bench and the demo
// print them for a run's messages.
type SMSFigures struct {
	Messages int64                       // SMS counted
	Parts    int64                       // billed parts: every message's segments, summed
	Max      int                         // the most parts of one message
	ByParts  map[int]int64               // messages per number of parts
	ByLocale map[string]map[string]int64 // locale -> encoding -> messages
}

// Add counts one SMS text sent in locale.
func (f *SMSFigures) Add(locale, body string) {
	parts, encoding := Segments(body)
	if f.ByParts == nil {
		f.ByParts, f.ByLocale = map[int]int64{}, map[string]map[string]int64{}
	}
	f.Messages++
	f.Parts += int64(parts)
	f.Max = max(f.Max, parts)
	f.ByParts[parts]++
	if f.ByLocale[locale] == nil {
		f.ByLocale[locale] = map[string]int64{}
	}
	f.ByLocale[locale][encoding]++
}

// Mean is the mean number of parts of an SMS (0 when none was counted).
func (f *SMSFigures) Mean() float64 {
	if f.Messages == 0 {
		return 0
	}
	return float64(f.Parts) / float64(f.Messages)
}

// Report writes the figures for people: the mean and the most parts, the
// messages per number of parts, the encodings per locale, and the billed
// parts per message of all runMessages (SMS and email) of the run.
func (f *SMSFigures) Report(w io.Writer, runMessages int64) {
	fmt.Fprintf(w, "SMS segments: %d SMS, mean %.3f, max %d; %d billed parts", f.Messages, f.Mean(), f.Max, f.Parts)
	if runMessages > 0 {
		fmt.Fprintf(w, " = %.3f per message of the run's %d", float64(f.Parts)/float64(runMessages), runMessages)
	}
	fmt.Fprintln(w)
	for _, parts := range slices.Sorted(maps.Keys(f.ByParts)) {
		n := f.ByParts[parts]
		fmt.Fprintf(w, "  %2d part(s): %9d SMS (%5.1f%%)\n", parts, n, 100*float64(n)/float64(f.Messages))
	}
	var encodings []string
	for _, locale := range slices.Sorted(maps.Keys(f.ByLocale)) {
		for _, enc := range slices.Sorted(maps.Keys(f.ByLocale[locale])) {
			encodings = append(encodings, fmt.Sprintf("%s %s %d", locale, enc, f.ByLocale[locale][enc]))
		}
	}
	if len(encodings) > 0 {
		fmt.Fprintf(w, "  encodings: %s\n", strings.Join(encodings, "; "))
	}
}
