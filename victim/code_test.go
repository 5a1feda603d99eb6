package victim_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/victim"
)

func TestCodeShape(t *testing.T) {
	t.Parallel()
	shape := regexp.MustCompile(`^[` + victim.Alphabet + `]{4}-[` + victim.Alphabet + `]{4}-[` + victim.Alphabet + `]{4}$`)
	seen := map[string]bool{}
	for range 2000 {
		c := victim.NewCode()
		if !shape.MatchString(c) {
			t.Fatalf("NewCode() = %q, not grouped 4-4-4 over the alphabet", c)
		}
		if !victim.ValidCode(c) {
			t.Fatalf("NewCode() = %q fails its own check", c)
		}
		if seen[c] {
			t.Fatalf("NewCode() repeated %q", c)
		}
		seen[c] = true
	}
	for _, bad := range "01ILO" {
		if strings.ContainsRune(victim.Alphabet, bad) {
			t.Errorf("alphabet holds look-alike %q", bad)
		}
	}
}

func TestCodeNormalise(t *testing.T) {
	t.Parallel()
	c := victim.NewCode()
	for _, in := range []string{c, strings.ToLower(c), strings.ReplaceAll(c, "-", ""), strings.ReplaceAll(c, "-", " "), " " + strings.ToLower(strings.ReplaceAll(c, "-", " - ")) + " "} {
		got, err := victim.NormaliseCode(in)
		if err != nil || got != c || !victim.ValidCode(in) {
			t.Errorf("NormaliseCode(%q) = %q, %v; want %q", in, got, err, c)
		}
	}
	for _, in := range []string{"", c[:13], c + "2", strings.Replace(c, c[:1], "0", 1), "K7QM-3XHT-9PX!"} {
		if victim.ValidCode(in) {
			t.Errorf("ValidCode(%q) = true", in)
		}
		if _, err := victim.NormaliseCode(in); unspoof.ErrorCode(err) != unspoof.EINVALID {
			t.Errorf("NormaliseCode(%q) error = %v, want EINVALID", in, err)
		}
	}
}

// TestCodeCatchesTypos: every single-character substitution and every swap of two different
// adjacent characters of a sample of codes fails the check.
func TestCodeCatchesTypos(t *testing.T) {
	t.Parallel()
	for range 300 {
		code := strings.ReplaceAll(victim.NewCode(), "-", "")
		b := []byte(code)
		for i := range b {
			orig := b[i]
			for j := 0; j < len(victim.Alphabet); j++ {
				if victim.Alphabet[j] == orig {
					continue
				}
				b[i] = victim.Alphabet[j]
				if victim.ValidCode(string(b)) {
					t.Fatalf("%s: substitution at %d → %s passes the check", code, i, b)
				}
			}
			b[i] = orig
		}
		for i := 0; i+1 < len(b); i++ {
			if b[i] == b[i+1] {
				continue
			}
			b[i], b[i+1] = b[i+1], b[i]
			if victim.ValidCode(string(b)) {
				t.Fatalf("%s: transposition at %d → %s passes the check", code, i, b)
			}
			b[i], b[i+1] = b[i+1], b[i]
		}
	}
}
