#include "protocol/session.h"

#include <algorithm>

#include "protocol/crypto.h"
#include "protocol/message.h"
#include "protocol/wire_util.h"

namespace t2m::proto {

namespace {

constexpr auto CMD_START = static_cast<uint32_t>(Command::SESS_KEY_NEG_START);
constexpr auto CMD_RESP = static_cast<uint32_t>(Command::SESS_KEY_NEG_RESP);
constexpr auto CMD_FINISH = static_cast<uint32_t>(Command::SESS_KEY_NEG_FINISH);
constexpr size_t RESP_SIZE = NONCE_SIZE + HMAC_SIZE;  // Nd || HMAC(K, Nc)

PStatus check_args(Version v, ByteView key, ByteView nonce) {
  if (!needs_session_key(v))
    return proto_fail(ErrorCode::BAD_ARGUMENT, "only 3.4 and 3.5 negotiate a session key");
  if (key.size() != crypto::AES_KEY_SIZE)
    return proto_fail(ErrorCode::BAD_ARGUMENT, "local key must be 16 bytes");
  if (nonce.size() != NONCE_SIZE) return proto_fail(ErrorCode::BAD_ARGUMENT, "nonce must be 16 bytes");
  return {};
}

// A frame that does not verify under the local key during the handshake means the key is wrong.
ProtoError as_key_error(const ProtoError& e) {
  switch (e.code) {
    case ErrorCode::BAD_HMAC:
    case ErrorCode::BAD_TAG:
    case ErrorCode::BAD_PADDING:
      return ProtoError{ErrorCode::WRONG_KEY,
                        "handshake frame does not verify under the local key (" + e.detail + ")"};
    default:
      return e;
  }
}

}  // namespace

PResult<Bytes> derive_session_key(Version v, ByteView local_key, ByteView client_nonce,
                                  ByteView device_nonce) {
  if (auto ok = check_args(v, local_key, client_nonce); !ok) return fail(ok.error());
  if (device_nonce.size() != NONCE_SIZE) return proto_fail(ErrorCode::BAD_ARGUMENT, "nonce must be 16 bytes");
  Bytes x(NONCE_SIZE);
  for (size_t i = 0; i < NONCE_SIZE; ++i) x[i] = client_nonce[i] ^ device_nonce[i];
  if (v == Version::V3_4) {
    auto key = crypto::aes_ecb_encrypt_raw(local_key, x);
    if (!key) return proto_fail(ErrorCode::BAD_ARGUMENT, "AES-ECB failed");
    return std::move(*key);
  }
  auto sealed = crypto::aes_gcm_encrypt(local_key, client_nonce.first(crypto::GCM_IV_SIZE), {}, x);
  if (!sealed) return proto_fail(ErrorCode::BAD_ARGUMENT, "AES-GCM failed");
  return std::move(sealed->ciphertext);
}

// ---- client ----

ClientHandshake::ClientHandshake(Version v, Bytes local_key, Bytes client_nonce)
    : version_(v), local_key_(std::move(local_key)), client_nonce_(std::move(client_nonce)) {}

PResult<Bytes> ClientHandshake::start(uint32_t seqno, ByteView iv) {
  if (auto ok = check_args(version_, local_key_, client_nonce_); !ok) return fail(ok.error());
  if (started_) return proto_fail(ErrorCode::HANDSHAKE, "handshake already started");
  MessageCodec codec(Role::CLIENT, version_, local_key_);
  auto frame = codec.seal(CMD_START, client_nonce_, seqno, iv);
  if (frame) started_ = true;
  return frame;
}

PResult<Bytes> ClientHandshake::on_response(ByteView frame, uint32_t seqno, ByteView iv) {
  if (!started_) return proto_fail(ErrorCode::HANDSHAKE, "response before start");
  if (done()) return proto_fail(ErrorCode::HANDSHAKE, "handshake already finished");
  MessageCodec codec(Role::CLIENT, version_, local_key_);
  auto resp = codec.open(frame);
  if (!resp) return fail(as_key_error(resp.error()));
  if (resp->cmd != CMD_RESP) {
    return proto_fail(ErrorCode::HANDSHAKE,
                      "expected SESS_KEY_NEG_RESP, got cmd " + std::to_string(resp->cmd));
  }
  if (resp->payload.size() < RESP_SIZE) {
    return proto_fail(ErrorCode::HANDSHAKE, "SESS_KEY_NEG_RESP payload of " +
                                                std::to_string(resp->payload.size()) + " bytes, need 48");
  }
  const ByteView payload = resp->payload;
  const ByteView device_nonce = payload.first(NONCE_SIZE);
  const auto expected = crypto::hmac_sha256(local_key_, client_nonce_);
  if (!crypto::equal_ct(payload.subspan(NONCE_SIZE, HMAC_SIZE), expected)) {
    return proto_fail(ErrorCode::WRONG_KEY, "device's HMAC of the client nonce does not match the local key");
  }
  const auto finish_mac = crypto::hmac_sha256(local_key_, device_nonce);
  auto finish = codec.seal(CMD_FINISH, finish_mac, seqno, iv);
  if (!finish) return finish;
  auto key = derive_session_key(version_, local_key_, client_nonce_, device_nonce);
  if (!key) return fail(key.error());
  session_key_ = std::move(key.value());
  return finish;
}

// ---- device ----

DeviceHandshake::DeviceHandshake(Version v, Bytes local_key, Bytes device_nonce)
    : version_(v), local_key_(std::move(local_key)), device_nonce_(std::move(device_nonce)) {}

PResult<Bytes> DeviceHandshake::on_start(ByteView frame, uint32_t seqno, ByteView iv) {
  if (auto ok = check_args(version_, local_key_, device_nonce_); !ok) return fail(ok.error());
  if (done_) return proto_fail(ErrorCode::HANDSHAKE, "handshake already finished");
  MessageCodec codec(Role::DEVICE, version_, local_key_);
  auto start = codec.open(frame);
  if (!start) return fail(as_key_error(start.error()));
  if (start->cmd != CMD_START) {
    return proto_fail(ErrorCode::HANDSHAKE,
                      "expected SESS_KEY_NEG_START, got cmd " + std::to_string(start->cmd));
  }
  if (start->payload.size() != NONCE_SIZE) {
    return proto_fail(ErrorCode::HANDSHAKE, "SESS_KEY_NEG_START nonce of " +
                                                std::to_string(start->payload.size()) + " bytes, need 16");
  }
  client_nonce_ = start->payload;
  Bytes resp = device_nonce_;
  detail::append(resp, crypto::hmac_sha256(local_key_, client_nonce_));
  return codec.seal(CMD_RESP, resp, seqno, iv, 0);
}

PStatus DeviceHandshake::on_finish(ByteView frame) {
  if (client_nonce_.empty()) return proto_fail(ErrorCode::HANDSHAKE, "finish before start");
  if (done_) return proto_fail(ErrorCode::HANDSHAKE, "handshake already finished");
  MessageCodec codec(Role::DEVICE, version_, local_key_);
  auto finish = codec.open(frame);
  if (!finish) return fail(as_key_error(finish.error()));
  if (finish->cmd != CMD_FINISH) {
    return proto_fail(ErrorCode::HANDSHAKE,
                      "expected SESS_KEY_NEG_FINISH, got cmd " + std::to_string(finish->cmd));
  }
  const auto expected = crypto::hmac_sha256(local_key_, device_nonce_);
  if (finish->payload.size() != HMAC_SIZE || !crypto::equal_ct(finish->payload, expected)) {
    return proto_fail(ErrorCode::WRONG_KEY, "client's HMAC of the device nonce does not match the local key");
  }
  auto key = derive_session_key(version_, local_key_, client_nonce_, device_nonce_);
  if (!key) return fail(key.error());
  session_key_ = std::move(key.value());
  done_ = true;
  return {};
}

}  // namespace t2m::proto
