// Package campaign sends alert campaigns to victims over SMPP: selection, templates and their
// linter, sending hours, a throttle counting SMS parts, and the message state machine that makes
// sure nobody gets the same alert twice, even when the link drops or the process is killed.
package campaign

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/time/rate"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/phonenum"
	"github.com/unspoof/unspoof/smpp"
)

// Defaults of Config.
const (
	DefaultWindow = 10
	DefaultBatch  = 64
	DefaultLinger = 10 * time.Second
	// A runner that has not renewed its claim on a campaign for this long is presumed dead.
	staleRunner = 15 * time.Second
	heartbeat   = 2 * time.Second
	maxBackoff  = 5 * time.Second
)

// Submitter sends one submit_sm and returns the SMSC's message id: *smpp.Client.
type Submitter interface {
	Submit(ctx context.Context, sm *smpp.SubmitSM) (string, error)
}

// Config configures an Engine. Zero fields get defaults.
type Config struct {
	Store unspoof.CampaignStore
	SMSC  Submitter
	// SMSCAddr is the SMSC's host:port. A campaign of synthetic numbers is refused unless it
	// is on loopback, or AllowRealSMSC is set.
	SMSCAddr      string
	AllowRealSMSC bool
	Rate          float64       // SMS parts a second at most; 0: no throttle
	Window        int           // messages being submitted at once (DefaultWindow)
	Batch         int           // messages claimed at a time at most (DefaultBatch)
	Linger        time.Duration // after the last submit, how long to wait for receipts (DefaultLinger)
	Holder        string        // who runs it: host:pid by default
	Now           func() time.Time
	Logger        *slog.Logger
	Metrics       *Metrics
	// Progress, if set, is called about four times a second while a campaign runs.
	Progress func(Progress)
	// SenderTON and SenderNPI are the sender's SMPP type of number and numbering plan, used
	// when SenderTypeSet; otherwise smpp.TextSubmits chooses them from the sender ID.
	SenderTON, SenderNPI byte
	SenderTypeSet        bool
}

// Progress is a campaign run's state, for a progress bar or a dashboard.
type Progress struct {
	Campaign *unspoof.Campaign // with its counts
	Rate     float64           // parts a second over the last seconds
	InFlight int
	Waiting  string // why nothing is being sent now ("sending hours start 09:00 Europe/London"); "" if sending
}

// Summary is what a run did.
type Summary struct {
	Campaign      *unspoof.Campaign // at the end, with counts
	FoundInFlight int               // messages an earlier run left in flight: now ambiguous
	Submitted     int64             // messages submitted by this run
	Parts         int64             // parts submitted by this run
	Throttled     int64             // submits the SMSC refused for now (throttled, queue full)
	OptOuts       int64             // STOP replies received
	Elapsed       time.Duration     // from first claim to last submit response
	Stopped       string            // why the run stopped before the end ("paused", "interrupted"); "" if it finished
}

// Rate returns the messages a second the run achieved.
func (s *Summary) Rate() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Submitted) / s.Elapsed.Seconds()
}

// Engine runs campaigns. Give its Deliver method to the SMPP client so that receipts and
// replies reach it.
type Engine struct {
	cfg        Config
	log        *slog.Logger
	deliveries chan delivery
	optedOut   sync.Map // E.164 → true: STOPs received while running

	start     time.Time // of the run: Run is not to be called twice at once
	limiter   *rate.Limiter
	slowMu    sync.Mutex
	lastSlow  time.Time
	floor     float64 // the lowest rate slowDown goes to
	meter     meter   // parts accepted lately
	partsSent atomic.Int64
	submitted atomic.Int64
	throttled atomic.Int64
	optOuts   atomic.Int64
	inFlight  atomic.Int64
}

// New returns an Engine.
func New(cfg Config) *Engine {
	cfg.Window = cmp.Or(cfg.Window, DefaultWindow)
	cfg.Batch = cmp.Or(cfg.Batch, DefaultBatch)
	cfg.Linger = cmp.Or(cfg.Linger, DefaultLinger)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Holder == "" {
		host, _ := os.Hostname()
		cfg.Holder = fmt.Sprintf("%s:%d", host, os.Getpid())
	}
	lim := rate.NewLimiter(rate.Inf, 1)
	if cfg.Rate > 0 {
		// A burst of one part a time keeps the rate even; a message of several parts waits
		// for all of them, so the bucket must hold the longest (10 parts is 1,530 characters).
		lim = rate.NewLimiter(rate.Limit(cfg.Rate), 10)
	}
	return &Engine{cfg: cfg, log: cfg.Logger.With("component", "campaign"), deliveries: make(chan delivery, 4096), limiter: lim}
}

// delivery is a deliver_sm from the SMSC and the function that acknowledges it.
type delivery struct {
	d   *smpp.Deliver
	ack func()
}

// Deliver takes a deliver_sm from the SMSC (a delivery receipt or a reply) for smpp.Config's
// DeliverAsync: ack is called once it is stored, so that a receipt the process dies holding is
// delivered again by the SMSC rather than lost. It blocks only if thousands are waiting.
func (e *Engine) Deliver(d *smpp.Deliver, ack func()) { e.deliveries <- delivery{d, ack} }

// CheckSMSC refuses to send a synthetic campaign through an SMSC that is not on loopback: a
// simulated dataset's numbers may belong to real people.
func CheckSMSC(c *unspoof.Campaign, addr string, allowReal bool) error {
	if !c.Synthetic || allowReal {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return unspoof.Errorf(unspoof.EINVALID, "campaign %q alerts numbers of a synthetic (simulated) dataset: it is sent only to an SMSC on loopback, not %s", c.Name, addr)
}

// runState is what the goroutines of one run share.
type runState struct {
	c       *unspoof.Campaign
	hours   Hours
	results chan unspoof.MessageUpdate
	stop    atomic.Value // string: why to stop claiming; "" while going on
	waiting atomic.Value // string: why nothing is being sent now; "" while sending
	paused  atomic.Bool  // an operator paused the campaign: wait for resume or cancel
	failed  chan error   // a store error: the run ends
}

func (r *runState) stopping() string {
	s, _ := r.stop.Load().(string)
	return s
}

// Run sends campaign id's pending messages until none is left, the campaign is paused or
// cancelled, or ctx is done; then it waits up to Linger for outstanding receipts. A campaign
// must be approved (or be a test campaign). Messages an earlier run left in flight are made
// ambiguous first: they are never resent unless an operator asks (RetryAmbiguous).
func (e *Engine) Run(ctx context.Context, id int64) (*Summary, error) {
	s := e.cfg.Store
	c, err := s.FindCampaignByID(ctx, id)
	if err != nil {
		return nil, err
	}
	switch {
	case c.State == unspoof.CampaignDraft && !c.Test:
		return nil, unspoof.Errorf(unspoof.ECONFLICT, "campaign %d is not approved yet: a second member of staff must approve it", id)
	case c.State == unspoof.CampaignPaused:
		return nil, unspoof.Errorf(unspoof.ECONFLICT, "campaign %d is paused: resume it first", id)
	case c.State == unspoof.CampaignCancelled || c.State == unspoof.CampaignDone:
		return nil, unspoof.Errorf(unspoof.ECONFLICT, "campaign %d is %s", id, c.State)
	}
	if err := CheckSMSC(c, e.cfg.SMSCAddr, e.cfg.AllowRealSMSC); err != nil {
		return nil, err
	}
	if err := e.acquire(ctx, id); err != nil {
		return nil, err
	}
	defer s.ReleaseRun(context.WithoutCancel(ctx), id, e.cfg.Holder)

	sum := &Summary{}
	if sum.FoundInFlight, err = s.MarkAmbiguous(ctx, id, "in flight when an earlier run stopped", e.cfg.Now()); err != nil {
		return nil, err
	}
	if sum.FoundInFlight > 0 {
		e.log.Warn("messages found in flight are now ambiguous: not resent unless retried", "campaign", id, "n", sum.FoundInFlight)
	}
	if c.State != unspoof.CampaignRunning {
		if err := s.SetCampaignState(ctx, id, []string{c.State}, unspoof.CampaignRunning, e.cfg.Holder, e.cfg.Now()); err != nil {
			return nil, err
		}
	}

	rs := &runState{c: c, hours: Hours{c.QuietStart, c.QuietEnd}, results: make(chan unspoof.MessageUpdate, 1024),
		failed: make(chan error, 1)}
	if rs.hours.Check() != nil {
		rs.hours = DefaultHours
	}
	rs.stop.Store("")
	rs.waiting.Store("")
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()

	var bg sync.WaitGroup
	writerDone := make(chan struct{})
	go func() { defer close(writerDone); e.writer(runCtx, rs) }()
	bg.Go(func() { e.watch(runCtx, rs) })
	bg.Go(func() { e.report(runCtx, rs) })
	bg.Go(func() { e.recover(runCtx) })

	e.start = time.Now()
	err = e.dispatch(runCtx, rs)
	sum.Elapsed = time.Since(e.start)
	if err == nil && rs.stopping() == "" && ctx.Err() == nil {
		err = e.linger(runCtx, rs)
	}
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		err = nil // interrupted: Stopped says so
	}
	close(rs.results)
	<-writerDone
	cancel()
	bg.Wait()
	select {
	case werr := <-rs.failed:
		err = cmp.Or(err, werr)
	default:
	}
	sum.Stopped = rs.stopping()
	if ctx.Err() != nil && sum.Stopped == "" {
		sum.Stopped = "interrupted"
	}
	final, ferr := s.FindCampaignByID(context.WithoutCancel(ctx), id)
	if ferr == nil && final.State == unspoof.CampaignRunning && final.Counts[unspoof.MessagePending] == 0 &&
		final.Counts[unspoof.MessageSubmitting] == 0 {
		if ferr = s.SetCampaignState(context.WithoutCancel(ctx), id, []string{unspoof.CampaignRunning}, unspoof.CampaignDone, e.cfg.Holder, e.cfg.Now()); ferr == nil {
			final.State = unspoof.CampaignDone
		}
	}
	sum.Campaign = final
	sum.Submitted, sum.Parts, sum.Throttled, sum.OptOuts = e.submitted.Load(), e.partsSent.Load(), e.throttled.Load(), e.optOuts.Load()
	return sum, cmp.Or(err, ferr)
}

// acquire claims the campaign for this process. A holder on this host whose process is gone
// (killed) is replaced at once; one elsewhere only after it has been silent for staleRunner.
func (e *Engine) acquire(ctx context.Context, id int64) error {
	now := e.cfg.Now()
	err := e.cfg.Store.AcquireRun(ctx, id, e.cfg.Holder, now, now.Add(-staleRunner))
	if unspoof.ErrorCode(err) == unspoof.ECONFLICT {
		if holder := holderIn(err.Error()); holder != "" && holderDead(holder) {
			e.log.Warn("the previous runner of the campaign is gone; taking over", "campaign", id, "holder", holder)
			return e.cfg.Store.AcquireRun(ctx, id, e.cfg.Holder, now, now.Add(time.Second))
		}
	}
	return err
}

// holderIn finds the host:pid an ECONFLICT of AcquireRun names ("… being run by host:pid (…").
func holderIn(msg string) string {
	_, rest, ok := strings.Cut(msg, "being run by ")
	if !ok {
		return ""
	}
	h, _, _ := strings.Cut(rest, " ")
	return h
}

// holderDead reports whether holder (host:pid) is a process of this host that no longer exists.
func holderDead(holder string) bool {
	host, pidS, ok := strings.Cut(holder, ":")
	me, _ := os.Hostname()
	pid, err := strconv.Atoi(pidS)
	if !ok || host != me || err != nil || pid <= 0 {
		return false
	}
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// dispatch claims pending messages, within sending hours and the daily cap, and submits them.
func (e *Engine) dispatch(ctx context.Context, rs *runState) error {
	s, c := e.cfg.Store, rs.c
	sem := make(chan struct{}, e.cfg.Window)
	// Submits outlive an interrupt by a grace period, so that messages waiting for the link
	// give up (and stay pending) but none is cut off half-way.
	sendCtx, cancelSend := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelSend()
	stopSend := context.AfterFunc(ctx, func() { time.AfterFunc(10*time.Second, cancelSend) })
	defer stopSend()
	var wg sync.WaitGroup
	defer wg.Wait() // before the deferred cancelSend: every submit ends on its own

	var tzs []string
	var tzsAt time.Time
	var after int64                   // the last id claimed: the next claim starts past it
	var sentToday, claimedToday int64 // submitted today before the day's first claim; claimed since
	day := time.Time{}
	claim := e.cfg.Batch
	if e.cfg.Rate > 0 { // claim about a quarter of a second's worth: all a crash could leave ambiguous
		claim = min(claim, max(e.cfg.Window, int(e.cfg.Rate/4)))
	}
	for {
		if ctx.Err() != nil || rs.stopping() != "" {
			return nil
		}
		now := e.cfg.Now()
		if rs.paused.Load() {
			e.wait(ctx, rs, now.Add(time.Second), "paused: unspoof campaign resume "+strconv.FormatInt(c.ID, 10))
			continue
		}
		if tzs == nil || now.Sub(tzsAt) > 30*time.Second {
			var err error
			if tzs, err = s.PendingTZs(ctx, c.ID); err != nil {
				return err
			}
			tzsAt = now
			if len(tzs) == 0 {
				return nil // nothing left to send
			}
		}
		var open []string
		next := time.Time{}
		for _, z := range tzs {
			if rs.hours.Open(z, now) {
				open = append(open, z)
			} else if t := rs.hours.NextOpen(z, now); next.IsZero() || t.Before(next) {
				next = t
			}
		}
		if len(open) == 0 {
			e.wait(ctx, rs, next, fmt.Sprintf("outside sending hours (%s local time) until %s", rs.hours, next.UTC().Format("2006-01-02 15:04 MST")))
			tzs = nil
			continue
		}
		limit := claim
		if c.DailyCap > 0 {
			if d := now.UTC().Truncate(24 * time.Hour); !d.Equal(day) {
				n, err := s.SubmittedSince(ctx, d)
				if err != nil {
					return err
				}
				day, sentToday, claimedToday = d, n, 0
			}
			// Counted as claimed, not as submitted: messages in flight count against the cap.
			left := int64(c.DailyCap) - sentToday - claimedToday
			if left <= 0 {
				e.wait(ctx, rs, day.Add(24*time.Hour), fmt.Sprintf("daily cap of %d reached until midnight UTC", c.DailyCap))
				continue
			}
			limit = int(min(int64(limit), left))
		}
		ms, err := s.ClaimMessages(ctx, unspoof.ClaimFilter{CampaignID: c.ID, TZs: open, AfterID: after, Limit: limit}, now)
		if err != nil {
			return err
		}
		if len(ms) == 0 {
			tzs, after = nil, 0 // from the start again: messages returned to pending have lower ids
			continue
		}
		after = ms[len(ms)-1].ID
		claimedToday += int64(len(ms))
		for i, m := range ms {
			if ctx.Err() != nil || rs.stopping() != "" || rs.paused.Load() {
				e.unclaim(rs, ms[i:], "not sent: the run stopped or was paused")
				break
			}
			if _, out := e.optedOut.Load(m.E164); out {
				rs.results <- unspoof.MessageUpdate{ID: m.ID, From: unspoof.MessageSubmitting, To: unspoof.MessageSuppressed,
					Reason: "opted out", At: e.cfg.Now()}
				continue
			}
			if err := e.limiter.WaitN(ctx, min(m.Parts, e.limiter.Burst())); err != nil {
				e.unclaim(rs, ms[i:], "not sent: the run stopped")
				break
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				e.unclaim(rs, ms[i:], "not sent: the run stopped")
				continue
			}
			e.inFlight.Add(1)
			wg.Go(func() {
				defer func() { <-sem; e.inFlight.Add(-1) }()
				rs.results <- e.send(sendCtx, ctx, rs, m)
			})
		}
	}
}

// unclaim returns claimed messages that never left to pending.
func (e *Engine) unclaim(rs *runState, ms []*unspoof.Message, reason string) {
	for _, m := range ms {
		rs.results <- unspoof.MessageUpdate{ID: m.ID, From: unspoof.MessageSubmitting, To: unspoof.MessagePending,
			Reason: reason, Attempts: m.Attempts, At: e.cfg.Now()}
	}
}

// wait sleeps until t (at most 30 s at a time, so a pause or a new day is noticed), saying why.
func (e *Engine) wait(ctx context.Context, rs *runState, t time.Time, why string) {
	e.log.Info("waiting", "campaign", rs.c.ID, "why", why)
	rs.waiting.Store(why)
	defer rs.waiting.Store("")
	d := min(max(t.Sub(e.cfg.Now()), 100*time.Millisecond), 30*time.Second)
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// send submits every part of m, retrying parts the SMSC refuses for now, and returns the
// message's next state. ctx is the run's: it bounds the wait to submit the first part; sendCtx,
// which outlives it by a grace period, the waits for the others. (Once a part is written, Submit
// waits for its answer whatever either says.)
func (e *Engine) send(sendCtx, ctx context.Context, rs *runState, m *unspoof.Message) unspoof.MessageUpdate {
	u := unspoof.MessageUpdate{ID: m.ID, From: unspoof.MessageSubmitting, Attempts: m.Attempts}
	subs, err := smpp.TextSubmits(smpp.Text{Source: rs.c.SenderID, SourceTON: e.cfg.SenderTON, SourceNPI: e.cfg.SenderNPI,
		SourceTypeSet: e.cfg.SenderTypeSet, Dest: m.E164, Body: m.Text, Ref: uint8(m.ID), RegisteredDelivery: true})
	if err != nil {
		u.To, u.Reason, u.At = unspoof.MessageFailed, "cannot encode: "+err.Error(), e.cfg.Now()
		return u
	}
	ids := make([]string, 0, len(subs))
	partial := func() string {
		if len(ids) == 0 {
			return ""
		}
		return fmt.Sprintf(" (%d of %d parts accepted)", len(ids), len(subs))
	}
	for len(ids) < len(subs) {
		u.Attempts++
		t0 := time.Now()
		// Until the first part is written the message may as well stay pending: an interrupt
		// stops the wait for the link at once. Later parts get the grace period, so that a
		// message is not cut off half-way.
		submitCtx := ctx
		if len(ids) > 0 {
			submitCtx = sendCtx
		}
		id, err := e.cfg.SMSC.Submit(submitCtx, subs[len(ids)])
		e.cfg.Metrics.observeSubmit(time.Since(t0), err)
		var se *smpp.StatusError
		switch {
		case err == nil:
			ids = append(ids, id)
			e.partsSent.Add(1)
			e.meter.tick(time.Now())
			continue
		case errors.As(err, &se) && (se.Status == smpp.StatusThrottled || se.Status == smpp.StatusMsgQFull):
			e.throttled.Add(1)
			e.slowDown()
			if ctx.Err() == nil && rs.stopping() == "" {
				backoff := min(maxBackoff, 100*time.Millisecond<<min(u.Attempts-m.Attempts, 6))
				select {
				case <-time.After(backoff/2 + rand.N(backoff/2+1)):
					continue
				case <-ctx.Done():
				}
			}
			if len(ids) == 0 {
				u.To, u.Reason = unspoof.MessagePending, "not sent: "+se.Status.String()+" when the run stopped"
			} else {
				u.To, u.Reason = unspoof.MessageAmbiguous, "stopped while throttled"+partial()
			}
		case errors.As(err, &se):
			u.To, u.Reason = unspoof.MessageFailed, se.Status.String()+partial()
		case errors.Is(err, smpp.ErrNotSent) && len(ids) == 0:
			u.To, u.Reason = unspoof.MessagePending, "not sent: "+err.Error()
		default:
			u.To, u.Reason = unspoof.MessageAmbiguous, err.Error()+partial()
		}
		u.At = e.cfg.Now()
		return u
	}
	u.To, u.SMSCIDs, u.At = unspoof.MessageSubmitted, ids, e.cfg.Now()
	for _, id := range ids {
		u.Keys = append(u.Keys, smpp.MessageIDKeys(id)...)
	}
	e.submitted.Add(1)
	return u
}

// slowDown lowers the rate after the SMSC said it is throttling us (at most once a second).
func (e *Engine) slowDown() {
	e.slowMu.Lock()
	defer e.slowMu.Unlock()
	now := time.Now()
	if now.Sub(e.lastSlow) < time.Second {
		return
	}
	e.lastSlow = now
	cur := float64(e.limiter.Limit())
	if e.limiter.Limit() == rate.Inf {
		cur = max(e.meter.rate(), 10)
		e.limiter.SetBurst(10)
	}
	if e.floor == 0 {
		// An SMSC that refuses a share of submits whatever the rate would otherwise drive the
		// rate to nothing: it never goes below a twentieth of where it started.
		e.floor = max(1, cmp.Or(e.cfg.Rate, cur)/20)
	}
	next := max(e.floor, cur*0.7)
	e.limiter.SetLimit(rate.Limit(next))
	e.log.Info("SMSC is throttling: slowing down", "parts_per_second", int(next))
}

// recover raises a lowered rate back towards the configured one (or to no limit) once the
// SMSC has stopped throttling for three seconds: by a tenth a second.
func (e *Engine) recover(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		e.slowMu.Lock()
		lim := e.limiter.Limit()
		if time.Since(e.lastSlow) > 3*time.Second && lim != rate.Inf {
			switch up := float64(lim)*1.1 + 1; {
			case e.cfg.Rate > 0:
				e.limiter.SetLimit(rate.Limit(min(e.cfg.Rate, up)))
			case up > 1e5: // no configured rate: back to unthrottled
				e.limiter.SetLimit(rate.Inf)
			default:
				e.limiter.SetLimit(rate.Limit(up))
			}
		}
		e.slowMu.Unlock()
	}
}

// watch renews the run's claim on the campaign and notices a pause or cancel.
func (e *Engine) watch(ctx context.Context, rs *runState) {
	t := time.NewTicker(heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := e.cfg.Now()
		if err := e.cfg.Store.AcquireRun(ctx, rs.c.ID, e.cfg.Holder, now, now.Add(-staleRunner)); err != nil {
			if ctx.Err() == nil {
				rs.stop.Store("lost the campaign to another runner: " + err.Error())
			}
			return
		}
		state, err := e.cfg.Store.CampaignState(ctx, rs.c.ID)
		if err != nil {
			continue
		}
		if state == unspoof.CampaignCancelled {
			rs.stop.Store(state)
			e.log.Info("campaign cancelled: stopping", "campaign", rs.c.ID)
			return
		}
		if p := state == unspoof.CampaignPaused; p != rs.paused.Load() {
			rs.paused.Store(p)
			e.log.Info("campaign "+state, "campaign", rs.c.ID)
		}
	}
}

// report calls Progress four times a second.
func (e *Engine) report(ctx context.Context, rs *runState) {
	if e.cfg.Progress == nil {
		return
	}
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	type sample struct {
		at    time.Time
		parts int64
	}
	var hist []sample
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		c, err := e.cfg.Store.FindCampaignByID(ctx, rs.c.ID)
		if err != nil {
			continue
		}
		now := time.Now()
		hist = append(hist, sample{now, e.partsSent.Load()})
		for len(hist) > 1 && now.Sub(hist[0].at) > 3*time.Second {
			hist = hist[1:]
		}
		p := Progress{Campaign: c, InFlight: int(e.inFlight.Load())}
		if d := now.Sub(hist[0].at).Seconds(); d > 0 {
			p.Rate = float64(hist[len(hist)-1].parts-hist[0].parts) / d
		}
		p.Waiting, _ = rs.waiting.Load().(string)
		e.cfg.Progress(p)
	}
}

// linger waits for the receipts of submitted messages, up to Linger after the last submit.
func (e *Engine) linger(ctx context.Context, rs *runState) error {
	deadline := time.Now().Add(e.cfg.Linger)
	for time.Now().Before(deadline) {
		c, err := e.cfg.Store.FindCampaignByID(ctx, rs.c.ID)
		if err != nil {
			return err
		}
		if c.Counts[unspoof.MessageSubmitted] == 0 && c.Counts[unspoof.MessageSubmitting] == 0 && len(rs.results) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(250 * time.Millisecond):
		}
	}
	return nil
}

// writer is the one goroutine that records outcomes: message updates from the senders,
// receipts and replies from the SMSC, in batches.
func (e *Engine) writer(ctx context.Context, rs *runState) {
	var (
		us     []unspoof.MessageUpdate
		rcpts  []*unspoof.Receipt
		acks   []func() // of rcpts
		tick   = time.NewTicker(20 * time.Millisecond)
		closed = false
	)
	defer tick.Stop()
	store := context.WithoutCancel(ctx) // what was sent is recorded even when interrupted
	flush := func() {
		if len(us) > 0 {
			if _, err := e.cfg.Store.UpdateMessages(store, us); err != nil {
				e.fail(rs, err)
			}
			for _, u := range us {
				e.cfg.Metrics.message(u.To)
			}
			us = us[:0]
		}
		if len(rcpts) > 0 {
			if _, err := e.cfg.Store.ApplyReceipts(store, rcpts); err != nil {
				e.fail(rs, err) // unacknowledged: the SMSC delivers them again
			} else {
				for _, ack := range acks {
					ack()
				}
			}
			rcpts, acks = rcpts[:0], acks[:0]
		}
	}
	for !closed || len(e.deliveries) > 0 {
		select {
		case u, ok := <-rs.results:
			if !ok {
				closed = true
				rs.results = nil
				continue
			}
			us = append(us, u)
			if len(us) >= 256 {
				flush()
			}
		case dl := <-e.deliveries:
			// Take every outcome already queued first: a receipt usually comes after its
			// message's submit response, whose outcome must be stored before it (in the same
			// flush, updates go first), or the receipt would be held and matched later.
			for drained := false; !drained && rs.results != nil; {
				select {
				case u, ok := <-rs.results:
					if !ok {
						closed, rs.results = true, nil
						break
					}
					us = append(us, u)
				default:
					drained = true
				}
			}
			ack := dl.ack
			if ack == nil {
				ack = func() {}
			}
			if dl.d.Receipt != nil {
				rcpts, acks = append(rcpts, e.receipt(dl.d)), append(acks, ack)
				if len(rcpts) >= 256 {
					flush()
				}
				continue
			}
			flush()
			if e.reply(store, dl.d) {
				ack()
			}
		case <-tick.C:
			flush()
		}
	}
	flush()
}

func (e *Engine) fail(rs *runState, err error) {
	e.log.Error("cannot record outcome", "err", err)
	rs.stop.Store("store failed: " + err.Error())
	select {
	case rs.failed <- err:
	default:
	}
}

func (e *Engine) receipt(d *smpp.Deliver) *unspoof.Receipt {
	r := d.Receipt
	e.cfg.Metrics.receipt(r.State)
	return &unspoof.Receipt{SMSCID: r.ID, Keys: smpp.MessageIDKeys(r.ID), State: strings.ToUpper(r.State), Err: r.Err, At: e.cfg.Now()}
}

// reply handles a message from a phone: STOP opts the number out of every campaign; anything
// else is kept in the audit log for staff to read. It reports whether it was stored.
func (e *Engine) reply(ctx context.Context, d *smpp.Deliver) bool {
	n, err := phonenum.Parse(d.Source, "GB")
	from := n.E164
	if err != nil || from == "" {
		from = "+" + strings.TrimPrefix(d.Source, "+")
	}
	if IsStop(d.Text) {
		e.optedOut.Store(from, true)
		e.optOuts.Add(1)
		k, err := e.cfg.Store.AddOptOut(ctx, &unspoof.OptOut{E164: from, Source: "sms", Text: d.Text, At: e.cfg.Now()})
		if err != nil {
			e.log.Error("cannot record opt-out", "number", Mask(from), "err", err)
			return false
		}
		e.log.Info("opt-out by SMS", "number", Mask(from), "suppressed", k)
		return e.cfg.Store.Audit(ctx, &unspoof.AuditEntry{At: e.cfg.Now(), Actor: "sms", Action: "optout", Object: from, Detail: d.Text}) == nil
	}
	e.log.Info("reply received", "number", Mask(from))
	return e.cfg.Store.Audit(ctx, &unspoof.AuditEntry{At: e.cfg.Now(), Actor: "sms", Action: "sms.reply", Object: from, Detail: d.Text}) == nil
}

// Mask hides the middle of a phone number for logs: +447700900123 → +4477…123.
func Mask(e164 string) string {
	if len(e164) <= 7 {
		return "…"
	}
	return e164[:5] + "…" + e164[len(e164)-3:]
}

// meter measures the rate of recent events from the times of the last 128.
type meter struct {
	mu    sync.Mutex
	times [128]time.Time
	n     int // events seen
}

func (m *meter) tick(t time.Time) {
	m.mu.Lock()
	m.times[m.n%len(m.times)] = t
	m.n++
	m.mu.Unlock()
}

// rate returns events a second over the last 128 (or fewer), 0 if fewer than two.
func (m *meter) rate() float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := min(m.n, len(m.times))
	if k < 2 {
		return 0
	}
	newest := m.times[(m.n-1)%len(m.times)]
	oldest := m.times[(m.n-k)%len(m.times)]
	if span := newest.Sub(oldest).Seconds(); span > 0 {
		return float64(k-1) / span
	}
	return 0
}
