package server

import (
	"runtime"
	"time"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/likes/likes/proto"
	"github.com/likes/likes/raftfsm"
)

// opNames indexes per-op metrics by request type.
var opNames = map[proto.MsgType]string{
	proto.TypeHello:     "hello",
	proto.TypePing:      "ping",
	proto.TypeLike:      "like",
	proto.TypeUnlike:    "unlike",
	proto.TypeHas:       "has",
	proto.TypeCount:     "count",
	proto.TypeHasMany:   "has_many",
	proto.TypeCountMany: "count_many",
	proto.TypeStats:     "stats",
}

// opMetrics are resolved once per op so the hot path does no label lookup.
type opMetrics struct {
	requests prometheus.Counter
	errors   prometheus.Counter
	latency  prometheus.Observer
}

// metrics of one node, registered on its own registry (tests run many nodes
// in one process).
type metrics struct {
	reg *prometheus.Registry
	ops [256]*opMetrics

	conns         prometheus.Gauge
	connsRejected prometheus.Counter
	badFrames     prometheus.Counter
	batchOps      prometheus.Histogram
	commitSeconds prometheus.Histogram
	applySeconds  prometheus.Histogram
	storeSeconds  prometheus.Histogram
	storeEntries  prometheus.Histogram
	snapCapture   prometheus.Histogram
	snapPersist   prometheus.Histogram
}

// latencyBuckets span 1µs (a HAS from memory) to 1s (a stalled fsync).
var latencyBuckets = prometheus.ExponentialBuckets(1e-6, 2.5, 16)

func newMetrics(n *Node) *metrics {
	reg := prometheus.NewRegistry()
	m := &metrics{reg: reg}
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "likes_requests_total", Help: "Requests handled, by op.",
	}, []string{"op"})
	errs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "likes_request_errors_total", Help: "Requests answered with an error, by op.",
	}, []string{"op"})
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "likes_request_duration_seconds", Help: "Time from decoding a request to queueing its response, by op.",
		Buckets: latencyBuckets,
	}, []string{"op"})
	for t, name := range opNames {
		m.ops[t] = &opMetrics{
			requests: requests.WithLabelValues(name),
			errors:   errs.WithLabelValues(name),
			latency:  latency.WithLabelValues(name),
		}
	}
	m.conns = prometheus.NewGauge(prometheus.GaugeOpts{Name: "likes_connections", Help: "Open client connections."})
	m.connsRejected = prometheus.NewCounter(prometheus.CounterOpts{Name: "likes_connections_rejected_total", Help: "Connections refused at the MaxConns limit."})
	m.badFrames = prometheus.NewCounter(prometheus.CounterOpts{Name: "likes_bad_frames_total", Help: "Connections closed for a malformed frame."})
	m.batchOps = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "likes_write_batch_ops", Help: "Writes per Raft log entry (group commit size).",
		Buckets: prometheus.ExponentialBuckets(1, 2, 12),
	})
	m.commitSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "likes_raft_commit_seconds", Help: "Time from proposing a log entry to its commit and apply.",
		Buckets: latencyBuckets,
	})
	m.applySeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "likes_raft_apply_seconds", Help: "Time the state machine takes to apply one batch of log entries.",
		Buckets: latencyBuckets,
	})
	m.storeSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "likes_raft_log_store_seconds", Help: "Time the Raft log store takes to append and fsync one batch of entries (one bbolt commit).",
		Buckets: latencyBuckets,
	})
	m.storeEntries = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "likes_raft_log_store_entries", Help: "Log entries per log store append (Raft's own batching of entries into one commit).",
		Buckets: prometheus.ExponentialBuckets(1, 2, 9),
	})
	m.snapCapture = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "likes_snapshot_capture_seconds", Help: "Time the state machine is blocked capturing a snapshot.",
		Buckets: latencyBuckets,
	})
	m.snapPersist = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "likes_snapshot_persist_seconds", Help: "Time to write a snapshot to the snapshot store.",
		Buckets: prometheus.ExponentialBuckets(1e-3, 2, 16),
	})
	reg.MustRegister(requests, errs, latency, m.conns, m.connsRejected, m.badFrames, m.batchOps,
		m.commitSeconds, m.applySeconds, m.storeSeconds, m.storeEntries, m.snapCapture, m.snapPersist,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&contentsCollector{n: n},
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "likes_shards_ready", Help: "Shards that lead and have caught up with their log."},
			func() float64 {
				r := 0
				for _, s := range n.shards {
					if s.ready.Load() {
						r++
					}
				}
				return float64(r)
			}),
	)
	return m
}

// contentsCollector reports what the node holds. raftfsm.FSM.Stats visits
// every game, so a scrape computes it once per shard and derives all four
// gauges from that one pass (and reads the heap once).
type contentsCollector struct{ n *Node }

var (
	gamesDesc       = prometheus.NewDesc("likes_games", "Games with at least one like held by this node.", nil, nil)
	likesDesc       = prometheus.NewDesc("likes_likes", "Likes held by this node (sum of counts).", nil, nil)
	setBytesDesc    = prometheus.NewDesc("likes_set_bytes", "Estimated heap bytes of the like sets.", nil, nil)
	heapPerLikeDesc = prometheus.NewDesc("likes_heap_bytes_per_like", "Go heap in use divided by likes held (0 with no likes).", nil, nil)
)

func (c *contentsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- gamesDesc
	ch <- likesDesc
	ch <- setBytesDesc
	ch <- heapPerLikeDesc
}

// Collect reads runtime memory statistics, which stops the world briefly:
// it runs only on a scrape.
func (c *contentsCollector) Collect(ch chan<- prometheus.Metric) {
	var sum raftfsm.Stats
	for _, s := range c.n.shards {
		st := s.fsm.Stats()
		sum.Games += st.Games
		sum.Likes += st.Likes
		sum.SetBytes += st.SetBytes
	}
	perLike := 0.0
	if sum.Likes > 0 {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		perLike = float64(ms.HeapInuse) / float64(sum.Likes)
	}
	ch <- prometheus.MustNewConstMetric(gamesDesc, prometheus.GaugeValue, float64(sum.Games))
	ch <- prometheus.MustNewConstMetric(likesDesc, prometheus.GaugeValue, float64(sum.Likes))
	ch <- prometheus.MustNewConstMetric(setBytesDesc, prometheus.GaugeValue, float64(sum.SetBytes))
	ch <- prometheus.MustNewConstMetric(heapPerLikeDesc, prometheus.GaugeValue, perLike)
}

// instrumentedFSM times the state machine's work for Raft.
type instrumentedFSM struct {
	*raftfsm.FSM
	m *metrics
}

func (f *instrumentedFSM) ApplyBatch(logs []*raft.Log) []interface{} {
	start := time.Now()
	r := f.FSM.ApplyBatch(logs)
	f.m.applySeconds.Observe(time.Since(start).Seconds())
	return r
}

func (f *instrumentedFSM) Snapshot() (raft.FSMSnapshot, error) {
	start := time.Now()
	s, err := f.FSM.Snapshot()
	f.m.snapCapture.Observe(time.Since(start).Seconds())
	if err != nil {
		return nil, err
	}
	return &timedSnapshot{FSMSnapshot: s, m: f.m}, nil
}

type timedSnapshot struct {
	raft.FSMSnapshot
	m *metrics
}

func (s *timedSnapshot) Persist(sink raft.SnapshotSink) error {
	start := time.Now()
	err := s.FSMSnapshot.Persist(sink)
	s.m.snapPersist.Observe(time.Since(start).Seconds())
	return err
}
