package victim

import (
	"crypto/rand"
	"strings"

	"github.com/unspoof/unspoof"
)

// Reference codes are 11 random characters and one check character from Alphabet, written in
// three groups of four: "K7QM-3XHT-9PXC". 11 characters of a 31-letter alphabet carry
// 11·log2(31) ≈ 54.5 bits from crypto/rand.
//
// The check character is that of Damm's algorithm over the quasigroup x∗y = (2x + y) mod 31:
// each row and column is a permutation (so any single substitution changes the result) and
// (c∗x)∗y = (c∗y)∗x only when x = y (so any swap of two different adjacent characters, the
// check character included, changes it). A code is valid when folding all 12 characters gives 0.
const (
	// Alphabet holds the code characters: digits 2–9 and letters without I, L and O, so that no
	// two look alike (0/O, 1/I/L). Its size, 31, is prime, which the check needs.
	Alphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"

	codeRandom = 11 // random characters
	codeLen    = codeRandom + 1
	groupLen   = 4
)

var alphaIndex = func() (ix [256]int8) {
	for i := range ix {
		ix[i] = -1
	}
	for i := 0; i < len(Alphabet); i++ {
		ix[Alphabet[i]] = int8(i)
		ix[Alphabet[i]|0x20] = int8(i) // lower case
	}
	return ix
}()

const modulus = len(Alphabet)

// damm folds the characters' values with the quasigroup x∗y = (2x + y) mod 31.
func damm(vals []int) int {
	c := 0
	for _, v := range vals {
		c = (2*c + v) % modulus
	}
	return c
}

// NewCode returns a new random reference code, grouped ("K7QM-3XHT-9PXC").
func NewCode() string {
	vals := make([]int, codeLen)
	var buf [32]byte
	n := 0
	for i := 0; i < codeRandom; {
		if n == 0 {
			rand.Read(buf[:]) // never fails (crypto/rand panics instead)
			n = len(buf)
		}
		n--
		b := int(buf[n])
		if b >= 256/modulus*modulus { // reject to keep every character equally likely
			continue
		}
		vals[i] = b % modulus
		i++
	}
	// The check character c makes the fold 0: 2·r + c ≡ 0 (mod 31).
	vals[codeRandom] = (modulus - 2*damm(vals[:codeRandom])%modulus) % modulus
	return format(vals)
}

func format(vals []int) string {
	var b strings.Builder
	for i, v := range vals {
		if i > 0 && i%groupLen == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(Alphabet[v])
	}
	return b.String()
}

// values returns the values of s's code characters, ignoring spaces and dashes and accepting
// lower case, or false if s holds anything else or has the wrong length.
func values(s string) ([]int, bool) {
	vals := make([]int, 0, codeLen)
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; {
		case ch == ' ' || ch == '-' || ch == '\t':
		case alphaIndex[ch] >= 0:
			if len(vals) == codeLen {
				return nil, false
			}
			vals = append(vals, int(alphaIndex[ch]))
		default:
			return nil, false
		}
	}
	return vals, len(vals) == codeLen
}

// ValidCode reports whether s is a well-formed reference code whose check character matches:
// lower case, spaces and dashes are accepted. A typo (one character changed, two adjacent ones
// swapped) makes it false before any lookup.
func ValidCode(s string) bool {
	vals, ok := values(s)
	return ok && damm(vals) == 0
}

// NormaliseCode returns s as the canonical grouped code ("K7QM-3XHT-9PXC"), or an EINVALID
// error saying what is wrong with it.
func NormaliseCode(s string) (string, error) {
	vals, ok := values(s)
	switch {
	case !ok:
		return "", unspoof.Errorf(unspoof.EINVALID, "%q is not a reference code: it should be %d characters like K7QM-3XHT-9PXC (letters and digits 2–9, no I, L, O, 0 or 1)", s, codeLen)
	case damm(vals) != 0:
		return "", unspoof.Errorf(unspoof.EINVALID, "reference code %q has a typo: please check it", s)
	}
	return format(vals), nil
}
