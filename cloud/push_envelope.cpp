#include "cloud/push_envelope.h"

#include <charconv>
#include <cmath>
#include <limits>

#include "common/timers.h"
#include "protocol/crypto.h"

namespace t2m::cloud::push {

namespace crypto = t2m::proto::crypto;
using nlohmann::json;

namespace {

// Secrets and passwords carry the AES key in characters [8, 24).
constexpr size_t KEY_OFFSET = 8;
constexpr size_t KEY_END = KEY_OFFSET + crypto::AES_KEY_SIZE;
// The WS password is md5hex(...)[8:24].
constexpr size_t PASSWORD_OFFSET = 8;
constexpr size_t PASSWORD_LEN = 16;
// Open-hub 2.0: 4-byte big-endian IV length prefix; the 6-byte AAD variant of `t`.
constexpr size_t IVLEN_PREFIX = 4;
constexpr size_t MAX_IV_LEN = 64;
constexpr size_t BE48_SIZE = 6;
// Time magnitudes: below this a number is seconds (1e11 s is year 5138, 1e11 ms is 1973).
constexpr double SECONDS_BELOW = 1e11;
// Above this a number is microseconds (1e14 ms is year 5138).
constexpr double MICROS_ABOVE = 1e14;
constexpr int64_t US_PER_MS = 1000;
constexpr std::string_view PV = "2.0";
constexpr std::string_view FAKE_SIGN = "ignored-by-sdks";

Unexpected<Error> err(std::string_view code, std::string message) {
  return fail(std::string(code), std::move(message));
}

std::string md5_hex(std::string_view s) {
  auto d = crypto::md5(as_bytes(s));
  return to_hex(ByteView(d.data(), d.size()));
}

// A string field, or "" when absent / not a string. Numbers are rendered (ids are sometimes numeric).
std::string str_field(const json& obj, std::string_view key) {
  if (!obj.is_object()) return {};
  auto it = obj.find(key);
  if (it == obj.end()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_integer()) return std::to_string(it->get<int64_t>());
  if (it->is_number_unsigned()) return std::to_string(it->get<uint64_t>());
  return {};
}

std::optional<int> parse_int(std::string_view s) {
  int v = 0;
  if (s.empty()) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// An int field given as a number or a decimal string.
std::optional<int> int_field(const json& obj, std::string_view key) {
  if (!obj.is_object()) return std::nullopt;
  auto it = obj.find(key);
  if (it == obj.end()) return std::nullopt;
  if (it->is_number_integer() || it->is_number_unsigned()) {
    auto v = it->get<int64_t>();
    if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max()) return std::nullopt;
    return static_cast<int>(v);
  }
  if (it->is_number_float()) {
    double d = it->get<double>();
    if (!std::isfinite(d) || d < std::numeric_limits<int>::min() || d > std::numeric_limits<int>::max())
      return std::nullopt;
    return static_cast<int>(d);
  }
  if (it->is_string()) return parse_int(it->get_ref<const std::string&>());
  return std::nullopt;
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

std::optional<json> parse_json(std::string_view text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

StatusItem decode_status_item(const json& it, int64_t fallback_t) {
  StatusItem item;
  item.code = str_field(it, "code");
  if (auto v = it.find("value"); v != it.end()) item.value = *v;
  item.t_ms = fallback_t;
  if (auto t = it.find("t"); t != it.end()) {
    if (auto ms = normalise_time_ms(*t)) item.t_ms = *ms;
  }
  if (auto dp = int_field(it, "dpId")) item.dp_id = dp;
  if (!item.dp_id) {
    for (const auto& [k, v] : it.items()) {
      if (!all_digits(k)) continue;
      item.dp_id = parse_int(k);
      // The dpId-keyed pair is the only carrier of the value in some payloads.
      if (item.value.is_null()) item.value = v;
      break;
    }
  }
  return item;
}

PushEvent decode_device_event(const json& j) {
  const std::string biz = str_field(j, "bizCode");
  const json empty = json::object();
  const json& biz_data = (j.contains("bizData") && j["bizData"].is_object()) ? j["bizData"] : empty;
  // tuya-iot-python-sdk reads data.devId, the sharing SDK data.bizData.devId (§6.0): accept either.
  std::string dev = str_field(j, "devId");
  if (dev.empty()) dev = str_field(biz_data, "devId");

  if (biz == "online") return Online{dev};
  if (biz == "offline") return Offline{dev};
  if (biz == "nameUpdate") return NameUpdate{dev, str_field(biz_data, "name")};
  if (biz == "dpNameUpdate")
    return DpNameUpdate{dev, int_field(biz_data, "dpId"), str_field(biz_data, "name")};
  if (biz == "bindUser") return BindUser{dev, str_field(biz_data, "uid"), str_field(biz_data, "ownerId")};
  if (biz == "delete") return Delete{dev, str_field(biz_data, "uid"), str_field(biz_data, "ownerId")};
  if (biz == "upgradeStatus") {
    UpgradeStatus u;
    u.dev_id = dev;
    u.status = int_field(biz_data, "upgradeStatus").value_or(-1);
    u.progress = int_field(biz_data, "progress");
    u.module_type = int_field(biz_data, "moduleType");
    u.version = str_field(biz_data, "version");
    if (u.version.empty()) u.version = str_field(biz_data, "currentVersion");
    u.description = str_field(biz_data, "description");
    return u;
  }
  return Unknown{PROTOCOL_DEVICE_EVENT, biz, dev};
}

PushEvent decode_scene(const json& j) {
  const std::string biz = str_field(j, "bizCode");
  if (!biz.empty() && biz != "sceneExecute") return Unknown{PROTOCOL_SCENE, biz, {}};
  SceneRun s;
  const json empty = json::object();
  const json& biz_data = (j.contains("bizData") && j["bizData"].is_object()) ? j["bizData"] : empty;
  s.scene_id = str_field(biz_data, "id");
  s.name = str_field(biz_data, "name");
  // §9.9: gid/uid/actions are top level per Tuya's Java/Go classes; accept them inside bizData too.
  s.gid = str_field(j, "gid");
  if (s.gid.empty()) s.gid = str_field(biz_data, "gid");
  s.uid = str_field(j, "uid");
  if (s.uid.empty()) s.uid = str_field(biz_data, "uid");
  const json* actions = nullptr;
  if (j.contains("actions") && j["actions"].is_array())
    actions = &j["actions"];
  else if (biz_data.contains("actions") && biz_data["actions"].is_array())
    actions = &biz_data["actions"];
  if (actions) {
    for (const auto& a : *actions) {
      if (!a.is_object()) continue;
      SceneAction act;
      act.id = str_field(a, "id");
      act.entity_id = str_field(a, "entityId");
      act.exec_status = int_field(a, "execStatus");
      if (auto t = a.find("executeTime"); t != a.end())
        act.execute_time_ms = normalise_time_ms(*t).value_or(0);
      s.actions.push_back(std::move(act));
    }
  }
  return s;
}

std::string envelope_number_text(const json& t) {
  if (t.is_number_unsigned()) return std::to_string(t.get<uint64_t>());
  if (t.is_number_integer()) return std::to_string(t.get<int64_t>());
  if (t.is_string()) {
    const auto& s = t.get_ref<const std::string&>();
    if (all_digits(s)) return s;
  }
  return {};
}

}  // namespace

// ---------------------------------------------------------------------------------------------------

std::string pulsar_password(std::string_view access_id, std::string_view access_secret) {
  std::string inner = md5_hex(access_secret);
  std::string outer = md5_hex(std::string(access_id) + inner);
  return outer.substr(PASSWORD_OFFSET, PASSWORD_LEN);
}

std::optional<Bytes> pulsar_key(std::string_view access_secret) {
  if (access_secret.size() < KEY_END) return std::nullopt;
  return to_bytes(access_secret.substr(KEY_OFFSET, crypto::AES_KEY_SIZE));
}

std::optional<Bytes> openhub_key(std::string_view password) {
  return pulsar_key(password);
}

Result<PulsarFrame> parse_pulsar_frame(std::string_view text) {
  auto j = parse_json(text);
  if (!j || !j->is_object()) return err(ERR_BAD_FRAME, "Pulsar frame is not a JSON object");
  PulsarFrame f;
  f.message_id = str_field(*j, "messageId");
  if (f.message_id.empty()) return err(ERR_BAD_FRAME, "Pulsar frame has no messageId");
  f.payload = str_field(*j, "payload");
  if (auto p = j->find("properties"); p != j->end() && p->is_object()) f.em = str_field(*p, "em");
  f.redelivery_count = int_field(*j, "redeliveryCount").value_or(0);
  f.publish_time = str_field(*j, "publishTime");
  return f;
}

std::string pulsar_ack(std::string_view message_id) {
  return json{{"messageId", std::string(message_id)}}.dump();
}

std::optional<int64_t> normalise_time_ms(const json& v) {
  double d = 0;
  if (v.is_number()) {
    d = v.get<double>();
  } else if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    int64_t n = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
    d = static_cast<double>(n);
  } else {
    return std::nullopt;
  }
  if (!std::isfinite(d) || d <= 0) return std::nullopt;
  if (d < SECONDS_BELOW) return static_cast<int64_t>(d) * MS_PER_S;
  if (d > MICROS_ABOVE) {
    if (d / US_PER_MS > MICROS_ABOVE) return std::nullopt;  // nonsense, out of any range
    return static_cast<int64_t>(d / US_PER_MS);
  }
  return static_cast<int64_t>(d);
}

Result<Envelope> parse_envelope(std::string_view json_text) {
  auto j = parse_json(json_text);
  if (!j || !j->is_object()) return err(ERR_BAD_ENVELOPE, "envelope is not a JSON object");
  Envelope e;
  auto proto = int_field(*j, "protocol");
  if (!proto) return err(ERR_BAD_ENVELOPE, "envelope has no numeric protocol");
  e.protocol = *proto;
  e.pv = str_field(*j, "pv");
  auto d = j->find("data");
  if (d == j->end() || !d->is_string()) return err(ERR_BAD_ENVELOPE, "envelope has no string data");
  e.data = d->get<std::string>();
  if (auto t = j->find("t"); t != j->end()) {
    e.t_ms = normalise_time_ms(*t).value_or(0);
    e.t_text = envelope_number_text(*t);
    if (t->is_number_unsigned())
      e.t_integer = t->get<uint64_t>();
    else if (t->is_number_integer() && t->get<int64_t>() >= 0)
      e.t_integer = static_cast<uint64_t>(t->get<int64_t>());
  }
  return e;
}

Result<std::string> decrypt_pulsar_data(std::string_view data_b64, std::string_view em, ByteView key) {
  auto raw = crypto::base64_decode(data_b64);
  if (!raw) return err(ERR_BAD_BASE64, "data is not valid base64");
  if (em.empty() || em == EM_AES_ECB) {
    auto plain = crypto::aes_ecb_decrypt(key, *raw);
    if (!plain) return err(ERR_DECRYPT, "AES-ECB decryption failed (wrong key or corrupted data)");
    return std::string(as_chars(*plain));
  }
  if (em == EM_AES_GCM) {
    if (raw->size() < crypto::GCM_IV_SIZE + crypto::GCM_TAG_SIZE)
      return err(ERR_DECRYPT, "AES-GCM data shorter than nonce and tag");
    ByteView all(*raw);
    auto nonce = all.first(crypto::GCM_IV_SIZE);
    auto tag = all.last(crypto::GCM_TAG_SIZE);
    auto ct = all.subspan(crypto::GCM_IV_SIZE, all.size() - crypto::GCM_IV_SIZE - crypto::GCM_TAG_SIZE);
    auto plain = crypto::aes_gcm_decrypt(key, nonce, {}, ct, tag);
    if (!plain) return err(ERR_DECRYPT, "AES-GCM tag did not verify (wrong key or corrupted data)");
    return std::string(as_chars(*plain));
  }
  return err(ERR_UNKNOWN_CIPHER, "unknown encryption mode em=\"" + std::string(em) + "\"");
}

std::string_view to_string(AadForm form) {
  switch (form) {
    case AadForm::NONE:
      return "none";
    case AadForm::DECIMAL_TEXT:
      return "decimal-text";
    case AadForm::BE48:
      return "be48";
  }
  return "?";
}

namespace {
Bytes be48(uint64_t t) {
  Bytes out(BE48_SIZE);
  for (size_t i = 0; i < BE48_SIZE; ++i) out[BE48_SIZE - 1 - i] = static_cast<uint8_t>(t >> (8 * i));
  return out;
}
}  // namespace

Result<OpenhubPlain> decrypt_openhub_data(const Envelope& env, std::string_view version, ByteView key) {
  if (version == OPENHUB_V1) {
    auto r = decrypt_pulsar_data(env.data, EM_AES_ECB, key);
    if (!r) return fail(r.error());
    return OpenhubPlain{std::move(r.value()), AadForm::NONE};
  }
  if (version != OPENHUB_V2)
    return err(ERR_UNKNOWN_CIPHER, "unknown msg_encrypted_version \"" + std::string(version) + "\"");
  auto raw = crypto::base64_decode(env.data);
  if (!raw) return err(ERR_BAD_BASE64, "data is not valid base64");
  ByteView all(*raw);
  if (all.size() < IVLEN_PREFIX) return err(ERR_DECRYPT, "AES-GCM data shorter than its IV length");
  size_t iv_len = 0;
  for (size_t i = 0; i < IVLEN_PREFIX; ++i) iv_len = (iv_len << 8) | all[i];
  if (iv_len == 0 || iv_len > MAX_IV_LEN || all.size() < IVLEN_PREFIX + iv_len + crypto::GCM_TAG_SIZE)
    return err(ERR_DECRYPT, "AES-GCM data has an implausible IV length");
  if (iv_len != crypto::GCM_IV_SIZE) return err(ERR_DECRYPT, "AES-GCM IV is not 12 bytes");
  auto iv = all.subspan(IVLEN_PREFIX, iv_len);
  auto tag = all.last(crypto::GCM_TAG_SIZE);
  auto ct = all.subspan(IVLEN_PREFIX + iv_len, all.size() - IVLEN_PREFIX - iv_len - crypto::GCM_TAG_SIZE);
  if (!env.t_text.empty()) {
    if (auto p = crypto::aes_gcm_decrypt(key, iv, as_bytes(env.t_text), ct, tag))
      return OpenhubPlain{std::string(as_chars(*p)), AadForm::DECIMAL_TEXT};
  }
  if (env.t_integer) {
    Bytes aad = be48(*env.t_integer);
    if (auto p = crypto::aes_gcm_decrypt(key, iv, aad, ct, tag))
      return OpenhubPlain{std::string(as_chars(*p)), AadForm::BE48};
  }
  return err(ERR_DECRYPT, "AES-GCM tag did not verify with either AAD form of t");
}

// ---------------------------------------------------------------------------------------------------

std::string_view event_dev_id(const PushEvent& ev) {
  return std::visit(
      [](const auto& e) -> std::string_view {
        using E = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<E, SceneRun>)
          return {};
        else
          return e.dev_id;
      },
      ev);
}

std::string_view event_name(const PushEvent& ev) {
  struct V {
    std::string_view operator()(const StatusReport&) const { return "status"; }
    std::string_view operator()(const Online&) const { return "online"; }
    std::string_view operator()(const Offline&) const { return "offline"; }
    std::string_view operator()(const NameUpdate&) const { return "nameUpdate"; }
    std::string_view operator()(const DpNameUpdate&) const { return "dpNameUpdate"; }
    std::string_view operator()(const BindUser&) const { return "bindUser"; }
    std::string_view operator()(const Delete&) const { return "delete"; }
    std::string_view operator()(const UpgradeStatus&) const { return "upgradeStatus"; }
    std::string_view operator()(const SceneRun&) const { return "sceneExecute"; }
    std::string_view operator()(const Unknown&) const { return "unknown"; }
  };
  return std::visit(V{}, ev);
}

Result<PushMessage> decode_business(int protocol, int64_t envelope_t_ms, std::string_view plain_json) {
  auto j = parse_json(plain_json);
  if (!j || !j->is_object()) return err(ERR_BAD_PAYLOAD, "decrypted payload is not a JSON object");
  PushMessage m;
  m.protocol = protocol;
  m.t_ms = envelope_t_ms;
  // Protocol-20 messages carry their own ms timestamp `ts`; prefer it for ordering (§10.5).
  if (auto ts = j->find("ts"); ts != j->end()) {
    if (auto ms = normalise_time_ms(*ts)) m.t_ms = *ms;
  }
  switch (protocol) {
    case PROTOCOL_STATUS: {
      StatusReport r;
      r.dev_id = str_field(*j, "devId");
      r.data_id = str_field(*j, "dataId");
      r.product_key = str_field(*j, "productKey");
      auto st = j->find("status");
      if (r.dev_id.empty()) return err(ERR_BAD_PAYLOAD, "status report without devId");
      if (st == j->end() || !st->is_array())
        return err(ERR_BAD_PAYLOAD, "status report without status array");
      for (const auto& it : *st) {
        if (!it.is_object()) continue;
        auto item = decode_status_item(it, m.t_ms);
        if (item.code.empty() && !item.dp_id) continue;  // neither key: nothing to update
        r.items.push_back(std::move(item));
      }
      m.data_id = r.data_id;
      m.event = std::move(r);
      return m;
    }
    case PROTOCOL_DEVICE_EVENT:
      // Not `uuid`: that is the device's uuid, the same on every message of the device.
      m.event = decode_device_event(*j);
      return m;
    case PROTOCOL_SCENE:
      m.event = decode_scene(*j);
      return m;
    default:
      m.event = Unknown{protocol, str_field(*j, "bizCode"), str_field(*j, "devId")};
      return m;
  }
}

// ---------------------------------------------------------------------------------------------------

std::string encrypt_ecb_data(std::string_view plain, ByteView key) {
  auto c = crypto::aes_ecb_encrypt(key, as_bytes(plain));
  return c ? crypto::base64_encode(*c) : std::string();
}

std::string encrypt_pulsar_gcm_data(std::string_view plain, ByteView key, ByteView nonce) {
  auto s = crypto::aes_gcm_encrypt(key, nonce, {}, as_bytes(plain));
  if (!s) return {};
  Bytes out(nonce.begin(), nonce.end());
  out.insert(out.end(), s->ciphertext.begin(), s->ciphertext.end());
  out.insert(out.end(), s->tag.begin(), s->tag.end());
  return crypto::base64_encode(out);
}

std::string encrypt_openhub_gcm_data(std::string_view plain, ByteView key, ByteView iv, AadForm aad,
                                     uint64_t t) {
  Bytes aad_bytes;
  if (aad == AadForm::DECIMAL_TEXT)
    aad_bytes = to_bytes(std::to_string(t));
  else if (aad == AadForm::BE48)
    aad_bytes = be48(t);
  auto s = crypto::aes_gcm_encrypt(key, iv, aad_bytes, as_bytes(plain));
  if (!s) return {};
  Bytes out;
  for (size_t i = 0; i < IVLEN_PREFIX; ++i)
    out.push_back(static_cast<uint8_t>(iv.size() >> (8 * (IVLEN_PREFIX - 1 - i))));
  out.insert(out.end(), iv.begin(), iv.end());
  out.insert(out.end(), s->ciphertext.begin(), s->ciphertext.end());
  out.insert(out.end(), s->tag.begin(), s->tag.end());
  return crypto::base64_encode(out);
}

std::string make_envelope(int protocol, std::string_view data_b64, uint64_t t) {
  // nlohmann's object keeps keys sorted, which is the §6.c order (data, protocol, pv, sign, t).
  json j = {
      {"data", std::string(data_b64)}, {"protocol", protocol}, {"pv", PV}, {"sign", FAKE_SIGN}, {"t", t}};
  return j.dump();
}

}  // namespace t2m::cloud::push
