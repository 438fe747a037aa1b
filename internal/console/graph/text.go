package graph

import (
	"strings"
	"unicode"
)

// The graph is laid out on the server, where no font can be measured, so
// text widths are estimated from the advance widths of Helvetica (the
// metrics Arial and Liberation Sans share, in thousandths of an em), the
// first fonts the embedded style asks for. widthSafety covers a browser that
// falls back to a wider sans-serif.
var asciiAdvance = [95]uint16{
	278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, // space to /
	556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, // 0 to ?
	1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, // @ to O
	667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, // P to _
	333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, // ` to o
	556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, // p to ~
}

const widthSafety = 1.08

// runeAdvance is the estimated advance of r in thousandths of an em.
func runeAdvance(r rune) int {
	switch {
	case r >= ' ' && r <= '~':
		return int(asciiAdvance[r-' '])
	case unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Me, r) || unicode.Is(unicode.Cf, r):
		return 0 // combining marks and format characters take no room of their own
	case isWide(r):
		return 1000
	default:
		return 600
	}
}

// isWide reports the East Asian wide and fullwidth ranges, drawn a full em
// wide; the ranges are coarse but err on the wide side.
func isWide(r rune) bool {
	return r >= 0x1100 && (r <= 0x115f || r == 0x2329 || r == 0x232a ||
		(r >= 0x2e80 && r <= 0xa4cf && r != 0x303f) ||
		(r >= 0xac00 && r <= 0xd7a3) ||
		(r >= 0xf900 && r <= 0xfaff) ||
		(r >= 0xfe30 && r <= 0xfe4f) ||
		(r >= 0xff00 && r <= 0xff60) ||
		(r >= 0xffe0 && r <= 0xffe6) ||
		(r >= 0x1f300 && r <= 0x1faff) ||
		(r >= 0x20000 && r <= 0x3fffd))
}

// textWidth estimates the width in pixels of s drawn at size pixels.
func textWidth(s string, size float64) float64 {
	total := 0
	for _, r := range s {
		total += runeAdvance(r)
	}
	return float64(total) * size / 1000 * widthSafety
}

// fitText returns s when it fits in maxWidth pixels at size, or else its
// longest prefix that fits followed by an ellipsis (the full text is in the
// state's <title>).
func fitText(s string, maxWidth, size float64) string {
	if textWidth(s, size) <= maxWidth {
		return s
	}
	limit := maxWidth - textWidth("…", size)
	var b strings.Builder
	w := 0.0
	for _, r := range s {
		rw := float64(runeAdvance(r)) * size / 1000 * widthSafety
		if w+rw > limit {
			break
		}
		w += rw
		b.WriteRune(r)
	}
	// A prefix ending in a space reads badly before the ellipsis.
	out := strings.TrimRightFunc(b.String(), unicode.IsSpace)
	return out + "…"
}
