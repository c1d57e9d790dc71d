// Wire formats: requests are appended to a byte string, replies are parsed
// from the front of a byte buffer that may hold a partial reply (TCP
// delivers replies split anywhere) or several pipelined ones.
//   memcached    the ASCII protocol over TCP (get/set)
//   memcached-udp  the same requests over UDP, each datagram behind the
//                8-byte frame header (request id, sequence number, total
//                datagrams, reserved; big-endian); replies may span
//                several datagrams, reassembled by request id
//   redis        RESP over TCP (GET/SET)
//   udp-echo     the datagram format of tools/udpload: 8-byte sequence
//                number, 8-byte run token, padding; echoed back unchanged
//                (trailing bytes the echo server appends are ignored)
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace kairos::loadgen {

enum class Protocol { Memcached, MemcachedUdp, Redis, UdpEcho };
Protocol parse_protocol(const std::string& name);  // throws std::invalid_argument
const char* protocol_name(Protocol p);
inline bool is_udp(Protocol p) { return p == Protocol::MemcachedUdp || p == Protocol::UdpEcho; }

enum class Op : std::uint8_t { Get, Set, Echo };

// Largest value or reply line accepted; anything larger is malformed.
constexpr std::size_t kMaxValueBytes = 64u << 20;
constexpr std::size_t kMaxLineBytes = 4096;
constexpr std::size_t kUdpFrameHeader = 8;
// A memcached UDP request must fit one datagram (the server rejects
// multi-datagram requests); 1400 keeps it under a 1500-byte MTU.
constexpr std::size_t kMaxUdpDatagram = 1400;

void encode_memcached(Op op, std::string_view key, std::size_t value_size, std::string& out);
void encode_redis(Op op, std::string_view key, std::size_t value_size, std::string& out);
void encode_memcached_udp(std::uint16_t request_id, Op op, std::string_view key,
                          std::size_t value_size, std::string& out);
// size >= 16: sequence number and run token, then zero padding.
void encode_echo(std::uint64_t seq, std::uint64_t token, std::size_t size, std::string& out);
bool parse_echo(std::string_view datagram, std::uint64_t& seq, std::uint64_t& token);

enum class ReplyKind { Value, Miss, Stored, NotStored, ServerError, Other };
struct Reply {
  ReplyKind kind = ReplyKind::Other;
  std::size_t value_bytes = 0;
  std::string message;  // the error text of a ServerError
};
enum class ParseStatus { Done, NeedMore, Malformed };
struct ParseResult {
  ParseStatus status = ParseStatus::NeedMore;
  std::size_t consumed = 0;  // bytes of one whole reply (Done only)
  Reply reply;
  std::string error;  // why it is malformed
};
ParseResult parse_memcached_reply(std::string_view buf);
ParseResult parse_redis_reply(std::string_view buf);
// Whether a reply of this kind answers a request of this kind; a reply
// that does not means the stream lost its framing.
bool reply_answers(Op op, ReplyKind kind);

struct UdpFrameHeader {
  std::uint16_t request_id = 0, seq = 0, total = 0, reserved = 0;
};
void put_udp_header(const UdpFrameHeader& h, std::string& out);
bool get_udp_header(std::string_view datagram, UdpFrameHeader& h);

// Collects the datagrams of memcached UDP replies until each is whole.
class UdpReassembler {
 public:
  enum class Status { Complete, Partial, Malformed };
  // On Complete, `payload` holds the reply in sequence order.
  Status add(std::string_view datagram, std::uint16_t& request_id, std::string& payload,
             std::string& error);
  void forget(std::uint16_t request_id) { parts_.erase(request_id); }
  std::size_t partial() const { return parts_.size(); }

 private:
  struct Parts {
    std::uint16_t total = 0, have = 0;
    std::vector<std::string> chunks;
    std::vector<bool> seen;
  };
  std::unordered_map<std::uint16_t, Parts> parts_;
};

}  // namespace kairos::loadgen
