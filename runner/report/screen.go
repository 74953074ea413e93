package report

import (
	"strconv"
	"strings"
)

// A Screen is what a terminal shows after the bytes written to it, for
// tests of Live: enough of a VT100 for what Live and the outcome lines
// write (text, tab, CR, LF as CR LF, cursor up, erase below, erase line).
// Rows never scroll off: the screen keeps every row written.
type Screen struct {
	Width    int
	rows     [][]rune
	row, col int
	esc      []byte // an escape sequence being read
}

// Write interprets p; it never fails.
func (s *Screen) Write(p []byte) (int, error) {
	for _, r := range string(p) {
		s.put(r)
	}
	return len(p), nil
}

func (s *Screen) put(r rune) {
	if s.esc != nil {
		s.esc = append(s.esc, string(r)...)
		if len(s.esc) == 2 && r != '[' {
			s.esc = nil // a two-byte escape: ignored
			return
		}
		if len(s.esc) > 2 && r >= 0x40 && r <= 0x7e {
			s.csi(string(s.esc[2:len(s.esc)-1]), r)
			s.esc = nil
		}
		return
	}
	switch r {
	case 0x1b:
		s.esc = []byte{0x1b}
	case '\r':
		s.col = 0
	case '\n':
		s.row, s.col = s.row+1, 0
	case '\t':
		s.col = (s.col/8 + 1) * 8
	default:
		if r < 0x20 {
			return
		}
		if s.Width > 0 && s.col >= s.Width {
			s.row, s.col = s.row+1, 0
		}
		line := s.line(s.row)
		for len(*line) <= s.col {
			*line = append(*line, ' ')
		}
		(*line)[s.col] = r
		s.col++
	}
}

func (s *Screen) csi(params string, final rune) {
	n, err := strconv.Atoi(params)
	if err != nil || n < 1 {
		n = 1
	}
	switch final {
	case 'A':
		s.row = max(0, s.row-n)
	case 'J':
		if params == "" || params == "0" {
			line := s.line(s.row)
			*line = (*line)[:min(len(*line), s.col)]
			s.rows = s.rows[:s.row+1]
		}
	case 'K':
		if params == "" || params == "0" {
			line := s.line(s.row)
			*line = (*line)[:min(len(*line), s.col)]
		}
	}
}

func (s *Screen) line(i int) *[]rune {
	for len(s.rows) <= i {
		s.rows = append(s.rows, nil)
	}
	return &s.rows[i]
}

// Lines are the screen's rows, without trailing blanks, up to the last
// that is not empty.
func (s *Screen) Lines() []string {
	var out []string
	for _, r := range s.rows {
		out = append(out, strings.TrimRight(string(r), " "))
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}

// String is the screen's lines, each ended by a newline.
func (s *Screen) String() string {
	var b strings.Builder
	for _, l := range s.Lines() {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String()
}
