// What `escrow --version` says: the version and the commit it was built from.
#pragma once

#include <string>
#include <string_view>

namespace escrow::cli {

// `git describe` at configure time ("unknown" outside git); cmake/EscrowVersion.cmake.
std::string_view git_commit();

// "escrow 0.1.0 (commit 0123456789ab)"
inline std::string version_line()
{
  return std::string("escrow ") + ESCROW_VERSION + " (commit " + std::string(git_commit()) + ")";
}

} // namespace escrow::cli
