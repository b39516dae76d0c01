#include "protocol/crypto.h"

#include <doctest/doctest.h>

// A namespace of this file's own: unity builds compile several test files as one.
namespace t2m_crypto_test {

using namespace t2m;
namespace c = t2m::proto::crypto;

TEST_CASE("crc32 check value") {
  CHECK(c::crc32(as_bytes("123456789")) == 0xCBF43926u);
}

TEST_CASE("md5 of the UDP discovery passphrase is the discovery key") {
  auto d = c::md5(as_bytes("yGAdlopoPVldABfn"));
  CHECK(to_hex(d) == "6c1ec8e2bb9bb59ab50b0daf649b410a");
}

TEST_CASE("hmac-sha256 vector from the 3.4 handshake") {
  auto h = c::hmac_sha256(as_bytes("0123456789abcdef"), as_bytes("0123456789abcdef"));
  CHECK(to_hex(h) == "fb5b26229c20b7ed866706a2fbfae67e3f404bb6abe77ff45063a459a42924a4");
}

TEST_CASE("sha256 of empty") {
  CHECK(to_hex(c::sha256({})) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_CASE("pkcs7 pads a full block and rejects bad padding") {
  Bytes sixteen(16, 'a');
  auto padded = c::pkcs7_pad(sixteen);
  CHECK(padded.size() == 32);
  CHECK(padded.back() == 0x10);
  CHECK(c::pkcs7_unpad(padded).value() == sixteen);
  padded[20] = 0x0f;
  CHECK_FALSE(c::pkcs7_unpad(padded).has_value());
  Bytes zero_pad(16, 0);
  CHECK_FALSE(c::pkcs7_unpad(zero_pad).has_value());
}

TEST_CASE("3.4 session key = ECB(K, Nc xor Nd)") {
  auto k = as_bytes("0123456789abcdef");
  auto x = hex_literal("5654565056540f0f0f0f545650565456");
  auto sk = c::aes_ecb_encrypt_raw(k, x);
  REQUIRE(sk);
  CHECK(to_hex(*sk) == "6575cf6b37479d9215337ff9767fe786");
  CHECK(c::aes_ecb_decrypt_raw(k, *sk).value() == x);
}

TEST_CASE("3.5 session key = GCM ciphertext of Nc xor Nd with IV Nc[0:12]") {
  auto k = as_bytes("0123456789abcdef");
  auto x = hex_literal("5654565056540f0f0f0f545650565456");
  auto sealed = c::aes_gcm_encrypt(k, as_bytes("0123456789ab"), {}, x);
  REQUIRE(sealed);
  CHECK(to_hex(sealed->ciphertext) == "34165bab783422860c0c23b2d48cf7a5");
}

TEST_CASE("gcm round trip and tamper detection") {
  auto k = as_bytes("0123456789abcdef");
  auto iv = as_bytes("IVclient0001");
  auto aad = as_bytes("header");
  auto sealed = c::aes_gcm_encrypt(k, iv, aad, as_bytes("hello"));
  REQUIRE(sealed);
  auto plain = c::aes_gcm_decrypt(k, iv, aad, sealed->ciphertext, sealed->tag);
  REQUIRE(plain);
  CHECK(as_chars(*plain) == "hello");
  auto bad_tag = sealed->tag;
  bad_tag[0] ^= 1;
  CHECK_FALSE(c::aes_gcm_decrypt(k, iv, aad, sealed->ciphertext, bad_tag).has_value());
  CHECK_FALSE(c::aes_gcm_decrypt(k, iv, as_bytes("other"), sealed->ciphertext, sealed->tag).has_value());
  CHECK_FALSE(c::aes_gcm_decrypt(as_bytes("0123456789abcdeX"), iv, aad, sealed->ciphertext, sealed->tag));
}

TEST_CASE("ecb rejects wrong sizes") {
  CHECK_FALSE(c::aes_ecb_encrypt_raw(as_bytes("short"), Bytes(16)).has_value());
  CHECK_FALSE(c::aes_ecb_decrypt_raw(as_bytes("0123456789abcdef"), Bytes(15)).has_value());
  CHECK_FALSE(c::aes_ecb_decrypt(as_bytes("0123456789abcdef"), Bytes(16, 0)).has_value());  // bad padding
}

TEST_CASE("base64") {
  CHECK(c::base64_encode(as_bytes("foobar")) == "Zm9vYmFy");
  CHECK(as_chars(c::base64_decode("Zm9vYg==").value()) == "foob");
  CHECK_FALSE(c::base64_decode("Zm9v*mFy").has_value());
  CHECK(c::base64_encode({}).empty());
}

TEST_CASE("constant-time compare") {
  CHECK(c::equal_ct(as_bytes("abc"), as_bytes("abc")));
  CHECK_FALSE(c::equal_ct(as_bytes("abc"), as_bytes("abd")));
  CHECK_FALSE(c::equal_ct(as_bytes("abc"), as_bytes("ab")));
}

}  // namespace t2m_crypto_test
