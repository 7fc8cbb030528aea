package proto

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/frames.golden from goldenMsgs")

const goldenPath = "testdata/frames.golden"

// goldenMsgs is one or more messages of every type, the source of
// testdata/frames.golden. Never change an entry's bytes: they are the
// protocol. Add entries instead.
var goldenMsgs = []struct {
	name string
	msg  Msg
}{
	{"hello", Msg{Type: TypeHello, ID: 1, Version: 1, ClientID: 0x0123456789abcdef}},
	{"hello_resp", Msg{Type: TypeHello | ResponseBit, ID: 1, Version: 1, MaxFrame: MaxFrameSize, MaxInFlight: 1024, MaxBatch: MaxBatch}},
	{"ping", Msg{Type: TypePing, ID: 2}},
	{"pong", Msg{Type: TypePing | ResponseBit, ID: 2}},
	{"ping_max_id", Msg{Type: TypePing, ID: 0xFFFFFFFF}},
	{"like", Msg{Type: TypeLike, ID: 3, Game: 42, User: 1001, Seq: 1}},
	{"like_resp", Msg{Type: TypeLike | ResponseBit, ID: 3, Changed: true, Count: 17, Index: 12345}},
	{"unlike", Msg{Type: TypeUnlike, ID: 4, Game: 42, User: 1001, Seq: 2}},
	{"unlike_resp", Msg{Type: TypeUnlike | ResponseBit, ID: 4, Changed: false, Count: 16, Index: 12346}},
	{"has", Msg{Type: TypeHas, ID: 5, Game: 42, User: 1001}},
	{"has_linearizable", Msg{Type: TypeHas, ID: 6, Flags: uint8(ConsistencyLinearizable), Game: 0xFFFFFFFFFFFFFFFF, User: 1}},
	{"has_resp", Msg{Type: TypeHas | ResponseBit, ID: 5, Liked: []bool{true}}},
	{"has_resp_false", Msg{Type: TypeHas | ResponseBit, ID: 6, Liked: []bool{false}}},
	{"count", Msg{Type: TypeCount, ID: 7, Game: 42}},
	{"count_stale", Msg{Type: TypeCount, ID: 8, Flags: uint8(ConsistencyStale), Game: 43}},
	{"count_resp", Msg{Type: TypeCount | ResponseBit, ID: 7, Count: 17}},
	{"has_many", Msg{Type: TypeHasMany, ID: 9, User: 1001, Games: []uint64{42, 43, 0xFFFFFFFFFFFFFFFF}}},
	{"has_many_resp", Msg{Type: TypeHasMany | ResponseBit, ID: 9, Liked: []bool{true, false, false}}},
	{"count_many", Msg{Type: TypeCountMany, ID: 10, Flags: uint8(ConsistencyLeader), Games: []uint64{42, 7}}},
	{"count_many_resp", Msg{Type: TypeCountMany | ResponseBit, ID: 10, Counts: []uint64{17, 0}}},
	{"stats", Msg{Type: TypeStats, ID: 11}},
	{"stats_resp", Msg{Type: TypeStats | ResponseBit, ID: 11, Stats: []byte(`{"games":1}`)}},
	{"error_not_leader", Msg{Type: TypeError, ID: 3, Err: Error{Code: CodeNotLeader, Leader: "10.0.0.2:7070", Message: "shard 5"}}},
	{"error_version", Msg{Type: TypeError, ID: 1, Err: Error{Code: CodeVersion, Message: "versions 1..1"}}},
	{"error_connection", Msg{Type: TypeError, ID: 0, Err: Error{Code: CodeBadRequest, Message: "bad frame length 2"}}},
	{"error_empty", Msg{Type: TypeError, ID: 12, Err: Error{Code: CodeOverloaded}}},
}

// golden is one entry of testdata/frames.golden.
type golden struct {
	name  string
	frame []byte
}

const goldenHeader = `# Golden frames of the likes wire protocol (see PROTOCOL.md), one per entry:
# "frame NAME", a comment describing the message, then the frame in hex: the
# header (length, type, flags, request id) on the first line, then the body
# with one group per field. '#' starts a comment; white space is ignored.
# Regenerate with: go test ./proto -run TestGolden -update
# Existing bytes must never change: they are what deployed peers send.
`

func writeGolden(t *testing.T) {
	var b strings.Builder
	b.WriteString(goldenHeader)
	for _, g := range goldenMsgs {
		frame := mustAppend(t, nil, g.msg)
		fmt.Fprintf(&b, "\nframe %s\n# %s\n%s", g.name, formatMsg(g.msg), dumpFrame(frame, g.msg))
	}
	if err := os.WriteFile(goldenPath, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readGolden(t testing.TB) []golden {
	t.Helper()
	data, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	var out []golden
	var name string
	var text strings.Builder
	flush := func() {
		if name == "" {
			return
		}
		frame, err := parseHex(text.String())
		if err != nil {
			t.Fatalf("%s: frame %s: %v", goldenPath, name, err)
		}
		out = append(out, golden{name, frame})
		text.Reset()
	}
	for line := range strings.Lines(string(data)) {
		if n, ok := strings.CutPrefix(line, "frame "); ok {
			flush()
			name = strings.TrimSpace(n)
			continue
		}
		if name != "" {
			text.WriteString(line)
		}
	}
	flush()
	return out
}

// TestGolden encodes every message of goldenMsgs and compares the bytes with
// testdata/frames.golden, and decodes the golden bytes and compares them with
// the message.
func TestGolden(t *testing.T) {
	if *update {
		writeGolden(t)
	}
	gs := readGolden(t)
	var names []string
	for _, g := range gs {
		names = append(names, g.name)
	}
	var want []string
	seen := map[MsgType]bool{}
	for _, g := range goldenMsgs {
		want = append(want, g.name)
		seen[g.msg.Type] = true
	}
	if !slices.Equal(names, want) {
		t.Fatalf("golden file holds frames %v, goldenMsgs %v (run with -update)", names, want)
	}
	for _, typ := range allTypes {
		if !seen[typ] {
			t.Errorf("no golden frame of type %v", typ)
		}
	}
	for i, g := range gs {
		m := goldenMsgs[i].msg
		t.Run(g.name, func(t *testing.T) {
			got := mustAppend(t, nil, m)
			if !bytes.Equal(got, g.frame) {
				t.Errorf("AppendMsg(%s)\n got % x\nwant % x", formatMsg(m), got, g.frame)
			}
			dec, rest, err := Decode(g.frame)
			if err != nil || len(rest) != 0 {
				t.Fatalf("Decode(golden) = rest % x, err %v", rest, err)
			}
			if !msgEqual(dec, m) {
				t.Errorf("Decode(golden) = %s, want %s", formatMsg(dec), formatMsg(m))
			}
			if n, ok := FrameLen(g.frame); !ok || n != len(g.frame) {
				t.Errorf("FrameLen = %d, %v; want %d", n, ok, len(g.frame))
			}
		})
	}
}

// TestTypedEncoders checks that each hot-path encoder writes the golden
// bytes, independently of AppendMsg.
func TestTypedEncoders(t *testing.T) {
	frames := map[string][]byte{}
	for _, g := range readGolden(t) {
		frames[g.name] = g.frame
	}
	for name, got := range map[string][]byte{
		"hello":            AppendHello(nil, 1, 1, 0x0123456789abcdef),
		"hello_resp":       AppendHelloResp(nil, 1, 1, MaxFrameSize, 1024, MaxBatch),
		"ping":             AppendEmpty(nil, TypePing, 2),
		"pong":             AppendEmpty(nil, TypePing|ResponseBit, 2),
		"like":             AppendWrite(nil, TypeLike, 3, 42, 1001, 1),
		"like_resp":        AppendWriteResp(nil, TypeLike, 3, true, 17, 12345),
		"unlike":           AppendWrite(nil, TypeUnlike, 4, 42, 1001, 2),
		"unlike_resp":      AppendWriteResp(nil, TypeUnlike, 4, false, 16, 12346),
		"has":              AppendHas(nil, 5, ConsistencyDefault, 42, 1001),
		"has_linearizable": AppendHas(nil, 6, ConsistencyLinearizable, 0xFFFFFFFFFFFFFFFF, 1),
		"has_resp":         AppendHasResp(nil, 5, true),
		"count_stale":      AppendCount(nil, 8, ConsistencyStale, 43),
		"count_resp":       AppendCountResp(nil, 7, 17),
		"has_many":         AppendHasMany(nil, 9, ConsistencyDefault, 1001, []uint64{42, 43, 0xFFFFFFFFFFFFFFFF}),
		"has_many_resp":    AppendHasManyResp(nil, 9, []bool{true, false, false}),
		"count_many":       AppendCountMany(nil, 10, ConsistencyLeader, []uint64{42, 7}),
		"count_many_resp":  AppendCountManyResp(nil, 10, []uint64{17, 0}),
		"stats":            AppendEmpty(nil, TypeStats, 11),
		"stats_resp":       AppendStatsResp(nil, 11, []byte(`{"games":1}`)),
		"error_not_leader": AppendError(nil, 3, CodeNotLeader, "10.0.0.2:7070", "shard 5"),
	} {
		if !bytes.Equal(got, frames[name]) {
			t.Errorf("%s: got % x\nwant % x", name, got, frames[name])
		}
	}
	// Encoders append: the prefix stays.
	got := AppendCount([]byte("xy"), 7, ConsistencyDefault, 42)
	if !bytes.Equal(got, append([]byte("xy"), frames["count"]...)) {
		t.Errorf("AppendCount after a prefix = % x", got)
	}
}

// exampleRE finds the worked examples in PROTOCOL.md: a marker naming a
// golden frame, then a fenced block of hex with '#' comments.
var exampleRE = regexp.MustCompile("(?s)<!-- golden: ([a-z_]+) -->\\s*```[a-z]*\n(.*?)```")

// TestProtocolExamples checks that the hex examples in PROTOCOL.md are the
// golden frames they claim to be, so the document cannot drift from the code.
func TestProtocolExamples(t *testing.T) {
	doc, err := os.ReadFile("PROTOCOL.md")
	if err != nil {
		t.Fatal(err)
	}
	frames := map[string][]byte{}
	for _, g := range readGolden(t) {
		frames[g.name] = g.frame
	}
	matches := exampleRE.FindAllStringSubmatch(string(doc), -1)
	if len(matches) < 4 {
		t.Fatalf("found %d worked examples in PROTOCOL.md, want at least 4", len(matches))
	}
	for _, mt := range matches {
		name, text := mt[1], mt[2]
		got, err := parseHex(text)
		if err != nil {
			t.Errorf("example %s: %v", name, err)
			continue
		}
		want, ok := frames[name]
		if !ok {
			t.Errorf("example %s names no golden frame", name)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("example %s in PROTOCOL.md\n got % x\nwant % x", name, got, want)
		}
	}
}
