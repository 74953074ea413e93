// Package golden is the golden-file language of kmodcheck: a golden file
// says which lines a step must print, in which order, with which
// repeats (quantifiers), varying tokens and interleaved streams
// (labels, each bound to one thread or interrupt context).
//
// It parses golden files ([Parse], [ParseNormalized]), matches lines
// against them ([Golden.Match], [Golden.MatchLines],
// [Golden.MatchTerminal]: an NFA over the items, with thread binding),
// and writes them: a fresh one ([New], [NewRuns], [Format]), or the
// smallest rewrite that accepts new lines ([Golden.Update],
// [Golden.UpdateRuns], which also generalise over several runs).
//
// It knows nothing of where the lines come from: the kernel log's
// records are package kmsg's, a step's output is package output's. A
// line's thread is a [Line]'s PID, task and context. The language is
// described on [Golden] and in docs/goldens.md.
package golden
