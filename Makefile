# Everyday: `make test` (the README's command). The rest are long runs kept out of `go test ./...`.
GO ?= go

.PHONY: test vet run fuzz crash bench mem50m compare compare-memory

test:
	$(GO) test -race ./...

vet:
	$(GO) vet ./...

run:
	$(GO) run ./cmd/likesd

# Fuzz the protocol decoder (FUZZTIME=10m for longer).
FUZZTIME ?= 3m
fuzz:
	$(GO) test ./proto -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME)
	$(GO) test ./proto -run '^$$' -fuzz '^FuzzDecodeStream$$' -fuzztime $(FUZZTIME)

# More kill -9 rounds against a real likesd process (CRASH_SEED=N replays one run).
CRASH_ROUNDS ?= 25
CRASH_SEED ?= 0
crash:
	$(GO) test ./cmd/likesd -run TestCrashKill9 -count=1 -v -crash.rounds $(CRASH_ROUNDS) -crash.seed $(CRASH_SEED)

# Hot-path benchmarks, side by side in one run; compare runs with benchstat.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./proto ./raftfsm ./client ./storage
	$(GO) test -run '^$$' -bench Node -benchtime 200000x -count 3 ./server

# 50M likes over 1M Zipf-skewed games: heap bytes per like and restart time.
mem50m:
	$(GO) test ./raftfsm -run TestMemory50M -mem50m -v -timeout 30m

# likes against Redis (appendfsync everysec and always): read-heavy,
# read-heavy-many, read-only and write-only, on this machine; see
# bench/compare.sh for its settings (DURATION, PRELOAD, ROUNDS, ...) and
# docs/benchmarks.md for the figures.
compare:
	bench/compare.sh

# Bytes per like on both sides at the issue's reference point: 5M likes over
# 100k Zipf-skewed games (a few minutes).
compare-memory:
	MIXES=read-only PRELOAD=5000000 DURATION=3s WARMUP=1s LABEL_SUFFIX=' 5M likes' bench/compare.sh
