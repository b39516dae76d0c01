// The 3.4 / 3.5 session-key negotiation as pure state machines (docs/protocol.md §5), for both
// roles. Nonces and IVs are inputs: the caller supplies randomness.
#pragma once

#include <cstdint>

#include "common/bytes.h"
#include "protocol/constants.h"
#include "protocol/errors.h"

namespace t2m::proto {

class ClientHandshake {
 public:
  // `client_nonce` must be 16 bytes; version must be 3.4 or 3.5.
  ClientHandshake(Version v, Bytes local_key, Bytes client_nonce);

  // SESS_KEY_NEG_START frame. `iv` (12 bytes) for 3.5 only.
  PResult<Bytes> start(uint32_t seqno, ByteView iv = {});
  // Takes the device's SESS_KEY_NEG_RESP frame; on success returns the SESS_KEY_NEG_FINISH frame and the
  // session key is available. A check failure on the reply or a wrong HMAC(K, Nc) is WRONG_KEY.
  PResult<Bytes> on_response(ByteView frame, uint32_t seqno, ByteView iv = {});

  bool done() const { return !session_key_.empty(); }
  const Bytes& session_key() const { return session_key_; }

 private:
  Version version_;
  Bytes local_key_;
  Bytes client_nonce_;
  Bytes session_key_;
  bool started_ = false;
};

class DeviceHandshake {
 public:
  DeviceHandshake(Version v, Bytes local_key, Bytes device_nonce);

  // Takes the client's START frame; returns the RESP frame (retcode 0). A frame that does not verify
  // under the local key is WRONG_KEY (a real device would stay silent or close).
  PResult<Bytes> on_start(ByteView frame, uint32_t seqno, ByteView iv = {});
  // Takes the FINISH frame; checks HMAC(K, Nd); then the session key is available.
  PStatus on_finish(ByteView frame);

  bool done() const { return done_; }
  const Bytes& session_key() const { return session_key_; }

 private:
  Version version_;
  Bytes local_key_;
  Bytes device_nonce_;
  Bytes client_nonce_;
  Bytes session_key_;
  bool done_ = false;
};

// session key from both nonces: 3.4 AES-ECB(K, Nc^Nd); 3.5 GCM ciphertext of Nc^Nd, IV Nc[0:12].
PResult<Bytes> derive_session_key(Version v, ByteView local_key, ByteView client_nonce,
                                  ByteView device_nonce);

}  // namespace t2m::proto
