// The context labels of escrow-vault/2 (docs/design/vault-2.md §4). Every v1 label
// ("escrow/v1/…") stays reserved for v1 files; nothing below is ever used for a v1 purpose, so
// a signature or hash made for one format cannot pass as the other.
#pragma once

#include <string_view>

namespace escrow::history::labels {

// vault_id = H16(label, canonical(genesis member))
inline constexpr std::string_view k_vault_id = "escrow/v2/vault-id";
// entry hash = H(label, vault_id(16 raw) || canonical(entry without hash and sig))
inline constexpr std::string_view k_entry = "escrow/v2/entry";
// entry signature = Ed25519 over H(label, hash(32 raw))
inline constexpr std::string_view k_entry_sig = "escrow/v2/entry-sig";
// record hash = H(label, path || 0x00 || canonical(record))
inline constexpr std::string_view k_record = "escrow/v2/record";
// key line hash K = H(label, LOGICAL || 0x00 || raw bytes)
inline constexpr std::string_view k_key = "escrow/v2/key";
// state digest = H(label, concatenation over paths in bytewise order of path || 0x00 || hash)
inline constexpr std::string_view k_state = "escrow/v2/state";
// AEAD associated data of a value, of a data key boxed under a reader key
inline constexpr std::string_view k_value = "escrow/v2/value";
inline constexpr std::string_view k_dk_box = "escrow/v2/dk-box";
// key commitments (BLAKE2b-256 keyed by the key)
inline constexpr std::string_view k_dk_commit = "escrow/v2/dk-commit";
inline constexpr std::string_view k_rk_commit = "escrow/v2/rk-commit";
// the per-machine verified-state cache place (vault-2-replay.md §3)
inline constexpr std::string_view k_cache_place = "escrow/v2/cache-place";
// the chain hash over the cache's entries.log (cache.hpp)
inline constexpr std::string_view k_cache_log = "escrow/v2/cache-log";
// the cache's state snapshot: its first line (named by verified.json), each block of its index
// (named by the first line) (cache.hpp)
inline constexpr std::string_view k_cache_snapshot = "escrow/v2/cache-snapshot";
inline constexpr std::string_view k_cache_block = "escrow/v2/cache-index-block";
// the last journal line the cache verified, so that the fast path compares it without checking
// its signature again (cache.hpp, Position::last_line)
inline constexpr std::string_view k_cache_last_line = "escrow/v2/cache-last-line";

} // namespace escrow::history::labels
