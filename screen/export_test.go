package screen

// Internals the external tests reach.
var (
	AppendVerdict = appendVerdict
	DecodeRequest = decodeRequest
)
