// Builds pgoutput messages byte by byte, as the server would send them, for
// parser and decoder tests.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pgstream::replication::testing {

class Wire {
 public:
  Wire& u8(std::uint8_t v) {
    data_.push_back(static_cast<char>(v));
    return *this;
  }
  Wire& ch(char c) {
    data_.push_back(c);
    return *this;
  }
  Wire& i16(std::int16_t v) { return be(static_cast<std::uint64_t>(static_cast<std::uint16_t>(v)), 2); }
  Wire& i32(std::int32_t v) { return be(static_cast<std::uint64_t>(static_cast<std::uint32_t>(v)), 4); }
  Wire& u32(std::uint32_t v) { return be(v, 4); }
  Wire& i64(std::int64_t v) { return be(static_cast<std::uint64_t>(v), 8); }
  Wire& u64(std::uint64_t v) { return be(v, 8); }
  Wire& str(std::string_view s) {
    data_.append(s);
    data_.push_back('\0');
    return *this;
  }
  Wire& raw(std::string_view s) {
    data_.append(s);
    return *this;
  }
  [[nodiscard]] const std::string& bytes() const { return data_; }
  operator std::string_view() const { return data_; }  // NOLINT(google-explicit-constructor)

 private:
  Wire& be(std::uint64_t v, int n) {
    for (int i = n - 1; i >= 0; --i)
      data_.push_back(static_cast<char>((v >> (8U * static_cast<unsigned>(i))) & 0xFFU));
    return *this;
  }
  std::string data_;
};

struct Col {
  char kind;  // 'n', 'u', 't', 'b'
  std::string value;
};

inline Wire& tuple(Wire& w, const std::vector<Col>& cols) {
  w.i16(static_cast<std::int16_t>(cols.size()));
  for (const Col& c : cols) {
    w.ch(c.kind);
    if (c.kind == 't' || c.kind == 'b') w.i32(static_cast<std::int32_t>(c.value.size())).raw(c.value);
  }
  return w;
}

inline std::string begin_msg(std::uint64_t final_lsn, std::int64_t ts, std::uint32_t xid) {
  return Wire().ch('B').u64(final_lsn).i64(ts).u32(xid).bytes();
}
inline std::string commit_msg(std::uint64_t commit_lsn, std::uint64_t end_lsn, std::int64_t ts) {
  return Wire().ch('C').u8(0).u64(commit_lsn).u64(end_lsn).i64(ts).bytes();
}
struct RelCol {
  std::string name;
  std::uint32_t type;
  bool key = false;
};
inline std::string relation_msg(std::uint32_t oid, std::string_view ns, std::string_view name, char ri,
                                const std::vector<RelCol>& cols, const std::uint32_t* xid = nullptr) {
  Wire w;
  w.ch('R');
  if (xid != nullptr) w.u32(*xid);
  w.u32(oid).str(ns).str(name).ch(ri).i16(static_cast<std::int16_t>(cols.size()));
  for (const RelCol& c : cols) w.u8(c.key ? 1 : 0).str(c.name).u32(c.type).i32(-1);
  return w.bytes();
}
inline std::string insert_msg(std::uint32_t oid, const std::vector<Col>& cols,
                              const std::uint32_t* xid = nullptr) {
  Wire w;
  w.ch('I');
  if (xid != nullptr) w.u32(*xid);
  w.u32(oid).ch('N');
  tuple(w, cols);
  return w.bytes();
}
inline std::string stream_start_msg(std::uint32_t xid, bool first) {
  return Wire().ch('S').u32(xid).u8(first ? 1 : 0).bytes();
}
inline std::string stream_stop_msg() { return Wire().ch('E').bytes(); }
inline std::string stream_commit_msg(std::uint32_t xid, std::uint64_t commit_lsn, std::uint64_t end_lsn,
                                     std::int64_t ts) {
  return Wire().ch('c').u32(xid).u8(0).u64(commit_lsn).u64(end_lsn).i64(ts).bytes();
}
inline std::string stream_abort_msg(std::uint32_t xid, std::uint32_t subxid) {
  return Wire().ch('A').u32(xid).u32(subxid).bytes();
}

}  // namespace pgstream::replication::testing
