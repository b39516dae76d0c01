#include "cloud/push_processor.h"

#include "common/log.h"
#include "protocol/crypto.h"

namespace t2m::cloud::push {

namespace {
constexpr const char* PUSH_PROCESSOR_TAG = "cloud.push";
// A digest prefix is enough to tell redelivered MQTT payloads apart.
constexpr size_t DIGEST_PREFIX = 16;
}  // namespace

PushProcessor::PushProcessor(PushSink& sink, const Timers& timers) : sink_(sink), timers_(timers) {}

void PushProcessor::count_error_(std::string_view channel, const Error& e) {
  ++counters_.errors;
  auto it = counters_.by_reason.find(e.code);
  if (it == counters_.by_reason.end()) it = counters_.by_reason.emplace(e.code, 0).first;
  ++it->second;
  T2M_LOGW(PUSH_PROCESSOR_TAG, "%.*s: message dropped (%s): %s", static_cast<int>(channel.size()),
           channel.data(), e.code.c_str(), e.message.c_str());
}

std::string PushProcessor::handle_pulsar_frame(std::string_view frame_text, ByteView key) {
  ++counters_.received;
  if (frame_text.size() > MAX_PAYLOAD_BYTES) {
    count_error_(CHANNEL_PULSAR, Error{std::string(ERR_TOO_LARGE), "frame larger than the limit"});
    return {};
  }
  auto frame = parse_pulsar_frame(frame_text);
  if (!frame) {
    count_error_(CHANNEL_PULSAR, frame.error());
    return {};
  }
  if (!seen_ids_.first_seen("m:" + frame->message_id, timers_.now_ms())) {
    ++counters_.duplicates;
    T2M_LOGD(PUSH_PROCESSOR_TAG, "pulsar: duplicate message (redelivery %d) dropped",
             frame->redelivery_count);
    return frame->message_id;
  }
  auto outer = proto::crypto::base64_decode(frame->payload);
  if (!outer) {
    count_error_(CHANNEL_PULSAR, Error{std::string(ERR_BAD_BASE64), "frame payload is not valid base64"});
    return frame->message_id;
  }
  auto env = parse_envelope(as_chars(*outer));
  if (!env) {
    count_error_(CHANNEL_PULSAR, env.error());
    return frame->message_id;
  }
  auto plain = decrypt_pulsar_data(env->data, frame->em, key);
  if (!plain) {
    count_error_(CHANNEL_PULSAR, plain.error());
    return frame->message_id;
  }
  deliver_(CHANNEL_PULSAR, env.value(), plain.value());
  return frame->message_id;
}

void PushProcessor::handle_openhub_message(std::string_view payload, std::string_view version, ByteView key) {
  ++counters_.received;
  if (payload.size() > MAX_PAYLOAD_BYTES) {
    count_error_(CHANNEL_OPENHUB, Error{std::string(ERR_TOO_LARGE), "message larger than the limit"});
    return;
  }
  auto digest = proto::crypto::sha256(as_bytes(payload));
  if (!seen_ids_.first_seen("h:" + to_hex(ByteView(digest.data(), DIGEST_PREFIX)), timers_.now_ms())) {
    ++counters_.duplicates;
    T2M_LOGD(PUSH_PROCESSOR_TAG, "openhub: duplicate message dropped");
    return;
  }
  auto env = parse_envelope(payload);
  if (!env) {
    count_error_(CHANNEL_OPENHUB, env.error());
    return;
  }
  auto plain = decrypt_openhub_data(env.value(), version, key);
  if (!plain) {
    count_error_(CHANNEL_OPENHUB, plain.error());
    return;
  }
  if (plain->aad != AadForm::NONE) {
    auto form = std::string(to_string(plain->aad));
    auto it = counters_.aad_forms.find(form);
    if (it == counters_.aad_forms.end()) {
      // §9.1 is open: say once which form Tuya really uses.
      T2M_LOGI(PUSH_PROCESSOR_TAG, "openhub: 2.0 messages verify with the %s AAD form of t", form.c_str());
      it = counters_.aad_forms.emplace(form, 0).first;
    }
    ++it->second;
  }
  deliver_(CHANNEL_OPENHUB, env.value(), plain->text);
}

void PushProcessor::deliver_(std::string_view channel, const Envelope& env, std::string_view plain) {
  auto msg = decode_business(env.protocol, env.t_ms, plain);
  if (!msg) {
    count_error_(channel, msg.error());
    return;
  }
  PushMessage& m = msg.value();
  if (!m.data_id.empty() && !seen_ids_.first_seen("d:" + m.data_id, timers_.now_ms())) {
    ++counters_.duplicates;
    return;
  }
  if (auto* u = std::get_if<Unknown>(&m.event)) {
    ++counters_.unknown;
    T2M_LOGI(PUSH_PROCESSOR_TAG, "%.*s: unhandled message protocol %d bizCode \"%s\"",
             static_cast<int>(channel.size()), channel.data(), u->protocol, u->biz_code.c_str());
  } else if (auto* r = std::get_if<StatusReport>(&m.event)) {
    bool had_items = !r->items.empty();
    size_t dropped = newest_.filter(*r);
    counters_.stale_items += dropped;
    if (had_items && r->items.empty()) {
      ++counters_.stale_reports;
      T2M_LOGD(PUSH_PROCESSOR_TAG, "%s: status report older than the state already seen, dropped",
               r->dev_id.c_str());
      return;
    }
  } else if (auto* d = std::get_if<Delete>(&m.event)) {
    newest_.forget(d->dev_id);
  }
  ++counters_.delivered;
  T2M_LOGV(PUSH_PROCESSOR_TAG, "%.*s: %.*s for %.*s", static_cast<int>(channel.size()), channel.data(),
           static_cast<int>(event_name(m.event).size()), event_name(m.event).data(),
           static_cast<int>(event_dev_id(m.event).size()), event_dev_id(m.event).data());
  sink_.on_push(m);
}

}  // namespace t2m::cloud::push
