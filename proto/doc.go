// Package proto is the likes wire protocol: framing, message encoding and the
// error codes that cross the wire. It is pure: it never touches a socket.
// Decoders take a byte slice and return the message and the rest of the slice;
// encoders append to a caller-supplied slice and return it, so the hot path
// allocates nothing. The I/O loops live in package server and package client.
//
// The authoritative, byte-by-byte specification is PROTOCOL.md beside this
// file; it is enough to write a client in another language. In short:
//
// Every frame, in both directions (all integers big-endian):
//
//	 0               4      5       6               10
//	+---------------+------+-------+---------------+----------------+
//	| length uint32 | type | flags | request id u32| body ...       |
//	+---------------+------+-------+---------------+----------------+
//	length counts the bytes after the length field (6 + len(body)),
//	so the smallest frame is 10 bytes and the largest MaxFrameSize.
//
// Requests carry a request id chosen by the client; the response carries the
// same id and the request's type with the high bit set (0x80|type), or type
// ERROR (0x7F). Responses may arrive in any order. The first frame on a
// connection must be HELLO, which carries the protocol version and the
// client id (the identity that, with a per-write sequence number, makes
// retried writes exactly-once).
//
// Bodies:
//
//	HELLO       magic "LIKE" | version u16 | client id u64
//	HELLO resp  version u16 | max frame u32 | max in-flight u32 | max batch u32
//	PING/PONG   (empty)
//	LIKE        game u64 | user u64 | seq u64
//	UNLIKE      game u64 | user u64 | seq u64
//	LIKE resp   changed u8 | count u64 | log index u64   (same for UNLIKE)
//	HAS         game u64 | user u64
//	HAS resp    liked u8
//	COUNT       game u64
//	COUNT resp  count u64
//	HAS_MANY    user u64 | n u16 | n × game u64
//	HAS_MANY r  n u16 | n × liked u8
//	COUNT_MANY  n u16 | n × game u64
//	COUNT_MANY r n u16 | n × count u64
//	STATS       (empty)
//	STATS resp  JSON object (the rest of the frame)
//	ERROR       code u16 | leader len u16 | leader | message len u16 | message
//
// The flags byte: bits 0-2 of a read request (HAS, COUNT, HAS_MANY,
// COUNT_MANY) name the read consistency; every other bit, and every flag of
// every other message, must be zero in version 1.
package proto
