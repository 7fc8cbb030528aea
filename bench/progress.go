package bench

import (
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// Progress is told how a run advances: one phase at a time (Start … Done).
// Set and Describe may be called from several goroutines at once.
type Progress interface {
	Start(phase string, total int64)
	Set(n int64)
	Describe(s string)
	Done()
}

type nopProgress struct{}

func (nopProgress) Start(string, int64) {}
func (nopProgress) Set(int64)           {}
func (nopProgress) Describe(string)     {}
func (nopProgress) Done()               {}

// BarProgress draws a progress bar per phase on w (stderr, a terminal).
type BarProgress struct {
	W  io.Writer
	mu sync.Mutex
	b  *progressbar.ProgressBar
}

// Start implements Progress.
func (p *BarProgress) Start(phase string, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.b = progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(p.W),
		progressbar.OptionSetDescription(phase),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionShowElapsedTimeOnFinish(),
		progressbar.OptionOnCompletion(func() { io.WriteString(p.W, "\n") }),
	)
}

func (p *BarProgress) bar() *progressbar.ProgressBar {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.b
}

// Set implements Progress.
func (p *BarProgress) Set(n int64) {
	if b := p.bar(); b != nil {
		_ = b.Set64(n)
	}
}

// Describe implements Progress.
func (p *BarProgress) Describe(s string) {
	if b := p.bar(); b != nil {
		b.Describe(s)
	}
}

// Done implements Progress.
func (p *BarProgress) Done() {
	if b := p.bar(); b != nil {
		_ = b.Finish()
	}
}
