// For operations that open more than one session with the same identity (restore: the backup,
// then the restored vault; rehearse: the real vault, then its sandbox): the passphrase is asked
// once and kept in locked memory (SecretBytes) for the operation's duration.
#pragma once

#include <escrow/session.hpp>

#include <memory>
#include <optional>

namespace escrow {

inline SessionOptions asking_passphrase_once(SessionOptions options)
{
  auto cache = std::make_shared<std::optional<SecretBytes>>();
  auto ask = options.passphrase;
  options.passphrase = [cache, ask](std::string_view prompt) -> std::optional<SecretBytes> {
    if (!cache->has_value()) {
      if (!ask) {
        return std::nullopt;
      }
      std::optional<SecretBytes> answer = ask(prompt);
      if (!answer) {
        return std::nullopt;
      }
      *cache = std::move(*answer);
    }
    return (*cache)->clone();
  };
  return options;
}

} // namespace escrow
