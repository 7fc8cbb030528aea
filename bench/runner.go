package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram range: 1 µs to 60 s at 3 significant digits.
const (
	histMinMicros = 1
	histMaxMicros = 60_000_000
	histSigFigs   = 3
)

// maxKeptErrors bounds the error messages a result keeps as examples.
const maxKeptErrors = 5

// recorder gathers one worker's latencies and errors. A worker's Depth
// goroutines (Goroutines pipelining) share it under mu; with Batches one
// goroutine uses it, uncontended.
type recorder struct {
	mu     sync.Mutex
	hist   [numOpKinds]*hdrhistogram.Histogram
	errs   [numOpKinds]uint64
	sample []string
}

func newRecorder() *recorder {
	r := &recorder{}
	for k := range r.hist {
		r.hist[k] = hdrhistogram.New(histMinMicros, histMaxMicros, histSigFigs)
	}
	return r
}

func (r *recorder) record(kind OpKind, d time.Duration, err error) {
	us := max(d.Microseconds(), histMinMicros)
	r.mu.Lock()
	if err != nil {
		r.errs[kind]++
		if len(r.sample) < maxKeptErrors {
			r.sample = append(r.sample, err.Error())
		}
	} else {
		_ = r.hist[kind].RecordValue(min(us, histMaxMicros)) // clamped: cannot fail
	}
	r.mu.Unlock()
}

// Run benchmarks one target with o: it checks that the sampled games start
// empty, measures memory, preloads, measures memory again, runs the warm-up
// and the measured phase, then reads back the sampled games and compares
// them with what it wrote. A failed check is reported in the result
// (TargetResult.Check.OK), not as an error; the error is for runs that could
// not be carried out. progress, if not nil, is told how the run advances.
func Run(ctx context.Context, o Options, t Target, env Env) (TargetResult, error) {
	res, _, err := run(ctx, o, t, env)
	return res, err
}

// Env is what a run needs besides the workload: where to log and report
// progress, and the server's process id for CPU figures.
type Env struct {
	Logger   *slog.Logger // default slog.Default()
	Progress Progress     // nil: none
	// ServerPID, if not 0, is the target server's process on this machine:
	// the result then says how many cores it used during the measured
	// phase (from /proc; Linux only), beside the load generator's own.
	ServerPID int
}

// run is Run, also returning the expectation the check used (tests plant
// discrepancies and check again).
func run(ctx context.Context, o Options, t Target, env Env) (TargetResult, *expectation, error) {
	if err := o.Validate(); err != nil {
		return TargetResult{}, nil, err
	}
	logger, progress := env.Logger, env.Progress
	o = o.withDefaults()
	if logger == nil {
		logger = slog.Default()
	}
	if progress == nil {
		progress = nopProgress{}
	}
	res := TargetResult{Target: t.Name(), Pipelining: t.Pipelining().String()}
	lanes := o.Concurrency * o.Depth
	w := NewWorkload(o, lanes)
	ex := newExpectation(w)

	if err := checkEmpty(ctx, o, t, ex); err != nil {
		return res, nil, err
	}
	before, err := t.Memory(ctx)
	if err != nil {
		return res, nil, err
	}
	logger.Info("bench: preloading", "target", t.Name(), "likes", o.preload())
	res.Preload = preload(ctx, o, t, w, ex, progress)
	if res.Preload.Errors > 0 {
		logger.Warn("bench: preload errors", "target", t.Name(), "errors", res.Preload.Errors, "example", res.Preload.FirstError)
	}
	after, err := t.Memory(ctx)
	if err != nil {
		return res, nil, err
	}
	res.Memory = memoryResult(before, after, res.Preload.Distinct)

	logger.Info("bench: running", "target", t.Name(), "warmup", o.warmup(), "duration", o.Duration,
		"concurrency", o.Concurrency, "depth", o.Depth, "conns", o.Conns, "likes_conns", o.LikesConns, "pipelining", res.Pipelining)
	cpu := &cpuMeter{pid: env.ServerPID}
	recs, logs, elapsed := measure(ctx, o, t, w, ex, progress, cpu)
	res.summarize(recs, elapsed)
	res.ServerCores, res.BenchCores = cpu.stop()
	ex.addLanes(logs)

	res.Check = check(ctx, o, t, ex)
	return res, ex, nil
}

// checkEmpty fails when a sampled game already has likes: the check's
// expected state starts from empty sets.
func checkEmpty(ctx context.Context, o Options, t Target, ex *expectation) error {
	ops := make([]Op, 0, len(ex.games))
	for _, g := range ex.games {
		ops = append(ops, Op{Kind: OpCount, Game: g})
	}
	res := make([]OpResult, len(ops))
	ctx, cancel := context.WithTimeout(ctx, o.OpTimeout)
	defer cancel()
	bulk(t)(ctx, ops, res)
	for i, r := range res {
		if r.Err != nil {
			return fmt.Errorf("bench: %s: reading game %d before the run: %w", t.Name(), ops[i].Game, r.Err)
		}
		if r.Count != 0 {
			return fmt.Errorf("bench: %s: game %d already has %d likes: start from an empty target, or pass a game offset past the earlier run's games (this run uses %d to %d)",
				t.Name(), ops[i].Game, r.Count, o.GameOffset+1, o.GameOffset+uint64(o.Games))
		}
	}
	return nil
}

// preload writes o.Preload likes with Concurrency workers, each sending
// PreloadDepth at once. Which worker writes which like does not matter:
// likes commute.
func preload(ctx context.Context, o Options, t Target, w *Workload, ex *expectation, progress Progress) PreloadResult {
	n := uint64(o.preload())
	progress.Start("preload "+t.Name(), int64(n))
	defer progress.Done()
	var next, distinct, errs, done atomic.Uint64
	var firstErr atomic.Value
	start := time.Now()
	var wg sync.WaitGroup
	for range o.Concurrency {
		wg.Go(func() {
			ops := make([]Op, o.PreloadDepth)
			res := make([]OpResult, o.PreloadDepth)
			for {
				lo := next.Add(uint64(o.PreloadDepth)) - uint64(o.PreloadDepth)
				if lo >= n || ctx.Err() != nil {
					return
				}
				hi := min(lo+uint64(o.PreloadDepth), n)
				k := int(hi - lo)
				for i := range k {
					g, u := w.PreloadLike(lo + uint64(i))
					ops[i] = Op{Kind: OpLike, Game: g, User: u}
				}
				opCtx, cancel := context.WithTimeout(ctx, o.OpTimeout)
				bulk(t)(opCtx, ops[:k], res[:k])
				cancel()
				for i := range k {
					switch {
					case res[i].Err != nil:
						errs.Add(1)
						firstErr.CompareAndSwap(nil, res[i].Err.Error())
						ex.preloadFailed(ops[i].Game, ops[i].User)
					case res[i].Changed:
						distinct.Add(1)
					}
				}
				progress.Set(int64(done.Add(uint64(k))))
			}
		})
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	pr := PreloadResult{Likes: n, Distinct: distinct.Load(), Errors: errs.Load(), Seconds: el}
	if el > 0 {
		pr.OpsPerSec = float64(n) / el
	}
	if s, ok := firstErr.Load().(string); ok {
		pr.FirstError = s
	}
	return pr
}

func memoryResult(before, after Memory, distinct uint64) MemoryResult {
	m := MemoryResult{Likes: distinct, BaselineBytes: before.UsedBytes, UsedBytes: after.UsedBytes,
		HeldBytes: after.HeldBytes, SetBytes: after.SetBytes}
	if after.Likes > 0 {
		m.Likes = after.Likes // the target's own count, when it has one
	}
	if m.Likes == 0 {
		return m
	}
	l := float64(m.Likes)
	// Both sides are charged their whole reading, the empty target's
	// baseline included (the conservative reading, the same on both).
	m.BytesPerLike = float64(after.UsedBytes) / l
	if after.UsedBytes > before.UsedBytes {
		m.DeltaBytesPerLike = float64(after.UsedBytes-before.UsedBytes) / l
	}
	if after.HeldBytes > 0 {
		m.HeldBytesPerLike = float64(after.HeldBytes) / l
	}
	if after.SetBytes > 0 {
		m.SetBytesPerLike = float64(after.SetBytes) / l
	}
	return m
}

// measure runs the warm-up and the measured phase and returns the workers'
// recorders, the lanes' write logs and the measured wall time; cpu is
// started when the measured phase begins. Requests are
// recorded when they start after the warm-up; every request's writes are
// logged for the check, warm-up included.
func measure(ctx context.Context, o Options, t Target, w *Workload, ex *expectation, progress Progress, cpu *cpuMeter) ([]*recorder, []*laneLog, time.Duration) {
	start := time.Now()
	measureFrom := start.Add(o.warmup())
	end := measureFrom.Add(o.Duration)
	cpuStarted := make(chan struct{})
	time.AfterFunc(o.warmup(), func() { cpu.start(); close(cpuStarted) })
	defer func() { <-cpuStarted }() // the caller's cpu.stop comes after cpu.start
	// Requests still unanswered OpTimeout after the end fail.
	runCtx, cancel := context.WithDeadline(ctx, end.Add(o.OpTimeout))
	defer cancel()

	total := o.warmup() + o.Duration
	progress.Start("run "+t.Name(), int64(total/time.Millisecond))
	var completed atomic.Uint64
	stopTick := make(chan struct{})
	var tickWG sync.WaitGroup
	tickWG.Go(func() {
		tk := time.NewTicker(200 * time.Millisecond)
		defer tk.Stop()
		last, lastT := uint64(0), start
		for {
			select {
			case <-stopTick:
				return
			case now := <-tk.C:
				c := completed.Load()
				rate := float64(c-last) / now.Sub(lastT).Seconds()
				last, lastT = c, now
				phase := "run"
				if now.Before(measureFrom) {
					phase = "warm-up"
				}
				progress.Describe(fmt.Sprintf("%s %s: %.0f ops/s", phase, t.Name(), rate))
				progress.Set(min(int64(now.Sub(start)/time.Millisecond), int64(total/time.Millisecond)))
			}
		}
	})

	recs := make([]*recorder, o.Concurrency)
	logs := make([]*laneLog, o.Concurrency*o.Depth)
	for i := range logs {
		logs[i] = ex.newLaneLog()
	}
	var wg sync.WaitGroup
	for wi := range o.Concurrency {
		rec := newRecorder()
		recs[wi] = rec
		switch t.Pipelining() {
		case Batches:
			wg.Go(func() {
				ls := make([]*lane, o.Depth)
				for j := range ls {
					ls[j] = w.lane(wi*o.Depth + j)
				}
				ops := make([]Op, o.Depth)
				res := make([]OpResult, o.Depth)
				for {
					t0 := time.Now()
					if !t0.Before(end) || runCtx.Err() != nil {
						return
					}
					for j, l := range ls {
						ops[j] = l.next()
					}
					t.Exec(runCtx, ops, res)
					d := time.Since(t0)
					for j := range ops {
						if !t0.Before(measureFrom) {
							rec.record(ops[j].Kind, d, res[j].Err)
						}
						logs[wi*o.Depth+j].observe(&ops[j], &res[j])
					}
					completed.Add(uint64(len(ops)))
				}
			})
		default: // Goroutines
			for j := range o.Depth {
				wg.Go(func() {
					l := w.lane(wi*o.Depth + j)
					log := logs[wi*o.Depth+j]
					var ops [1]Op
					var res [1]OpResult
					for {
						t0 := time.Now()
						if !t0.Before(end) || runCtx.Err() != nil {
							return
						}
						ops[0] = l.next()
						t.Exec(runCtx, ops[:], res[:])
						if !t0.Before(measureFrom) {
							rec.record(ops[0].Kind, time.Since(t0), res[0].Err)
						}
						log.observe(&ops[0], &res[0])
						completed.Add(1)
					}
				})
			}
		}
	}
	wg.Wait()
	elapsed := time.Since(measureFrom)
	close(stopTick)
	tickWG.Wait()
	progress.Done()
	return recs, logs, elapsed
}

// summarize fills the throughput and latency figures from the recorders.
func (r *TargetResult) summarize(recs []*recorder, elapsed time.Duration) {
	r.DurationSeconds = elapsed.Seconds()
	all := hdrhistogram.New(histMinMicros, histMaxMicros, histSigFigs)
	for k := range numOpKinds {
		h := hdrhistogram.New(histMinMicros, histMaxMicros, histSigFigs)
		var errs uint64
		for _, rec := range recs {
			h.Merge(rec.hist[k])
			errs += rec.errs[k]
		}
		n := uint64(h.TotalCount())
		if n+errs == 0 {
			continue
		}
		all.Merge(h)
		r.Ops += n + errs
		r.Errors += errs
		r.PerOp = append(r.PerOp, OpStats{Op: OpKind(k).String(), Ops: n + errs, Errors: errs,
			OpsPerSec: float64(n) / elapsed.Seconds(), Latency: latency(h)})
	}
	for _, rec := range recs {
		for _, s := range rec.sample {
			if len(r.ErrorExamples) < maxKeptErrors {
				r.ErrorExamples = append(r.ErrorExamples, s)
			}
		}
	}
	r.OpsPerSec = float64(r.Ops-r.Errors) / elapsed.Seconds() // answered requests only
	r.Latency = latency(all)
}

func latency(h *hdrhistogram.Histogram) LatencyStats {
	if h.TotalCount() == 0 {
		return LatencyStats{}
	}
	return LatencyStats{
		MeanMicros: h.Mean(),
		P50Micros:  h.ValueAtQuantile(50),
		P90Micros:  h.ValueAtQuantile(90),
		P99Micros:  h.ValueAtQuantile(99),
		P999Micros: h.ValueAtQuantile(99.9),
		MaxMicros:  h.Max(),
	}
}

// ErrCheckFailed is returned by the CLI when a target's read-back differs
// from what the bench wrote.
var ErrCheckFailed = errors.New("bench: correctness check failed")

func (p Pipelining) String() string {
	if p == Batches {
		return "batches"
	}
	return "goroutines"
}
