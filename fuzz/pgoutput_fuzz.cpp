// libFuzzer target for the pgoutput parser and the Decoder.
//
// Input: a sequence of frames, each a 2-byte big-endian length and that many
// bytes, fed to one Decoder as XLogData payloads (with tiny part and memory
// limits, so parts and spilling are exercised too); the whole input is also
// parsed as one message, outside and inside a streamed block. Malformed
// input must end in pgstream::Error, never in a crash, a sanitizer report
// or a leak. The whole input also goes through the XLogData/keepalive parser.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "pgstream/common/error.hpp"
#include "pgstream/replication/decoder.hpp"
#include "pgstream/replication/pgoutput.hpp"
#include "pgstream/replication/standby_protocol.hpp"

namespace {

using pgstream::replication::ChangeBatch;
using pgstream::replication::ChangeKind;
using pgstream::replication::Decoder;
using pgstream::replication::DecoderOptions;

// Touches every byte a consumer could read, so that a bad view is caught.
std::size_t consume(const ChangeBatch& batch) {
  std::size_t sum = 0;
  for (const auto& change : batch.changes()) {
    switch (change.kind) {
      case ChangeKind::Insert:
      case ChangeKind::Update:
      case ChangeKind::Delete: {
        const bool has_old = change.old_kind != pgstream::replication::OldTupleKind::None;
        if (has_old) {
          const auto tuple = batch.old_tuple(change);
          for (std::size_t i = 0; i < tuple.size(); ++i) {
            for (const char c : tuple[i].bytes) sum += static_cast<unsigned char>(c);
          }
        }
        if (change.kind != ChangeKind::Delete) {
          const auto tuple = batch.new_tuple(change);
          for (std::size_t i = 0; i < tuple.size(); ++i) {
            for (const char c : tuple[i].bytes) sum += static_cast<unsigned char>(c);
          }
        }
        break;
      }
      case ChangeKind::Message:
        sum += batch.message_prefix(change).size() + batch.message_content(change).size();
        break;
      case ChangeKind::Truncate:
      case ChangeKind::SchemaChange: sum += change.relation->columns.size(); break;
    }
  }
  return sum;
}

void parse_alone(std::string_view data) {
  pgstream::replication::PgOutputMessage message;
  for (const bool in_stream : {false, true}) {
    try {
      pgstream::replication::parse_pgoutput(data, in_stream, message);
    } catch (const pgstream::Error&) {
    }
  }
  pgstream::replication::CopyMessage copy;
  try {
    pgstream::replication::parse_copy_message(data, copy);
  } catch (const pgstream::Error&) {
  }
}

void decode_frames(std::string_view data) {
  DecoderOptions options;
  options.max_part_changes = 3;
  options.spool.memory_limit = 256;
  volatile std::size_t sink = 0;
  Decoder decoder(options, [&](const ChangeBatch& batch) { sink = sink + consume(batch); });
  while (data.size() >= 2) {
    const std::size_t size = (static_cast<std::size_t>(static_cast<unsigned char>(data[0])) << 8U) |
                             static_cast<unsigned char>(data[1]);
    data.remove_prefix(2);
    const std::string_view frame = data.substr(0, size);
    data.remove_prefix(frame.size());
    try {
      decoder.decode(frame);
    } catch (const pgstream::Error&) {
      decoder.reset();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  parse_alone(input);
  decode_frames(input);
  return 0;
}
