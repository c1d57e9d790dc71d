// The codecs: requests byte for byte, replies whole, split at every byte,
// pipelined, and malformed.
#include "protocol.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

using namespace kairos::loadgen;

namespace {

using Parser = ParseResult (*)(std::string_view);

// Feeding every prefix of a whole reply must ask for more, never
// misparse; the whole reply must parse and consume exactly its bytes.
void expect_split_safe(Parser parse, const std::string& reply, ReplyKind kind) {
  for (std::size_t n = 0; n < reply.size(); n++) {
    const auto r = parse(std::string_view(reply).substr(0, n));
    ASSERT_EQ(r.status, ParseStatus::NeedMore) << "prefix of " << n << " bytes: " << r.error;
  }
  const auto r = parse(reply + "trailing");
  ASSERT_EQ(r.status, ParseStatus::Done) << r.error;
  EXPECT_EQ(r.consumed, reply.size());
  EXPECT_EQ(r.reply.kind, kind);
}

}  // namespace

TEST(Protocol, Names) {
  EXPECT_EQ(parse_protocol("memcached"), Protocol::Memcached);
  EXPECT_EQ(parse_protocol("memcached-udp"), Protocol::MemcachedUdp);
  EXPECT_EQ(parse_protocol("redis"), Protocol::Redis);
  EXPECT_EQ(parse_protocol("udp-echo"), Protocol::UdpEcho);
  for (auto p : {Protocol::Memcached, Protocol::MemcachedUdp, Protocol::Redis, Protocol::UdpEcho})
    EXPECT_EQ(parse_protocol(protocol_name(p)), p);
  try {
    parse_protocol("http");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("unknown protocol 'http'"), std::string::npos);
  }
}

TEST(Memcached, Requests) {
  std::string out;
  encode_memcached(Op::Get, "k01", 0, out);
  EXPECT_EQ(out, "get k01\r\n");
  out.clear();
  encode_memcached(Op::Set, "k01", 5, out);
  EXPECT_EQ(out, "set k01 0 0 5\r\nxxxxx\r\n");
}

TEST(Memcached, Replies) {
  expect_split_safe(parse_memcached_reply, "VALUE k01 0 5\r\nhello\r\nEND\r\n", ReplyKind::Value);
  expect_split_safe(parse_memcached_reply, "VALUE k01 7 3 12345\r\na\r\n\r\nEND\r\n",
                    ReplyKind::Value);  // with cas; data may hold CRLF
  expect_split_safe(parse_memcached_reply, "END\r\n", ReplyKind::Miss);
  expect_split_safe(parse_memcached_reply, "STORED\r\n", ReplyKind::Stored);
  expect_split_safe(parse_memcached_reply, "NOT_STORED\r\n", ReplyKind::NotStored);
  expect_split_safe(parse_memcached_reply, "SERVER_ERROR out of memory\r\n",
                    ReplyKind::ServerError);
  expect_split_safe(parse_memcached_reply, "CLIENT_ERROR bad data chunk\r\n",
                    ReplyKind::ServerError);
  expect_split_safe(parse_memcached_reply, "ERROR\r\n", ReplyKind::ServerError);
  const auto r = parse_memcached_reply("VALUE k 0 2\r\nab\r\nEND\r\n");
  EXPECT_EQ(r.reply.value_bytes, 2u);
  EXPECT_EQ(parse_memcached_reply("SERVER_ERROR boom\r\n").reply.message, "SERVER_ERROR boom");
}

TEST(Memcached, Pipelined) {
  const std::string buf = "STORED\r\nVALUE a 0 1\r\nx\r\nEND\r\nEND\r\n";
  std::string_view rest = buf;
  ReplyKind kinds[3];
  for (auto& k : kinds) {
    const auto r = parse_memcached_reply(rest);
    ASSERT_EQ(r.status, ParseStatus::Done);
    k = r.reply.kind;
    rest.remove_prefix(r.consumed);
  }
  EXPECT_TRUE(rest.empty());
  EXPECT_EQ(kinds[0], ReplyKind::Stored);
  EXPECT_EQ(kinds[1], ReplyKind::Value);
  EXPECT_EQ(kinds[2], ReplyKind::Miss);
}

TEST(Memcached, Malformed) {
  for (const char* bad : {
           "HELLO\r\n",                              // unknown line
           "VALUE\r\n",                              // no fields
           "VALUE k 0\r\n",                          // no length
           "VALUE k 0 abc\r\n",                      // length not a number
           "VALUE k 0 -1\r\n",                       // negative
           "VALUE k 0 3 1 extra\r\n",                // too many fields
           "VALUE k 0 2\r\nabcd\r\nEND\r\n",         // data longer than said
           "VALUE k 0 2\r\nab\r\nSTORED\r\n",        // not followed by END
           "VALUE k 0 2\r\nab\r\nVALUE k 0 2\r\n",   // a multi-get was not asked for
           "VALUE k 0 99999999999\r\n",              // beyond the size limit
       }) {
    const auto r = parse_memcached_reply(bad);
    EXPECT_EQ(r.status, ParseStatus::Malformed) << bad;
    EXPECT_FALSE(r.error.empty()) << bad;
  }
  // A line that never ends is malformed once it exceeds the limit.
  EXPECT_EQ(parse_memcached_reply(std::string(100, 'V')).status, ParseStatus::NeedMore);
  EXPECT_EQ(parse_memcached_reply(std::string(kMaxLineBytes + 1, 'V')).status,
            ParseStatus::Malformed);
}

TEST(Memcached, ReplyMustAnswerTheRequest) {
  EXPECT_TRUE(reply_answers(Op::Get, ReplyKind::Value));
  EXPECT_TRUE(reply_answers(Op::Get, ReplyKind::Miss));
  EXPECT_FALSE(reply_answers(Op::Get, ReplyKind::Stored));
  EXPECT_TRUE(reply_answers(Op::Set, ReplyKind::Stored));
  EXPECT_TRUE(reply_answers(Op::Set, ReplyKind::NotStored));
  EXPECT_FALSE(reply_answers(Op::Set, ReplyKind::Value));
  EXPECT_FALSE(reply_answers(Op::Set, ReplyKind::Other));
}

TEST(Redis, Requests) {
  std::string out;
  encode_redis(Op::Get, "k1", 0, out);
  EXPECT_EQ(out, "*2\r\n$3\r\nGET\r\n$2\r\nk1\r\n");
  out.clear();
  encode_redis(Op::Set, "k1", 3, out);
  EXPECT_EQ(out, "*3\r\n$3\r\nSET\r\n$2\r\nk1\r\n$3\r\nxxx\r\n");
}

TEST(Redis, Replies) {
  expect_split_safe(parse_redis_reply, "+OK\r\n", ReplyKind::Stored);
  expect_split_safe(parse_redis_reply, "$5\r\nhello\r\n", ReplyKind::Value);
  expect_split_safe(parse_redis_reply, "$4\r\na\r\nb\r\n", ReplyKind::Value);
  expect_split_safe(parse_redis_reply, "$0\r\n\r\n", ReplyKind::Value);
  expect_split_safe(parse_redis_reply, "$-1\r\n", ReplyKind::Miss);
  expect_split_safe(parse_redis_reply, "_\r\n", ReplyKind::Miss);
  expect_split_safe(parse_redis_reply, "-ERR wrong type\r\n", ReplyKind::ServerError);
  expect_split_safe(parse_redis_reply, ":12\r\n", ReplyKind::Other);
  expect_split_safe(parse_redis_reply, "+QUEUED\r\n", ReplyKind::Other);
  EXPECT_EQ(parse_redis_reply("-ERR x\r\n").reply.message, "ERR x");
  EXPECT_EQ(parse_redis_reply("$3\r\nabc\r\n").reply.value_bytes, 3u);
}

TEST(Redis, Malformed) {
  for (const char* bad : {"hello\r\n", "$abc\r\n", "$-2\r\n", "$3\r\nabcde\r\n", ":x\r\n",
                          "_x\r\n", "*1\r\n$1\r\na\r\n", "$99999999999\r\n"}) {
    const auto r = parse_redis_reply(bad);
    EXPECT_EQ(r.status, ParseStatus::Malformed) << bad;
    EXPECT_FALSE(r.error.empty()) << bad;
  }
  EXPECT_EQ(parse_redis_reply(std::string(kMaxLineBytes + 1, '+')).status, ParseStatus::Malformed);
}

TEST(MemcachedUdp, RequestHasTheFrameHeader) {
  std::string out;
  encode_memcached_udp(0x1234, Op::Get, "k9", 0, out);
  ASSERT_EQ(out.size(), 8 + 8u);
  EXPECT_EQ(out.substr(0, 8), std::string("\x12\x34\x00\x00\x00\x01\x00\x00", 8));
  EXPECT_EQ(out.substr(8), "get k9\r\n");
  UdpFrameHeader h;
  ASSERT_TRUE(get_udp_header(out, h));
  EXPECT_EQ(h.request_id, 0x1234);
  EXPECT_EQ(h.seq, 0);
  EXPECT_EQ(h.total, 1);
  EXPECT_FALSE(get_udp_header("short", h));
}

namespace {

std::string frame(std::uint16_t id, std::uint16_t seq, std::uint16_t total, std::string body) {
  std::string d;
  put_udp_header({id, seq, total, 0}, d);
  return d + body;
}

}  // namespace

TEST(MemcachedUdp, ReassemblesOutOfOrderAndIgnoresDuplicates) {
  UdpReassembler r;
  std::uint16_t id = 0;
  std::string payload, err;
  const std::string reply = "VALUE k 0 10\r\n0123456789\r\nEND\r\n";
  const std::string parts[3] = {reply.substr(0, 7), reply.substr(7, 13), reply.substr(20)};
  EXPECT_EQ(r.add(frame(7, 2, 3, parts[2]), id, payload, err), UdpReassembler::Status::Partial);
  EXPECT_EQ(r.add(frame(8, 0, 1, "STORED\r\n"), id, payload, err),
            UdpReassembler::Status::Complete);  // another reply in between
  EXPECT_EQ(id, 8);
  EXPECT_EQ(payload, "STORED\r\n");
  EXPECT_EQ(r.add(frame(7, 0, 3, parts[0]), id, payload, err), UdpReassembler::Status::Partial);
  EXPECT_EQ(r.add(frame(7, 0, 3, "garbage"), id, payload, err), UdpReassembler::Status::Partial);
  EXPECT_EQ(r.partial(), 1u);
  ASSERT_EQ(r.add(frame(7, 1, 3, parts[1]), id, payload, err), UdpReassembler::Status::Complete);
  EXPECT_EQ(id, 7);
  EXPECT_EQ(payload, reply);
  EXPECT_EQ(r.partial(), 0u);
  const auto p = parse_memcached_reply(payload);
  EXPECT_EQ(p.status, ParseStatus::Done);
  EXPECT_EQ(p.consumed, payload.size());
}

TEST(MemcachedUdp, MalformedFrames) {
  UdpReassembler r;
  std::uint16_t id;
  std::string payload, err;
  EXPECT_EQ(r.add("abc", id, payload, err), UdpReassembler::Status::Malformed);
  EXPECT_FALSE(err.empty());
  EXPECT_EQ(r.add(frame(1, 0, 0, "x"), id, payload, err), UdpReassembler::Status::Malformed);
  EXPECT_EQ(r.add(frame(1, 3, 2, "x"), id, payload, err), UdpReassembler::Status::Malformed);
  EXPECT_EQ(r.add(frame(2, 0, 3, "x"), id, payload, err), UdpReassembler::Status::Partial);
  EXPECT_EQ(r.add(frame(2, 1, 4, "y"), id, payload, err), UdpReassembler::Status::Malformed);
  EXPECT_EQ(r.partial(), 0u);  // the inconsistent reply is dropped
  EXPECT_EQ(r.add(frame(3, 0, 2, "x"), id, payload, err), UdpReassembler::Status::Partial);
  r.forget(3);
  EXPECT_EQ(r.partial(), 0u);
}

TEST(UdpEcho, RoundTripWithTrailingTag) {
  std::string d;
  encode_echo(77, 0xabcdef, 64, d);
  EXPECT_EQ(d.size(), 64u);
  d += "|1234:0";  // what a direct-mode echo app appends
  std::uint64_t seq, token;
  ASSERT_TRUE(parse_echo(d, seq, token));
  EXPECT_EQ(seq, 77u);
  EXPECT_EQ(token, 0xabcdefu);
  EXPECT_FALSE(parse_echo(d.substr(0, 15), seq, token));
}
