package qemu

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/kmodcheck/kmodcheck/runner/proto"
	"github.com/kmodcheck/kmodcheck/runner/target"
)

// The lifecycle tests start VMs of a fake QEMU, as hugelgupf/vmtest's
// tests do with sleep: this test binary, run through a script (fakeQEMU)
// with the behaviour named in fakeQEMUEnv. Where it boots, it serves the
// guest agent's port itself.
const (
	fakeQEMUEnv = "KMODCHECK_TEST_FAKE_QEMU"
	fakeDirEnv  = "KMODCHECK_TEST_FAKE_QEMU_DIR" // where it appends its command line, a line per start
)

// The fake QEMU's behaviours.
const (
	fakeServe     = "serve"      // boots, and its agent answers every request
	fakeSilent    = "silent"     // boots, and its agent never answers a step: a locked-up kernel
	fakeOopsAlive = "oops-alive" // each step prints an oops on the console and answers 6 s later, the guest alive meanwhile
	fakeOopsDead  = "oops-dead"  // each step prints an oops on the console, and the guest answers nothing more
	fakeHang      = "hang"       // never gets as far as the agent
	fakePanic     = "panic"      // the kernel panics while booting, every time
	fakePanicOnce = "panic-once" // the first start panics, the next boots
	fakeBadState  = "bad-state"  // a restore fails as QEMU's does; a cold boot boots
	fakePowerOff  = "poweroff"   // the guest powers off before its agent starts
	fakeGated     = "gated"      // boots once the test writes to the FIFO gate in its directory
)

// fakeRelease is the kernel the fake guest agent says it runs.
const fakeRelease = "6.1.0-99-amd64"

// FakeQEMU runs this test binary as the fake QEMU when a lifecycle test
// started it so, and returns otherwise: TestMain calls it first.
func FakeQEMU() {
	if behaviour := os.Getenv(fakeQEMUEnv); behaviour != "" {
		os.Exit(fakeQEMUMain(behaviour, os.Getenv(fakeDirEnv), os.Args[1:]))
	}
}

// fakeQEMUMain behaves as behaviour says, its standard output the serial
// console, and returns its exit status: 1 after a panic, as QEMU's with
// -action panic=exit-failure.
func fakeQEMUMain(behaviour, dir string, args []string) int {
	boots := filepath.Join(dir, "boots")
	f, err := os.OpenFile(boots, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return 3
	}
	fmt.Fprintln(f, strings.Join(args, " "))
	f.Close()
	b, _ := os.ReadFile(boots)
	starts := strings.Count(string(b), "\n")
	fmt.Println("fake QEMU: booting")
	switch {
	case behaviour == fakeHang:
		time.Sleep(10 * time.Minute)
		return 0
	case behaviour == fakePanic || behaviour == fakePanicOnce && starts == 1:
		fmt.Println("[    0.512345] Kernel panic - not syncing: fake")
		return 1
	case behaviour == fakeBadState && slices.Contains(args, "-incoming"):
		fmt.Fprintln(os.Stderr, "qemu-system-x86_64: load of migration failed: Invalid argument")
		return 1
	case behaviour == fakePowerOff:
		fmt.Println("reboot: Power down")
		return 0
	case behaviour == fakeGated:
		os.ReadFile(filepath.Join(dir, "gate")) // returns once the test writes
	}
	if i := slices.Index(args, "-qmp"); i >= 0 && i+1 < len(args) {
		sock, _, _ := strings.Cut(strings.TrimPrefix(args[i+1], "unix:"), ",")
		if err := serveQMP(sock, filepath.Join(dir, "qmp")); err != nil {
			fmt.Fprintln(os.Stderr, "fake QEMU:", err)
			return 3
		}
	}
	if err := serveAgent(args, behaviour); err != nil {
		fmt.Fprintln(os.Stderr, "fake QEMU:", err)
		return 3
	}
	return 0
}

// serveQMP listens on the QMP socket and answers every command with
// success, as QEMU does to the commands that save and restore a state; it
// appends each command to the file log, a line each.
func serveQMP(sock, log string) error {
	l, err := net.Listen("unix", sock)
	if err != nil {
		return err
	}
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				fmt.Fprintln(conn, `{"QMP": {"version": {}, "capabilities": []}}`)
				r := bufio.NewScanner(conn)
				for r.Scan() {
					if f, err := os.OpenFile(log, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
						fmt.Fprintln(f, r.Text())
						f.Close()
					}
					fmt.Fprintln(conn, `{"return": {}}`)
				}
			}()
		}
	}()
	return nil
}

// serveAgent listens on the agent's, the kernel log's and the liveness
// ports, as QEMU does, and answers as the guest agent would until it is
// told to power off; as behaviour says, a step may print an oops on the
// console, and the guest may answer nothing more (fakeSilent, fakeOopsDead).
func serveAgent(args []string, behaviour string) error {
	dead := behaviour == fakeSilent || behaviour == fakeOopsDead
	oops := behaviour == fakeOopsAlive || behaviour == fakeOopsDead
	agent, err := net.Listen("unix", chardevPath(args, "agent"))
	if err != nil {
		return err
	}
	alive, err := net.Listen("unix", chardevPath(args, "alive"))
	if err != nil {
		return err
	}
	go func() {
		conn, err := alive.Accept()
		if err == nil && !dead {
			io.Copy(conn, conn) // the agent's echo
		}
	}()
	kmsgPort, err := net.Listen("unix", chardevPath(args, "kmsg"))
	if err != nil {
		return err
	}
	conn, err := agent.Accept()
	if err != nil {
		return err
	}
	r := bufio.NewReader(conn)
	if _, err := r.ReadString('\n'); err != nil { // the case's line, for /init
		return fmt.Errorf("case line: %w", err)
	}
	kmsgConn, err := kmsgPort.Accept()
	if err != nil {
		return err
	}
	defer kmsgConn.Close()
	wire := proto.NewConn(struct {
		io.Reader
		io.Writer
	}{r, conn})
	if err := wire.Send(proto.Hello{Release: fakeRelease, Shell: "/bin/sh -c"}); err != nil {
		return err
	}
	pwd := "" // where the case's shell is: cd DIR moves it
	for {
		var req proto.Request
		if err := wire.Receive(&req); err != nil {
			return nil // the host closed the channel
		}
		var resp proto.Response
		switch req.Op {
		case proto.OpPoweroff:
			return nil
		case proto.OpRun:
			if oops {
				fmt.Println("[   12.345678] BUG: kernel NULL pointer dereference, address: 0000000000000000")
			}
			switch {
			case dead:
				time.Sleep(10 * time.Minute)
			case oops:
				time.Sleep(faultGrace + 2*time.Second) // the step runs on after the oops
			}
			resp.Stdout = []byte(req.Line + "\n")
			if dir, ok := strings.CutPrefix(req.Line, "cd "); ok {
				pwd = dir
			}
			resp.Pwd = cmp.Or(pwd, req.Dir)
		case proto.OpInspect:
			resp.State = &target.State{}
		}
		if err := wire.Send(resp); err != nil {
			return err
		}
	}
}

// chardevPath is the socket path of QEMU's -chardev socket,id=ID.
func chardevPath(args []string, id string) string {
	for i, a := range args {
		if a != "-chardev" || i+1 == len(args) {
			continue
		}
		opts := strings.Split(args[i+1], ",")
		if opts[0] == "socket" && slices.Contains(opts, "id="+id) {
			for _, o := range opts {
				if p, ok := strings.CutPrefix(o, "path="); ok {
					return p
				}
			}
		}
	}
	return ""
}
