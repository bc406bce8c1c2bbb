package console

import (
	"fmt"
	"strings"

	"github.com/loanremind/loanremind/jobs/clean"

	"github.com/loanremind/loanremind/queries"
)

// decisionKinds are the audit's decisions, in the order charts stack them.
var decisionKinds = []string{"queued", "deferred", "suppressed", "skipped", "expired"}

// dailyChart is a server-rendered SVG chart of decisions (stacked bars)
// and messages (a line) per day. The template draws it with attributes
// and classes only: the Content-Security-Policy allows no inline style.
type dailyChart struct {
	Width, Height int
	Bars          []chartBar
	Line          string // polyline points of the messages
	Dots          []chartDot
	YTicks        []chartTick
	XLabels       []chartLabel
	Legend        []string // decision kinds, for the legend's classes
	Max           int64
}

type chartBar struct {
	X, Y, W, H float64
	Class      string
	Title      string
}

type chartDot struct {
	X, Y  float64
	Title string
}

type chartTick struct {
	Y     float64
	Label string
}

type chartLabel struct {
	X     float64
	Label string
}

// Chart geometry.
const (
	chartWidth  = 900
	chartHeight = 260
	chartLeft   = 56
	chartRight  = 12
	chartTop    = 12
	chartBottom = 36
)

// newDailyChart draws days (every day of the period, in order; missing
// days are zeros).
func newDailyChart(days []queries.DailyCounts) *dailyChart {
	c := &dailyChart{Width: chartWidth, Height: chartHeight, Legend: decisionKinds}
	var top int64 = 1
	for _, d := range days {
		top = max(top, d.Queued+d.Deferred+d.Suppressed+d.Skipped+d.Expired, d.Messages)
	}
	top = niceCeiling(top)
	c.Max = top
	plotW := float64(chartWidth - chartLeft - chartRight)
	plotH := float64(chartHeight - chartTop - chartBottom)
	slot := plotW / float64(max(len(days), 1))
	barW := slot * 0.7
	y := func(v int64) float64 { return chartTop + plotH - plotH*float64(v)/float64(top) }
	var line []string
	for i, d := range days {
		x := chartLeft + slot*float64(i) + (slot-barW)/2
		values := []int64{d.Queued, d.Deferred, d.Suppressed, d.Skipped, d.Expired}
		var base int64
		for k, v := range values {
			if v == 0 {
				continue
			}
			c.Bars = append(c.Bars, chartBar{
				X: round1(x), Y: round1(y(base + v)), W: round1(barW), H: round1(y(base) - y(base+v)),
				Class: "d-" + decisionKinds[k], Title: fmt.Sprintf("%s %s: %d", d.Day, decisionKinds[k], v),
			})
			base += v
		}
		cx, cy := round1(x+barW/2), round1(y(d.Messages))
		line = append(line, fmt.Sprintf("%g,%g", cx, cy))
		c.Dots = append(c.Dots, chartDot{X: cx, Y: cy, Title: fmt.Sprintf("%s messages: %d", d.Day, d.Messages)})
		if i%5 == 0 || i == len(days)-1 {
			c.XLabels = append(c.XLabels, chartLabel{X: round1(x + barW/2), Label: d.Day[5:]})
		}
	}
	c.Line = strings.Join(line, " ")
	for i := 0; i <= 4; i++ {
		v := top * int64(i) / 4
		c.YTicks = append(c.YTicks, chartTick{Y: round1(y(v)), Label: compact(v)})
	}
	return c
}

// barChart is a horizontal bar chart: a run's decisions by decision and
// reason.
type barChart struct {
	Width, Height int
	Rows          []barRow
}

type barRow struct {
	Y, W     float64
	Label    string
	Count    int64
	Class    string
	LabelY   float64
	CountX   float64
	BarStart float64
}

// newBarChart draws labelled counts, largest first as given.
func newBarChart(rows []barInput) *barChart {
	const rowH, labelW, width = 22.0, 340.0, 900
	c := &barChart{Width: width, Height: int(rowH*float64(len(rows))) + 8}
	var top int64 = 1
	for _, r := range rows {
		top = max(top, r.count)
	}
	plot := float64(width) - labelW - 90
	for i, r := range rows {
		y := 4 + rowH*float64(i)
		w := plot * float64(r.count) / float64(top)
		c.Rows = append(c.Rows, barRow{
			Y: round1(y), W: round1(max(w, 1)), Label: clean.Cut(r.label, 56), Count: r.count, Class: "d-" + r.decision,
			LabelY: round1(y + 14), BarStart: labelW, CountX: round1(labelW + max(w, 1) + 6),
		})
	}
	return c
}

type barInput struct {
	label, decision string
	count           int64
}

// niceCeiling rounds up to 1, 2 or 5 times a power of ten.
func niceCeiling(v int64) int64 {
	p := int64(1)
	for p*10 <= v {
		p *= 10
	}
	for _, m := range []int64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

// compact writes 296440 as 296k.
func compact(v int64) string {
	switch {
	case v >= 10_000_000:
		return fmt.Sprintf("%dM", v/1_000_000)
	case v >= 1_000_000:
		return fmt.Sprintf("%.1fM", float64(v)/1e6)
	case v >= 10_000:
		return fmt.Sprintf("%dk", v/1000)
	case v >= 1000:
		return fmt.Sprintf("%.1fk", float64(v)/1e3)
	}
	return fmt.Sprint(v)
}

func round1(f float64) float64 { return float64(int64(f*10+0.5)) / 10 }
