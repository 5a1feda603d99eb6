package stirshaken

import (
	"cmp"
	"context"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sync/singleflight"
)

// Fetcher defaults.
const (
	DefaultMaxSize     = 64 << 10 // a SHAKEN certificate chain is a few KiB
	DefaultTimeout     = 2 * time.Second
	DefaultTTL         = time.Hour      // cache lifetime when the response has no cache headers
	DefaultMaxTTL      = 24 * time.Hour // cache lifetime at most, whatever the headers say
	DefaultMaxStale    = 24 * time.Hour // how long past its expiry a copy is served if refreshing fails
	DefaultNegativeTTL = 5 * time.Second
	DefaultMaxEntries  = 10000
	maxBundleCerts     = 10
)

// ErrRefused is wrapped by the error of a fetch the Fetcher would not make: a scheme other
// than https (unless AllowHTTP) or an address that is private, loopback, link-local or
// otherwise not public (unless AllowPrivate).
var ErrRefused = errors.New("x5u refused")

// FetcherConfig configures a Fetcher. Zero fields get the defaults above.
type FetcherConfig struct {
	// Client makes the requests. nil: a client of the Fetcher's own whose dialer refuses
	// non-public addresses after name resolution, and which ignores proxy settings. With a
	// client of yours, names are resolved and checked before the request instead.
	Client       *http.Client
	AllowHTTP    bool // accept http:// x5u URLs (tests, labs)
	AllowPrivate bool // accept private and loopback addresses (tests, labs)
	MaxSize      int64
	Timeout      time.Duration // for one fetch, whoever waits for it
	DefaultTTL   time.Duration
	MaxTTL       time.Duration
	MaxStale     time.Duration
	NegativeTTL  time.Duration // a failed fetch with nothing to serve is remembered this long
	MaxEntries   int
	Now          func() time.Time
	Logger       *slog.Logger
}

// Bundle is the certificate chain an x5u URL served: the signing certificate first, then any
// intermediates.
type Bundle struct {
	URL       string
	Certs     []*x509.Certificate
	FetchedAt time.Time
	Expires   time.Time // when it is fetched again
	notAfter  time.Time // earliest NotAfter of Certs
}

// FetcherStats counts what a Fetcher did since it was made.
type FetcherStats struct {
	Hits, Misses, Fetches, Errors, Refused, StaleServed int64
}

// Fetcher gets x5u certificate bundles over HTTPS and caches them; safe for concurrent use.
// Concurrent requests for one URL share a single fetch.
type Fetcher struct {
	cfg     FetcherConfig
	client  *http.Client
	own     bool // client is ours: its dialer checks addresses
	mu      sync.RWMutex
	entries map[string]*entry
	group   singleflight.Group
	stats   struct{ hits, misses, fetches, errors, refused, stale atomic.Int64 }
}

type entry struct {
	b        *Bundle   // nil if no fetch succeeded yet
	err      error     // the last failure, remembered until errUntil
	errUntil time.Time // no new fetch before this
}

// NewFetcher returns a Fetcher configured by c.
func NewFetcher(c FetcherConfig) *Fetcher {
	c.MaxSize = cmp.Or(c.MaxSize, DefaultMaxSize)
	c.Timeout = cmp.Or(c.Timeout, DefaultTimeout)
	c.DefaultTTL = cmp.Or(c.DefaultTTL, DefaultTTL)
	c.MaxTTL = cmp.Or(c.MaxTTL, DefaultMaxTTL)
	c.MaxStale = cmp.Or(c.MaxStale, DefaultMaxStale)
	c.NegativeTTL = cmp.Or(c.NegativeTTL, DefaultNegativeTTL)
	c.MaxEntries = cmp.Or(c.MaxEntries, DefaultMaxEntries)
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	f := &Fetcher{cfg: c, client: c.Client, entries: map[string]*entry{}}
	if f.client == nil {
		f.client, f.own = f.newClient(), true
	}
	return f
}

func (f *Fetcher) newClient() *http.Client {
	d := &net.Dialer{Timeout: f.cfg.Timeout}
	if !f.cfg.AllowPrivate {
		d.Control = func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("%w: address %s", ErrRefused, address)
			}
			if why := notPublic(ap.Addr()); why != "" {
				return fmt.Errorf("%w: %s is %s", ErrRefused, ap.Addr(), why)
			}
			return nil
		}
	}
	t := &http.Transport{
		Proxy:                  nil, // a proxy would bypass the address check
		DialContext:            d.DialContext,
		TLSHandshakeTimeout:    f.cfg.Timeout,
		ResponseHeaderTimeout:  f.cfg.Timeout,
		MaxResponseHeaderBytes: 16 << 10,
		MaxIdleConnsPerHost:    2,
		IdleConnTimeout:        90 * time.Second,
		ForceAttemptHTTP2:      true,
	}
	return &http.Client{Transport: t, CheckRedirect: f.checkRedirect}
}

func (f *Fetcher) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 3 {
		return errors.New("too many redirects")
	}
	return f.checkURL(req.Context(), req.URL, false)
}

// Stats returns what the Fetcher did so far.
func (f *Fetcher) Stats() FetcherStats {
	return FetcherStats{
		Hits: f.stats.hits.Load(), Misses: f.stats.misses.Load(), Fetches: f.stats.fetches.Load(),
		Errors: f.stats.errors.Load(), Refused: f.stats.refused.Load(), StaleServed: f.stats.stale.Load(),
	}
}

// Preload puts a PEM certificate bundle in the cache for rawURL, as if fetched from there; it
// is kept until its earliest NotAfter. For tests, and for operators who distribute
// certificates out of band.
func (f *Fetcher) Preload(rawURL string, pemBundle []byte) error {
	certs, err := parseBundle(pemBundle)
	if err != nil {
		return fmt.Errorf("preload %s: %w", rawURL, err)
	}
	now := f.cfg.Now()
	b := &Bundle{URL: rawURL, Certs: certs, FetchedAt: now, notAfter: earliestNotAfter(certs)}
	b.Expires = b.notAfter
	f.store(rawURL, &entry{b: b}, now)
	return nil
}

// Fetch returns the bundle at rawURL: from the cache while it is fresh, otherwise fetched
// (one fetch per URL at a time, whoever asks). If fetching fails, a copy that expired less
// than MaxStale ago is served. Errors from refused URLs wrap ErrRefused.
func (f *Fetcher) Fetch(ctx context.Context, rawURL string) (*Bundle, error) {
	now := f.cfg.Now()
	f.mu.RLock()
	e := f.entries[rawURL]
	f.mu.RUnlock()
	if e != nil {
		if e.b != nil && now.Before(e.b.Expires) {
			f.stats.hits.Add(1)
			return e.b, nil
		}
		if now.Before(e.errUntil) {
			if e.b != nil && f.servable(e.b, now) {
				f.stats.stale.Add(1)
				return e.b, nil
			}
			return nil, e.err
		}
	}
	f.stats.misses.Add(1)
	ch := f.group.DoChan(rawURL, func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), f.cfg.Timeout)
		defer cancel()
		return f.refresh(fctx, rawURL)
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*Bundle), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("fetch %s: %w", rawURL, ctx.Err())
	}
}

// refresh fetches rawURL and updates the cache; on failure it serves a stale copy if it may.
func (f *Fetcher) refresh(ctx context.Context, rawURL string) (*Bundle, error) {
	b, err := f.get(ctx, rawURL)
	now := f.cfg.Now()
	if err == nil {
		f.store(rawURL, &entry{b: b}, now)
		return b, nil
	}
	if errors.Is(err, ErrRefused) {
		f.stats.refused.Add(1)
	} else {
		f.stats.errors.Add(1)
	}
	f.mu.RLock()
	old := f.entries[rawURL]
	f.mu.RUnlock()
	e := &entry{err: err, errUntil: now.Add(f.cfg.NegativeTTL)}
	if old != nil && old.b != nil && f.servable(old.b, now) {
		e.b = old.b
		f.store(rawURL, e, now)
		f.stats.stale.Add(1)
		f.cfg.Logger.Warn("x5u refresh failed; serving the cached copy", "url", rawURL,
			"expired", old.b.Expires, "err", err)
		return old.b, nil
	}
	f.store(rawURL, e, now)
	f.cfg.Logger.Warn("x5u fetch failed", "url", rawURL, "err", err)
	return nil, err
}

// servable reports whether an expired bundle may still be served.
func (f *Fetcher) servable(b *Bundle, now time.Time) bool {
	return now.Before(b.Expires.Add(f.cfg.MaxStale)) && now.Before(b.notAfter)
}

func (f *Fetcher) store(rawURL string, e *entry, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.entries[rawURL]; !ok && len(f.entries) >= f.cfg.MaxEntries {
		for k, old := range f.entries { // drop what can no longer be served, then anything
			if (old.b == nil || !f.servable(old.b, now)) && !now.Before(old.errUntil) {
				delete(f.entries, k)
			}
		}
		for k := range f.entries {
			if len(f.entries) < f.cfg.MaxEntries {
				break
			}
			delete(f.entries, k)
		}
	}
	f.entries[rawURL] = e
}

// get makes the request.
func (f *Fetcher) get(ctx context.Context, rawURL string) (*Bundle, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("fetch: %w: bad URL", ErrRefused)
	}
	if err := f.checkURL(ctx, u, !f.own); err != nil {
		return nil, fmt.Errorf("fetch %s: %w", rawURL, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", rawURL, err)
	}
	req.Header.Set("Accept", "application/pem-certificate-chain, application/x-pem-file;q=0.9, */*;q=0.1")
	f.stats.fetches.Add(1)
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", rawURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch %s: HTTP %s", rawURL, resp.Status)
	}
	if resp.ContentLength > f.cfg.MaxSize {
		return nil, fmt.Errorf("fetch %s: %d bytes is over the %d-byte limit", rawURL, resp.ContentLength, f.cfg.MaxSize)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, f.cfg.MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", rawURL, err)
	}
	if int64(len(body)) > f.cfg.MaxSize {
		return nil, fmt.Errorf("fetch %s: over the %d-byte limit", rawURL, f.cfg.MaxSize)
	}
	certs, err := parseBundle(body)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", rawURL, err)
	}
	now := f.cfg.Now()
	b := &Bundle{URL: rawURL, Certs: certs, FetchedAt: now, notAfter: earliestNotAfter(certs)}
	ttl := min(httpTTL(resp.Header, now, f.cfg.DefaultTTL), f.cfg.MaxTTL)
	b.Expires = now.Add(ttl)
	if b.notAfter.Before(b.Expires) {
		b.Expires = b.notAfter
	}
	return b, nil
}

// checkURL refuses what the Fetcher must not fetch. resolve: look the host's addresses up and
// check them too (when the client's dialer does not).
func (f *Fetcher) checkURL(ctx context.Context, u *url.URL, resolve bool) error {
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && f.cfg.AllowHTTP:
	default:
		return fmt.Errorf("%w: scheme %q is not https", ErrRefused, u.Scheme)
	}
	if u.User != nil {
		return fmt.Errorf("%w: URL has user info", ErrRefused)
	}
	host := u.Hostname()
	if host == "" {
		return fmt.Errorf("%w: no host", ErrRefused)
	}
	if f.cfg.AllowPrivate {
		return nil
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if why := notPublic(a); why != "" {
			return fmt.Errorf("%w: %s is %s", ErrRefused, a, why)
		}
		return nil
	}
	lh := strings.ToLower(strings.TrimSuffix(host, "."))
	if lh == "localhost" || strings.HasSuffix(lh, ".localhost") || !strings.Contains(lh, ".") {
		return fmt.Errorf("%w: %s is not a public host name", ErrRefused, host)
	}
	if resolve {
		addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return fmt.Errorf("resolve %s: %w", host, err)
		}
		for _, a := range addrs {
			if why := notPublic(a); why != "" {
				return fmt.Errorf("%w: %s resolves to %s, which is %s", ErrRefused, host, a, why)
			}
		}
	}
	return nil
}

var nonPublic = []struct {
	p   netip.Prefix
	why string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "a 'this network' address"},
	{netip.MustParsePrefix("100.64.0.0/10"), "a carrier-grade NAT address"},
	{netip.MustParsePrefix("192.0.0.0/24"), "an IETF protocol address"},
	{netip.MustParsePrefix("192.0.2.0/24"), "a documentation address"},
	{netip.MustParsePrefix("198.18.0.0/15"), "a benchmarking address"},
	{netip.MustParsePrefix("198.51.100.0/24"), "a documentation address"},
	{netip.MustParsePrefix("203.0.113.0/24"), "a documentation address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "a reserved address"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "a local-use NAT64 address"},
	{netip.MustParsePrefix("2001:db8::/32"), "a documentation address"},
}

// notPublic says why a is not a public unicast address, or "" if it is.
func notPublic(a netip.Addr) string {
	a = a.Unmap()
	switch {
	case !a.IsValid():
		return "invalid"
	case a.IsLoopback():
		return "loopback"
	case a.IsPrivate():
		return "private"
	case a.IsLinkLocalUnicast():
		return "link-local"
	case a.IsUnspecified():
		return "unspecified"
	case a.IsMulticast() || a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast():
		return "multicast"
	}
	for _, n := range nonPublic {
		if n.p.Contains(a) {
			return n.why
		}
	}
	return ""
}

// httpTTL is how long a response may be cached by its Cache-Control or Expires header.
func httpTTL(h http.Header, now time.Time, def time.Duration) time.Duration {
	if cc := h.Get("Cache-Control"); cc != "" {
		for _, d := range strings.Split(cc, ",") {
			name, val, _ := strings.Cut(strings.TrimSpace(d), "=")
			switch strings.ToLower(name) {
			case "no-store", "no-cache":
				return 0
			case "max-age":
				if n, err := strconv.ParseInt(strings.Trim(val, `"`), 10, 64); err == nil && n >= 0 {
					return time.Duration(min(n, 1<<30)) * time.Second
				}
				return 0 // an unreadable max-age is treated as stale (RFC 9111 §4.2.1)
			}
		}
	}
	if exp := h.Get("Expires"); exp != "" {
		t, err := http.ParseTime(exp)
		if err != nil {
			return 0
		}
		base := now
		if d, err := http.ParseTime(h.Get("Date")); err == nil {
			base = d
		}
		return max(t.Sub(base), 0)
	}
	return def
}

// parseBundle reads PEM certificates (or one DER certificate), the signing one first.
func parseBundle(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", len(certs)+1, err)
		}
		handledTNAuthList(c)
		if certs = append(certs, c); len(certs) > maxBundleCerts {
			return nil, fmt.Errorf("more than %d certificates", maxBundleCerts)
		}
	}
	if len(certs) == 0 {
		c, err := x509.ParseCertificate(data)
		if err != nil {
			return nil, errors.New("no certificate (neither PEM nor DER)")
		}
		handledTNAuthList(c)
		certs = append(certs, c)
	}
	return certs, nil
}

func earliestNotAfter(certs []*x509.Certificate) time.Time {
	t := certs[0].NotAfter
	for _, c := range certs[1:] {
		if c.NotAfter.Before(t) {
			t = c.NotAfter
		}
	}
	return t
}

// handledTNAuthList takes a critical TNAuthList off c's list of critical extensions that
// crypto/x509 does not handle: the Verifier handles it.
func handledTNAuthList(c *x509.Certificate) {
	c.UnhandledCriticalExtensions = slices.DeleteFunc(c.UnhandledCriticalExtensions,
		func(id asn1.ObjectIdentifier) bool { return id.Equal(OIDTNAuthList) })
}
