#include "tests/fakecloud/fake_pulsar.h"

#include <nlohmann/json.hpp>

#include <cstring>

#include "cloud/push_envelope.h"
#include "protocol/crypto.h"

namespace t2m::fakecloud {

namespace push = t2m::cloud::push;

namespace {
constexpr size_t HEADER_MAX = 256;
constexpr size_t URI_MAX = 512;

const lws_protocols PROTOCOLS[] = {
    {"fake-pulsar", &FakePulsar::lws_callback, 0, 0, 0, nullptr, 0},
    {nullptr, nullptr, 0, 0, 0, nullptr, 0},
};

FakePulsar* owner_of(lws* wsi) {
  return static_cast<FakePulsar*>(lws_context_user(lws_get_context(wsi)));
}

std::string header(lws* wsi, const char* name) {
  int n = lws_hdr_custom_length(wsi, name, static_cast<int>(std::strlen(name)));
  if (n <= 0 || static_cast<size_t>(n) >= HEADER_MAX) return {};
  char buf[HEADER_MAX] = {};
  if (lws_hdr_custom_copy(wsi, buf, sizeof buf, name, static_cast<int>(std::strlen(name))) < 0) return {};
  return buf;
}
}  // namespace

FakePulsar::FakePulsar(uv_loop_t* loop, Timers& timers, FakePulsarOptions options)
    : loop_(loop), timers_(timers), options_(std::move(options)) {
  key_ = push::pulsar_key(options_.access_secret).value_or(Bytes{});
}

FakePulsar::~FakePulsar() {
  if (check_timer_ != NO_TIMER) timers_.cancel(check_timer_);
  ctx_.reset();  // CLOSED callbacks run in here, while the members still exist
  sessions_.clear();
}

std::string FakePulsar::expected_path() const {
  return "/ws/v2/consumer/persistent/" + options_.access_id + "/out/" + options_.env + "/" +
         options_.access_id + "-sub";
}

Status FakePulsar::start() {
  cloud::LwsContextOptions co;
  co.protocols = PROTOCOLS;
  co.user = this;
  co.listen = true;
  co.iface = "127.0.0.1";
  co.port = 0;
  auto ctx = cloud::LwsContext::create(loop_, co);
  if (!ctx) return fail(ctx.error());
  ctx_ = std::move(ctx.value());
  port_ = ctx_->listen_port();
  if (port_ <= 0) return fail("fake_pulsar.listen", "fake Pulsar could not learn its listening port");
  check_timer_ = timers_.start(options_.redelivery_check_ms, options_.redelivery_check_ms,
                               [this] { flush_pending_(true); });
  return {};
}

std::string FakePulsar::frame_(const std::string& id, const Pending& p) const {
  nlohmann::json f = {{"messageId", id},
                      {"payload", p.payload},
                      {"properties", {{"em", p.em}}},
                      {"publishTime", "2023-11-14T22:13:20.123Z"},
                      {"redeliveryCount", p.redelivery},
                      {"key", ""}};
  return f.dump();
}

std::string FakePulsar::publish(int protocol, std::string_view plain_json, std::string_view em, uint64_t t) {
  std::string data;
  if (em == push::EM_AES_GCM) {
    Bytes nonce(proto::crypto::GCM_IV_SIZE, 0);
    uint32_t c = ++gcm_counter_;  // a fresh nonce per message
    for (size_t i = 0; i < sizeof c; ++i) nonce[nonce.size() - 1 - i] = static_cast<uint8_t>(c >> (8 * i));
    data = push::encrypt_pulsar_gcm_data(plain_json, key_, nonce);
  } else {
    data = push::encrypt_ecb_data(plain_json, key_);
  }
  std::string env = push::make_envelope(protocol, data, t);
  return publish_payload(proto::crypto::base64_encode(as_bytes(env)), em);
}

std::string FakePulsar::publish_payload(std::string_view payload_b64, std::string_view em) {
  // Real ids are base64 of a ledger/entry pair; any opaque string will do.
  std::string id = "CAAQ" + std::to_string(next_id_++) + "==";
  pending_[id] = Pending{std::string(payload_b64), std::string(em), 0, 0, false};
  flush_pending_(false);
  return id;
}

void FakePulsar::send_raw(std::string text) {
  send_to_all_(text);
}

void FakePulsar::send_to_all_(const std::string& text) {
  for (auto& [wsi, s] : sessions_) {
    s.out.push_back(text);
    lws_callback_on_writable(wsi);
  }
}

void FakePulsar::flush_pending_(bool only_due) {
  if (sessions_.empty()) return;
  uint64_t now = timers_.now_ms();
  for (auto& [id, p] : pending_) {
    if (p.sent) {
      if (!only_due || now - p.sent_at < options_.ack_timeout_ms) continue;
      ++p.redelivery;  // ack timeout: Pulsar redelivers with an incremented count
      ++redeliveries_;
    } else if (only_due) {
      continue;
    }
    p.sent = true;
    p.sent_at = now;
    send_to_all_(frame_(id, p));
  }
}

void FakePulsar::drop_connections() {
  for (auto& [wsi, s] : sessions_) {
    s.drop = true;
    lws_callback_on_writable(wsi);
  }
}

bool FakePulsar::check_auth_(lws* wsi) {
  char uri[URI_MAX] = {};
  lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI);
  std::string path(uri);
  bool ok = path == expected_path();
  // The query (ackTimeoutMillis, subscriptionType) arrives as URI args.
  char arg[URI_MAX] = {};
  bool failover = false, ack_timeout = false;
  for (int i = 0; lws_hdr_copy_fragment(wsi, arg, sizeof arg, WSI_TOKEN_HTTP_URI_ARGS, i) > 0; ++i) {
    std::string a(arg);
    if (a == "subscriptionType=Failover") failover = true;
    if (a.rfind("ackTimeoutMillis=", 0) == 0) ack_timeout = true;
  }
  ok = ok && failover && ack_timeout;
  ok = ok && header(wsi, "username:") == options_.access_id &&
       header(wsi, "password:") == push::pulsar_password(options_.access_id, options_.access_secret);
  if (!ok) {
    ++auth_rejections_;
    rejected_paths_.push_back(path);
  }
  return ok;
}

void FakePulsar::on_ack_(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object() || !j.contains("messageId") || !j["messageId"].is_string()) return;
  std::string id = j["messageId"].get<std::string>();
  if (lose_acks_ > 0) {
    --lose_acks_;
    return;
  }
  if (pending_.erase(id) != 0) acked_.push_back(id);
}

int FakePulsar::lws_callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, size_t len) {
  switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
      if (owner_of(wsi)->check_auth_(wsi)) return 0;
      // As Pulsar's proxy does: answer the upgrade with 401, then close.
      lws_return_http_status(wsi, HTTP_STATUS_UNAUTHORIZED, nullptr);
      return -1;
    case LWS_CALLBACK_ESTABLISHED: {
      FakePulsar* self = owner_of(wsi);
      self->sessions_[wsi] = Session{};
      ++self->accepted_total_;
      // A new consumer gets every unacked message again.
      for (auto& [id, p] : self->pending_) p.sent = false;
      self->flush_pending_(false);
      return 0;
    }
    case LWS_CALLBACK_RECEIVE:
      owner_of(wsi)->on_ack_(std::string(static_cast<const char*>(in), len));
      return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE: {
      FakePulsar* self = owner_of(wsi);
      auto it = self->sessions_.find(wsi);
      if (it == self->sessions_.end()) return 0;
      if (it->second.drop) return -1;
      if (it->second.out.empty()) return 0;
      std::string text = std::move(it->second.out.front());
      it->second.out.erase(it->second.out.begin());
      std::vector<unsigned char> buf(LWS_PRE + text.size());
      std::memcpy(buf.data() + LWS_PRE, text.data(), text.size());
      if (lws_write(wsi, buf.data() + LWS_PRE, text.size(), LWS_WRITE_TEXT) < static_cast<int>(text.size()))
        return -1;
      if (!it->second.out.empty()) lws_callback_on_writable(wsi);
      return 0;
    }
    case LWS_CALLBACK_CLOSED:
      owner_of(wsi)->sessions_.erase(wsi);
      return 0;
    default:
      return lws_callback_http_dummy(wsi, reason, user, in, len);
  }
}

}  // namespace t2m::fakecloud
