package dialects

import (
	"fmt"
	"strings"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// A dialect with options of its own implements caddyfile.Unmarshaler. The
// kafka_rest parser keeps the lines of its block it owns and hands the
// dialect the others, as a block of the dialect's name:
//
//	<dialect> {
//		<the lines kafka_rest does not own>
//	}
//
// A dialect refuses a subdirective it does not know with UnknownSubdirective
// and a scalar one given twice with Seen.

// UnknownSubdirectiveError is a subdirective a Caddyfile block does not know.
// The kafka_rest parser recognizes it in its dialect's error to suggest the
// closest name among its own subdirectives and the dialect's together.
type UnknownSubdirectiveError struct {
	// Block is what the block configures: "kafka_rest", "tls", a dialect.
	Block string
	// Token is the unknown subdirective, with its position.
	Token caddyfile.Token
	// Known are the block's subdirectives.
	Known []string
}

func (e *UnknownSubdirectiveError) Error() string {
	return fmt.Sprintf("unknown %s subdirective %q", e.Block, e.Token.Text) + Suggest(e.Token.Text, e.Known)
}

// UnknownSubdirective refuses the subdirective d is on, which is none of the
// block's known ones; the error carries d's position.
func UnknownSubdirective(d *caddyfile.Dispenser, block string, known ...string) error {
	return d.WrapErr(&UnknownSubdirectiveError{Block: block, Token: d.Token(), Known: known})
}

// Seen records the scalar subdirectives of one Caddyfile block, so that one
// given twice is refused instead of silently overriding the first. The zero
// value is not usable: make it with make(Seen) or Seen{}.
type Seen map[string]int

// Once refuses the subdirective d is on if the block already had it, naming
// the line that set it.
func (s Seen) Once(d *caddyfile.Dispenser) error {
	return s.OnceAs(d, d.Val())
}

// OnceAs is Once for a key other than the subdirective's name, such as
// "header X-Id" for a repeatable subdirective whose every name is a scalar.
func (s Seen) OnceAs(d *caddyfile.Dispenser, key string) error {
	if line, ok := s[key]; ok {
		return d.Errf("%s is already set (line %d): give it once", key, line)
	}
	s[key] = d.Line()
	return nil
}

// Suggest ends a message about name, which is none of known: with the
// closest of known if name looks like a typo of it (`: did you mean "topic"?`),
// else with the list of known (`: want a, b or c`), or nothing if known is
// empty.
func Suggest(name string, known []string) string {
	if len(known) == 0 {
		return ""
	}
	if s := closest(name, known); s != "" {
		return fmt.Sprintf(": did you mean %q?", s)
	}
	if len(known) == 1 {
		return ": want " + known[0]
	}
	return ": want " + strings.Join(known[:len(known)-1], ", ") + " or " + known[len(known)-1]
}

// closest returns the name of known nearest to name, if it is near enough
// to be a typo: at most 2 edits away (1 for names shorter than 4
// characters, so that short ones are not matched to anything). Ties go to
// the first in known's order.
func closest(name string, known []string) string {
	limit := 2
	if len(name) < 4 {
		limit = 1
	}
	best, bestDist := "", limit+1
	for _, k := range known {
		if d := editDistance(name, k); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance of a and b, in
// bytes (the subdirectives are ASCII): the Levenshtein distance, with a
// transposition of two adjacent characters ("kye" for "key") one edit.
func editDistance(a, b string) int {
	// Rows i-2, i-1 and i of the table of distances between prefixes.
	pprev := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], pprev[j-2]+1)
			}
		}
		pprev, prev, cur = prev, cur, pprev
	}
	return prev[len(b)]
}
