package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/likes/likes/proto"
	"github.com/likes/likes/storage"
)

// Node is one likesd process: the shards it hosts, the client listener and
// the admin HTTP server.
//
// Data directory layout:
//
//	<data>/slots                 slot table (see SlotTable)
//	<data>/raft/shard-NNNN.db    Raft log and stable store of shard NNNN (bbolt)
//	<data>/snapshots/            Pebble database with every shard's snapshots
//
// Concurrency: Start, Shutdown and the accessors may be called from any
// goroutine; Shutdown is idempotent. Lock order: Node.mu before conn.mu.
type Node struct {
	cfg     Config
	slots   *SlotTable
	shards  []*shard
	snapDB  *storage.SnapshotDB
	m       *metrics
	started time.Time

	ln    net.Listener
	admin *http.Server
	adLn  net.Listener

	mu       sync.Mutex
	conns    map[*conn]struct{}
	draining bool
	connWG   sync.WaitGroup
	acceptWG sync.WaitGroup

	shutdownOnce sync.Once
	shutdownErr  error
}

// Start opens (or creates) the node's data, starts every shard's Raft group
// and begins serving clients and the admin endpoints. It returns once the
// listeners are open; shards become ready (see Ready) as they elect
// themselves and replay their logs.
func Start(cfg Config) (_ *Node, err error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, started: time.Now(), conns: make(map[*conn]struct{})}
	log := cfg.Logger
	if err := os.MkdirAll(filepath.Join(cfg.DataDir, "raft"), 0o755); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	// Pebble takes a lock on its directory: a second process on the same
	// data dir fails here, before touching any Raft log.
	n.snapDB, err = storage.OpenSnapshotDB(filepath.Join(cfg.DataDir, "snapshots"), storage.SnapshotOptions{})
	if err != nil {
		return nil, fmt.Errorf("open snapshot store: %w", err)
	}
	defer func() {
		if err != nil {
			n.closeStorage()
		}
	}()
	var created bool
	n.slots, created, err = loadOrCreateSlots(filepath.Join(cfg.DataDir, "slots"), cfg.Shards)
	if err != nil {
		return nil, err
	}
	if !created && n.slots.NumShards() != cfg.Shards {
		log.Info("shard count comes from the existing slot table", "shards", n.slots.NumShards(), "flag", cfg.Shards)
	}
	n.m = newMetrics(n)
	for id := 0; id < n.slots.NumShards(); id++ {
		s, err := openShard(&n.cfg, id, n.snapDB, n.m)
		if err != nil {
			return nil, err
		}
		n.shards = append(n.shards, s)
	}
	n.ln, err = net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", cfg.ListenAddr, err)
	}
	if cfg.AdminAddr != "off" {
		n.adLn, err = net.Listen("tcp", cfg.AdminAddr)
		if err != nil {
			n.ln.Close()
			return nil, fmt.Errorf("admin listen %s: %w", cfg.AdminAddr, err)
		}
		n.admin = &http.Server{Handler: n.adminMux(), ReadHeaderTimeout: 10 * time.Second}
		go n.admin.Serve(n.adLn)
	}
	n.acceptWG.Add(1)
	go n.acceptLoop()
	log.Info("likesd serving", "node", cfg.NodeID, "listen", n.ln.Addr().String(), "admin", n.AdminAddr(),
		"data", cfg.DataDir, "shards", len(n.shards), "new", created)
	return n, nil
}

// Addr is the client address the node listens on.
func (n *Node) Addr() string { return n.ln.Addr().String() }

// AdminAddr is the admin HTTP address, or "" when disabled.
func (n *Node) AdminAddr() string {
	if n.adLn == nil {
		return ""
	}
	return n.adLn.Addr().String()
}

// Ready reports whether every shard leads and has replayed its log.
func (n *Node) Ready() bool {
	for _, s := range n.shards {
		if !s.ready.Load() {
			return false
		}
	}
	return true
}

// WaitReady blocks until Ready or ctx ends.
func (n *Node) WaitReady(ctx context.Context) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for !n.Ready() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for shards: %w", ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

func (n *Node) shardOf(game uint64) *shard { return n.shards[n.slots.ShardOf(game)] }

func (n *Node) acceptLoop() {
	defer n.acceptWG.Done()
	var backoff time.Duration
	for {
		nc, err := n.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: back off, don't spin.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			n.cfg.Logger.Warn("accept failed", "err", err, "retry_in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		n.mu.Lock()
		if n.draining || len(n.conns) >= n.cfg.MaxConns {
			draining := n.draining
			n.mu.Unlock()
			n.m.connsRejected.Inc()
			err := ErrTooManyConns
			if draining {
				err = ErrShuttingDown
			}
			rejectConn(nc, err)
			continue
		}
		c := newConn(n, nc)
		n.conns[c] = struct{}{}
		n.connWG.Add(1)
		n.mu.Unlock()
		n.m.conns.Inc()
		go c.serve()
	}
}

// rejectConn answers a connection the node will not serve with one ERROR
// frame, then closes it.
func rejectConn(nc net.Conn, err error) {
	nc.SetWriteDeadline(time.Now().Add(time.Second))
	nc.Write(appendError(nil, 0, err))
	nc.Close()
}

func (n *Node) removeConn(c *conn) {
	n.mu.Lock()
	delete(n.conns, c)
	n.mu.Unlock()
	n.m.conns.Dec()
	n.connWG.Done()
}

// Shutdown stops the node gracefully: it stops accepting connections, stops
// reading requests, lets in-flight requests finish and their responses be
// written (bounded by ctx and Config.ShutdownTimeout), then takes a final
// snapshot of every shard and closes the stores. It is idempotent.
func (n *Node) Shutdown(ctx context.Context) error {
	n.shutdownOnce.Do(func() { n.shutdownErr = n.shutdown(ctx) })
	return n.shutdownErr
}

func (n *Node) shutdown(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.ShutdownTimeout)
	defer cancel()
	log := n.cfg.Logger
	log.Info("shutting down: draining connections")
	n.mu.Lock()
	n.draining = true
	n.ln.Close()
	for c := range n.conns {
		c.drain()
	}
	n.mu.Unlock()
	n.acceptWG.Wait()
	drained := make(chan struct{})
	go func() { n.connWG.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-ctx.Done():
		log.Warn("drain timed out; closing remaining connections")
		n.mu.Lock()
		for c := range n.conns {
			c.nc.Close()
		}
		n.mu.Unlock()
	}
	if n.admin != nil {
		if err := n.admin.Shutdown(ctx); err != nil {
			n.admin.Close()
		}
	}
	log.Info("shutting down: snapshotting shards")
	err := n.closeStorage()
	log.Info("shut down")
	return err
}

// closeStorage stops every shard (final snapshot, Raft, log) and closes the
// snapshot database.
func (n *Node) closeStorage() error {
	var wg sync.WaitGroup
	errs := make([]error, len(n.shards), len(n.shards)+1)
	for i, s := range n.shards {
		wg.Go(func() { errs[i] = s.stop() })
	}
	wg.Wait()
	if n.snapDB != nil {
		errs = append(errs, n.snapDB.Close())
	}
	return errors.Join(errs...)
}

// ShardStats describes one shard in STATS and /healthz.
type ShardStats struct {
	ID           int    `json:"id"`
	Ready        bool   `json:"ready"`
	AppliedIndex uint64 `json:"applied_index"`
	Games        uint64 `json:"games"`
	Likes        uint64 `json:"likes"`
	SetBytes     uint64 `json:"set_bytes"`
}

// Stats is the STATS response and the /stats admin page.
type Stats struct {
	Node          string       `json:"node"`
	Protocol      uint16       `json:"protocol"`
	UptimeSeconds float64      `json:"uptime_seconds"`
	Connections   int          `json:"connections"`
	Games         uint64       `json:"games"`
	Likes         uint64       `json:"likes"`
	SetBytes      uint64       `json:"set_bytes"`
	HeapAlloc     uint64       `json:"heap_alloc_bytes"` // live heap objects (runtime.MemStats.HeapAlloc)
	HeapInuse     uint64       `json:"heap_inuse_bytes"` // heap spans in use: HeapAlloc plus fragmentation
	HeapPerLike   float64      `json:"heap_bytes_per_like"`
	Shards        []ShardStats `json:"shards"`
}

// Stats gathers the node's statistics. It reads runtime memory statistics,
// which stops the world briefly: not for the hot path.
func (n *Node) Stats() Stats {
	st := Stats{Node: n.cfg.NodeID, Protocol: proto.Version, UptimeSeconds: time.Since(n.started).Seconds()}
	n.mu.Lock()
	st.Connections = len(n.conns)
	n.mu.Unlock()
	for _, s := range n.shards {
		fs := s.fsm.Stats()
		st.Shards = append(st.Shards, ShardStats{ID: s.id, Ready: s.ready.Load(), AppliedIndex: fs.AppliedIndex,
			Games: fs.Games, Likes: fs.Likes, SetBytes: fs.SetBytes})
		st.Games += fs.Games
		st.Likes += fs.Likes
		st.SetBytes += fs.SetBytes
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	st.HeapAlloc, st.HeapInuse = ms.HeapAlloc, ms.HeapInuse
	if st.Likes > 0 {
		st.HeapPerLike = float64(ms.HeapInuse) / float64(st.Likes)
	}
	return st
}

func (n *Node) adminMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(n.m.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if !n.Ready() {
			http.Error(w, "not ready: some shards are electing or replaying their log", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/stats", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(n.Stats())
	})
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
