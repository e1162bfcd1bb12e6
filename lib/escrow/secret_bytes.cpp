#include <escrow/secret_bytes.hpp>

#include <sodium.h>

#include <cstring>
#include <new>
#include <utility>

namespace escrow {

namespace {

std::uint8_t* allocate(std::size_t size)
{
  // sodium_malloc(0) is allowed but returns a pointer that may not be freed portably on every
  // version; always allocate at least one byte.
  void* memory = sodium_malloc(size == 0 ? 1 : size);
  if (memory == nullptr) {
    throw std::bad_alloc();
  }
  std::memset(memory, 0, size == 0 ? 1 : size);
  return static_cast<std::uint8_t*>(memory);
}

} // namespace

SecretBytes::SecretBytes(std::size_t size) : m_data(allocate(size)), m_size(size) {}

SecretBytes::SecretBytes(const std::uint8_t* data, std::size_t size)
  : m_data(allocate(size)), m_size(size)
{
  if (size > 0) {
    std::memcpy(m_data, data, size);
  }
}

SecretBytes SecretBytes::from(std::string_view text)
{
  return SecretBytes(reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
}

SecretBytes SecretBytes::take(std::string& text)
{
  SecretBytes copy = from(text);
  sodium_memzero(text.data(), text.size());
  return copy;
}

SecretBytes::SecretBytes(SecretBytes&& other) noexcept
  : m_data(std::exchange(other.m_data, nullptr)), m_size(std::exchange(other.m_size, 0))
{
}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept
{
  if (this != &other) {
    if (m_data != nullptr) {
      sodium_free(m_data);
    }
    m_data = std::exchange(other.m_data, nullptr);
    m_size = std::exchange(other.m_size, 0);
  }
  return *this;
}

SecretBytes::~SecretBytes()
{
  if (m_data != nullptr) {
    sodium_free(m_data); // zeroes before unmapping
  }
}

void SecretBytes::resize(std::size_t size)
{
  SecretBytes bigger(size);
  if (m_data != nullptr && size > 0) {
    std::memcpy(bigger.m_data, m_data, m_size < size ? m_size : size);
  }
  *this = std::move(bigger);
}

bool SecretBytes::equals(const SecretBytes& other) const
{
  if (m_size != other.m_size) {
    return false;
  }
  if (m_size == 0) {
    return true;
  }
  return sodium_memcmp(m_data, other.m_data, m_size) == 0;
}

} // namespace escrow
