// Retention: which versions keep their keys after a rotation finishes.
#include <escrow/rotation/rotation.hpp>

#include <algorithm>

namespace escrow::rotation {

namespace {

bool key_material(const VersionRecord& version)
{
  return !version.wrapped.empty() || !version.shares.empty() || !version.granted.empty();
}

} // namespace

std::vector<std::int64_t> apply_retention(SecretRecord& secret, std::int64_t keep)
{
  keep = std::max<std::int64_t>(keep, 1);
  std::vector<VersionRecord*> others;
  std::int64_t kept = 0;
  for (auto& version : secret.versions) {
    if (version.state == VersionState::previous) {
      ++kept;
    } else if (version.state != VersionState::current && version.state != VersionState::pending) {
      others.push_back(&version);
    }
  }
  std::sort(others.begin(), others.end(), [](const VersionRecord* a, const VersionRecord* b) { return a->v > b->v; });
  std::vector<std::int64_t> changed;
  for (VersionRecord* version : others) {
    if (kept < keep) {
      ++kept;
      continue;
    }
    if (key_material(*version)) {
      version->wrapped.clear();
      version->shares.clear();
      version->granted.clear();
      changed.push_back(version->v);
    }
  }
  return changed;
}

} // namespace escrow::rotation
