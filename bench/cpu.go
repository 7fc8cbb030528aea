package bench

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is Linux's USER_HZ, the unit of /proc/PID/stat times: 100 on
// every architecture Go supports.
const clockTicks = 100

// cpuTime returns the CPU time (user + system) used so far by process pid,
// or by this process when pid is 0. It reads /proc, so it works on Linux
// only; elsewhere it returns an error and the figures are left out.
func cpuTime(pid int) (time.Duration, error) {
	if pid == 0 {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			return 0, fmt.Errorf("bench: getrusage: %w", err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("bench: server CPU: %w", err)
	}
	// The command name (field 2) may hold spaces; it ends at the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("bench: /proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, fmt.Errorf("bench: /proc/%d/stat: too few fields", pid)
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseUint(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bench: /proc/%d/stat: bad times", pid)
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// cpuMeter measures the CPU that the server (pid; none if 0) and the load
// generator use between start and stop. Its methods are called from one
// goroutine at a time (start from a timer, stop after it: see measure).
type cpuMeter struct {
	pid              int
	t0               time.Time
	server0, self0   time.Duration
	serverOK, selfOK bool
}

func (m *cpuMeter) start() {
	m.t0 = time.Now()
	var err error
	m.self0, err = cpuTime(0)
	m.selfOK = err == nil
	if m.pid > 0 {
		m.server0, err = cpuTime(m.pid)
		m.serverOK = err == nil
	}
}

// stop returns the cores used on average (CPU seconds per second) by the
// server and by the load generator; -1 where unknown.
func (m *cpuMeter) stop() (server, self float64) {
	server, self = -1, -1
	el := time.Since(m.t0).Seconds()
	if el <= 0 || m.t0.IsZero() {
		return server, self
	}
	if c, err := cpuTime(0); err == nil && m.selfOK {
		self = (c - m.self0).Seconds() / el
	}
	if m.serverOK {
		if c, err := cpuTime(m.pid); err == nil {
			server = (c - m.server0).Seconds() / el
		}
	}
	return server, self
}
