package phonenum

// fictionalRanges are E.164 prefixes followed by the count of digits that must follow. Ofcom
// reserves these UK ranges for drama; NANP reserves 555-0100…555-0199 in every area code.
var fictionalRanges = []struct {
	prefix string
	rest   int
}{
	{"+447700900", 3},
	{"+442079460", 3},
	{"+441134960", 3}, {"+441144960", 3}, {"+441154960", 3}, {"+441164960", 3},
	{"+441174960", 3}, {"+441184960", 3}, {"+441214960", 3}, {"+441314960", 3},
	{"+441414960", 3}, {"+441514960", 3}, {"+441614960", 3},
	{"+441914980", 3},
	{"+442890180", 3},
	{"+442920180", 3},
	{"+441632960", 3},
	{"+448081570", 3},
	{"+449098790", 3},
	{"+443069990", 3},
}

// IsFictional reports whether e164 lies in a range reserved for drama and fiction: Ofcom's
// (07700 900xxx, 020 7946 0xxx, 01632 960xxx and the others) or North America's 555-01xx.
func IsFictional(e164 string) bool { return isFictional(e164) }

// isFictional is IsFictional for a string or, without copying it, a byte slice.
func isFictional[T string | []byte](e164 T) bool {
	for _, r := range fictionalRanges {
		if len(e164) == len(r.prefix)+r.rest && string(e164[:len(r.prefix)]) == r.prefix {
			return true
		}
	}
	// +1 NPA 555 01XX
	return len(e164) == 12 && string(e164[:2]) == "+1" && string(e164[5:10]) == "55501"
}
