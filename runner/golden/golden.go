package golden

import (
	"fmt"
	"regexp"
	"strings"
)

// A Golden is a parsed golden file: the kernel messages a step, or a
// span of steps, should produce.
//
// # Format
//
// A golden file is text, one kernel message per line, as the message
// reads after the noise filters have dropped records and kmsg.Normalizer
// has rewritten it: no timestamp, `<ptr>` for addresses, `<pid>` for
// process IDs, `$WORK` for the work directory. Messages are compared
// exactly, byte for byte.
//
// A line that is empty, contains only spaces and tabs, or starts with
// `#` is a comment. Comments are ignored by matching and kept by
// [Golden.Update]. A "\r" ending a line is ignored.
//
// Every other line is an item:
//
//	[LABEL] MESSAGE QUANT
//
// The label and the quantifier are optional.
//
//   - LABEL names a stream (see below). It is written `[` name `]`
//     followed by exactly one space, where name is made of ASCII
//     letters, digits, spaces, `_`, `-`, `.`, `/` and `:`, has a letter
//     and no space at either end (a thread's name, as
//     `[kthread_init_work worker example]`), optionally followed by `?`.
//     A line that starts with `[` is always a label: `[  12.3]`,
//     `[12.3]`, `[x`, `[a,b]` and `[x]y` are errors.
//   - QUANT says how many times the message appears in a row. It comes
//     last, after exactly one space: `{*}` (any number, including none),
//     `{+}` (one or more), `{?}` (none or one), `{N}` (exactly N),
//     `{N,}` (N or more), `{N,M}` (between N and M). Without it the
//     message appears exactly once. `{0}`, `{N,M}` with N > M and
//     numbers above 2^30 are errors. Something that only looks like a
//     quantifier, such as `x{3}` (no space) or `{x}`, is part of the
//     message.
//
// A message may hold varying tokens, `{N}` (a number), `{X}` (a hex
// number), `{W}` (a word) and `{/RE/}` (a regexp), where the kernel
// prints a value that changes from run to run; see pattern.go.
//
// Escapes keep every message writable:
//
//   - One leading `\` before the message is removed, and the rest is
//     taken literally. It must be used for a message that starts with
//     `[`, `#` or `\`, and for an empty or all-blank message (so the
//     empty message is a lone `\`, or `[label] \`); after a label only
//     the `\` strictly needs it, but writing it does no harm. It may be
//     used for any message.
//   - A message that ends in a space and something shaped like a
//     quantifier (`{*}`, `{+}`, `{?}` or braces around digits and at
//     most one comma) gets a `\` just before that final `{`: the message
//     `size {3}` is written `size \{3}`. In general a line ending in
//     a space, k > 0 backslashes and a quantifier shape stands for the
//     message ending with k-1 backslashes and that shape.
//
// # Matching
//
// A golden file is matched against the whole list of kernel messages of
// the step. Every message must be taken by an item and every item must
// take as many messages as its quantifier requires.
//
// Unlabelled items are ordered: they match in file order. Each is a
// barrier: all items above it must be satisfied before it takes a
// message, and items below it take messages only after it.
//
// A maximal run of consecutive labelled items forms an interleave block;
// comments inside the run do not end it. Within a block, the items with
// the same label form a stream, whose items match in file order with
// their quantifiers, but messages of different streams may interleave
// in any way. Streams describe concurrent kernel threads:
//
//	Inside kthread_init function
//	[init] Created kthread
//	[thread] Initializing kthread work
//	[thread] Created kthread worker
//	[thread] Queue the work to worker
//	[thread] thread execution {+}
//	[worker] Inside work function
//	[worker] my_data->i = 0
//	[worker] my_data->i = 1
//
// accepts "Inside kthread_init function" first, then the worker's
// messages strictly in order with none missing, one or more "thread
// execution" messages anywhere after "Queue the work to worker", and
// "Created kthread" anywhere in the block. A label is local to its
// block: the same label in two blocks names two streams.
//
// When the threads that printed the messages are known ([Golden.MatchLines]),
// a stream is one thread: all its messages must come from one thread, and
// the streams of a block from different threads. The first message a
// stream takes binds it to its thread. Unlabelled items take messages of
// any thread, and so does every item when the thread is unknown.
//
// A label NAME@CONTEXT, such as `[tasklet@softirq]` or `[@hardirq]`
// (NAME may be empty), is not a thread: its stream takes the messages
// printed in that interrupt context (softirq, hardirq, nmi, or irq for
// any of them), on any CPU, whatever task the interrupt interrupted, and
// binds nothing. A thread's stream never takes such a message.
//
// A label ending in `?`, such as `[worker?]`, makes its stream
// optional: either the stream matches as usual, or none of its messages
// appear at all (for work that may be cancelled before it starts). All
// items of a stream in a block must agree on the `?`.
//
// When a message could be taken by more than one item (the same text in
// two streams, or a repeated item followed by the same message), every
// possibility is followed: the log matches if any of them works out.
//
// [Golden.Match] also reports the longest prefix of the messages that
// the file accepts, so that a step's messages can be told from the next
// step's, and whether more messages could still complete a match, so
// that a slow kernel can be waited for.
//
// # Updating
//
// [Golden.Update] rewrites a golden file to accept a new log with as
// small a diff as it can find: comments, labels and quantifiers of the
// lines that still match are kept, new messages become new lines (in
// the stream they interleave with), and lines that no longer match are
// deleted, or keep their line with an adjusted quantifier if they
// repeat. [New] writes a fresh golden file for a log; [NewRuns] and
// [Golden.UpdateRuns] do the same for logs whose threads are known, over
// one or more runs, labelling each thread's messages with its name.
type Golden struct {
	// Path names the file in errors and mismatch reports.
	Path string

	data     []byte       // the file as parsed, returned by Update when it still matches
	lines    []sourceLine // every line of the file, comments included
	items    []item       // the items in file order
	segments []segment    // the items grouped into ordered runs and interleave blocks
	// requiredFrom[s] counts the items of segments[s:] that require
	// messages, leaving out optional streams; it has len(segments)+1
	// entries.
	requiredFrom []int
	maxStreams   int // the most streams in one segment
	// normalize rewrites each message as parsed (ParseNormalized); nil
	// when messages are compared as written.
	normalize func(string) string
}

// A sourceLine is one line of the golden file as written.
type sourceLine struct {
	raw  string // the text without the newline, "\r" included
	item int    // index into Golden.items, or -1 for a comment
}

// An item is one parsed golden line that matches messages.
type item struct {
	line     int            // 1-based line number in the file
	label    string         // stream name; "" for an ordered item
	context  string         // the interrupt context the label takes lines of (NAME@softirq); "" for a thread
	optional bool           // the label ended in "?"
	msg      string         // the message, unescaped; as written if it has varying tokens
	re       *regexp.Regexp // the message's pattern if it has varying tokens, else nil
	quant    quant
	head     string // the source text without " QUANT", for rewriting the quantifier alone
	segment  int    // index into Golden.segments
	stream   int    // index into the segment's streams
	pos      int    // index into the stream's items
}

// A segment is either a run of consecutive ordered items, which behaves
// as a single stream, or an interleave block of labelled streams.
type segment struct {
	block   bool // an interleave block of labelled items
	streams []stream
	first   int // the segment's first item, where a message inserted before it goes
}

// A stream is a sequence of items that match in order.
type stream struct {
	label    string // "" in an ordered segment
	context  string // Softirq, Hardirq, NMI or AnyIRQ for a label NAME@CONTEXT
	optional bool
	items    []int // indices into Golden.items
	// optionalFrom[i] reports whether items[i:] all have a minimum of 0,
	// and requiredFrom[i] counts those that do not. Both have
	// len(items)+1 entries.
	optionalFrom []bool
	requiredFrom []int
}

// Parse parses a golden file. Errors have the form
// "path:LINE: what is wrong".
func Parse(path string, data []byte) (*Golden, error) {
	g := &Golden{Path: path, data: data}
	if len(data) > MaxFile {
		return nil, fmt.Errorf("%s: a golden file of %d bytes: the most is %d", path, len(data), MaxFile)
	}
	for i, raw := range SplitLines(string(data)) {
		if len(raw) > MaxLine {
			return nil, fmt.Errorf("%s:%d: a line of %d bytes: a golden line is at most %d", path, i+1, len(raw), MaxLine)
		}
		line := strings.TrimSuffix(raw, "\r")
		if isComment(line) {
			g.lines = append(g.lines, sourceLine{raw: raw, item: -1})
			continue
		}
		it, err := parseItem(line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", path, i+1, err)
		}
		it.line = i + 1
		g.lines = append(g.lines, sourceLine{raw: raw, item: len(g.items)})
		g.items = append(g.items, it)
	}
	if err := g.group(); err != nil {
		return nil, err
	}
	return g, nil
}

// ParseNormalized parses a golden file whose messages are compared after
// normalize rewrites them (a step's output: both sides are normalised),
// as Parse does and then normalising each message. Update keeps the
// lines as written.
func ParseNormalized(path string, data []byte, normalize func(string) string) (*Golden, error) {
	g := &Golden{Path: path, normalize: normalize}
	return g.reparse(data)
}

// reparse parses data as g was parsed: with g's path, and normalised as
// g's messages were, so that Update checks a revision as it will be read.
func (g *Golden) reparse(data []byte) (*Golden, error) {
	ng, err := Parse(g.Path, data)
	if err != nil || g.normalize == nil {
		return ng, err
	}
	ng.normalize = g.normalize
	for i := range ng.items {
		ng.items[i].msg = ng.normalize(ng.items[i].msg)
	}
	return ng, nil
}

// SplitLines splits text into lines; a final newline does not start
// another line.
func SplitLines(text string) []string {
	if text == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(text, "\n"), "\n")
}

func isComment(line string) bool {
	return strings.TrimLeft(line, " \t") == "" || strings.HasPrefix(line, "#")
}

// parseItem parses a line that is not a comment.
func parseItem(line string) (item, error) {
	var it item
	rest := line
	if msg, ok := CutTimestamp(line); ok {
		// A line pasted from a tutorial's dmesg: its timestamp is no part
		// of the message (kernel records have none, and a step's output
		// loses it in normalising), and what follows it is the message,
		// as written, even a "[drm]" that would read as a label.
		rest = `\` + msg
	} else if strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return it, fmt.Errorf("unterminated label %q (a message starting with [ is written \\[)", line)
		}
		name := rest[1:end]
		it.optional = strings.HasSuffix(name, "?")
		name = strings.TrimSuffix(name, "?")
		short, context, err := splitContext(name)
		if err != nil {
			return it, err
		}
		if context == "" && !validLabel(short) {
			return it, fmt.Errorf("bad label %q: want [name] or [name?], name made of letters, digits, spaces and _-./: with a letter (a message starting with [ is written \\[)", rest[:end+1])
		}
		it.label, it.context = name, context
		rest = rest[end+1:]
		if !strings.HasPrefix(rest, " ") {
			return it, fmt.Errorf("label %q must be followed by a space and the message", line[:end+1])
		}
		rest = rest[1:]
	}
	msg, q, suffix, err := splitQuant(rest)
	if err != nil {
		return it, err
	}
	it.head = line[:len(line)-len(suffix)]
	if it.msg, it.re, err = parsePattern(strings.TrimPrefix(msg, `\`)); err != nil {
		return it, err
	}
	it.quant = q
	return it, nil
}

// dmesgTimestamp is the timestamp dmesg and the console print before a
// kernel message: "[  835.288192] ".
var dmesgTimestamp = regexp.MustCompile(`^\[ *[0-9]+\.[0-9]+\] ?`)

// StripTimestamp removes a leading dmesg timestamp.
func StripTimestamp(line string) string {
	msg, _ := CutTimestamp(line)
	return msg
}

// CutTimestamp returns line without its leading dmesg timestamp, and
// whether it had one.
func CutTimestamp(line string) (string, bool) {
	loc := dmesgTimestamp.FindStringIndex(line)
	if loc == nil {
		return line, false
	}
	return line[loc[1]:], true
}

// validLabel reports whether name may be a label: a thread's name, such
// as "kthread_init_work worker example" or "kworker/0:1", made of ASCII
// letters, digits, spaces and `_-./:`, with a letter and no space at either
// end.
func validLabel(name string) bool {
	if name == "" || name[0] == ' ' || name[len(name)-1] == ' ' {
		return false
	}
	letter := false
	for _, r := range name {
		if !labelChar(r) {
			return false
		}
		letter = letter || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z'
	}
	return letter
}

func labelChar(r rune) bool {
	return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("_-./: ", r)
}

// group builds the segments and streams from the items.
func (g *Golden) group() error {
	for i := range g.items {
		it := &g.items[i]
		last := len(g.segments) - 1
		block := it.label != ""
		if last < 0 || g.segments[last].block != block {
			g.segments = append(g.segments, segment{block: block, first: i})
			last++
		}
		seg := &g.segments[last]
		k := 0
		for k < len(seg.streams) && seg.streams[k].label != it.label {
			k++
		}
		if k == len(seg.streams) {
			seg.streams = append(seg.streams, stream{label: it.label, context: it.context, optional: it.optional})
		}
		st := &seg.streams[k]
		if st.optional != it.optional {
			first := g.items[st.items[0]]
			return fmt.Errorf("%s:%d: [%s] is %s here but %s at line %d: mark all of a stream's lines [%s?] or none",
				g.Path, it.line, it.label, optionalWord(it.optional), optionalWord(first.optional), first.line, it.label)
		}
		it.segment, it.stream, it.pos = last, k, len(st.items)
		st.items = append(st.items, i)
	}
	g.requiredFrom = make([]int, len(g.segments)+1)
	for s := len(g.segments) - 1; s >= 0; s-- {
		seg := &g.segments[s]
		g.maxStreams = max(g.maxStreams, len(seg.streams))
		g.requiredFrom[s] = g.requiredFrom[s+1]
		for k := range seg.streams {
			st := &seg.streams[k]
			st.optionalFrom = make([]bool, len(st.items)+1)
			st.optionalFrom[len(st.items)] = true
			st.requiredFrom = make([]int, len(st.items)+1)
			for i := len(st.items) - 1; i >= 0; i-- {
				required := g.items[st.items[i]].quant.min > 0
				st.optionalFrom[i] = st.optionalFrom[i+1] && !required
				st.requiredFrom[i] = st.requiredFrom[i+1]
				if required {
					st.requiredFrom[i]++
				}
			}
			if !st.optional {
				g.requiredFrom[s] += st.requiredFrom[0]
			}
		}
	}
	return nil
}

func optionalWord(optional bool) string {
	if optional {
		return "optional"
	}
	return "required"
}
