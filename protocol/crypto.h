// The only gateway to mbedTLS (CONTRIBUTING.md rule 4): AES-128 ECB/GCM, HMAC-SHA256, SHA-256, MD5,
// CRC32, base64.
// Pure functions: no state, no randomness (callers supply nonces and IVs).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/bytes.h"

namespace t2m::proto::crypto {

constexpr size_t AES_KEY_SIZE = 16;
constexpr size_t AES_BLOCK_SIZE = 16;
constexpr size_t GCM_IV_SIZE = 12;
constexpr size_t GCM_TAG_SIZE = 16;
constexpr size_t SHA256_SIZE = 32;
constexpr size_t MD5_SIZE = 16;

// PKCS#7: always appends 1..16 bytes.
Bytes pkcs7_pad(ByteView data);
// Checks 1 <= pad <= 16 and that every pad byte matches; nullopt otherwise.
std::optional<Bytes> pkcs7_unpad(ByteView data);

// AES-128-ECB over whole blocks; `key` must be 16 bytes and `data` a multiple of 16 (else nullopt).
std::optional<Bytes> aes_ecb_encrypt_raw(ByteView key, ByteView data);
std::optional<Bytes> aes_ecb_decrypt_raw(ByteView key, ByteView data);
// ECB with PKCS#7 padding added / checked and removed.
std::optional<Bytes> aes_ecb_encrypt(ByteView key, ByteView plain);
std::optional<Bytes> aes_ecb_decrypt(ByteView key, ByteView cipher);

struct GcmSealed {
  Bytes ciphertext;
  std::array<uint8_t, GCM_TAG_SIZE> tag{};
};
// AES-128-GCM with a 12-byte IV. nullopt on a bad key/IV size.
std::optional<GcmSealed> aes_gcm_encrypt(ByteView key, ByteView iv, ByteView aad, ByteView plain);
// nullopt when the tag does not verify (wrong key, corrupted data) or on bad sizes.
std::optional<Bytes> aes_gcm_decrypt(ByteView key, ByteView iv, ByteView aad, ByteView cipher, ByteView tag);

std::array<uint8_t, SHA256_SIZE> hmac_sha256(ByteView key, ByteView data);
std::array<uint8_t, SHA256_SIZE> sha256(ByteView data);
std::array<uint8_t, MD5_SIZE> md5(ByteView data);

// IEEE 802.3 / zlib CRC-32 (reflected 0xEDB88320, init and final xor 0xFFFFFFFF).
uint32_t crc32(ByteView data);

std::string base64_encode(ByteView data);
// Standard alphabet with padding; nullopt on malformed input.
std::optional<Bytes> base64_decode(std::string_view text);

// Constant-time comparison for MACs and tags.
bool equal_ct(ByteView a, ByteView b);

}  // namespace t2m::proto::crypto
