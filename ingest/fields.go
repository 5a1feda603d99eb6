package ingest

import (
	"bufio"
	"fmt"
	"maps"
	"os"
	"sort"
	"strings"

	"github.com/unspoof/unspoof"
)

// A field is one value ingest understands for a kind of file.
type field struct {
	name     string
	required bool
	doc      string
}

// Fields lists, per kind, the fields a file's columns are mapped to. A column whose header
// equals a field name (ignoring case, spaces, dashes and underscores) maps to it unless a
// mapping says otherwise; other columns are ignored.
var fields = map[unspoof.Kind][]field{
	unspoof.KindAccounts: {
		{"account_id", true, "the service's id of the account"},
		{"username", false, ""}, {"email", false, ""},
		{"country", false, "ISO 3166-1 alpha-2"},
		{"signup_at", false, "time"},
		{"ips", false, "IP addresses separated by ; , or spaces"},
	},
	unspoof.KindPayments: {
		{"payment_id", false, ""},
		{"account_id", true, "must name an account already ingested"},
		{"paid_at", true, "time"},
		{"amount", true, "decimal in major units (150.00)"},
		{"currency", false, "ISO 4217, default GBP"},
		{"method", false, "BTC, card…"},
	},
	unspoof.KindCalls: {
		{"call_id", false, ""},
		{"account_id", true, "must name an account already ingested"},
		{"started_at", true, "time"},
		{"duration_s", false, "talk time in whole seconds, default 0"},
		{"cli", false, "the number presented to the callee, kept as given"},
		{"callee", true, "the number called; must be a possible number"},
		{"status", false, "answered, no-answer, busy, failed…"},
	},
	unspoof.KindOrgs: {
		{"org_id", true, ""}, {"name", true, ""}, {"sector", false, ""}, {"country", false, ""},
		{"number", true, "one of the organisation's numbers"},
	},
	unspoof.KindComplaints: {
		{"number", true, "the number that called the complainant"},
		{"called_at", false, "time"}, {"created_at", false, "time"},
		{"city", false, ""}, {"state", false, ""}, {"area_code", false, ""},
		{"subject", false, ""}, {"robocall", false, "Y/N, true/false, 1/0"},
	},
}

// Mappings are the column mappings unspoof knows by name, for files from known sources.
var Mappings = map[string]map[string]string{
	// The US Federal Trade Commission's public "Do Not Call reported calls" data.
	"ftc-dnc": {
		"Company_Phone_Number":         "number",
		"Created_Date":                 "created_at",
		"Violation_Date":               "called_at",
		"Consumer_City":                "city",
		"Consumer_State":               "state",
		"Consumer_Area_Code":           "area_code",
		"Subject":                      "subject",
		"Recorded_Message_Or_Robocall": "robocall",
	},
}

// FieldNames returns the field names of kind, required ones first.
func FieldNames(kind unspoof.Kind) []string {
	var req, opt []string
	for _, f := range fields[kind] {
		if f.required {
			req = append(req, f.name)
		} else {
			opt = append(opt, f.name)
		}
	}
	return append(req, opt...)
}

func fold(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '_', '-', '.':
			return -1
		}
		return r
	}, strings.ToLower(strings.TrimSpace(strings.TrimPrefix(s, "\ufeff"))))
}

// ParseMapping reads "column=field" pairs: from flags, or a file of such lines (# comments).
func ParseMapping(pairs []string) (map[string]string, error) {
	m := map[string]string{}
	for _, p := range pairs {
		col, f, ok := strings.Cut(p, "=")
		col, f = strings.TrimSpace(col), strings.TrimSpace(f)
		if !ok || col == "" || f == "" {
			return nil, unspoof.Errorf(unspoof.EINVALID, "mapping %q: want column=field", p)
		}
		m[col] = f
	}
	return m, nil
}

// LoadMapping returns a copy of the named built-in mapping (the caller may add to it), or reads
// a mapping file.
func LoadMapping(nameOrPath string) (map[string]string, error) {
	if m, ok := Mappings[nameOrPath]; ok {
		return maps.Clone(m), nil
	}
	f, err := os.Open(nameOrPath)
	if err != nil {
		names := make([]string, 0, len(Mappings))
		for n := range Mappings {
			names = append(names, n)
		}
		sort.Strings(names)
		return nil, unspoof.Errorf(unspoof.EINVALID, "mapping %q is neither a file nor a known mapping (%s)", nameOrPath, strings.Join(names, ", "))
	}
	defer f.Close()
	var pairs []string
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if !strings.Contains(t, "=") {
			return nil, unspoof.Errorf(unspoof.EINVALID, "%s:%d: want column=field, got %q", nameOrPath, line, t)
		}
		pairs = append(pairs, t)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read mapping %s: %w", nameOrPath, err)
	}
	return ParseMapping(pairs)
}

// columns resolves a header to the index of each field of kind: -1 where the file has none.
func columns(kind unspoof.Kind, header []string, mapping map[string]string, file string) ([]int, error) {
	fs := fields[kind]
	idx := make([]int, len(fs))
	for i := range idx {
		idx[i] = -1
	}
	byName := map[string]int{}
	for i, f := range fs {
		byName[f.name] = i
	}
	mapped := map[string]string{} // folded column → field
	for col, f := range mapping {
		if _, ok := byName[f]; !ok {
			return nil, unspoof.Errorf(unspoof.EINVALID, "%s: mapping %s=%s: %s files have no field %q (fields: %s)",
				file, col, f, kind, f, strings.Join(FieldNames(kind), ", "))
		}
		mapped[fold(col)] = f
	}
	for c, h := range header {
		name, ok := mapped[fold(h)]
		if !ok {
			for _, f := range fs {
				if fold(f.name) == fold(h) {
					name, ok = f.name, true
				}
			}
		}
		if !ok {
			continue
		}
		i := byName[name]
		if idx[i] >= 0 {
			return nil, unspoof.Errorf(unspoof.EINVALID, "%s: line 1: columns %q and %q both map to field %s", file, header[idx[i]], h, name)
		}
		idx[i] = c
	}
	var missing []string
	for i, f := range fs {
		if f.required && idx[i] < 0 {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return nil, unspoof.Errorf(unspoof.EINVALID, "%s: line 1: no column for required field(s) %s of a %s file (header: %s); map one with --map COLUMN=FIELD",
			file, strings.Join(missing, ", "), kind, strings.Join(header, ","))
	}
	return idx, nil
}
