// The part both push transports share: raw message -> decrypt -> decode -> de-duplicate -> newest-wins ->
// PushSink, with every failure counted by reason and logged, never fatal (docs/cloud.md §8.11, §8.13).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "cloud/push_dedup.h"
#include "cloud/push_envelope.h"
#include "common/timers.h"

namespace t2m::cloud::push {

// Transport names used in logs, counters and PushSink::on_push_channel.
inline constexpr std::string_view CHANNEL_PULSAR = "pulsar";
inline constexpr std::string_view CHANNEL_OPENHUB = "openhub";

// Receives decoded events on the loop thread. The gateway wires it to device state and MQTT:
// StatusReport -> state update (only items newer than any earlier report reach here), Online/Offline ->
// availability, NameUpdate/DpNameUpdate -> names, BindUser -> fetch and add the device (after ~1 s, §6.0),
// Delete -> remove it, UpgradeStatus -> firmware state, SceneRun -> an event, Unknown -> ignore.
class PushSink {
 public:
  virtual ~PushSink() = default;
  virtual void on_push(const PushMessage& message) = 0;
  // A transport connected (true) or lost its connection (false).
  virtual void on_push_channel(std::string_view /*channel*/, bool /*connected*/) {}
  // A failure retrying will not fix (refused credentials): a message a person can act on.
  virtual void on_push_error(std::string_view /*channel*/, const Error& /*error*/) {}
};

struct PushCounters {
  uint64_t received = 0;       // raw messages handed to the processor
  uint64_t delivered = 0;      // messages passed to the sink
  uint64_t duplicates = 0;     // dropped: message id / dataId seen before
  uint64_t stale_items = 0;    // status items dropped as older than the newest seen
  uint64_t stale_reports = 0;  // status reports with nothing newer left (not delivered)
  uint64_t unknown = 0;        // unknown protocol or bizCode (delivered as Unknown)
  uint64_t errors = 0;         // sum of by_reason
  std::map<std::string, uint64_t, std::less<>> by_reason;  // Error::code -> count
  std::map<std::string, uint64_t, std::less<>> aad_forms;  // open-hub 2.0: which AAD form verified
};

class PushProcessor {
 public:
  // Tuya's messages are a few KB; anything far larger is refused before parsing (ERR_TOO_LARGE).
  static constexpr size_t MAX_PAYLOAD_BYTES = 256 * 1024;

  PushProcessor(PushSink& sink, const Timers& timers);

  // A Pulsar text frame (§6.a). Returns the messageId to acknowledge (every message with an id is
  // acked, even undecryptable or duplicate ones, or Pulsar would redeliver it forever); "" if none.
  std::string handle_pulsar_frame(std::string_view frame_text, ByteView key);
  // An open-hub MQTT payload (outer envelope, §6.b); repeats are recognised by a digest of the payload.
  void handle_openhub_message(std::string_view payload, std::string_view version, ByteView key);

  const PushCounters& counters() const { return counters_; }
  PushSink& sink() { return sink_; }

 private:
  void count_error_(std::string_view channel, const Error& e);
  void deliver_(std::string_view channel, const Envelope& env, std::string_view plain);

  PushSink& sink_;
  const Timers& timers_;
  PushCounters counters_;
  DedupWindow seen_ids_;
  NewestTracker newest_;
};

}  // namespace t2m::cloud::push
