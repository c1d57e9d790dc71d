#include "protocol.hpp"

#include <charconv>
#include <cstring>
#include <stdexcept>

namespace kairos::loadgen {

Protocol parse_protocol(const std::string& name) {
  if (name == "memcached") return Protocol::Memcached;
  if (name == "memcached-udp") return Protocol::MemcachedUdp;
  if (name == "redis") return Protocol::Redis;
  if (name == "udp-echo") return Protocol::UdpEcho;
  throw std::invalid_argument("unknown protocol '" + name +
                              "' (expected memcached, memcached-udp, redis or udp-echo)");
}

const char* protocol_name(Protocol p) {
  switch (p) {
    case Protocol::Memcached: return "memcached";
    case Protocol::MemcachedUdp: return "memcached-udp";
    case Protocol::Redis: return "redis";
    case Protocol::UdpEcho: return "udp-echo";
  }
  return "?";
}

namespace {

void append_value(std::size_t n, std::string& out) { out.append(n, 'x'); }

bool to_u64(std::string_view s, std::uint64_t& v) {
  if (s.empty()) return false;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

bool to_i64(std::string_view s, std::int64_t& v) {
  if (s.empty()) return false;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

std::string printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 64)) out += (c >= 32 && c < 127) ? c : '?';
  if (s.size() > 64) out += "...";
  return out;
}

ParseResult malformed(std::string why) {
  ParseResult r;
  r.status = ParseStatus::Malformed;
  r.error = std::move(why);
  return r;
}

ParseResult done(std::size_t consumed, ReplyKind kind, std::size_t bytes = 0,
                 std::string message = {}) {
  ParseResult r;
  r.status = ParseStatus::Done;
  r.consumed = consumed;
  r.reply.kind = kind;
  r.reply.value_bytes = bytes;
  r.reply.message = std::move(message);
  return r;
}

// The first line of buf without its CRLF, or npos when none is whole yet.
std::size_t line_end(std::string_view buf) { return buf.find("\r\n"); }

}  // namespace

void encode_memcached(Op op, std::string_view key, std::size_t value_size, std::string& out) {
  if (op == Op::Get) {
    out.append("get ").append(key).append("\r\n");
    return;
  }
  out.append("set ").append(key).append(" 0 0 ").append(std::to_string(value_size)).append("\r\n");
  append_value(value_size, out);
  out.append("\r\n");
}

void encode_redis(Op op, std::string_view key, std::size_t value_size, std::string& out) {
  auto bulk = [&](std::string_view s) {
    out.append("$").append(std::to_string(s.size())).append("\r\n").append(s).append("\r\n");
  };
  if (op == Op::Get) {
    out.append("*2\r\n");
    bulk("GET");
    bulk(key);
    return;
  }
  out.append("*3\r\n");
  bulk("SET");
  bulk(key);
  out.append("$").append(std::to_string(value_size)).append("\r\n");
  append_value(value_size, out);
  out.append("\r\n");
}

void put_udp_header(const UdpFrameHeader& h, std::string& out) {
  const std::uint16_t f[4] = {h.request_id, h.seq, h.total, h.reserved};
  for (std::uint16_t v : f) {
    out.push_back(static_cast<char>(v >> 8));
    out.push_back(static_cast<char>(v & 0xff));
  }
}

bool get_udp_header(std::string_view d, UdpFrameHeader& h) {
  if (d.size() < kUdpFrameHeader) return false;
  auto be16 = [&](std::size_t i) {
    return static_cast<std::uint16_t>((static_cast<std::uint8_t>(d[i]) << 8) |
                                      static_cast<std::uint8_t>(d[i + 1]));
  };
  h = {be16(0), be16(2), be16(4), be16(6)};
  return true;
}

void encode_memcached_udp(std::uint16_t request_id, Op op, std::string_view key,
                          std::size_t value_size, std::string& out) {
  put_udp_header({request_id, 0, 1, 0}, out);
  encode_memcached(op, key, value_size, out);
}

void encode_echo(std::uint64_t seq, std::uint64_t token, std::size_t size, std::string& out) {
  char head[16];
  std::memcpy(head, &seq, 8);
  std::memcpy(head + 8, &token, 8);
  out.append(head, 16);
  if (size > 16) out.append(size - 16, '\0');
}

bool parse_echo(std::string_view d, std::uint64_t& seq, std::uint64_t& token) {
  if (d.size() < 16) return false;
  std::memcpy(&seq, d.data(), 8);
  std::memcpy(&token, d.data() + 8, 8);
  return true;
}

ParseResult parse_memcached_reply(std::string_view buf) {
  const std::size_t eol = line_end(buf);
  if (eol == std::string_view::npos) {
    if (buf.size() > kMaxLineBytes)
      return malformed("reply line longer than " + std::to_string(kMaxLineBytes) + " bytes");
    return {};
  }
  const std::string_view line = buf.substr(0, eol);
  const std::size_t after = eol + 2;
  if (line == "END") return done(after, ReplyKind::Miss);
  if (line == "STORED") return done(after, ReplyKind::Stored);
  if (line == "NOT_STORED" || line == "EXISTS" || line == "NOT_FOUND")
    return done(after, ReplyKind::NotStored);
  if (line == "ERROR" || line.rfind("CLIENT_ERROR", 0) == 0 || line.rfind("SERVER_ERROR", 0) == 0)
    return done(after, ReplyKind::ServerError, 0, std::string(line));
  if (line.rfind("VALUE ", 0) != 0)
    return malformed("unexpected memcached reply '" + printable(line) + "'");
  // VALUE <key> <flags> <bytes> [<cas>]
  std::string_view rest = line.substr(6);
  std::string_view field[4];
  int n = 0;
  while (!rest.empty() && n < 4) {
    const std::size_t sp = rest.find(' ');
    field[n++] = rest.substr(0, sp);
    rest = sp == std::string_view::npos ? std::string_view{} : rest.substr(sp + 1);
  }
  std::uint64_t flags, bytes;
  if (n < 3 || !rest.empty() || field[0].empty() || !to_u64(field[1], flags) ||
      !to_u64(field[2], bytes))
    return malformed("bad VALUE line '" + printable(line) + "'");
  if (bytes > kMaxValueBytes)
    return malformed("value of " + std::to_string(bytes) + " bytes exceeds the limit");
  const std::size_t data_end = after + bytes;
  if (buf.size() < data_end + 2) return {};
  if (buf.substr(data_end, 2) != "\r\n") return malformed("value data not followed by CRLF");
  const std::string_view tail = buf.substr(data_end + 2);
  if (tail.size() < 5) {
    if (std::string_view("END\r\n").substr(0, tail.size()) != tail)
      return malformed("VALUE not followed by END");
    return {};
  }
  if (tail.substr(0, 5) != "END\r\n") return malformed("VALUE not followed by END");
  return done(data_end + 2 + 5, ReplyKind::Value, bytes);
}

ParseResult parse_redis_reply(std::string_view buf) {
  if (buf.empty()) return {};
  const std::size_t eol = line_end(buf);
  if (eol == std::string_view::npos) {
    if (buf.size() > kMaxLineBytes)
      return malformed("RESP line longer than " + std::to_string(kMaxLineBytes) + " bytes");
    return {};
  }
  const std::string_view body = buf.substr(1, eol - 1);
  const std::size_t after = eol + 2;
  switch (buf[0]) {
    case '+':
      return done(after, body == "OK" ? ReplyKind::Stored : ReplyKind::Other);
    case '-':
      return done(after, ReplyKind::ServerError, 0, std::string(body));
    case ':': {
      std::int64_t v;
      if (!to_i64(body, v)) return malformed("bad RESP integer '" + printable(body) + "'");
      return done(after, ReplyKind::Other);
    }
    case '_':
      if (!body.empty()) return malformed("bad RESP null");
      return done(after, ReplyKind::Miss);
    case '$': {
      std::int64_t len;
      if (!to_i64(body, len) || len < -1)
        return malformed("bad RESP bulk length '" + printable(body) + "'");
      if (len == -1) return done(after, ReplyKind::Miss);
      if (static_cast<std::uint64_t>(len) > kMaxValueBytes)
        return malformed("bulk string of " + std::to_string(len) + " bytes exceeds the limit");
      const std::size_t data_end = after + static_cast<std::size_t>(len);
      if (buf.size() < data_end + 2) return {};
      if (buf.substr(data_end, 2) != "\r\n") return malformed("bulk string not followed by CRLF");
      return done(data_end + 2, ReplyKind::Value, static_cast<std::size_t>(len));
    }
    default:
      return malformed("unexpected RESP reply '" + printable(buf.substr(0, eol)) + "'");
  }
}

bool reply_answers(Op op, ReplyKind kind) {
  switch (op) {
    case Op::Get: return kind == ReplyKind::Value || kind == ReplyKind::Miss;
    case Op::Set: return kind == ReplyKind::Stored || kind == ReplyKind::NotStored;
    case Op::Echo: return true;
  }
  return false;
}

UdpReassembler::Status UdpReassembler::add(std::string_view d, std::uint16_t& request_id,
                                           std::string& payload, std::string& error) {
  UdpFrameHeader h;
  if (!get_udp_header(d, h)) {
    error = "datagram shorter than the 8-byte frame header";
    return Status::Malformed;
  }
  request_id = h.request_id;
  if (h.total == 0 || h.seq >= h.total) {
    error = "frame header sequence " + std::to_string(h.seq) + " of " + std::to_string(h.total);
    return Status::Malformed;
  }
  const std::string_view body = d.substr(kUdpFrameHeader);
  if (h.total == 1) {
    parts_.erase(h.request_id);
    payload.assign(body);
    return Status::Complete;
  }
  Parts& p = parts_[h.request_id];
  if (p.total == 0) {
    p.total = h.total;
    p.chunks.assign(h.total, {});
    p.seen.assign(h.total, false);
  } else if (p.total != h.total) {
    parts_.erase(h.request_id);
    error = "datagrams of one reply disagree on their total";
    return Status::Malformed;
  }
  if (p.seen[h.seq]) return Status::Partial;  // a duplicate: keep the first
  p.seen[h.seq] = true;
  p.chunks[h.seq].assign(body);
  if (++p.have < p.total) return Status::Partial;
  payload.clear();
  for (const auto& c : p.chunks) payload += c;
  parts_.erase(h.request_id);
  return Status::Complete;
}

}  // namespace kairos::loadgen
