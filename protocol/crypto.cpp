#include "protocol/crypto.h"

#include <mbedtls/aes.h>
#include <mbedtls/base64.h>
#include <mbedtls/gcm.h>
#include <mbedtls/md.h>
#include <mbedtls/md5.h>
#include <mbedtls/sha256.h>

namespace t2m::proto::crypto {
namespace {

constexpr unsigned AES_KEY_BITS = 128;
constexpr uint32_t CRC32_POLY = 0xEDB88320u;
constexpr uint32_t CRC32_INIT = 0xFFFFFFFFu;
constexpr size_t CRC_TABLE_SIZE = 256;

// RAII over the mbedTLS contexts used here.
class AesCtx {
 public:
  AesCtx() { mbedtls_aes_init(&ctx_); }
  ~AesCtx() { mbedtls_aes_free(&ctx_); }
  AesCtx(const AesCtx&) = delete;
  AesCtx& operator=(const AesCtx&) = delete;
  mbedtls_aes_context* get() { return &ctx_; }

 private:
  mbedtls_aes_context ctx_;
};

class GcmCtx {
 public:
  GcmCtx() { mbedtls_gcm_init(&ctx_); }
  ~GcmCtx() { mbedtls_gcm_free(&ctx_); }
  GcmCtx(const GcmCtx&) = delete;
  GcmCtx& operator=(const GcmCtx&) = delete;
  mbedtls_gcm_context* get() { return &ctx_; }

 private:
  mbedtls_gcm_context ctx_;
};

std::optional<Bytes> aes_ecb(ByteView key, ByteView data, int mode) {
  if (key.size() != AES_KEY_SIZE || data.size() % AES_BLOCK_SIZE != 0) return std::nullopt;
  AesCtx ctx;
  int rc = mode == MBEDTLS_AES_ENCRYPT ? mbedtls_aes_setkey_enc(ctx.get(), key.data(), AES_KEY_BITS)
                                       : mbedtls_aes_setkey_dec(ctx.get(), key.data(), AES_KEY_BITS);
  if (rc != 0) return std::nullopt;
  Bytes out(data.size());
  for (size_t off = 0; off < data.size(); off += AES_BLOCK_SIZE) {
    if (mbedtls_aes_crypt_ecb(ctx.get(), mode, data.data() + off, out.data() + off) != 0) return std::nullopt;
  }
  return out;
}

struct CrcTable {
  std::array<uint32_t, CRC_TABLE_SIZE> v{};
  constexpr CrcTable() {
    for (uint32_t i = 0; i < CRC_TABLE_SIZE; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1u) ? (CRC32_POLY ^ (c >> 1)) : (c >> 1);
      v[i] = c;
    }
  }
};
constexpr CrcTable CRC_TABLE{};

}  // namespace

Bytes pkcs7_pad(ByteView data) {
  const size_t pad = AES_BLOCK_SIZE - data.size() % AES_BLOCK_SIZE;
  Bytes out(data.begin(), data.end());
  out.insert(out.end(), pad, static_cast<uint8_t>(pad));
  return out;
}

std::optional<Bytes> pkcs7_unpad(ByteView data) {
  if (data.empty() || data.size() % AES_BLOCK_SIZE != 0) return std::nullopt;
  const uint8_t pad = data.back();
  if (pad < 1 || pad > AES_BLOCK_SIZE) return std::nullopt;
  for (size_t i = data.size() - pad; i < data.size(); ++i)
    if (data[i] != pad) return std::nullopt;
  return Bytes(data.begin(), data.end() - pad);
}

std::optional<Bytes> aes_ecb_encrypt_raw(ByteView key, ByteView data) {
  return aes_ecb(key, data, MBEDTLS_AES_ENCRYPT);
}
std::optional<Bytes> aes_ecb_decrypt_raw(ByteView key, ByteView data) {
  return aes_ecb(key, data, MBEDTLS_AES_DECRYPT);
}

std::optional<Bytes> aes_ecb_encrypt(ByteView key, ByteView plain) {
  return aes_ecb(key, pkcs7_pad(plain), MBEDTLS_AES_ENCRYPT);
}

std::optional<Bytes> aes_ecb_decrypt(ByteView key, ByteView cipher) {
  auto plain = aes_ecb(key, cipher, MBEDTLS_AES_DECRYPT);
  if (!plain) return std::nullopt;
  return pkcs7_unpad(*plain);
}

std::optional<GcmSealed> aes_gcm_encrypt(ByteView key, ByteView iv, ByteView aad, ByteView plain) {
  if (key.size() != AES_KEY_SIZE || iv.size() != GCM_IV_SIZE) return std::nullopt;
  GcmCtx ctx;
  if (mbedtls_gcm_setkey(ctx.get(), MBEDTLS_CIPHER_ID_AES, key.data(), AES_KEY_BITS) != 0)
    return std::nullopt;
  GcmSealed out;
  out.ciphertext.resize(plain.size());
  if (mbedtls_gcm_crypt_and_tag(ctx.get(), MBEDTLS_GCM_ENCRYPT, plain.size(), iv.data(), iv.size(),
                                aad.data(), aad.size(), plain.data(), out.ciphertext.data(), out.tag.size(),
                                out.tag.data()) != 0)
    return std::nullopt;
  return out;
}

std::optional<Bytes> aes_gcm_decrypt(ByteView key, ByteView iv, ByteView aad, ByteView cipher, ByteView tag) {
  if (key.size() != AES_KEY_SIZE || iv.size() != GCM_IV_SIZE || tag.size() != GCM_TAG_SIZE)
    return std::nullopt;
  GcmCtx ctx;
  if (mbedtls_gcm_setkey(ctx.get(), MBEDTLS_CIPHER_ID_AES, key.data(), AES_KEY_BITS) != 0)
    return std::nullopt;
  Bytes out(cipher.size());
  if (mbedtls_gcm_auth_decrypt(ctx.get(), cipher.size(), iv.data(), iv.size(), aad.data(), aad.size(),
                               tag.data(), tag.size(), cipher.data(), out.data()) != 0)
    return std::nullopt;
  return out;
}

std::array<uint8_t, SHA256_SIZE> hmac_sha256(ByteView key, ByteView data) {
  std::array<uint8_t, SHA256_SIZE> out{};
  mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), key.data(), key.size(), data.data(),
                  data.size(), out.data());
  return out;
}

std::array<uint8_t, SHA256_SIZE> sha256(ByteView data) {
  std::array<uint8_t, SHA256_SIZE> out{};
  mbedtls_sha256_ret(data.data(), data.size(), out.data(), 0);
  return out;
}

std::array<uint8_t, MD5_SIZE> md5(ByteView data) {
  std::array<uint8_t, MD5_SIZE> out{};
  mbedtls_md5_ret(data.data(), data.size(), out.data());
  return out;
}

uint32_t crc32(ByteView data) {
  uint32_t c = CRC32_INIT;
  for (uint8_t b : data) c = CRC_TABLE.v[(c ^ b) & 0xFFu] ^ (c >> 8);
  return c ^ CRC32_INIT;
}

std::string base64_encode(ByteView data) {
  size_t needed = 0;
  mbedtls_base64_encode(nullptr, 0, &needed, data.data(), data.size());
  std::string out(needed, '\0');
  size_t written = 0;
  if (mbedtls_base64_encode(reinterpret_cast<unsigned char*>(out.data()), out.size(), &written, data.data(),
                            data.size()) != 0)
    return {};
  out.resize(written);
  return out;
}

std::optional<Bytes> base64_decode(std::string_view text) {
  size_t needed = 0;
  const auto* src = reinterpret_cast<const unsigned char*>(text.data());
  int rc = mbedtls_base64_decode(nullptr, 0, &needed, src, text.size());
  if (rc == MBEDTLS_ERR_BASE64_INVALID_CHARACTER) return std::nullopt;
  Bytes out(needed);
  size_t written = 0;
  if (mbedtls_base64_decode(out.data(), out.size(), &written, src, text.size()) != 0) return std::nullopt;
  out.resize(written);
  return out;
}

bool equal_ct(ByteView a, ByteView b) {
  if (a.size() != b.size()) return false;
  uint8_t diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff = static_cast<uint8_t>(diff | (a[i] ^ b[i]));
  return diff == 0;
}

}  // namespace t2m::proto::crypto
