package main

import (
	"os/exec"
	"syscall"
)

// setProcAttr makes the kernel kill cmd if this process dies first, so that
// an interrupted run leaves no broker, Caddy or wrk behind.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
