// Result<T, E>: errors are values at module boundaries (CONTRIBUTING.md rule 2).
#pragma once

#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace t2m {

// A generic error: `code` is a stable machine-readable id (used in metrics and MQTT error answers),
// `message` is for a person.
struct Error {
  std::string code;
  std::string message;
};

template <class E>
struct Unexpected {
  E error;
};

template <class E>
Unexpected<std::decay_t<E>> fail(E&& e) {
  return Unexpected<std::decay_t<E>>{std::forward<E>(e)};
}

inline Unexpected<Error> fail(std::string code, std::string message) {
  return Unexpected<Error>{Error{std::move(code), std::move(message)}};
}

template <class T, class E = Error>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  template <class U, std::enable_if_t<std::is_constructible_v<E, U>, int> = 0>
  Result(Unexpected<U> e) : v_(std::in_place_index<1>, std::move(e.error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T value_or(T fallback) const { return ok() ? std::get<0>(v_) : std::move(fallback); }
  const E& error() const { return std::get<1>(v_); }

  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, E> v_;
};

template <class E>
class [[nodiscard]] Result<void, E> {
 public:
  Result() = default;
  template <class U, std::enable_if_t<std::is_constructible_v<E, U>, int> = 0>
  Result(Unexpected<U> e) : err_(std::move(e.error)), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const E& error() const { return err_; }

 private:
  E err_{};
  bool ok_ = true;
};

using Status = Result<void, Error>;

}  // namespace t2m
