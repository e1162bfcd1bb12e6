#include <escrow/summary.hpp>

#include <escrow/canonical.hpp>
#include <escrow/clock.hpp>
#include <escrow/error.hpp>
#include <escrow/journal.hpp>
#include <escrow/records.hpp>
#include <escrow/util/escape.hpp>

#include <fmt/format.h>

namespace escrow {

namespace {

using canonical::Json;

// Every name, purpose and reason comes from a file: one line, control characters escaped.
std::string clean(std::string_view text)
{
  return util::escape_controls(text);
}

std::string join(const std::vector<std::string>& items, std::string_view separator = ", ")
{
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) {
      out += separator;
    }
    out += clean(item);
  }
  return out;
}

template<typename Map>
std::vector<std::string> keys(const Map& map)
{
  std::vector<std::string> out;
  for (const auto& [key, ignored] : map) {
    out.push_back(key);
  }
  return out;
}

std::string short_request(std::string_view id)
{
  return id.size() > 8 ? std::string(id.substr(0, 8)) + "…" : std::string(id);
}

std::string when(Timestamp at)
{
  try {
    return format_time(at);
  } catch (const Error&) {
    return std::to_string(at);
  }
}

void line(std::string& out, const std::string& text)
{
  out += text;
  out += '\n';
}

void summarize_member(std::string& out, const MemberRecord& m)
{
  std::string text = fmt::format("member {}: {} in {} (added {} by {}", clean(m.name), join_roles(m.roles),
                                 join(std::vector<std::string>(m.envs.begin(), m.envs.end())), when(m.added_at),
                                 clean(m.added_by));
  if (m.removed_at) {
    text += fmt::format("; removed {} by {}", when(*m.removed_at), clean(m.removed_by));
  }
  line(out, text + ")");
}

void summarize_connector(std::string& out, const ConnectorRecord& c)
{
  std::string text = fmt::format("connector {}: {} in {}", clean(c.name), c.kind, clean(c.env));
  if (c.kind == ConnectorKind::manual) {
    text += fmt::format(", instructions \"{}\"", clean(c.instructions));
  } else {
    // The commands are part of what a reviewer must see change (they receive values).
    text += fmt::format(", update \"{}\", verify \"{}\", timeout {}s", clean(c.update), clean(c.verify), c.timeout);
  }
  if (!c.rehearse_with.empty()) {
    text += fmt::format(", rehearsed with {}", clean(c.rehearse_with));
  }
  line(out, text);
}

void summarize_secret(std::string& out, const SecretRecord& s)
{
  const std::string name = clean(s.full_name());
  std::string text = fmt::format("secret {}: owner {}, {}", name, clean(s.owner), s.state);
  if (s.every > 0) {
    text += ", every " + format_duration(s.every);
  }
  if (!s.custodians.empty()) {
    text += fmt::format(", {} of {}", s.threshold, join(s.custodians));
  }
  if (!s.connectors.empty()) {
    text += ", connectors " + join(s.connectors);
  }
  if (!s.shared_with.empty()) {
    text += ", shared with " + join(s.shared_with);
  }
  if (!s.generator.empty()) {
    text += fmt::format(", generator \"{}\"", clean(s.generator));
  }
  if (!s.due.empty()) {
    text += fmt::format(", due since {} ({})", when(s.due_since), clean(s.due));
  }
  line(out, text + fmt::format(": \"{}\"", clean(s.purpose)));
  for (auto it = s.versions.rbegin(); it != s.versions.rend(); ++it) {
    const VersionRecord& v = *it;
    std::string version = fmt::format("version {} v{}: {}, created {} by {}", name, v.v, v.state, when(v.created_at),
                                      clean(v.created_by));
    if (!v.why.empty()) {
      version += fmt::format(" ({})", clean(v.why));
    }
    version += ", readers " + (v.wrapped.empty() ? std::string("none") : join(keys(v.wrapped)));
    if (!v.shares.empty()) {
      version += ", shares " + join(keys(v.shares));
    }
    if (!v.granted.empty()) {
      std::vector<std::string> grants;
      for (const auto& [who, grant] : v.granted) {
        grants.push_back(fmt::format("{} until {}", who, when(grant.until)));
      }
      version += ", grants " + join(grants);
    }
    line(out, version);
  }
  for (const Request& r : s.requests) {
    std::vector<std::string> approvers;
    for (const Approval& a : r.approvals) {
      approvers.push_back(a.by);
    }
    std::string request = fmt::format("request {} {}: by {} for {}, {} of {} approvals", name, short_request(r.id),
                                      clean(r.by), format_duration(r.ttl), r.approvals.size(), s.threshold);
    if (!approvers.empty()) {
      request += " (" + join(approvers) + ")";
    }
    if (r.denial) {
      request += fmt::format(", denied by {}", clean(r.denial->by));
    }
    if (r.used_at) {
      request += ", used " + when(*r.used_at);
    }
    line(out, request + fmt::format(": \"{}\"", clean(r.why)));
  }
}

// Runs `part` and, when the record cannot be read, says so in one line instead.
template<typename Part>
void guarded(std::string& out, std::string_view what, Part part)
{
  try {
    part();
  } catch (const std::exception& error) {
    line(out, fmt::format("{}: unreadable ({})", what, clean(error.what())));
  }
}

std::string describe_entry(const JournalEntry& e)
{
  const auto detail_string = [&](const char* key) -> std::string {
    if (e.detail.is_object()) {
      if (const auto it = e.detail.find(key); it != e.detail.end() && it->is_string()) {
        return clean(it->get<std::string>());
      }
    }
    return {};
  };
  const auto detail_int = [&](const char* key) -> std::optional<std::int64_t> {
    if (e.detail.is_object()) {
      if (const auto it = e.detail.find(key); it != e.detail.end() && it->is_number_integer()) {
        return it->get<std::int64_t>();
      }
    }
    return std::nullopt;
  };
  const std::string actor = clean(e.actor);
  const std::string secret = clean(e.secret);
  const std::string version = e.version ? fmt::format("v{}", *e.version) : std::string();
  const std::string member = detail_string("member");
  const std::string connector = detail_string("connector");
  std::string text;
  switch (e.action) {
  case JournalAction::init: text = fmt::format("vault created by {}", actor); break;
  case JournalAction::member_add: text = fmt::format("member {} added by {}", member, actor); break;
  case JournalAction::member_remove: text = fmt::format("member {} removed by {}", member, actor); break;
  case JournalAction::request:
    text = fmt::format("request {} on {} by {}", short_request(e.request), secret, actor);
    break;
  case JournalAction::approve:
    text = fmt::format("request {} on {} approved by {}", short_request(e.request), secret, actor);
    break;
  case JournalAction::deny:
    text = fmt::format("request {} on {} denied by {}", short_request(e.request), secret, actor);
    break;
  case JournalAction::rotate_start:
  case JournalAction::rotate:
  case JournalAction::rotate_failed:
  case JournalAction::rollback_start:
  case JournalAction::rollback:
  case JournalAction::rollback_failed: {
    const auto previous = detail_int("previous") ? detail_int("previous") : detail_int("from");
    const std::string from = previous ? fmt::format("v{} → ", *previous) : std::string();
    const char* what = e.action == JournalAction::rotate_start    ? "rotation started"
                       : e.action == JournalAction::rotate        ? "rotation"
                       : e.action == JournalAction::rotate_failed ? "rotation failed"
                       : e.action == JournalAction::rollback_start ? "rollback started"
                       : e.action == JournalAction::rollback      ? "rollback"
                                                                  : "rollback failed";
    text = fmt::format("{}: {}{} by {} ({})", secret, from, version, actor, what);
    break;
  }
  default: {
    text = secret.empty() ? std::string(journal_action_name(e.action))
                          : fmt::format("{}: {}", secret, journal_action_name(e.action));
    if (!version.empty()) {
      text += " " + version;
    }
    if (!member.empty()) {
      text += " " + member;
    }
    if (!connector.empty()) {
      text += " " + connector;
    }
    text += " by " + actor;
    break;
  }
  }
  if (e.result != JournalResult::ok) {
    text += fmt::format(" [{}]", e.result);
  }
  if (!e.why.empty()) {
    text += fmt::format(": \"{}\"", clean(e.why));
  }
  return fmt::format("{} {}", when(e.ts), text);
}

} // namespace

SummaryKind summary_kind(std::string_view text)
{
  const std::string_view head = text.substr(0, 64);
  if (head.find("\"format\": \"escrow-vault/") != std::string_view::npos) {
    return SummaryKind::vault;
  }
  if (text.empty() || (text.front() == '{' && head.find("\"action\":") != std::string_view::npos)) {
    return SummaryKind::journal;
  }
  return SummaryKind::unknown;
}

std::string summarize_vault(std::string_view text)
{
  std::string out;
  Json json;
  try {
    json = canonical::parse(text, "vault");
  } catch (const Error& error) {
    line(out, fmt::format("(an unreadable escrow vault: {})", clean(error.what())));
    return out;
  }
  if (!json.is_object()) {
    line(out, "(an unreadable escrow vault: not a JSON object)");
    return out;
  }
  const auto text_of = [&](const char* key) {
    const auto it = json.find(key);
    return it != json.end() && it->is_string() ? clean(it->get<std::string>()) : std::string("?");
  };
  const auto revision = json.find("revision");
  std::string signer = "?";
  if (const auto sig = json.find("head_sig"); sig != json.end() && sig->is_object() && sig->contains("by")
                                               && (*sig)["by"].is_string()) {
    signer = clean((*sig)["by"].get<std::string>());
  }
  line(out, fmt::format("vault {} revision {} ({}, signed by {}; `escrow verify` checks it)", text_of("vault_id"),
                        revision != json.end() && revision->is_number_integer() ? std::to_string(revision->get<std::int64_t>())
                                                                                 : std::string("?"),
                        text_of("format"), signer));
  if (const auto policy = json.find("policy"); policy != json.end()) {
    guarded(out, "policy", [&] {
      const PolicyRecord record = policy_from_json(*policy, "policy");
      for (const auto& [env, p] : record.envs) {
        line(out, fmt::format("policy {}: at least {} custodians, requests up to {}{}, rotation {}, keep {}",
                              clean(env), p.min_threshold, format_duration(p.max_ttl),
                              p.require_why ? " with a reason" : "", p.every > 0 ? "every " + format_duration(p.every) : "on demand",
                              p.keep));
      }
      if (!record.notify.empty()) {
        line(out, fmt::format("policy notify: \"{}\"", clean(record.notify)));
      }
    });
  }
  const auto section = [&](const char* key, auto each) {
    const auto it = json.find(key);
    if (it == json.end() || !it->is_object()) {
      return;
    }
    for (const auto& item : it->items()) {
      const std::string& name = item.key();
      const Json& record = item.value();
      guarded(out, fmt::format("{} {}", key, clean(name)), [&] { each(name, record); });
    }
  };
  section("members", [&](const std::string& name, const Json& record) {
    summarize_member(out, member_from_json(record, name, "member " + name));
  });
  section("connectors", [&](const std::string& name, const Json& record) {
    summarize_connector(out, connector_from_json(record, name, "connector " + name));
  });
  section("secrets", [&](const std::string& name, const Json& record) {
    summarize_secret(out, secret_from_json(record, name, "secret " + name));
  });
  return out;
}

std::string summarize_journal(std::string_view text)
{
  std::string out;
  std::size_t start = 0;
  std::size_t number = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    const bool torn = end == std::string_view::npos;
    if (torn) {
      end = text.size();
    }
    ++number;
    const std::string_view raw = text.substr(start, end - start);
    start = end + 1;
    if (raw.empty()) {
      continue;
    }
    try {
      const JournalEntry entry = journal_entry_from_json(canonical::parse(raw, "entry"), "entry");
      line(out, describe_entry(entry) + (torn ? " (no final newline)" : ""));
    } catch (const Error&) {
      // Never the line itself (it may be anything): its number and size.
      line(out, fmt::format("line {}: not a journal entry ({} bytes)", number, raw.size()));
    }
  }
  return out;
}

std::string summarize(std::string_view text)
{
  switch (summary_kind(text)) {
  case SummaryKind::vault: return summarize_vault(text);
  case SummaryKind::journal: return summarize_journal(text);
  case SummaryKind::unknown: break;
  }
  return fmt::format("(not an escrow vault or journal: {} bytes)\n", text.size());
}

} // namespace escrow
