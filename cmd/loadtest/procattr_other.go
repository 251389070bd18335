//go:build !linux

package main

import "os/exec"

// setProcAttr does nothing here: the harness reads /proc and runs on Linux.
func setProcAttr(*exec.Cmd) {}
