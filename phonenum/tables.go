package phonenum

//go:generate go run gen.go

// The number descriptions of a territory, in the order libphonenumber tries them when it works out
// a number's type; bit i of an automaton's accept set is description i.
const (
	descGeneral = iota
	descPremiumRate
	descTollFree
	descSharedCost
	descVoIP
	descPersonal
	descPager
	descUAN
	descVoicemail
	descFixedLine
	descMobile
	numDescs
)

// National-prefix modes (see internal/tablegen).
const (
	npNone        = 0
	npPlain       = 1
	npTransform   = 2
	npUnsupported = 3
)

// territory is one territory's metadata, compiled: automata start states (0 for none) and
// possible lengths as bit sets (bit n: length n).
type territory struct {
	id       string // "GB", or "001" for a non-geographical entity
	cc       uint16
	ccDigits string

	types   uint16 // automaton of all number descriptions at once
	idd     uint16 // international prefix
	iddMode uint8  // 1: automaton, 2: needs the library
	np      uint16 // national prefix for parsing
	npMode  uint8
	lead    uint16 // leading digits that pick this territory among those sharing its calling code
	hasLead bool

	genMinusOne     bool // the general description lists no possible length (-1)
	genMin, genMax  int8
	genLengths      uint32
	genLocal        uint32 // lengths possible only locally
	noPattern       bool   // the general description has no pattern
	sameMobileFixed bool
	listed          uint16 // descriptions with a list of possible lengths
	lengths         [numDescs]uint32
}
