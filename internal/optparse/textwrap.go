package optparse

import (
	"strings"
	"unicode"

	"github.com/fleetsh/fleetsh/internal/pyfmt"
)

// This file emulates Python's textwrap.wrap() with its default options
// (expand_tabs, replace_whitespace, drop_whitespace, break_long_words,
// break_on_hyphens; no fix_sentence_endings, no max_lines), which optparse
// uses to lay out help texts.

// wrapWhitespace is textwrap's _whitespace.
const wrapWhitespace = "\t\n\x0b\x0c\r "

func isWrapSpace(c rune) bool { return c < 0x80 && strings.ContainsRune(wrapWhitespace, c) }

// isWord matches the regular expression \w of Python str patterns.
func isWord(c rune) bool { return c == '_' || unicode.IsLetter(c) || unicode.IsNumber(c) }

// isLetter matches textwrap's letter class [^\d\W].
func isLetter(c rune) bool { return isWord(c) && !unicode.IsDigit(c) }

// isWordPunct matches textwrap's word_punct class [\w!"'&.,?].
func isWordPunct(c rune) bool { return isWord(c) || strings.ContainsRune(`!"'&.,?`, c) }

// isBlank reports whether chunk.strip() is empty.
func isBlank(chunk []rune) bool {
	for _, c := range chunk {
		if !pyfmt.IsSpace(c) {
			return false
		}
	}
	return true
}

// expandTabs implements str.expandtabs(8).
func expandTabs(t []rune) []rune {
	out := make([]rune, 0, len(t))
	col := 0
	for _, c := range t {
		switch c {
		case '\t':
			n := 8 - col%8
			for i := 0; i < n; i++ {
				out = append(out, ' ')
			}
			col += n
		case '\n', '\r':
			out = append(out, c)
			col = 0
		default:
			out = append(out, c)
			col++
		}
	}
	return out
}

// dashesThenWord matches (?=-{2,}\w) at position i.
func dashesThenWord(t []rune, i int) bool {
	j := i
	for j < len(t) && t[j] == '-' {
		j++
	}
	return j-i >= 2 && j < len(t) && isWord(t[j])
}

// splitChunks emulates textwrap's wordsep_re.split(): it returns the
// whitespace runs, em-dashes and (possibly hyphenated) words of t.
func splitChunks(t []rune) [][]rune {
	var chunks [][]rune
	n := len(t)
	letterAt := func(i int) bool { return i >= 0 && i < n && isLetter(t[i]) }
	for p := 0; p < n; {
		var e int
		switch {
		case isWrapSpace(t[p]):
			e = p
			for e < n && isWrapSpace(t[e]) {
				e++
			}
		case p > 0 && isWordPunct(t[p-1]) && dashesThenWord(t, p):
			e = p
			for e < n && t[e] == '-' {
				e++
			}
		default:
			for e = p + 1; ; e++ {
				// a hyphen ending a part of a compound word
				if e < n && t[e] == '-' &&
					((letterAt(e-2) && letterAt(e-1)) || (letterAt(e-3) && t[e-2] == '-' && letterAt(e-1))) &&
					letterAt(e+1) && ((e+2 < n && t[e+2] == '-' && letterAt(e+3)) || letterAt(e+2)) {
					e++
					break
				}
				// end of word
				if e == n || isWrapSpace(t[e]) {
					break
				}
				// em-dash
				if isWordPunct(t[e-1]) && dashesThenWord(t, e) {
					break
				}
			}
		}
		chunks = append(chunks, t[p:e])
		p = e
	}
	return chunks
}

// wrapText implements textwrap.wrap(text, width, initial_indent=...,
// subsequent_indent=...).
func wrapText(text string, width int, initialIndent, subsequentIndent string) []string {
	t := expandTabs(pyfmt.Decode(text))
	for i, c := range t {
		if isWrapSpace(c) {
			t[i] = ' '
		}
	}
	chunks := splitChunks(t)
	// chunks is used as a stack: reverse it.
	for i, j := 0, len(chunks)-1; i < j; i, j = i+1, j-1 {
		chunks[i], chunks[j] = chunks[j], chunks[i]
	}
	initial, subsequent := pyfmt.Decode(initialIndent), pyfmt.Decode(subsequentIndent)
	var lines []string
	for len(chunks) > 0 {
		startLen, startTop, startLines := len(chunks), len(chunks[len(chunks)-1]), len(lines)
		var cur [][]rune
		curLen := 0
		indent := initial
		if len(lines) > 0 {
			indent = subsequent
		}
		w := width - len(indent)
		if len(lines) > 0 && isBlank(chunks[len(chunks)-1]) {
			chunks = chunks[:len(chunks)-1]
		}
		for len(chunks) > 0 {
			l := len(chunks[len(chunks)-1])
			if curLen+l > w {
				break
			}
			cur = append(cur, chunks[len(chunks)-1])
			chunks = chunks[:len(chunks)-1]
			curLen += l
		}
		if len(chunks) > 0 && len(chunks[len(chunks)-1]) > w {
			cur = handleLongWord(chunks, cur, curLen, w)
			curLen = 0
			for _, c := range cur {
				curLen += len(c)
			}
		}
		if len(cur) > 0 && isBlank(cur[len(cur)-1]) {
			curLen -= len(cur[len(cur)-1])
			cur = cur[:len(cur)-1]
		}
		if len(cur) > 0 {
			line := append([]rune(nil), indent...)
			for _, c := range cur {
				line = append(line, c...)
			}
			lines = append(lines, runesString(line))
		}
		if len(lines) == startLines && len(chunks) == startLen && len(chunks[len(chunks)-1]) == startTop {
			// No progress: Python loops forever here (only possible
			// when the indentation leaves no room on the line).
			break
		}
	}
	return lines
}

// handleLongWord breaks the word on top of the reversed chunks stack to
// fill the current line (_handle_long_word); it updates the stack in place.
func handleLongWord(chunks [][]rune, cur [][]rune, curLen, width int) [][]rune {
	spaceLeft := 1
	if width >= 1 {
		spaceLeft = width - curLen
	}
	chunk := chunks[len(chunks)-1]
	end := spaceLeft
	if len(chunk) > spaceLeft {
		hyphen := -1
		for i := min(spaceLeft, len(chunk)) - 1; i >= 0; i-- {
			if chunk[i] == '-' {
				hyphen = i
				break
			}
		}
		if hyphen > 0 {
			for _, c := range chunk[:hyphen] {
				if c != '-' {
					end = hyphen + 1
					break
				}
			}
		}
	}
	end = max(0, min(end, len(chunk)))
	chunks[len(chunks)-1] = chunk[end:]
	return append(cur, chunk[:end])
}

// Wrap is Python's textwrap.wrap(text, width, initial_indent=indent,
// subsequent_indent=indent): text cut into lines of at most width
// characters, each starting with indent, as optparse wraps its help.
func Wrap(text string, width int, indent string) []string {
	return wrapText(text, width, indent, indent)
}
