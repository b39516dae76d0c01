// Property: what one role encodes, the other decodes to the same message, for every version, key,
// command, sequence number, return code and JSON-like payload; and raw frames round-trip.
#include <cstddef>
#include <cstdint>
#include <string>

#include <fuzzer/FuzzedDataProvider.h>

#include "fuzz/fuzz_check.h"
#include "protocol/frame.h"
#include "protocol/message.h"

using namespace t2m;
using namespace t2m::proto;

namespace {

constexpr Version VERSIONS[] = {Version::V3_1, Version::V3_2, Version::V3_3, Version::V3_4, Version::V3_5};

Bytes take(FuzzedDataProvider& in, size_t n) {
  Bytes b = in.ConsumeBytes<uint8_t>(n);
  b.resize(n, 0x5A);
  return b;
}

void check_message(const MessageCodec& from, const MessageCodec& to, uint32_t cmd, const std::string& json,
                   uint32_t seq, ByteView iv, uint32_t ret) {
  auto frame = from.encode(cmd, json, seq, iv, ret);
  T2M_FUZZ_CHECK(frame.ok());
  // Through the splitter first: it must cut exactly this frame.
  FrameSplitter splitter;
  splitter.feed(*frame);
  auto cut = splitter.next();
  T2M_FUZZ_CHECK(cut && cut->ok() && cut->value() == *frame);
  auto m = to.decode(*frame);
  T2M_FUZZ_CHECK(m.ok());
  T2M_FUZZ_CHECK(m->cmd == cmd);
  T2M_FUZZ_CHECK(m->seqno == seq);
  T2M_FUZZ_CHECK(m->payload == json);
  if (from.role() == Role::DEVICE) {
    T2M_FUZZ_CHECK(m->retcode == std::optional<uint32_t>(ret));
  } else {
    T2M_FUZZ_CHECK(!m->retcode);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const Version ver = in.PickValueInArray(VERSIONS);
  const bool device22 = in.ConsumeBool();
  const uint32_t cmd = in.ConsumeIntegralInRange<uint32_t>(0, 0x45);
  const uint32_t seq = in.ConsumeIntegral<uint32_t>();
  // 55AA device frames carry a retcode the §2.1 heuristic recognises only below 256.
  const uint32_t ret = in.ConsumeIntegralInRange<uint32_t>(0, 255);
  const Bytes key = take(in, 16);
  const Bytes session_key = take(in, 16);
  const Bytes iv = take(in, 12);
  const std::string body = in.ConsumeRemainingBytesAsString();
  if (body.size() > 4000) return 0;

  MessageCodec client(Role::CLIENT, ver, key, device22);
  MessageCodec device(Role::DEVICE, ver, key, device22);
  const bool session_cmd = cmd >= 0x03 && cmd <= 0x05;
  if (needs_session_key(ver) && !session_cmd) {
    client.set_session_key(session_key);
    device.set_session_key(session_key);
  }
  // Messages: JSON-like text (decoders return only JSON or device error text).
  const std::string json = "{" + body;
  check_message(client, device, cmd, json, seq, iv, 0);
  check_message(device, client, cmd, json, seq, iv, ret);
  check_message(device, client, cmd, "", seq, iv, ret);  // ACK

  // Raw bytes through seal/open (session commands: the handshake's binary payloads).
  if (session_cmd && needs_session_key(ver) && !body.empty()) {
    auto sealed = client.seal(cmd, as_bytes(body), seq, iv);
    T2M_FUZZ_CHECK(sealed.ok());
    auto opened = device.open(*sealed);
    T2M_FUZZ_CHECK(opened.ok());
    T2M_FUZZ_CHECK(opened->payload == to_bytes(body));
  }

  // Frames: any payload, both kinds.
  Frame f;
  f.seqno = seq;
  f.cmd = cmd;
  f.payload = to_bytes(body);
  for (auto integrity : {Integrity::CRC32, Integrity::HMAC_SHA256}) {
    auto d = decode_55aa(encode_55aa(f, integrity, key), integrity, key, Direction::TO_DEVICE);
    T2M_FUZZ_CHECK(d.ok() && d->payload == f.payload && d->seqno == seq && d->cmd == cmd && !d->retcode);
  }
  auto d = decode_6699(encode_6699(f, key, iv), key, Direction::TO_DEVICE);
  T2M_FUZZ_CHECK(d.ok() && d->payload == f.payload && d->seqno == seq && d->cmd == cmd);
  f.retcode = ret;
  auto r = decode_6699(encode_6699(f, key, iv), key, Direction::FROM_DEVICE);
  T2M_FUZZ_CHECK(r.ok() && r->payload == f.payload && r->retcode == f.retcode);
  return 0;
}
