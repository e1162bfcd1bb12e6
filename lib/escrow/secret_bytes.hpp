// SecretBytes: the only home of secret bytes in memory.
//
// Backed by sodium_malloc (guard pages, mlock'ed, zeroed on free), move-only, never printed:
// its fmt formatter prints "<redacted>" and the bytes are reachable only through expose().
#pragma once

#include <fmt/format.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace escrow {

class SecretBytes
{
public:
  SecretBytes() = default;
  explicit SecretBytes(std::size_t size); // zero-filled
  SecretBytes(const std::uint8_t* data, std::size_t size);
  static SecretBytes from(std::string_view text);
  // Copies `text` into locked memory and wipes `text` (whose bytes are then all zero).
  static SecretBytes take(std::string& text);

  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  SecretBytes(SecretBytes&& other) noexcept;
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  ~SecretBytes();

  std::size_t size() const { return m_size; }
  bool empty() const { return m_size == 0; }

  std::span<const std::uint8_t> expose() const { return {m_data, m_size}; }
  std::span<std::uint8_t> expose_mut() { return {m_data, m_size}; }
  std::string_view expose_view() const
  {
    return {reinterpret_cast<const char*>(m_data), m_size};
  }

  SecretBytes clone() const { return SecretBytes(m_data, m_size); }
  // Grows or shrinks, keeping the prefix; the old buffer is wiped.
  void resize(std::size_t size);
  // Constant-time equality (sodium_memcmp) of equal-length values.
  bool equals(const SecretBytes& other) const;

private:
  std::uint8_t* m_data = nullptr;
  std::size_t m_size = 0;
};

} // namespace escrow

template<>
struct fmt::formatter<escrow::SecretBytes> : fmt::formatter<std::string_view>
{
  template<typename FormatContext>
  auto format(const escrow::SecretBytes&, FormatContext& ctx) const
  {
    return fmt::formatter<std::string_view>::format("<redacted>", ctx);
  }
};
