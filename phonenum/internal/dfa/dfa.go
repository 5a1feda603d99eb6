// Package dfa compiles regular expressions over the ASCII digits into deterministic finite
// automata, so that phone-number patterns can be matched without the regexp engine.
//
// The patterns are read with Go's own regexp/syntax parser and compiler (the same front end the
// regexp package uses), so the language each automaton accepts is exactly the language of the
// regexp the pattern denotes, restricted to strings of the digits 0-9.
package dfa

import (
	"errors"
	"fmt"
	"regexp/syntax"
	"sort"
	"strings"
)

// Digits is the size of the automata's alphabet: the ASCII digits '0' to '9'.
const Digits = 10

// DFA is a deterministic automaton over the digits that runs several patterns at once. State 0 is
// the dead state (no pattern can match any more) and state 1 the start state. Accept[s] has bit i
// set when pattern i matches the whole of the digits read to reach s.
type DFA struct {
	Trans  []uint32 // Trans[s*Digits+d] is the state after reading digit d in state s
	Accept []uint64 // per state: the set of patterns that accept here
}

// States is the number of states, the dead state included.
func (a *DFA) States() int { return len(a.Accept) }

// ErrUnsupported reports a pattern using a feature the compiler does not handle (assertions such
// as ^, $ or \b inside the pattern); callers fall back to the regexp engine for it.
var ErrUnsupported = errors.New("dfa: unsupported regexp feature")

type nfa struct {
	progs []*syntax.Prog
}

// item packs a pattern index and an instruction index.
type item uint64

func mk(p, pc int) item  { return item(uint64(p)<<32 | uint64(pc)) }
func (it item) pat() int { return int(it >> 32) }
func (it item) pc() int  { return int(uint32(it)) }

// closure adds to set the instructions reachable from pc of pattern p without reading input.
func (n *nfa) closure(set map[item]bool, p int, pc uint32) error {
	prog := n.progs[p]
	stack := []uint32{pc}
	for len(stack) > 0 {
		pc := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		it := mk(p, int(pc))
		if set[it] {
			continue
		}
		set[it] = true
		in := &prog.Inst[pc]
		switch in.Op {
		case syntax.InstAlt, syntax.InstAltMatch:
			stack = append(stack, in.Arg, in.Out)
		case syntax.InstNop, syntax.InstCapture:
			stack = append(stack, in.Out)
		case syntax.InstEmptyWidth:
			return ErrUnsupported
		case syntax.InstMatch, syntax.InstFail, syntax.InstRune, syntax.InstRune1,
			syntax.InstRuneAny, syntax.InstRuneAnyNotNL:
		default:
			return fmt.Errorf("dfa: unknown instruction %v", in.Op)
		}
	}
	return nil
}

func key(set map[item]bool) (string, []item) {
	items := make([]item, 0, len(set))
	for it := range set {
		items = append(items, it)
	}
	sort.Slice(items, func(i, j int) bool { return items[i] < items[j] })
	var b strings.Builder
	for _, it := range items {
		fmt.Fprintf(&b, "%x,", uint64(it))
	}
	return b.String(), items
}

// Compile builds one minimal DFA running all patterns (at most 64) at once. Each pattern is
// matched as a whole (as if wrapped in ^(?: and )$); the caller reads prefix matches from the
// Accept sets of the states passed through.
func Compile(patterns []string) (*DFA, error) {
	if len(patterns) > 64 {
		return nil, errors.New("dfa: more than 64 patterns")
	}
	n := &nfa{}
	for _, p := range patterns {
		re, err := syntax.Parse(p, syntax.Perl)
		if err != nil {
			return nil, fmt.Errorf("dfa: parse %q: %w", p, err)
		}
		prog, err := syntax.Compile(re.Simplify())
		if err != nil {
			return nil, fmt.Errorf("dfa: compile %q: %w", p, err)
		}
		n.progs = append(n.progs, prog)
	}
	start := map[item]bool{}
	for p, prog := range n.progs {
		if err := n.closure(start, p, uint32(prog.Start)); err != nil {
			return nil, fmt.Errorf("%w in %q", err, patterns[p])
		}
	}
	a := &DFA{Trans: make([]uint32, 2*Digits), Accept: make([]uint64, 2)}
	index := map[string]uint32{"": 0}
	var sets [][]item
	sets = append(sets, nil)
	k, items := key(start)
	index[k] = 1
	sets = append(sets, items)
	a.Accept[1] = accept(n, items)
	for s := 1; s < len(sets); s++ {
		for d := 0; d < Digits; d++ {
			next := map[item]bool{}
			for _, it := range sets[s] {
				in := &n.progs[it.pat()].Inst[it.pc()]
				switch in.Op {
				case syntax.InstRune, syntax.InstRune1, syntax.InstRuneAny, syntax.InstRuneAnyNotNL:
					if in.MatchRune(rune('0' + d)) {
						if err := n.closure(next, it.pat(), in.Out); err != nil {
							return nil, err
						}
					}
				}
			}
			k, items := key(next)
			t, ok := index[k]
			if !ok {
				t = uint32(len(sets))
				index[k] = t
				sets = append(sets, items)
				a.Trans = append(a.Trans, make([]uint32, Digits)...)
				a.Accept = append(a.Accept, accept(n, items))
			}
			a.Trans[s*Digits+d] = t
		}
	}
	return minimize(a), nil
}

func accept(n *nfa, items []item) uint64 {
	var m uint64
	for _, it := range items {
		if n.progs[it.pat()].Inst[it.pc()].Op == syntax.InstMatch {
			m |= 1 << it.pat()
		}
	}
	return m
}

// minimize merges equivalent states (Moore's partition refinement), keeping 0 dead and 1 start.
func minimize(a *DFA) *DFA {
	ns := a.States()
	class := make([]uint32, ns)
	// Initial partition: by accept set, with the dead state alone... it is already distinct
	// unless another state is also dead; such states are merged with it, which is right.
	ids := map[uint64]uint32{}
	for s := 0; s < ns; s++ {
		acc := a.Accept[s]
		if s == 0 {
			acc = 0
		}
		id, ok := ids[acc]
		if !ok {
			id = uint32(len(ids))
			ids[acc] = id
		}
		class[s] = id
	}
	count := len(ids)
	for {
		sig := map[string]uint32{}
		next := make([]uint32, ns)
		var b []byte
		for s := 0; s < ns; s++ {
			b = b[:0]
			b = fmt.Appendf(b, "%d:", class[s])
			for d := 0; d < Digits; d++ {
				b = fmt.Appendf(b, "%d,", class[a.Trans[s*Digits+d]])
			}
			id, ok := sig[string(b)]
			if !ok {
				id = uint32(len(sig))
				sig[string(b)] = id
			}
			next[s] = id
		}
		class = next
		if len(sig) == count {
			break
		}
		count = len(sig)
	}
	// Renumber: the dead class first, then the start class, then the others in order of first
	// appearance.
	newID := make([]int64, count)
	for i := range newID {
		newID[i] = -1
	}
	next := uint32(0)
	order := []int{0, 1}
	for s := 2; s < ns; s++ {
		order = append(order, s)
	}
	rep := []int{}
	for _, s := range order {
		if newID[class[s]] < 0 {
			newID[class[s]] = int64(next)
			next++
			rep = append(rep, s)
		}
	}
	if class[0] == class[1] {
		// The start state is dead: the patterns match nothing at all. Keep a separate start.
		m := &DFA{Trans: make([]uint32, 2*Digits), Accept: make([]uint64, 2)}
		return m
	}
	m := &DFA{Trans: make([]uint32, int(next)*Digits), Accept: make([]uint64, next)}
	for i, s := range rep {
		m.Accept[i] = a.Accept[s]
		for d := 0; d < Digits; d++ {
			m.Trans[i*Digits+d] = uint32(newID[class[a.Trans[s*Digits+d]]])
		}
	}
	m.Accept[0] = 0
	return m
}
