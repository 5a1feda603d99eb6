package stirshaken

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// certServer serves p's SP certificate with the given extra headers and status, counting
// requests; release, if not nil, holds every response until it is closed.
type certServer struct {
	srv      *httptest.Server
	requests atomic.Int64
	mu       sync.Mutex
	status   int
	headers  map[string]string
	body     []byte
	release  chan struct{}
}

func newCertServer(t *testing.T, body []byte, headers map[string]string) *certServer {
	s := &certServer{status: 200, headers: headers, body: body}
	s.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		s.mu.Lock()
		status, hdr, body, release := s.status, s.headers, s.body, s.release
		s.mu.Unlock()
		if release != nil {
			<-release
		}
		for k, v := range hdr {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		w.Write(body)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *certServer) set(status int, headers map[string]string) {
	s.mu.Lock()
	s.status, s.headers = status, headers
	s.mu.Unlock()
}

func testFetcher(t *testing.T, s *certServer, clock *time.Time, mut func(*FetcherConfig)) *Fetcher {
	c := FetcherConfig{Client: onlyTo(t, s.srv), AllowPrivate: true}
	if clock != nil {
		c.Now = func() time.Time { return *clock }
	}
	if mut != nil {
		mut(&c)
	}
	return NewFetcher(c)
}

// TestFetcherOneFetchPerURL: 50 calls arriving while the certificate is being fetched wait for
// that one fetch; later ones are served from the cache.
func TestFetcherOneFetchPerURL(t *testing.T) {
	t.Parallel()
	p := newPKI(t, pkiOpts{})
	s := newCertServer(t, p.spPEM, nil)
	s.release = make(chan struct{})
	f := testFetcher(t, s, nil, nil)
	url := s.srv.URL + "/sp.pem"
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for range 50 {
		wg.Go(func() {
			b, err := f.Fetch(context.Background(), url)
			if err == nil && b.Certs[0].Subject.CommonName != "unspoof test STI-SP" {
				err = errors.New("wrong certificate")
			}
			errs <- err
		})
	}
	for s.requests.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // let the others pile up behind it
	close(s.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for range 10 {
		if _, err := f.Fetch(context.Background(), url); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.requests.Load(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
	st := f.Stats()
	if st.Fetches != 1 || st.Hits < 10 || st.Hits+st.Misses != 60 {
		t.Errorf("stats %+v", st)
	}
}

// TestFetcherCacheLifetime: the cache keeps a bundle as long as the response's Cache-Control
// or Expires allows, DefaultTTL without them, never past MaxTTL nor the certificate's expiry.
func TestFetcherCacheLifetime(t *testing.T) {
	t.Parallel()
	clock := time.Now().Truncate(time.Second)
	p := newPKI(t, pkiOpts{})
	short := newPKI(t, pkiOpts{notAfter: clock.Add(10 * time.Minute)})
	for _, c := range []struct {
		name    string
		body    []byte
		headers map[string]string
		want    time.Duration
	}{
		{"max-age", p.spPEM, map[string]string{"Cache-Control": "public, max-age=600"}, 10 * time.Minute},
		{"no-cache", p.spPEM, map[string]string{"Cache-Control": "no-cache"}, 0},
		{"bad max-age", p.spPEM, map[string]string{"Cache-Control": "max-age=soon"}, 0},
		{"Expires", p.spPEM, map[string]string{"Date": clock.UTC().Format(http.TimeFormat),
			"Expires": clock.Add(2 * time.Hour).UTC().Format(http.TimeFormat)}, 2 * time.Hour},
		{"no headers", p.spPEM, nil, DefaultTTL},
		{"max-age over MaxTTL", p.spPEM, map[string]string{"Cache-Control": "max-age=31536000"}, DefaultMaxTTL},
		{"certificate expires first", short.spPEM, map[string]string{"Cache-Control": "max-age=3600"}, 10 * time.Minute},
	} {
		s := newCertServer(t, c.body, c.headers)
		f := testFetcher(t, s, &clock, nil)
		b, err := f.Fetch(context.Background(), s.srv.URL+"/sp.pem")
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := b.Expires.Sub(clock).Round(time.Second); got != c.want {
			t.Errorf("%s: cached for %v, want %v", c.name, got, c.want)
		}
	}
}

// TestFetcherServesStale: when the certificate server fails, the copy that expired is served
// for MaxStale (asking the server again only every NegativeTTL); after that, the failure shows.
func TestFetcherServesStale(t *testing.T) {
	t.Parallel()
	clock := time.Now()
	p := newPKI(t, pkiOpts{})
	s := newCertServer(t, p.spPEM, map[string]string{"Cache-Control": "max-age=60"})
	f := testFetcher(t, s, &clock, func(c *FetcherConfig) { c.MaxStale = time.Hour })
	url := s.srv.URL + "/sp.pem"
	first, err := f.Fetch(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	s.set(http.StatusServiceUnavailable, nil)
	clock = clock.Add(2 * time.Minute)
	for range 5 {
		b, err := f.Fetch(context.Background(), url)
		if err != nil || b != first {
			t.Fatalf("during the outage: %v", err)
		}
	}
	if n := s.requests.Load(); n != 2 {
		t.Errorf("%d requests, want 2 (one retry per NegativeTTL)", n)
	}
	clock = clock.Add(time.Hour)
	if _, err := f.Fetch(context.Background(), url); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("past MaxStale: %v, want the 503", err)
	}
	if st := f.Stats(); st.StaleServed != 5 || st.Errors != 2 {
		t.Errorf("stats %+v", st)
	}
	s.set(http.StatusOK, nil) // back: fetched again once the negative entry lapses
	clock = clock.Add(DefaultNegativeTTL)
	if b, err := f.Fetch(context.Background(), url); err != nil || b == first {
		t.Errorf("after the outage: %v", err)
	}
}

func TestFetcherRefuses(t *testing.T) {
	t.Parallel()
	p := newPKI(t, pkiOpts{})
	s := newCertServer(t, p.spPEM, nil)
	big := newCertServer(t, append([]byte(strings.Repeat("x", 70<<10)), p.spPEM...), nil)
	notCert := newCertServer(t, []byte("<html>not found</html>"), nil)
	strict := NewFetcher(FetcherConfig{}) // its own client
	lenient := testFetcher(t, s, nil, nil)
	ctx := context.Background()
	for _, c := range []struct {
		f       *Fetcher
		url     string
		refused bool
		want    string
	}{
		{strict, s.srv.URL + "/sp.pem", true, "127.0.0.1 is loopback"},
		{strict, "http://certs.example.org/sp.pem", true, `scheme "http"`},
		{strict, "ftp://certs.example.org/sp.pem", true, `scheme "ftp"`},
		{strict, "https://user:pw@certs.example.org/sp.pem", true, "user info"},
		{strict, "https://192.168.1.10/sp.pem", true, "private"},
		{strict, "https://100.64.1.1/sp.pem", true, "carrier-grade NAT"},
		{strict, "https://169.254.169.254/latest/meta-data", true, "link-local"},
		{strict, "https://[fd00::1]/sp.pem", true, "private"},
		{strict, "https://0.0.0.0/sp.pem", true, "unspecified"},
		{strict, "https://0.1.2.3/sp.pem", true, "'this network'"},
		{strict, "https://localhost:8443/sp.pem", true, "not a public host name"},
		{strict, "https://certs/sp.pem", true, "not a public host name"},
		{lenient, big.srv.URL + "/sp.pem", false, "limit"},
		{lenient, notCert.srv.URL + "/sp.pem", false, "no certificate"},
	} {
		if c.f == lenient && c.url != s.srv.URL+"/sp.pem" {
			c.f = testFetcher(t, map[bool]*certServer{true: big, false: notCert}[strings.HasPrefix(c.url, big.srv.URL)], nil, nil)
		}
		_, err := c.f.Fetch(ctx, c.url)
		if err == nil || errors.Is(err, ErrRefused) != c.refused || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want refused=%v and %q", c.url, err, c.refused, c.want)
		}
	}
	// The dialer of the Fetcher's own client checks addresses after resolution, so a name
	// that resolves to a private address is refused too.
	_, err := strict.client.Get(s.srv.URL)
	if !errors.Is(err, ErrRefused) {
		t.Errorf("own client to loopback: %v", err)
	}
	// With a client of the caller's, names are checked before the request.
	theirs := NewFetcher(FetcherConfig{Client: refusingClient()})
	if _, err := theirs.Fetch(ctx, "https://localhost./x"); !errors.Is(err, ErrRefused) {
		t.Errorf("localhost.: %v", err)
	}
	if n := s.requests.Load(); n != 0 {
		t.Errorf("%d requests reached the server", n)
	}
}

// TestFetcherCallerGivesUp: a caller whose context ends stops waiting; the fetch goes on for
// the others.
func TestFetcherCallerGivesUp(t *testing.T) {
	t.Parallel()
	p := newPKI(t, pkiOpts{})
	s := newCertServer(t, p.spPEM, nil)
	s.release = make(chan struct{})
	f := testFetcher(t, s, nil, nil)
	url := s.srv.URL + "/sp.pem"
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	done := make(chan error)
	go func() {
		_, err := f.Fetch(context.Background(), url)
		done <- err
	}()
	if _, err := f.Fetch(ctx, url); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("impatient caller: %v", err)
	}
	close(s.release)
	if err := <-done; err != nil {
		t.Errorf("patient caller: %v", err)
	}
}

func TestFetcherBounded(t *testing.T) {
	t.Parallel()
	p := newPKI(t, pkiOpts{})
	f := NewFetcher(FetcherConfig{MaxEntries: 3})
	for i := range 10 {
		if err := f.Preload("https://certs.example.org/"+string(rune('a'+i)), p.spPEM); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(f.entries); n != 3 {
		t.Errorf("%d entries, want 3", n)
	}
}
