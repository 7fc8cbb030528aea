package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// likeScript is like and unlike as one atomic script: the counter moves
// only when the set changed, as in likes. KEYS[1] is the game's set,
// KEYS[2] its counter; ARGV[1] the user, ARGV[2] "1" to like, "0" to
// unlike. It returns {changed, count after}. Both keys carry the game in a
// hash tag, so the script would also run on Redis Cluster.
const likeScript = `
if ARGV[2] == '1' then
  if redis.call('SADD', KEYS[1], ARGV[1]) == 1 then
    return {1, redis.call('INCR', KEYS[2])}
  end
elseif redis.call('SREM', KEYS[1], ARGV[1]) == 1 then
  return {1, redis.call('DECR', KEYS[2])}
end
return {0, tonumber(redis.call('GET', KEYS[2]) or '0')}
`

// RedisTarget runs the workload against Redis the way the seed would:
// a set per game (SISMEMBER for has-liked, pipelined SISMEMBER for a batch),
// a counter key per game (GET), and likeScript through EVALSHA.
type RedisTarget struct {
	rdb *redis.Client
	sha string
}

var _ Target = (*RedisTarget)(nil)

// DialRedis connects to Redis at addr with a pool of conns connections and
// loads likeScript once (SCRIPT LOAD).
func DialRedis(ctx context.Context, addr string, conns int) (*RedisTarget, error) {
	rdb := redis.NewClient(&redis.Options{
		Addr:            addr,
		PoolSize:        conns,
		MinIdleConns:    conns,
		DisableIdentity: true, // no CLIENT SETINFO on connect
		ReadTimeout:     30 * time.Second,
		WriteTimeout:    30 * time.Second,
		// The workers' contexts bound each round; go-redis honours them.
		ContextTimeoutEnabled: true,
	})
	sha, err := rdb.ScriptLoad(ctx, likeScript).Result()
	if err != nil {
		rdb.Close()
		return nil, fmt.Errorf("bench: redis %s: SCRIPT LOAD: %w", addr, err)
	}
	return &RedisTarget{rdb: rdb, sha: sha}, nil
}

// Name implements Target.
func (t *RedisTarget) Name() string { return "redis" }

// Pipelining implements Target: a go-redis pipeline per worker round.
func (t *RedisTarget) Pipelining() Pipelining { return Batches }

func setKey(game uint64) string     { return "s:{" + strconv.FormatUint(game, 10) + "}" }
func counterKey(game uint64) string { return "c:{" + strconv.FormatUint(game, 10) + "}" }

// Exec implements Target: all of ops (a HAS_MANY as one SISMEMBER per
// game) go out in one pipeline on one pooled connection.
func (t *RedisTarget) Exec(ctx context.Context, ops []Op, res []OpResult) {
	pipe := t.rdb.Pipeline()
	for i := range ops {
		op := &ops[i]
		switch op.Kind {
		case OpHas:
			pipe.SIsMember(ctx, setKey(op.Game), op.User)
		case OpHasMany:
			for _, g := range op.Games {
				pipe.SIsMember(ctx, setKey(g), op.User)
			}
		case OpCount:
			pipe.Get(ctx, counterKey(op.Game))
		case OpLike, OpUnlike:
			mode := "0"
			if op.Kind == OpLike {
				mode = "1"
			}
			pipe.EvalSha(ctx, t.sha, []string{setKey(op.Game), counterKey(op.Game)}, op.User, mode)
		}
	}
	// Exec returns the queued commands in order, each with its own error,
	// which result reads: op i's are the next redisCmds(op) of them.
	cmds, _ := pipe.Exec(ctx)
	k := 0
	for i := range ops {
		n := redisCmds(&ops[i])
		res[i] = t.result(&ops[i], cmds[k:k+n], res[i].LikedMany)
		k += n
	}
}

// redisCmds is how many pipelined commands Exec queues for op.
func redisCmds(op *Op) int {
	switch op.Kind {
	case OpHas, OpCount, OpLike, OpUnlike:
		return 1
	case OpHasMany:
		return len(op.Games)
	}
	return 0
}

func (t *RedisTarget) result(op *Op, cs []redis.Cmder, many []bool) OpResult {
	var r OpResult
	switch op.Kind {
	case OpHas:
		r.Liked, r.Err = cs[0].(*redis.BoolCmd).Result()
	case OpHasMany:
		r.LikedMany = many[:0]
		for _, c := range cs {
			v, err := c.(*redis.BoolCmd).Result()
			if err != nil {
				r.Err = err
			}
			r.LikedMany = append(r.LikedMany, v)
		}
	case OpCount:
		n, err := cs[0].(*redis.StringCmd).Uint64()
		if errors.Is(err, redis.Nil) {
			n, err = 0, nil // no counter yet: no likes
		}
		r.Count, r.Err = n, err
	case OpLike, OpUnlike:
		v, err := cs[0].(*redis.Cmd).Int64Slice()
		switch {
		case err != nil:
			r.Err = err
		case len(v) != 2 || v[1] < 0:
			r.Err = fmt.Errorf("bench: like script returned %v", v)
		default:
			r.Changed, r.Count = v[0] == 1, uint64(v[1])
		}
	}
	if r.Err != nil {
		r.Err = fmt.Errorf("redis %v: %w", op.Kind, r.Err)
	}
	return r
}

// Memory implements Target from INFO memory: used_memory (the bytes Redis
// has allocated, data and overhead) and allocator_active (jemalloc's active
// pages: used_memory plus fragmentation; 0 when the allocator does not say).
func (t *RedisTarget) Memory(ctx context.Context) (Memory, error) {
	info, err := t.rdb.Info(ctx, "memory").Result()
	if err != nil {
		return Memory{}, fmt.Errorf("bench: redis INFO memory: %w", err)
	}
	used, err := infoField(info, "used_memory")
	if err != nil {
		return Memory{}, err
	}
	m := Memory{UsedBytes: used}
	if active, err := infoField(info, "allocator_active"); err == nil {
		m.HeldBytes = active
	}
	return m, nil
}

// infoField returns a numeric field of an INFO reply.
func infoField(info, name string) (uint64, error) {
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if ok && k == name {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return 0, fmt.Errorf("bench: redis INFO %s=%q: %w", name, v, err)
			}
			return n, nil
		}
	}
	return 0, fmt.Errorf("bench: redis INFO has no %s", name)
}

// Close implements Target.
func (t *RedisTarget) Close() error { return t.rdb.Close() }
