package output

import "strings"

// A reader's terminal shows a bare `ls` in columns, as wide as their
// window: the tutorial's
//
//	hello.c   hello.mod    hello.mod.o  Makefile       Module.symvers
//	hello.ko  hello.mod.c  hello.o      modules.order
//
// where a step, whose output is a pipe, prints one name per line. Which
// names go on which row follows the width of the tutorial author's window,
// not the tutorial; the names and ls's order (down each column, then the
// next) are what a reader gets on any terminal. So for such a step the
// output's names are laid out in as many rows as the golden has, column
// by column, as ls fills them, and the rows are compared.

// lsColumnOptions are the short options of ls that keep its terminal
// output names in columns: none lists one name per line (-1, -l and its
// kin), across (-x, -m), with a number before each name (-i, -s), or in
// blocks (-R).
const lsColumnOptions = "aAbBdFGhNpqQrStUvX"

// lsColumnLongOptions are the long options of the same kind.
var lsColumnLongOptions = []string{"--all", "--almost-all", "--classify", "--reverse", "--group-directories-first", "--ignore-backups", "--sort="}

// LsColumns reports whether line, a step's shell line, is a bare ls (with
// sudo or not, without a pipe, redirection or list) whose output a
// terminal lays out in columns.
func LsColumns(line string) bool {
	if strings.ContainsAny(line, "|;&<>`") {
		return false
	}
	words := strings.Fields(line)
	if len(words) > 0 && words[0] == "sudo" {
		words = words[1:]
	}
	if len(words) == 0 || words[0] != "ls" {
		return false
	}
	for _, w := range words[1:] {
		switch {
		case strings.HasPrefix(w, "--"):
			if !lsLongOption(w) {
				return false
			}
		case strings.HasPrefix(w, "-"):
			if len(w) == 1 || strings.Trim(w[1:], lsColumnOptions) != "" {
				return false
			}
		}
	}
	return true
}

func lsLongOption(w string) bool {
	for _, o := range lsColumnLongOptions {
		if w == o || strings.HasSuffix(o, "=") && strings.HasPrefix(w, o) {
			return true
		}
	}
	return false
}

// Columns lays out names, ls's one name per line, in rows rows, down each
// column and then the next, as ls fills a terminal's columns, each row's
// names separated by a space (normalised white space). It returns names
// as they are when they are no more than rows, or when one holds white
// space (the layout would not tell names apart).
func Columns(names []string, rows int) []string {
	if rows <= 0 || len(names) <= rows {
		return names
	}
	for _, n := range names {
		if n == "" || strings.ContainsAny(n, " \t") {
			return names
		}
	}
	out := make([]string, rows)
	for i, n := range names {
		if r := i % rows; out[r] == "" {
			out[r] = n
		} else {
			out[r] += " " + n
		}
	}
	return out
}
