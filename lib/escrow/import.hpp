// Import (`escrow import`): migration in from what teams use today.
//
// Sources, each read straight into locked memory (values never on argv, never in a temp file):
//   env   a .env file (lib/escrow/env_file.hpp grammar): NAME=value
//   json  a JSON object of name → string; nested objects give "a/b" names (SOPS: `sops -d`)
//   yaml  the same as YAML (libyaml): a mapping of name → scalar, nested mappings allowed
//   pass  a pass store: every "<path>.gpg" below the folder, decrypted by `gpg --decrypt` with its
//         output read from a pipe; the first line is the value (pass's convention for the
//         password), or the whole entry with ImportOptions::whole_entry
// A source file may also be stdin ("-"), e.g. `sops -d secrets.yaml | escrow import - ...`.
//
// Names map to ENV/<prefix><key>. Every name is checked, duplicates within the source and in the
// vault are refused (or skipped, as told) before anything is written. Adding them to the vault is
// history::import_secrets (history/import.hpp).
#pragma once

#include <escrow/secret_bytes.hpp>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace escrow {

enum class ImportFormat { env, json, yaml, pass };

std::string_view import_format_name(ImportFormat format);
// "env" | "json" | "yaml" | "pass"; Error(usage) otherwise.
ImportFormat parse_import_format(std::string_view name);
// The format a path suggests: a folder → pass, *.json → json, *.yaml/*.yml → yaml, else env.
ImportFormat guess_import_format(const std::filesystem::path& source);

struct ImportItem
{
  std::string key; // the name in the source ("DB_PASSWORD", "db/password")
  SecretBytes value;
};

enum class ReadValues { yes, no };

struct ImportSource
{
  ImportFormat format = ImportFormat::env;
  std::filesystem::path path; // "-" = stdin (not for pass)
  bool whole_entry = false;   // pass: the whole decrypted entry, not just its first line
  std::string gpg = "gpg";    // pass: the gpg program
  // Where "-" is read from (the CLI passes its injectable stdin); unset = fd 0.
  std::function<SecretBytes(std::size_t max_size)> read_stdin;
};

// The entries of a source, in a stable order. With ReadValues::no, pass entries are listed but
// not decrypted (a dry run asks no gpg passphrase). Errors name the file and entry or line.
std::vector<ImportItem> read_import_source(const ImportSource& source, ReadValues values);

enum class Duplicates { refuse, skip };

struct ImportOptions
{
  std::string env;
  std::string prefix;  // prepended to each key
  std::string owner;   // default: the importer
  std::string purpose; // default: "imported from <source> (<key>)"
  Duplicates duplicates = Duplicates::refuse;
  bool dry_run = false;
};

struct ImportedSecret
{
  std::string secret; // ENV/NAME
  std::string key;
  bool skipped = false; // already in the vault (with Duplicates::skip)
};

} // namespace escrow
