package unspoof

import (
	"context"
	"time"
)

// Kind names what a source file holds.
type Kind string

// The kinds of evidence file ingest understands.
const (
	KindAccounts   Kind = "accounts"   // users of the spoofing service
	KindPayments   Kind = "payments"   // what they paid it
	KindCalls      Kind = "calls"      // call records
	KindOrgs       Kind = "orgs"       // organisations impersonated and their numbers
	KindComplaints Kind = "complaints" // the public's reports of unwanted calls (e.g. the FTC's)
)

// Kinds lists every Kind, in the order files are best ingested (accounts before calls).
var Kinds = []Kind{KindOrgs, KindAccounts, KindPayments, KindCalls, KindComplaints}

// Source is one ingested file. Every evidence row keeps (SourceID, SourceRow) so it can be traced
// back to the exact line of the exact file, whose SHA-256 is recorded here.
type Source struct {
	ID              int64
	Kind            Kind
	Name            string // path as given to ingest
	SHA256          string // hex digest of the file's bytes as stored (compressed if gzip)
	Size            int64  // bytes
	Region          string // default region numbers were read in ("GB")
	Synthetic       bool   // made by the simulator: never alert its numbers through a real SMSC
	RowsRead        int64  // data rows read (header excluded)
	RowsLoaded      int64
	RowsQuarantined int64
	QuarantinePath  string // where the bad rows went; "" if none
	IngestedAt      time.Time
	IngestedBy      string
}

// Ref is the provenance of one evidence row: which source, which line (1-based, header is 1).
type Ref struct {
	SourceID  int64
	SourceRow int64
}

// Account is a user of the spoofing service.
type Account struct {
	ID         int64
	ExternalID string // the service's own id
	Username   string
	Email      string
	Country    string // ISO 3166-1 alpha-2, upper case; "" if unknown
	SignupAt   time.Time
	IPs        []string
	Ref
}

// Payment is money an account paid the service.
type Payment struct {
	ID          int64
	ExternalID  string
	AccountID   int64
	PaidAt      time.Time
	AmountMinor int64  // in minor units of Currency (pence)
	Currency    string // ISO 4217, "GBP"
	Method      string // "BTC", "card"…
	Ref
}

// Phone is a number as it stood in the evidence and as normalised.
type Phone struct {
	Raw      string
	E164     string // "" when the raw text could not be read as a possible number
	Region   string // ISO region of the number ("GB")
	LineType string // phonenum.LineType names: "mobile", "fixed_line"…
	Valid    bool
}

// Call is one call the service placed for an account.
type Call struct {
	ID         int64
	ExternalID string
	AccountID  int64
	StartedAt  time.Time
	Duration   time.Duration // talk time; 0 if unanswered
	Status     string        // "answered", "no-answer", "busy", "failed"
	CLI        Phone         // the number presented to the callee (usually spoofed)
	Callee     Phone
	Ref
}

// Org is an organisation whose number the service's users displayed: a bank, a tax office.
type Org struct {
	ID         int64
	ExternalID string
	Name       string
	Sector     string
	Country    string
}

// OrgNumber is one number belonging to an Org.
type OrgNumber struct {
	OrgID int64
	Phone Phone
	Ref
}

// Complaint is a member of the public's report of an unwanted call, from a complaints file such
// as the FTC's Do Not Call data: the number that called, when, and what the caller said.
type Complaint struct {
	ID        int64
	Caller    Phone
	CalledAt  time.Time // when the call happened; zero if unknown
	CreatedAt time.Time // when the complaint was made; zero if unknown
	City      string
	State     string
	AreaCode  string // the complainant's own area code
	Subject   string
	Robocall  bool
	Ref
}

// Loader takes the rows of one source inside one transaction. Rows are written in the order
// given; nothing is visible to readers until the load commits.
type Loader interface {
	AddAccount(ctx context.Context, a *Account) error
	AddPayment(ctx context.Context, p *Payment) error
	AddCall(ctx context.Context, c *Call) error
	// AddOrgNumber records number n of the organisation o, creating o (by ExternalID) the first
	// time it is seen.
	AddOrgNumber(ctx context.Context, o *Org, n *OrgNumber) error
	AddComplaint(ctx context.Context, c *Complaint) error
}

// EvidenceStore is the evidence held by one storage engine.
type EvidenceStore interface {
	// Load records src and runs fn to add its rows, all in one transaction: if fn fails, or
	// ctx is cancelled, nothing of the source is kept. fn sets src's row counts before it
	// returns; they are stored with the rows. A source with the same Kind and SHA256 as one
	// already loaded gives an ECONFLICT error before fn runs.
	Load(ctx context.Context, src *Source, fn func(Loader) error) error

	// FindSourceByDigest returns the source of kind with the given SHA-256, or ENOTFOUND.
	FindSourceByDigest(ctx context.Context, kind Kind, sha256 string) (*Source, error)
	// FindSources returns every source, oldest first.
	FindSources(ctx context.Context) ([]*Source, error)

	// AccountIDs maps every account's ExternalID to its ID.
	AccountIDs(ctx context.Context) (map[string]int64, error)

	// FindCalls returns the calls matching f, in order of start time then ID, and how many
	// match in all (ignoring f.Limit and f.Offset).
	FindCalls(ctx context.Context, f CallFilter) ([]*Call, int, error)

	// Stats returns the headline figures of the evidence.
	Stats(ctx context.Context) (*Stats, error)

	Close() error
}

// CallFilter selects calls. Nil fields are not filtered on.
type CallFilter struct {
	CalleeE164 *string
	AccountID  *int64
	SourceID   *int64
	Offset     int
	Limit      int // 0: no limit
}

// Stats are the headline figures of what is loaded.
type Stats struct {
	Sources         int64
	Accounts        int64
	Payments        int64
	PaidMinor       int64 // sum of payments, pence (all currencies treated as GBP)
	PayingAccounts  int64
	Calls           int64
	CallsOver60s    int64
	DistinctCallees int64
	UKCalls         int64 // calls to UK numbers: country calling code +44 (with JE, GG, IM)
	UKCallees       int64 // distinct GB numbers called
	UKCallsOver60s  int64
	UKCalleesOver60 int64 // distinct GB numbers with at least one call over 60 s
	Complaints      int64
	FirstCall       time.Time
	LastCall        time.Time
	TopOrgs         []OrgCount // organisations whose numbers were presented most, most first
}

// OrgCount is how many calls presented a number of one organisation.
type OrgCount struct {
	Org   string
	Calls int64
}
