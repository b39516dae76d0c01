// Cloud push messages (cloud/push_envelope.h): the Pulsar frame, the outer envelope, decryption on both
// channels with both ciphers, and the business payload. The first byte picks the stage; the rest is the
// input of that stage. Stages 4+ encrypt the fuzz input with the real key first, so the decrypted text
// reaches decode_business through the full pipeline (random ciphertext never passes a GCM tag).
// Properties: no crash/UB/leak/exception; encrypt -> decrypt returns the plain text.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "cloud/push_envelope.h"
#include "cloud/push_processor.h"
#include "common/bytes.h"
#include "common/timers.h"
#include "fuzz/fuzz_check.h"
#include "tests/fakes/fake_timers.h"

using namespace t2m;
using namespace t2m::cloud::push;

namespace {

// The reference vectors' credentials (docs/cloud.md §6.c), so the seeded vectors decrypt.
const std::string SECRET = "4OHBOnWOqaEC1mWXOpVL3yV50s0qGSRC";
const std::string OPENHUB_PASSWORD = "9f2a5c1e7b3d4f60a8c2e4b6d8f0a1c3";
const Bytes NONCE = to_bytes("fuzznonce012");  // 12 bytes
constexpr uint64_t T = 1700000000123ULL;

void run_envelope(std::string_view text, ByteView key) {
  auto env = parse_envelope(text);
  if (!env.ok()) return;
  for (auto em : {EM_AES_ECB, EM_AES_GCM, std::string_view("bogus")}) {
    auto plain = decrypt_pulsar_data(env->data, em, key);
    if (plain.ok()) (void)decode_business(env->protocol, env->t_ms, *plain);
  }
  for (auto ver : {OPENHUB_V1, OPENHUB_V2}) {
    auto plain = decrypt_openhub_data(*env, ver, key);
    if (plain.ok()) (void)decode_business(env->protocol, env->t_ms, plain->text);
  }
}

struct NullSink final : PushSink {
  void on_push(const PushMessage& m) override {
    (void)event_dev_id(m.event);
    (void)event_name(m.event);
  }
};

void check_event(const Result<PushMessage>& m) {
  if (!m.ok()) return;
  (void)event_dev_id(m->event);
  (void)event_name(m->event);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t stage = data[0];
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  const Bytes key = *pulsar_key(SECRET);

  switch (stage % 8) {
    case 0: {  // a whole Pulsar WebSocket frame through the processor (frame, base64, envelope, cipher)
      auto frame = parse_pulsar_frame(text);
      if (frame.ok()) (void)pulsar_ack(frame->message_id);
      NullSink sink;
      FakeTimers timers;
      PushProcessor p(sink, timers);
      (void)p.handle_pulsar_frame(text, key);
      (void)p.handle_pulsar_frame(text, key);  // the same again: a redelivery
      break;
    }
    case 1: {  // an envelope on both channels, with both keys
      run_envelope(text, key);
      const Bytes hub = *openhub_key(OPENHUB_PASSWORD);
      run_envelope(text, hub);
      NullSink sink;
      FakeTimers timers;
      PushProcessor p(sink, timers);
      p.handle_openhub_message(text, OPENHUB_V1, hub);
      p.handle_openhub_message(text, OPENHUB_V2, hub);
      break;
    }
    case 2:
      check_event(decode_business(PROTOCOL_STATUS, static_cast<int64_t>(T), text));
      break;
    case 3:
      check_event(decode_business(stage >> 3, static_cast<int64_t>(T), text));
      break;
    case 4: {  // ECB round trip through the Pulsar path
      const std::string b64 = encrypt_ecb_data(text, key);
      auto plain = decrypt_pulsar_data(b64, EM_AES_ECB, key);
      T2M_FUZZ_CHECK(plain.ok());
      T2M_FUZZ_CHECK(*plain == text);
      check_event(decode_business(PROTOCOL_STATUS, static_cast<int64_t>(T), *plain));
      break;
    }
    case 5: {  // GCM round trip through the Pulsar path
      const std::string b64 = encrypt_pulsar_gcm_data(text, key, NONCE);
      auto plain = decrypt_pulsar_data(b64, EM_AES_GCM, key);
      T2M_FUZZ_CHECK(plain.ok());
      T2M_FUZZ_CHECK(*plain == text);
      check_event(decode_business(PROTOCOL_DEVICE_EVENT, static_cast<int64_t>(T), *plain));
      break;
    }
    case 6: {  // open-hub 2.0, both AAD forms, through a real envelope
      for (auto aad : {AadForm::DECIMAL_TEXT, AadForm::BE48}) {
        const std::string b64 = encrypt_openhub_gcm_data(text, key, NONCE, aad, T);
        auto env = parse_envelope(make_envelope(PROTOCOL_STATUS, b64, T));
        T2M_FUZZ_CHECK(env.ok());
        auto plain = decrypt_openhub_data(*env, OPENHUB_V2, key);
        T2M_FUZZ_CHECK(plain.ok());
        T2M_FUZZ_CHECK(plain->text == text);
        check_event(decode_business(env->protocol, env->t_ms, plain->text));
      }
      break;
    }
    default: {  // open-hub 1.0 through a real envelope; the fuzz input is the business JSON
      auto env = parse_envelope(make_envelope(PROTOCOL_STATUS, encrypt_ecb_data(text, key), T));
      T2M_FUZZ_CHECK(env.ok());
      auto plain = decrypt_openhub_data(*env, OPENHUB_V1, key);
      T2M_FUZZ_CHECK(plain.ok());
      T2M_FUZZ_CHECK(plain->text == text);
      check_event(decode_business(env->protocol, env->t_ms, plain->text));
      break;
    }
  }
  (void)normalise_time_ms(nlohmann::json(std::string(text)));
  return 0;
}
