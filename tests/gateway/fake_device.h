// The device side of a FakeTransport: the real codec in the DEVICE role, answering the 3.4/3.5
// negotiation by itself, so tests can script what a device sends.
#pragma once

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "protocol/message.h"
#include "protocol/payload.h"
#include "protocol/session.h"
#include "tests/gateway/fake_transport.h"

namespace t2m::gw::testing {

inline const std::string KEY = "0123456789abcdef";
inline const std::string DEV = "bf0123456789abcdef01";

inline uint32_t cmd_of(proto::Command c) {
  return static_cast<uint32_t>(c);
}

struct FakeDevice {
  std::string id = DEV;
  proto::Version version;
  std::string key = KEY;
  bool device22 = false;
  proto::MessageCodec codec;
  std::unique_ptr<proto::DeviceHandshake> hs;
  std::vector<proto::Message> received;
  uint32_t seq = 100;

  explicit FakeDevice(proto::Version v, bool d22 = false, std::string device_id = DEV,
                      std::string local_key = KEY)
      : id(std::move(device_id)),
        version(v),
        key(std::move(local_key)),
        device22(d22),
        codec(proto::Role::DEVICE, v, to_bytes(key), d22) {}

  Bytes iv() {
    Bytes out(12, 0);
    out[11] = static_cast<uint8_t>(seq);
    return out;
  }

  // Decodes everything the session wrote since last time; answers the handshake automatically.
  void read(FakeTransport& t) {
    // Replies are delivered synchronously and the session may write again meanwhile: take a copy first.
    std::vector<Bytes> frames = std::move(t.written);
    t.written.clear();
    for (auto& frame : frames) {
      if (proto::needs_session_key(version) && !codec.has_session_key()) {
        if (!hs) {
          hs = std::make_unique<proto::DeviceHandshake>(version, to_bytes(key), to_bytes("fedcba9876543210"));
          auto resp = hs->on_start(frame, seq++, iv());
          if (resp) t.deliver(resp.value());
        } else {
          REQUIRE(hs->on_finish(frame).ok());
          codec.set_session_key(hs->session_key());
        }
        continue;
      }
      auto m = codec.decode(frame);
      REQUIRE_MESSAGE(m.ok(), "device could not decode a frame");
      received.push_back(m.value());
    }
  }

  void send(FakeTransport& t, proto::Command cmd, const std::string& json_body, uint32_t retcode = 0) {
    auto f = codec.encode(cmd_of(cmd), json_body, seq++, iv(), retcode);
    REQUIRE(f.ok());
    t.deliver(f.value());
  }

  std::string report(const nlohmann::json& dps, std::optional<std::string> cid = std::nullopt) {
    return proto::build_report(version, proto::Target{id, std::move(cid)}, 1700000000, dps);
  }
};

}  // namespace t2m::gw::testing
