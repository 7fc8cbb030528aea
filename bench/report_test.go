package bench

import (
	"bytes"
	"errors"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func sampleReport() *Report {
	mk := func(name string, ops float64, p99 int64, bpl float64) TargetResult {
		l := LatencyStats{P50Micros: p99 / 4, P90Micros: p99 / 2, P99Micros: p99, P999Micros: 2 * p99, MaxMicros: 3 * p99}
		return TargetResult{Target: name, OpsPerSec: ops, Ops: 1000, Latency: l,
			PerOp:  []OpStats{{Op: "HAS", Ops: 900, OpsPerSec: ops * 0.9, Latency: l}, {Op: "LIKE", Ops: 100, OpsPerSec: ops * 0.1, Latency: l}},
			Memory: MemoryResult{Likes: 100, BytesPerLike: bpl, HeldBytesPerLike: 2 * bpl}, Check: CheckResult{OK: true, Counts: 4, Pairs: 40}}
	}
	return &Report{Label: "read-heavy", Options: DefaultOptions(),
		Targets: []TargetResult{mk("likes", 300000, 800, 10), mk("redis", 100000, 1600, 50)}}
}

func TestReportFilesAndSummary(t *testing.T) {
	r := sampleReport()
	r.Targets[1].Variant = "appendfsync always"
	dir := t.TempDir()
	if err := r.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, "results.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil || img.Bounds().Dx() < 800 {
		t.Fatalf("results.png: %v, %v", err, img)
	}
	md, _ := os.ReadFile(filepath.Join(dir, "results.md"))
	if !strings.Contains(string(md), "throughput ×3.00, p99 ×0.50") || !strings.Contains(string(md), "| likes | HAS | 270000 |") {
		t.Errorf("results.md lacks the figures:\n%s", md)
	}
	back, err := ReadReport(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var sum bytes.Buffer
	Summarize(&sum, []*Report{back}, true)
	if !strings.Contains(sum.String(), "| read-heavy vs Redis appendfsync always | 1 | 300000 | 100000 | 3.00 |") || !strings.Contains(sum.String(), "| 0.200 | 0.200 | 0.00 / 0.00 | ok |") {
		t.Errorf("summary:\n%s", sum.String())
	}
	// Three runs: the medians, not the means, and the ratio of the medians.
	slow, fast := sampleReport(), sampleReport()
	slow.Targets[0].OpsPerSec, fast.Targets[0].OpsPerSec = 10, 900000
	slow.Targets[1].Variant, fast.Targets[1].Variant = "appendfsync always", "appendfsync always"
	sum.Reset()
	Summarize(&sum, []*Report{back, slow, fast}, true)
	if !strings.Contains(sum.String(), "| read-heavy vs Redis appendfsync always | 3 | 300000 | 100000 | 3.00 |") || !strings.Contains(sum.String(), "Every run:") {
		t.Errorf("median summary:\n%s", sum.String())
	}
	if err := back.Failed(); err != nil {
		t.Errorf("a passing report failed: %v", err)
	}
	back.Targets[0].Check.OK = false
	back.Targets[1].Errors = 3
	if err := back.Failed(); !errors.Is(err, ErrCheckFailed) || !strings.Contains(err.Error(), "3 request errors") {
		t.Errorf("a failing report: %v", err)
	}
}

func TestMainUsageErrors(t *testing.T) {
	var out, errOut bytes.Buffer
	err := Main(t.Context(), []string{"--concurrency", "0", "--depth", "-1", "--has", "50"}, &out, &errOut)
	var u *UsageError
	if !errors.As(err, &u) || !strings.Contains(err.Error(), "Depth is -1") || !strings.Contains(err.Error(), "Mix adds up to 50%") {
		t.Errorf("bad options: got %v", err)
	}
	if err := Main(t.Context(), []string{"--target", "memcached"}, &out, &errOut); !errors.As(err, &u) {
		t.Errorf("unknown target: got %v", err)
	}
	if err := Main(t.Context(), []string{"--mix", "read-mostly"}, &out, &errOut); !errors.As(err, &u) || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("unknown mix: got %v", err)
	}
}

// TestMemoryResultSameOnBothSides: both targets are charged their whole
// reading after the preload (baseline included), whether or not they count
// their own likes; Δ leaves the baseline out; held adds fragmentation.
func TestMemoryResultSameOnBothSides(t *testing.T) {
	likes := memoryResult(Memory{UsedBytes: 1000}, Memory{Likes: 100, UsedBytes: 3000, HeldBytes: 4000, SetBytes: 500}, 90)
	redis := memoryResult(Memory{UsedBytes: 1000, HeldBytes: 1500}, Memory{UsedBytes: 3000, HeldBytes: 4000}, 100)
	for name, m := range map[string]MemoryResult{"likes": likes, "redis": redis} {
		if m.Likes != 100 || m.BytesPerLike != 30 || m.DeltaBytesPerLike != 20 || m.HeldBytesPerLike != 40 {
			t.Errorf("%s: %+v, want 100 likes, 30 B/like, Δ 20, held 40", name, m)
		}
	}
	if likes.SetBytesPerLike != 5 || redis.SetBytesPerLike != 0 {
		t.Errorf("set bytes per like: likes %v (want 5), redis %v (want 0: unknown)", likes.SetBytesPerLike, redis.SetBytesPerLike)
	}
}
