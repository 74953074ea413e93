package report

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/kmodcheck/kmodcheck/runner/script"
	"github.com/kmodcheck/kmodcheck/runner/target"
)

// A Progress shows a run as it goes: what each case × kernel is doing, and
// each one's outcome line (Line) as it ends. Its methods may be called from
// several goroutines at once.
type Progress interface {
	Start(caseName, kernel string)
	Notice(kernel string, n script.Notice)
	Done(r script.Result)
	// Close ends the display; nothing of it is left on the screen but the
	// outcome lines.
	Close()
}

// Plain is a Progress for logs and pipes: a line per event, then a case's
// outcome line when it ends, nothing ever rewritten. Each event line names
// its case and kernel, so that the lines of cases running at once can be
// told apart:
//
//	=== RUN   well_behaved [6.1.0-56-amd64]
//	=== BOOT  well_behaved [6.1.0-56-amd64] booting
//	=== BOOT  well_behaved [6.1.0-56-amd64] ready in 10.2s (tcg)
//	=== STEP  well_behaved [6.1.0-56-amd64] make: exit 0 (1.2s)
//	=== KMSG  well_behaved [6.1.0-56-amd64] kmsg insmod: ok (0.1s)
//	=== OUT   well_behaved [6.1.0-56-amd64] out lsmod: ok (0.0s)
//	=== STEP  well_behaved [6.1.0-56-amd64] rmmod fine: exit 0 (0.3s)
//	=== KMSG  well_behaved [6.1.0-56-amd64] kmsg rmmod: mismatch (0.0s): golden/well_behaved/rmmod.kmsg:1: want ...
//	PASS	well_behaved [6.1.0-56-amd64 tcg]	15.4s
type Plain struct {
	mu      sync.Mutex
	w       io.Writer
	verbose bool // transcripts of passing cases too
}

// NewPlain returns a Plain writing to w.
func NewPlain(w io.Writer, verbose bool) *Plain { return &Plain{w: w, verbose: verbose} }

func (p *Plain) Start(caseName, kernel string) {
	p.printf("=== RUN   %s [%s]\n", caseName, kernel)
}

func (p *Plain) Notice(kernel string, n script.Notice) {
	verb, text := noticeLine(n)
	if verb == "" {
		return
	}
	p.printf("=== %-5s %s [%s] %s\n", verb, n.Case, kernel, text)
}

func (p *Plain) Done(r script.Result) {
	p.mu.Lock()
	defer p.mu.Unlock()
	Line(p.w, r, p.verbose)
}

func (p *Plain) Close() {}

func (p *Plain) printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, format, args...)
}

// noticeLine is a notice's verb and text for Plain; "" for notices it
// does not print (the start of a step or a comparison: its end says it
// all).
func noticeLine(n script.Notice) (verb, text string) {
	switch n.Kind {
	case script.Booting:
		return "BOOT", "booting"
	case script.Booted:
		if n.BootErr != nil {
			return "BOOT", "failed: " + firstLine(n.BootErr.Error())
		}
		return "BOOT", fmt.Sprintf("ready in %.1fs (%s)", n.Boot.Boot.Seconds(), accel(n.Boot.Accel))
	case script.StepDone:
		if n.Step.Kind == script.Compare {
			if strings.HasSuffix(n.Step.Compare.Golden, script.OutputExt) {
				return "OUT", compareLine(n.Step) // a step's output, not the kernel's log
			}
			return "KMSG", compareLine(n.Step)
		}
		return "STEP", commandLine(n.Step)
	}
	return "", ""
}

// commandLine is a command that ran, for Plain.
func commandLine(s script.Step) string {
	res := s.Result
	if s.Err != nil { // no exit status: the step did not end (interrupted, or the guest gone)
		return fmt.Sprintf("%s: %s (%.1fs)", res.Step.Line, firstLine(s.Err.Error()), res.Duration.Seconds())
	}
	text := fmt.Sprintf("%s: exit %d (%.1fs)", res.Step.Line, res.Exit, res.Duration.Seconds())
	if res.TimedOut {
		text += ", timed out"
	}
	return text
}

// compareLine is a comparison that was made, for Plain.
func compareLine(s script.Step) string {
	c := s.Compare
	text := fmt.Sprintf("%s: %s (%.1fs)", s.Line, compareOutcome(c), c.Waited.Seconds())
	if c.Updated {
		text += ": updated " + c.Golden
	} else if c.Mismatch != "" {
		text += ": " + c.Mismatch
	}
	return text
}

func compareOutcome(c *script.Comparison) string {
	switch {
	case c.Updated:
		return "updated"
	case c.OK:
		return "ok"
	}
	return "mismatch"
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// Live is a Progress for a terminal: below the outcome lines, which scroll
// as usual, a block of a line per case × kernel running now, with its
// stage (booting, building, the step running, comparing a golden) and the
// times, and a line of counts. The block is redrawn in place, a few times a
// second, with ANSI cursor movements.
type Live struct {
	mu      sync.Mutex
	w       io.Writer
	size    func() (width, height int)
	total   int
	verbose bool
	now     func() time.Time
	start   time.Time

	running          []*liveCase
	done, fail, skip int
	drawn            int // lines of the block on the screen
	closed           bool
	stop             chan struct{}
	stopped          chan struct{}
}

type liveCase struct {
	name, kernel string
	start        time.Time
	stage        string
	since        time.Time // the stage's start
	active       bool      // the stage is something under way: show its time
	booting      time.Time // when its kernel began to boot
}

// LiveRefresh is how often Live redraws its block.
const LiveRefresh = 200 * time.Millisecond

// NewLive returns a Live writing to w, a terminal whose size size reports,
// for a run of total case × kernel pairs. It redraws every refresh until
// Close; refresh 0 redraws only on events (for tests).
func NewLive(w io.Writer, size func() (int, int), total int, verbose bool, refresh time.Duration) *Live {
	l := &Live{w: w, size: size, total: total, verbose: verbose, now: time.Now, stop: make(chan struct{}), stopped: make(chan struct{})}
	l.start = l.now()
	if refresh <= 0 {
		close(l.stopped)
		return l
	}
	go func() {
		defer close(l.stopped)
		t := time.NewTicker(refresh)
		defer t.Stop()
		for {
			select {
			case <-l.stop:
				return
			case <-t.C:
				l.refresh()
			}
		}
	}()
	return l
}

// refresh redraws the block: its times have moved on.
func (l *Live) refresh() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.redraw(nil)
}

func (l *Live) Start(caseName, kernel string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.running = append(l.running, &liveCase{name: caseName, kernel: kernel, start: now, stage: "starting", since: now, active: true})
	l.redraw(nil)
}

func (l *Live) Notice(kernel string, n script.Notice) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.find(n.Case, kernel)
	if c == nil {
		return
	}
	stage, active := liveStage(n)
	if stage == "" {
		return
	}
	c.stage, c.active, c.since = stage, active, l.now()
	switch n.Kind {
	case script.Booting:
		c.booting = c.since
	case script.Awaiting: // the boot goes on: its time counts from its start
		c.since = c.booting
	}
	l.redraw(nil)
}

// liveStage is what a case is doing after a notice, and whether that is
// under way.
func liveStage(n script.Notice) (string, bool) {
	switch s := n.Step; n.Kind {
	case script.Booting, script.Awaiting:
		return "booting", true
	case script.Booted:
		if n.BootErr != nil {
			return "boot failed", false
		}
		return fmt.Sprintf("booted in %.1fs (%s)", n.Boot.Boot.Seconds(), accel(n.Boot.Accel)), false
	case script.StepStarted:
		switch {
		case s.Kind == script.Compare:
			return "comparing: " + s.Line, true
		case s.Where == target.OnBuild:
			return "building: " + s.Line, true
		}
		return "running: " + s.Line, true
	case script.StepDone:
		if s.Kind == script.Compare {
			return fmt.Sprintf("compared: %s (%s)", s.Line, compareOutcome(s.Compare)), false
		}
		return fmt.Sprintf("ran: %s (exit %d)", s.Result.Step.Line, s.Result.Exit), false
	}
	return "", false
}

func (l *Live) Done(r script.Result) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, c := range l.running {
		if c.name == r.Case && c.kernel == r.Kernel {
			l.running = append(l.running[:i], l.running[i+1:]...)
			break
		}
	}
	l.done++
	switch r.Status {
	case script.Fail:
		l.fail++
	case script.Skip:
		l.skip++
	}
	var b bytes.Buffer
	Line(&b, r, l.verbose)
	l.redraw(b.Bytes())
}

func (l *Live) Close() {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	var b bytes.Buffer
	l.erase(&b)
	l.w.Write(b.Bytes())
	l.mu.Unlock()
	select {
	case <-l.stopped:
	default:
		close(l.stop)
		<-l.stopped
	}
}

func (l *Live) find(name, kernel string) *liveCase {
	for _, c := range l.running {
		if c.name == name && c.kernel == kernel {
			return c
		}
	}
	return nil
}

// erase moves the cursor to the block's first line and clears from there.
func (l *Live) erase(b *bytes.Buffer) {
	if l.drawn > 0 {
		fmt.Fprintf(b, "\r\x1b[%dA\x1b[J", l.drawn)
	}
	l.drawn = 0
}

// redraw erases the block, writes above (outcome lines) where it was, and
// draws the block again, in one write.
func (l *Live) redraw(above []byte) {
	if l.closed {
		return
	}
	var b bytes.Buffer
	l.erase(&b)
	b.Write(above)
	lines := l.frame()
	for _, s := range lines {
		b.WriteString(s)
		b.WriteString("\x1b[K\n")
	}
	l.drawn = len(lines)
	l.w.Write(b.Bytes())
}

// frame is the block's lines, each shorter than the terminal is wide (a
// line that wrapped would throw the cursor movements off), and no more than
// its height allows.
func (l *Live) frame() []string {
	width, height := l.size()
	if width <= 0 {
		width = 80
	}
	if height <= 0 {
		height = 24
	}
	now := l.now()
	nameW := 0
	for _, c := range l.running {
		nameW = max(nameW, utf8.RuneCountInString(c.name)+utf8.RuneCountInString(c.kernel)+3)
	}
	var lines []string
	for _, c := range l.running {
		label := fmt.Sprintf("%s [%s]", c.name, c.kernel)
		stage := c.stage
		if c.active {
			stage += fmt.Sprintf(" %s", clock(now.Sub(c.since)))
		}
		lines = append(lines, fit(fmt.Sprintf("  %-*s %7s  %s", nameW, label, clock(now.Sub(c.start)), stage), width-1))
	}
	if max := height - 2; len(lines) > max && max >= 1 {
		more := len(lines) - max + 1
		lines = append(lines[:max-1], fit(fmt.Sprintf("  ... and %d more running", more), width-1))
	}
	waiting := l.total - l.done - len(l.running)
	counts := fmt.Sprintf("%d/%d done", l.done, l.total)
	if l.fail > 0 {
		counts += fmt.Sprintf(", %d failed", l.fail)
	}
	if l.skip > 0 {
		counts += fmt.Sprintf(", %d skipped", l.skip)
	}
	counts += fmt.Sprintf(" | %d running", len(l.running))
	if waiting > 0 {
		counts += fmt.Sprintf(" | %d waiting", waiting)
	}
	counts += " | " + clock(now.Sub(l.start))
	return append(lines, fit(counts, width-1))
}

// clock is a duration as 9.9s, or 1m02s past a minute.
func clock(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	d = d.Round(time.Second)
	return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
}

// fit cuts s to at most n runes, ending it with "..." if it was cut.
func fit(s string, n int) string {
	if n < 4 {
		n = 4
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-3]) + "..."
}
