package campaign

import (
	"strings"
	"unicode"
)

// stopWords are the replies that mean "no more messages", in English and Welsh, as UK
// operators and aggregators honour them.
var stopWords = map[string]bool{
	"STOP": true, "STOPALL": true, "STOP ALL": true, "UNSUBSCRIBE": true, "CANCEL": true, "END": true,
	"QUIT": true, "OPTOUT": true, "OPT OUT": true, "REMOVE": true, "STOPIO": true, "DIM MWY": true,
}

// IsStop reports whether an SMS reply asks for no more messages: a stop word on its own, in any
// case, with surrounding spaces and punctuation ("Stop.", " stop!!", "STOP ALL") or followed by
// more words after it ("STOP please", "stop texting me").
func IsStop(text string) bool {
	clean := strings.Join(strings.FieldsFunc(strings.ToUpper(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}), " ")
	if stopWords[clean] {
		return true
	}
	first, _, _ := strings.Cut(clean, " ")
	return first == "STOP" || first == "UNSUBSCRIBE" || first == "STOPIO"
}
