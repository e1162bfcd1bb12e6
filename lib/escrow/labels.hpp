// Every context label escrow signs, hashes or derives under, in one place (STYLE: "every
// derivation and signature has its own context label", as age's "age-encryption.org/v1/X25519").
// A signature or hash made for one purpose can never be replayed as another, and a new purpose
// gets a new label here, never a reused one. docs/FORMAT.md lists the same strings.
#pragma once

#include <string_view>

namespace escrow::labels {

// Signed records of the vault: BLAKE2b-256(k_record || 0x00 || message) (records.hpp).
inline constexpr std::string_view k_record = "escrow/v1/record";
// The vault's head signature over the file's bytes (vault.hpp).
inline constexpr std::string_view k_head = "escrow/v1/head";
// The vault id derived from the genesis body (records.cpp).
inline constexpr std::string_view k_vault_id = "escrow/v1/vault-id";
// Journal entries: the hash of the canonical entry and the actor's signature of it (journal.hpp).
inline constexpr std::string_view k_journal = "escrow/v1/journal";
// A version's value: associated data of the XChaCha20-Poly1305 ciphertext (versions.hpp).
inline constexpr std::string_view k_value = "escrow/v1/value";
// A version's data-key commitment (versions.hpp).
inline constexpr std::string_view k_dk_commit = "escrow/v1/dk-commit";
// A passphrase-protected identity: associated data, and the key check (identity.hpp).
inline constexpr std::string_view k_identity = "escrow/v1/identity";
inline constexpr std::string_view k_identity_check = "escrow/v1/identity-check";

// escrow-vault/2 (docs/design/vault-2.md §4) keeps its labels beside its code, in
// lib/escrow/history/labels.hpp (escrow::history::labels, "escrow/v2/…"), until v1 is removed.

} // namespace escrow::labels
