#include <escrow/history/import.hpp>

#include <escrow/canonical.hpp>
#include <escrow/error.hpp>
#include <escrow/history/authorize.hpp>
#include <escrow/history/keys_file.hpp>
#include <escrow/history/lookup.hpp>
#include <escrow/history/secrets.hpp>
#include <escrow/records.hpp>

#include <algorithm>
#include <set>

namespace escrow::history {

namespace {

// Names from a source shown in messages: printable ASCII only (they are names, never values).
std::string shown(std::string_view text)
{
  std::string out;
  for (const char c : text.substr(0, 200)) {
    out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  }
  return out;
}

std::string clean_label(std::string_view text)
{
  std::string out;
  for (const char c : text) {
    out.push_back(static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? '?' : c);
  }
  return canonical::valid_utf8(out) ? out : shown(out);
}

} // namespace

ImportOutcome import_secrets(VaultSession& session, std::vector<ImportItem>& items, const ImportOptions& options,
                             std::string_view source_label, ImportFormat format)
{
  if (!valid_env_name(options.env)) {
    fail(ErrorKind::usage, "import: --env must name an environment (1-32 of a-z, 0-9, '_', '-')");
  }
  const std::string label = clean_label(source_label);
  for (const auto& [option, text] : {std::pair{"--purpose", &options.purpose}, std::pair{"--owner", &options.owner},
                                     std::pair{"--prefix", &options.prefix}}) {
    if (!canonical::valid_utf8(*text) || std::any_of(text->begin(), text->end(), [](char c) {
          return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
        })) {
      fail(ErrorKind::usage, "import: {} must be UTF-8 text without control characters", option);
    }
  }
  const std::string me = session.me().name;
  const std::string owner = options.owner.empty() ? me : options.owner;
  {
    const State& state = session.state();
    const Member* owner_record = state.member(owner);
    if (owner_record == nullptr || !owner_record->active()) {
      Error error(ErrorKind::usage, fmt::format("import: owner {} is not an active member", shown(owner)));
      if (std::string hint = member_hint(state, owner); !hint.empty()) {
        error.hint(std::move(hint));
      }
      throw error;
    }
  }

  // Every name and value is checked before anything is written.
  ImportOutcome result;
  std::set<std::string> names;
  std::vector<SecretSpec> specs(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    const ImportItem& item = items[i];
    const std::string full = options.env + "/" + options.prefix + item.key;
    ImportedSecret entry;
    entry.key = item.key;
    try {
      const auto [env, name] = split_secret_name(full);
      entry.secret = env + "/" + name;
    } catch (const Error& error) {
      fail(ErrorKind::usage, "{}: {}: {}", label, shown(item.key), error.what());
    }
    if (!names.insert(entry.secret).second) {
      fail(ErrorKind::usage, "{}: two entries map to {}", label, entry.secret);
    }
    if (session.state().secret(entry.secret) != nullptr) {
      if (options.duplicates == Duplicates::refuse) {
        throw Error(ErrorKind::usage, fmt::format("{}: {} already exists; nothing was imported",
                                                  session.paths().head.string(), entry.secret))
          .hint("pass --skip-existing to import only the new names");
      }
      entry.skipped = true;
    }
    if (!options.dry_run && !entry.skipped) {
      if (item.value.empty()) {
        fail(ErrorKind::usage, "{}: {}: the value is empty; nothing was imported", label, shown(item.key));
      }
      if (item.value.size() > k_max_value_size) {
        fail(ErrorKind::usage, "{}: {}: the value is larger than {} bytes; nothing was imported", label,
             shown(item.key), k_max_value_size);
      }
    }
    SecretSpec& spec = specs[i];
    spec.name = entry.secret;
    spec.owner = owner;
    spec.purpose =
      options.purpose.empty() ? fmt::format("imported from {} ({})", label, entry.key) : options.purpose;
    spec.tier = "standard";
    if (!entry.skipped) {
      try {
        check_secret_spec(spec);
      } catch (const Error& error) {
        fail(ErrorKind::usage, "{}: {}: {}; nothing was imported", label, shown(item.key), error.what());
      }
    }
    result.secrets.push_back(std::move(entry));
  }
  if (options.dry_run) {
    return result;
  }
  if (!session.writable()) {
    session.upgrade();
  }

  std::vector<std::string> added; // the event lists the first 256 (a detail list's bound); count has all
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (result.secrets[i].skipped) {
      continue;
    }
    (void)add_secret(session, specs[i], items[i].value);
    ++result.added;
    items[i].value = SecretBytes(); // dropped as soon as it is sealed
    if (added.size() < 256) {
      added.push_back(specs[i].name);
    }
  }
  if (result.added == 0) {
    return result;
  }
  const Entry recorded =
    session.record(EventKind::import, Result::ok,
                   Json{{"format", std::string(import_format_name(format))},
                        {"from", label.substr(0, 1024)},
                        {"env", options.env},
                        {"owner", owner},
                        {"count", static_cast<std::int64_t>(result.added)},
                        {"secrets", added},
                        {"skipped", static_cast<std::int64_t>(result.secrets.size() - result.added)}});
  result.entry = canonical::b64(recorded.hash);
  return result;
}

} // namespace escrow::history
