package event

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// FirstSentence returns the first sentence of an explanation, on one line.
// A period ends the sentence only outside parentheses, when a space and an
// upper-case letter or digit follow, and when the word before it is not
// an abbreviation of a company's name: "AS131279 (Star Joint Venture Co.
// Ltd.): ..." stays whole. The dashboard's firstSentence (web/app.js)
// follows the same rule.
func FirstSentence(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(', '[':
			depth++
		case ')', ']':
			if depth > 0 {
				depth--
			}
		case '.':
			if depth > 0 || i+2 >= len(s) || s[i+1] != ' ' {
				continue
			}
			r, _ := utf8.DecodeRuneInString(s[i+2:])
			if !unicode.IsUpper(r) && !unicode.IsDigit(r) {
				continue
			}
			if abbreviation(s[:i]) {
				continue
			}
			return s[:i+1]
		}
	}
	return s
}

// abbreviations that end with a period inside a name.
var abbreviations = map[string]bool{
	"co": true, "corp": true, "inc": true, "ltd": true, "llc": true, "plc": true, "pty": true,
	"bhd": true, "jsc": true, "sa": true, "s.a": true, "ag": true, "gmbh": true, "bv": true,
	"nv": true, "srl": true, "sro": true, "s.r.o": true, "oy": true, "ab": true, "as": true,
	"e.g": true, "i.e": true, "etc": true, "vs": true, "no": true, "st": true, "dr": true, "mr": true,
}

// abbreviation reports whether s ends with a word of abbreviations (or a
// single letter, an initial).
func abbreviation(s string) bool {
	i := strings.LastIndexAny(s, " (")
	w := strings.ToLower(s[i+1:])
	return abbreviations[w] || utf8.RuneCountInString(w) == 1
}
