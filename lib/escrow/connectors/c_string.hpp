// C strings of secret values for the client libraries of the native kinds (libpq, Connector/C),
// which take NUL-terminated strings: the copy lives in locked memory and is wiped when freed.
// Include only from lib/escrow/connectors/*.cpp.
#pragma once

#include <escrow/connectors/template.hpp> // SecretWriter
#include <escrow/secret_bytes.hpp>

#include <string_view>

namespace escrow::connector {

// A NUL-terminated copy of `value` in locked memory.
inline SecretBytes c_string(const SecretBytes& value)
{
  SecretWriter writer;
  writer.append(value);
  writer.append(std::string_view("\0", 1));
  return writer.take();
}

// The copy's characters, for the library call.
inline const char* c_str(const SecretBytes& bytes)
{
  return reinterpret_cast<const char*>(bytes.expose().data());
}

} // namespace escrow::connector
