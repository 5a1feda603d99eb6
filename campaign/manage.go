package campaign

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/phonenum"
	"github.com/unspoof/unspoof/smpp"
	"github.com/unspoof/unspoof/victim"
)

// MaxTestList is the most numbers a test campaign may have: it skips the second approval.
const MaxTestList = 20

// Spec is what a new campaign is made of.
type Spec struct {
	Name      string
	Template  string
	SenderID  string
	Select    string   // "tier=high,channel=sms,limit=1000"; "" selects every SMS victim
	TestList  []string // staff phones: a test campaign to these numbers instead of victims
	Portal    string   // what {{portal}} says
	Hours     Hours    // sending hours, recipient's local time (DefaultHours if zero)
	DailyCap  int      // messages submitted a UTC day at most (all campaigns); 0: no cap
	Synthetic bool     // the evidence is simulated
	CreatedBy string
	Now       time.Time
}

// ParseSelect reads a selection: comma-separated key=value with keys tier (high, medium, low),
// channel (sms only: campaigns send SMS) and limit.
func ParseSelect(s string) (unspoof.RecipientFilter, error) {
	sms := unspoof.ChannelSMS
	f := unspoof.RecipientFilter{Channel: &sms}
	for _, kv := range strings.Split(s, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.ToLower(strings.TrimSpace(v))
		switch {
		case !ok:
			return f, unspoof.Errorf(unspoof.EINVALID, "--select %q: %q is not key=value", s, kv)
		case k == "tier":
			if !slices.Contains([]string{victim.TierHigh, victim.TierMedium, victim.TierLow}, v) {
				return f, unspoof.Errorf(unspoof.EINVALID, "--select: tier %q: high, medium or low", v)
			}
			f.Tier = &v
		case k == "channel":
			if v != unspoof.ChannelSMS {
				return f, unspoof.Errorf(unspoof.EINVALID, "--select: channel %q: a campaign sends SMS, so channel=sms (letters and phone lists are exports: unspoof victims export --channel %s)", v, v)
			}
		case k == "limit":
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return f, unspoof.Errorf(unspoof.EINVALID, "--select: limit %q: a positive number", v)
			}
			f.Limit = n
		default:
			return f, unspoof.Errorf(unspoof.EINVALID, "--select: unknown key %q: tier, channel or limit", k)
		}
	}
	return f, nil
}

// Create makes a draft campaign: it selects the recipients (or reads the test list), lints the
// template against them (refusing it if it has errors), renders each message and stores it all in
// one transaction. The lint is returned either way.
func Create(ctx context.Context, s unspoof.CampaignStore, sp Spec) (*unspoof.Campaign, *Lint, error) {
	if strings.TrimSpace(sp.Name) == "" {
		return nil, nil, unspoof.Errorf(unspoof.EINVALID, "a campaign needs a name (--name)")
	}
	if sp.Hours == (Hours{}) {
		sp.Hours = DefaultHours
	}
	if err := sp.Hours.Check(); err != nil {
		return nil, nil, unspoof.Errorf(unspoof.EINVALID, "%v", err)
	}
	if sp.DailyCap < 0 {
		return nil, nil, unspoof.Errorf(unspoof.EINVALID, "daily cap %d: 0 (none) or more", sp.DailyCap)
	}
	var rs []*unspoof.Recipient
	test := len(sp.TestList) > 0
	if test {
		if len(sp.TestList) > MaxTestList {
			return nil, nil, unspoof.Errorf(unspoof.EINVALID, "a test list has at most %d numbers, not %d", MaxTestList, len(sp.TestList))
		}
		for i, raw := range sp.TestList {
			n, err := phonenum.Parse(raw, "GB")
			if err != nil || !n.Valid || n.Type != phonenum.Mobile {
				return nil, nil, unspoof.Errorf(unspoof.EINVALID, "test list line %d: %q is not a valid mobile number", i+1, raw)
			}
			rs = append(rs, &unspoof.Recipient{E164: n.E164, Reference: victim.NewCode(), Org: "Test Bank"})
		}
		sp.Select = "test-list"
	} else {
		f, err := ParseSelect(sp.Select)
		if err != nil {
			return nil, nil, err
		}
		if rs, err = s.FindRecipients(ctx, f); err != nil {
			return nil, nil, err
		}
		if len(rs) == 0 {
			return nil, nil, unspoof.Errorf(unspoof.EINVALID, "--select %q selects nobody: rank victims first (unspoof victims rank), or every selected number is opted out or already alerted", sp.Select)
		}
	}
	var orgs []string
	for _, r := range rs {
		if r.Org != "" && !slices.Contains(orgs, r.Org) {
			orgs = append(orgs, r.Org)
		}
	}
	lint := LintTemplate(sp.Template, sp.SenderID, sp.Portal, orgs)
	if !lint.OK() {
		return nil, lint, unspoof.Errorf(unspoof.EINVALID, "the template is refused: %s", strings.Join(lint.Errors, "; "))
	}
	c := &unspoof.Campaign{Name: sp.Name, Template: sp.Template, SenderID: sp.SenderID, Selection: sp.Select, Test: test,
		Synthetic: sp.Synthetic, QuietStart: sp.Hours.Start, QuietEnd: sp.Hours.End, DailyCap: sp.DailyCap,
		CreatedBy: sp.CreatedBy, CreatedAt: sp.Now.UTC().Truncate(time.Second)}
	ms := make([]*unspoof.Message, len(rs))
	for i, r := range rs {
		text := Render(sp.Template, r, sp.Portal)
		ms[i] = &unspoof.Message{E164: r.E164, Reference: r.Reference, Text: text, Parts: smpp.Parts(text), TZ: Zone(r.E164)}
	}
	if err := s.CreateCampaign(ctx, c, ms); err != nil {
		return nil, lint, err
	}
	c.Counts = map[string]int64{unspoof.MessagePending: int64(len(ms))}
	for _, m := range ms {
		c.Parts += int64(m.Parts)
	}
	audit(ctx, s, sp.CreatedBy, "campaign.create", c.ID, fmt.Sprintf("%q: %d messages, %d parts, selection %q", c.Name, len(ms), c.Parts, c.Selection))
	return c, lint, nil
}

func audit(ctx context.Context, s unspoof.CampaignStore, actor, action string, id int64, detail string) error {
	return s.Audit(ctx, &unspoof.AuditEntry{At: time.Now().UTC(), Actor: actor, Action: action,
		Object: fmt.Sprintf("campaign %d", id), Detail: detail})
}

// Approve approves a draft campaign. The approver must not be its creator.
func Approve(ctx context.Context, s unspoof.CampaignStore, id int64, by string, now time.Time) error {
	c, err := s.FindCampaignByID(ctx, id)
	if err != nil {
		return err
	}
	if strings.TrimSpace(by) == "" {
		return unspoof.Errorf(unspoof.EUNAUTHORIZED, "who approves? (--as NAME)")
	}
	if strings.EqualFold(strings.TrimSpace(c.CreatedBy), strings.TrimSpace(by)) {
		return unspoof.Errorf(unspoof.EUNAUTHORIZED, "%s created campaign %d and cannot also approve it: another member of staff must", by, id)
	}
	if err := s.SetCampaignState(ctx, id, []string{unspoof.CampaignDraft}, unspoof.CampaignApproved, by, now); err != nil {
		return err
	}
	return audit(ctx, s, by, "campaign.approve", id, fmt.Sprintf("%q created by %s: %d messages", c.Name, c.CreatedBy, c.Total()))
}

// Pause pauses a campaign; a run in progress stops submitting within seconds and waits.
func Pause(ctx context.Context, s unspoof.CampaignStore, id int64, by string, now time.Time) error {
	if err := s.SetCampaignState(ctx, id, []string{unspoof.CampaignRunning, unspoof.CampaignApproved}, unspoof.CampaignPaused, by, now); err != nil {
		return err
	}
	return audit(ctx, s, by, "campaign.pause", id, "")
}

// Resume lets a paused campaign go on: a waiting run continues, or run starts it again.
func Resume(ctx context.Context, s unspoof.CampaignStore, id int64, by string, now time.Time) error {
	if err := s.SetCampaignState(ctx, id, []string{unspoof.CampaignPaused}, unspoof.CampaignRunning, by, now); err != nil {
		return err
	}
	return audit(ctx, s, by, "campaign.resume", id, "")
}

// Cancel stops a campaign for good: its pending messages become suppressed.
func Cancel(ctx context.Context, s unspoof.CampaignStore, id int64, by, why string, now time.Time) error {
	if err := s.SetCampaignState(ctx, id, []string{unspoof.CampaignDraft, unspoof.CampaignApproved, unspoof.CampaignRunning,
		unspoof.CampaignPaused}, unspoof.CampaignCancelled, by, now); err != nil {
		return err
	}
	return audit(ctx, s, by, "campaign.cancel", id, why)
}

// RetryAmbiguous makes the campaign's ambiguous messages pending again, so that the next run
// sends them: some of those people may get the alert twice, which is why only an operator
// decides it, and why it is audited with their reason.
func RetryAmbiguous(ctx context.Context, s unspoof.CampaignStore, id int64, by, why string, now time.Time) (int, error) {
	if strings.TrimSpace(why) == "" {
		return 0, unspoof.Errorf(unspoof.EINVALID, "say why these messages may be sent again (--reason): some may have been delivered already")
	}
	n, err := s.RetryAmbiguous(ctx, id, now)
	if err != nil {
		return 0, err
	}
	return n, audit(ctx, s, by, "campaign.retry-ambiguous", id, fmt.Sprintf("%d messages: %s", n, why))
}

// Plan is what a run would do now, without sending anything: run --dry-run.
type Plan struct {
	Campaign *unspoof.Campaign
	Pending  int                // messages that would be sent
	Parts    int64              // their SMS parts
	OpenNow  int                // … in their sending hours now
	Zones    []ZonePlan         // by time zone, most messages first
	Samples  []*unspoof.Message // the first few, as they would be sent
	Duration time.Duration      // at the given rate, ignoring sending hours and the cap (0: no rate)
}

// ZonePlan is the pending messages of one time zone (or set of zones) and when they may go.
type ZonePlan struct {
	Zone     string
	Messages int
	Open     bool      // within sending hours now
	NextOpen time.Time // when sending hours next begin, if not open
}

// DryRun works out what running the campaign would send now, at rate parts a second (0: no
// throttle), without claiming or sending anything.
func DryRun(ctx context.Context, s unspoof.CampaignStore, id int64, rate float64, now time.Time) (*Plan, error) {
	c, err := s.FindCampaignByID(ctx, id)
	if err != nil {
		return nil, err
	}
	pending := unspoof.MessagePending
	ms, _, err := s.FindMessages(ctx, unspoof.MessageFilter{CampaignID: id, State: &pending})
	if err != nil {
		return nil, err
	}
	p := &Plan{Campaign: c, Pending: len(ms)}
	h := Hours{c.QuietStart, c.QuietEnd}
	byZone := map[string]*ZonePlan{}
	for _, m := range ms {
		p.Parts += int64(m.Parts)
		z := byZone[m.TZ]
		if z == nil {
			z = &ZonePlan{Zone: m.TZ, Open: h.Open(m.TZ, now)}
			if !z.Open {
				z.NextOpen = h.NextOpen(m.TZ, now)
			}
			byZone[m.TZ] = z
		}
		z.Messages++
		if z.Open {
			p.OpenNow++
		}
		if len(p.Samples) < 3 {
			p.Samples = append(p.Samples, m)
		}
	}
	for _, z := range byZone {
		p.Zones = append(p.Zones, *z)
	}
	slices.SortFunc(p.Zones, func(a, b ZonePlan) int { return cmp.Or(b.Messages-a.Messages, strings.Compare(a.Zone, b.Zone)) })
	if rate > 0 {
		p.Duration = time.Duration(float64(p.Parts) / rate * float64(time.Second))
	}
	return p, nil
}
