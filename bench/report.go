package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Report is the outcome of one bench invocation: the same workload against
// one or more targets.
type Report struct {
	Label   string         `json:"label,omitempty"`
	Started time.Time      `json:"started"`
	Host    Host           `json:"host"`
	Options Options        `json:"options"`
	Targets []TargetResult `json:"targets"`
}

// Host describes the machine the load generator ran on.
type Host struct {
	Hostname   string `json:"hostname"`
	NumCPU     int    `json:"num_cpu"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	GoVersion  string `json:"go_version"`
}

// TargetResult is one target's figures.
type TargetResult struct {
	Target     string `json:"target"`
	Addr       string `json:"addr,omitempty"`
	Variant    string `json:"variant,omitempty"` // e.g. "appendfsync always"
	Pipelining string `json:"pipelining"`

	Preload PreloadResult `json:"preload"`
	Memory  MemoryResult  `json:"memory"`

	DurationSeconds float64      `json:"duration_seconds"`
	Ops             uint64       `json:"ops"`    // requests measured, failed ones included
	Errors          uint64       `json:"errors"` // failed requests
	OpsPerSec       float64      `json:"ops_per_sec"`
	Latency         LatencyStats `json:"latency"` // every op kind together
	PerOp           []OpStats    `json:"per_op"`
	ErrorExamples   []string     `json:"error_examples,omitempty"`

	// Cores used on average during the measured phase (CPU seconds per
	// second) by the server process and by the load generator; -1 when
	// unknown (no server PID given, or not Linux).
	ServerCores float64 `json:"server_cores"`
	BenchCores  float64 `json:"bench_cores"`

	Check CheckResult `json:"check"`
}

// PreloadResult describes the preload.
type PreloadResult struct {
	Likes      uint64  `json:"likes"`    // likes sent
	Distinct   uint64  `json:"distinct"` // of which changed the state (the rest were repeats)
	Errors     uint64  `json:"errors"`
	FirstError string  `json:"first_error,omitempty"`
	Seconds    float64 `json:"seconds"`
	OpsPerSec  float64 `json:"ops_per_sec"`
}

// MemoryResult is the memory after the preload (see Memory for what each
// side's readings are). BytesPerLike, the headline figure, is UsedBytes
// after the preload over the likes held, the empty target's baseline
// included on both sides; DeltaBytesPerLike leaves the baseline out;
// HeldBytesPerLike counts the allocator's fragmentation too.
type MemoryResult struct {
	Likes             uint64  `json:"likes"`
	BaselineBytes     uint64  `json:"baseline_bytes"`
	UsedBytes         uint64  `json:"used_bytes"`
	HeldBytes         uint64  `json:"held_bytes,omitempty"`
	SetBytes          uint64  `json:"set_bytes,omitempty"`
	DeltaBytesPerLike float64 `json:"delta_bytes_per_like"`
	HeldBytesPerLike  float64 `json:"held_bytes_per_like,omitempty"`
	SetBytesPerLike   float64 `json:"set_bytes_per_like,omitempty"`
	BytesPerLike      float64 `json:"bytes_per_like"`
}

// OpStats is one op kind's figures.
type OpStats struct {
	Op        string       `json:"op"`
	Ops       uint64       `json:"ops"`
	Errors    uint64       `json:"errors"`
	OpsPerSec float64      `json:"ops_per_sec"`
	Latency   LatencyStats `json:"latency"`
}

// LatencyStats are latency percentiles in microseconds.
type LatencyStats struct {
	MeanMicros float64 `json:"mean_us"`
	P50Micros  int64   `json:"p50_us"`
	P90Micros  int64   `json:"p90_us"`
	P99Micros  int64   `json:"p99_us"`
	P999Micros int64   `json:"p999_us"`
	MaxMicros  int64   `json:"max_us"`
}

// CheckResult is the outcome of the correctness check.
type CheckResult struct {
	OK            bool     `json:"ok"`
	Games         int      `json:"games"`          // sampled games
	Counts        int      `json:"counts"`         // counts compared
	Pairs         int      `json:"pairs"`          // memberships compared
	SkippedCounts int      `json:"skipped_counts"` // games whose count is unknown (a write failed)
	SkippedPairs  int      `json:"skipped_pairs"`
	ReadErrors    int      `json:"read_errors"`
	Mismatches    int      `json:"mismatches"` // read errors included
	Examples      []string `json:"examples,omitempty"`
}

// Failed reports whether any target failed its check or had errors.
func (r *Report) Failed() error {
	var bad []string
	for _, t := range r.Targets {
		if !t.Check.OK {
			bad = append(bad, fmt.Sprintf("%s: %d mismatches in the read-back (%s)", t.label(), t.Check.Mismatches, strings.Join(t.Check.Examples[:min(3, len(t.Check.Examples))], "; ")))
		}
		if t.Errors > 0 || t.Preload.Errors > 0 {
			bad = append(bad, fmt.Sprintf("%s: %d request errors, %d preload errors", t.label(), t.Errors, t.Preload.Errors))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%w: %s", ErrCheckFailed, strings.Join(bad, "; "))
	}
	return nil
}

func (t *TargetResult) label() string {
	if t.Variant != "" {
		return t.Target + " (" + t.Variant + ")"
	}
	return t.Target
}

func (t *TargetResult) op(name string) *OpStats {
	for i := range t.PerOp {
		if t.PerOp[i].Op == name {
			return &t.PerOp[i]
		}
	}
	return nil
}

// WriteFiles writes the report to dir as results.json, results.md and
// results.png, creating dir if needed.
func (r *Report) WriteFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), append(js, '\n'), 0o644); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	var md strings.Builder
	r.Markdown(&md)
	if err := os.WriteFile(filepath.Join(dir, "results.md"), []byte(md.String()), 0o644); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return r.WriteChart(filepath.Join(dir, "results.png"))
}

// ReadReport reads a results.json.
func ReadReport(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("bench: %s: %w", path, err)
	}
	return &r, nil
}

func us(v int64) string {
	if v >= 10_000 {
		return fmt.Sprintf("%.1f ms", float64(v)/1000)
	}
	return fmt.Sprintf("%d µs", v)
}

// Markdown writes the report as Markdown tables.
func (r *Report) Markdown(w io.Writer) {
	o := r.Options
	title := "Benchmark"
	if r.Label != "" {
		title += ": " + r.Label
	}
	fmt.Fprintf(w, "## %s\n\n", title)
	fmt.Fprintf(w, "%d games (Zipf s=%g), users in [0, %d), mix has=%g has_many=%g count=%g like=%g unlike=%g, "+
		"concurrency %d × depth %d over %s, HAS_MANY batch %d, preload %d likes, %v warm-up + %v measured, seed %d; "+
		"host %s: %d CPUs, GOMAXPROCS %d, %s.\n\n",
		o.Games, o.ZipfExponent, o.UserSpace, o.Mix.Has, o.Mix.HasMany, o.Mix.Count, o.Mix.Like, o.Mix.Unlike,
		o.Concurrency, o.Depth, connsText(o), o.BatchSize, o.Preload, o.Warmup, o.Duration, o.Seed,
		r.Host.Hostname, r.Host.NumCPU, r.Host.GOMAXPROCS, r.Host.GoVersion)
	fmt.Fprintln(w, "| target | op | ops/s | errors | p50 | p90 | p99 | p99.9 | max |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, t := range r.Targets {
		row := func(op string, ops float64, errs uint64, l LatencyStats) {
			fmt.Fprintf(w, "| %s | %s | %.0f | %d | %s | %s | %s | %s | %s |\n", t.label(), op, ops, errs,
				us(l.P50Micros), us(l.P90Micros), us(l.P99Micros), us(l.P999Micros), us(l.MaxMicros))
		}
		row("**all**", t.OpsPerSec, t.Errors, t.Latency)
		for _, s := range t.PerOp {
			row(s.Op, s.OpsPerSec, s.Errors, s.Latency)
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| target | likes held | bytes/like | Δ bytes/like | held bytes/like | set bytes/like | preload likes/s | server cores | bench cores | ops/s per server core | check |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
	for _, t := range r.Targets {
		m := t.Memory
		set := "–"
		if m.SetBytesPerLike > 0 {
			set = fmt.Sprintf("%.1f", m.SetBytesPerLike)
		}
		chk := fmt.Sprintf("ok: %d counts, %d memberships", t.Check.Counts, t.Check.Pairs)
		if !t.Check.OK {
			chk = fmt.Sprintf("**FAILED**: %d mismatches", t.Check.Mismatches)
		}
		cores := func(c float64) string {
			if c < 0 {
				return "–"
			}
			return fmt.Sprintf("%.2f", c)
		}
		perCore := "–"
		if t.ServerCores > 0 {
			perCore = fmt.Sprintf("%.0f", t.OpsPerSec/t.ServerCores)
		}
		held := "–"
		if m.HeldBytesPerLike > 0 {
			held = fmt.Sprintf("%.1f", m.HeldBytesPerLike)
		}
		fmt.Fprintf(w, "| %s | %d | %.1f | %.1f | %s | %s | %.0f | %s | %s | %s | %s |\n", t.label(), m.Likes, m.BytesPerLike, m.DeltaBytesPerLike, held, set,
			t.Preload.OpsPerSec, cores(t.ServerCores), cores(t.BenchCores), perCore, chk)
	}
	if l, rd := r.pair(); l != nil && rd != nil {
		fmt.Fprintf(w, "\nlikes / Redis: throughput ×%.2f, p99 ×%.2f (lower is better), bytes per like ×%.3f (lower is better).\n",
			ratio(l.OpsPerSec, rd.OpsPerSec), ratio(float64(l.Latency.P99Micros), float64(rd.Latency.P99Micros)),
			ratio(l.Memory.BytesPerLike, rd.Memory.BytesPerLike))
	}
	for _, t := range r.Targets {
		for _, e := range t.Check.Examples {
			fmt.Fprintf(w, "\n- %s check: %s", t.label(), e)
		}
		for _, e := range t.ErrorExamples {
			fmt.Fprintf(w, "\n- %s error: %s", t.label(), e)
		}
	}
	fmt.Fprintln(w)
}

// pair returns the likes and the Redis result of the report, if present.
func (r *Report) pair() (likes, redis *TargetResult) {
	for i := range r.Targets {
		switch r.Targets[i].Target {
		case "likes":
			likes = &r.Targets[i]
		case "redis":
			redis = &r.Targets[i]
		}
	}
	return likes, redis
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// summaryRow is one comparison of likes with Redis.
type summaryRow struct {
	name                   string
	n                      int // runs behind the figures (medians when > 1)
	lOps, rOps             float64
	lP50, rP50, lP99, rP99 float64
	lBPL, rBPL             float64
	lHeld, rHeld           float64 // held bytes per like, 0 unknown
	lCores, rCores         float64 // server cores, -1 unknown
	failed                 int
}

func rowOf(r *Report) (summaryRow, bool) {
	l, rd := r.pair()
	if l == nil || rd == nil {
		return summaryRow{}, false
	}
	name := r.Label
	if rd.Variant != "" {
		name += " vs Redis " + rd.Variant
	}
	row := summaryRow{name: name, n: 1, lOps: l.OpsPerSec, rOps: rd.OpsPerSec,
		lP50: float64(l.Latency.P50Micros), rP50: float64(rd.Latency.P50Micros),
		lP99: float64(l.Latency.P99Micros), rP99: float64(rd.Latency.P99Micros),
		lBPL: l.Memory.BytesPerLike, rBPL: rd.Memory.BytesPerLike,
		lHeld: l.Memory.HeldBytesPerLike, rHeld: rd.Memory.HeldBytesPerLike, lCores: l.ServerCores, rCores: rd.ServerCores}
	if r.Failed() != nil {
		row.failed = 1
	}
	return row, true
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// medianRows groups rows by name (in order of first appearance) and takes
// the median of every figure. Ratios are then taken of the medians.
func medianRows(rows []summaryRow) []summaryRow {
	var names []string
	groups := map[string][]summaryRow{}
	for _, r := range rows {
		if _, ok := groups[r.name]; !ok {
			names = append(names, r.name)
		}
		groups[r.name] = append(groups[r.name], r)
	}
	var out []summaryRow
	for _, name := range names {
		g := groups[name]
		pick := func(f func(summaryRow) float64) float64 {
			v := make([]float64, len(g))
			for i, r := range g {
				v[i] = f(r)
			}
			return median(v)
		}
		m := summaryRow{name: name, n: len(g)}
		m.lOps, m.rOps = pick(func(r summaryRow) float64 { return r.lOps }), pick(func(r summaryRow) float64 { return r.rOps })
		m.lP50, m.rP50 = pick(func(r summaryRow) float64 { return r.lP50 }), pick(func(r summaryRow) float64 { return r.rP50 })
		m.lP99, m.rP99 = pick(func(r summaryRow) float64 { return r.lP99 }), pick(func(r summaryRow) float64 { return r.rP99 })
		m.lBPL, m.rBPL = pick(func(r summaryRow) float64 { return r.lBPL }), pick(func(r summaryRow) float64 { return r.rBPL })
		m.lHeld, m.rHeld = pick(func(r summaryRow) float64 { return r.lHeld }), pick(func(r summaryRow) float64 { return r.rHeld })
		m.lCores, m.rCores = pick(func(r summaryRow) float64 { return r.lCores }), pick(func(r summaryRow) float64 { return r.rCores })
		for _, r := range g {
			m.failed += r.failed
		}
		out = append(out, m)
	}
	return out
}

func writeRows(w io.Writer, rows []summaryRow) {
	fmt.Fprintln(w, "| run | runs | likes ops/s | Redis ops/s | ops/s likes/Redis | likes p50 | Redis p50 | likes p99 | Redis p99 | p99 likes/Redis | likes B/like | Redis B/like | B/like likes/Redis | held B/like likes/Redis | server cores likes / Redis | check |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
	cores := func(c float64) string {
		if c < 0 {
			return "–"
		}
		return fmt.Sprintf("%.2f", c)
	}
	for _, r := range rows {
		chk := "ok"
		if r.failed > 0 {
			chk = fmt.Sprintf("FAILED (%d of %d)", r.failed, r.n)
		}
		held := "–"
		if r.lHeld > 0 && r.rHeld > 0 {
			held = fmt.Sprintf("%.3f", ratio(r.lHeld, r.rHeld))
		}
		fmt.Fprintf(w, "| %s | %d | %.0f | %.0f | %.2f | %s | %s | %s | %s | %.2f | %.1f | %.1f | %.3f | %s | %s / %s | %s |\n", r.name, r.n,
			r.lOps, r.rOps, ratio(r.lOps, r.rOps),
			us(int64(r.lP50)), us(int64(r.rP50)), us(int64(r.lP99)), us(int64(r.rP99)), ratio(r.lP99, r.rP99),
			r.lBPL, r.rBPL, ratio(r.lBPL, r.rBPL), held, cores(r.lCores), cores(r.rCores), chk)
	}
}

// Summarize writes one table comparing likes with Redis across reports
// that hold both: one row per label and Redis variant, each figure the
// median over the reports with that label (the machines are noisy), and
// the ratios likes/Redis of those medians. With perRun it then lists
// every report's own row too.
func Summarize(w io.Writer, reports []*Report, perRun bool) {
	var rows []summaryRow
	for _, r := range reports {
		if row, ok := rowOf(r); ok {
			rows = append(rows, row)
		}
	}
	medians := medianRows(rows)
	writeRows(w, medians)
	if perRun && len(rows) > len(medians) {
		fmt.Fprintln(w, "\nEvery run:")
		fmt.Fprintln(w)
		writeRows(w, rows)
	}
}

// connsText says how many connections each target had.
func connsText(o Options) string {
	if o.LikesConns == 0 || o.LikesConns == o.Conns {
		return fmt.Sprintf("%d conns", o.Conns)
	}
	return fmt.Sprintf("%d conns to likes, %d to Redis", o.LikesConns, o.Conns)
}
