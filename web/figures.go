package web

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nyaruka/phonenumbers"

	"github.com/unspoof/unspoof"
)

// figuresCache keeps what needs a scan of every call (the evidence figures, calls per day,
// victims by area), recomputed in the background; the rest of the figures are cheap and read
// on each request.
type figuresCache struct {
	store Store
	every time.Duration
	log   *slog.Logger

	mu       sync.RWMutex
	evidence *unspoof.Figures
	perDay   []unspoof.DayCount
	areas    []areaCount
	err      error
}

type areaCount struct {
	Area    string
	Victims int
}

func (c *figuresCache) run(ctx context.Context) {
	t := time.NewTicker(c.every)
	defer t.Stop()
	for {
		c.compute(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (c *figuresCache) compute(ctx context.Context) {
	start := time.Now()
	f, err := c.store.Figures(ctx, true)
	var days []unspoof.DayCount
	if err == nil {
		days, err = c.store.CallsPerDay(ctx)
	}
	var areas []areaCount
	if err == nil {
		areas, err = victimAreas(ctx, c.store)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		if ctx.Err() == nil {
			c.log.Error("figures", "err", err)
		}
		c.err = err
		return
	}
	c.evidence, c.perDay, c.areas, c.err = f, days, areas, nil
	c.log.Info("figures computed", "took", time.Since(start).Round(time.Millisecond))
}

// get returns the cached evidence figures (nil until the first computation ends).
func (c *figuresCache) get() (*unspoof.Figures, []unspoof.DayCount, []areaCount) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.evidence, c.perDay, c.areas
}

// current returns the headline figures: the cheap ones now, the evidence ones from the cache.
// ready is false while the cache is still being computed.
func (s *Server) current(ctx context.Context) (f *unspoof.Figures, ready bool, err error) {
	f, err = s.cfg.Store.Figures(ctx, false)
	if err != nil {
		return nil, false, err
	}
	if ev, _, _ := s.figures.get(); ev != nil {
		f.Calls, f.UKNumbers, f.LongCalls, ready = ev.Calls, ev.UKNumbers, ev.LongCalls, true
	}
	return f, ready, nil
}

// victimAreas counts the ranked victims by UK area, as libphonenumber's geocoding names the
// area of a fixed line; mobiles have none.
func victimAreas(ctx context.Context, s Store) ([]areaCount, error) {
	vs, _, err := s.FindVictims(ctx, unspoof.VictimFilter{})
	if err != nil {
		return nil, err
	}
	by := map[string]int{}
	for _, v := range vs {
		area := "Mobile (no area)"
		if v.LineType != "mobile" {
			area = "Other"
			if n, err := phonenumbers.Parse(v.E164, "GB"); err == nil {
				if a, _ := phonenumbers.GetGeocodingForNumber(n, "en"); a != "" {
					area = a
				}
			}
		}
		by[area]++
	}
	out := make([]areaCount, 0, len(by))
	for a, n := range by {
		out = append(out, areaCount{a, n})
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Victims > out[j].Victims || out[i].Victims == out[j].Victims && out[i].Area < out[j].Area
	})
	return out, nil
}

// barChart draws a bar chart as an SVG image from numbers alone (no text from users reaches
// it but labels we made), with a title for screen readers.
func barChart(title string, labels []string, values []float64, every int) string {
	const w, h, left, bottom, top = 640.0, 220.0, 50.0, 40.0, 10.0
	var maxV float64
	for _, v := range values {
		maxV = max(maxV, v)
	}
	if maxV == 0 {
		maxV = 1
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="app-chart" viewBox="0 0 %.0f %.0f" role="img" aria-labelledby="%s-title" xmlns="http://www.w3.org/2000/svg">`, w, h, slug(title))
	fmt.Fprintf(&b, `<title id="%s-title">%s</title>`, slug(title), escape(title))
	fmt.Fprintf(&b, `<line class="axis" x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f"/>`, left, h-bottom, w, h-bottom)
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="end">%s</text>`, left-4, top+8, escape(english.Sprintf("%d", int64(maxV))))
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="end">0</text>`, left-4, h-bottom)
	n := max(len(values), 1)
	bw := (w - left) / float64(n)
	for i, v := range values {
		bh := (h - bottom - top) * v / maxV
		fmt.Fprintf(&b, `<rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f"/>`, left+float64(i)*bw+bw*0.1, h-bottom-bh, bw*0.8, bh)
		if every > 0 && i%every == 0 && i < len(labels) {
			fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="middle">%s</text>`, left+float64(i)*bw+bw/2, h-bottom+14, escape(labels[i]))
		}
	}
	b.WriteString(`</svg>`)
	return b.String()
}

func slug(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		if r >= 'A' && r <= 'Z' {
			return r + 32
		}
		return '-'
	}, s)
}

var escape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#39;").Replace
