package target

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"syscall"
	"time"
)

// RunLocal runs a step's line with /bin/sh on this machine, in its own
// process group so that a timeout kills everything it started.
func RunLocal(ctx context.Context, step Step, env []string) Result {
	if step.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, step.Timeout)
		defer cancel()
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command("/bin/sh", "-c", step.Line)
	cmd.Dir = step.Dir
	cmd.Env = append(append(env, "PWD="+step.Dir), step.Env...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = time.Second
	start := time.Now()
	res := Result{Step: step, Exit: -1}
	if err := cmd.Start(); err != nil {
		res.Stderr = []byte(err.Error())
		return res
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		err = <-done
		res.TimedOut = true
	}
	res.Duration = time.Since(start)
	res.Stdout, res.Stderr = stdout.Bytes(), stderr.Bytes()
	var exitErr *exec.ExitError
	if err == nil || errors.As(err, &exitErr) {
		res.Exit = cmd.ProcessState.ExitCode()
	}
	return res
}
