#include <escrow/history/textconv.hpp>

#include <escrow/canonical.hpp>
#include <escrow/clock.hpp>
#include <escrow/error.hpp>
#include <escrow/history/entry.hpp>
#include <escrow/history/head_file.hpp>
#include <escrow/history/keys_file.hpp>
#include <escrow/history/merge_files.hpp>
#include <escrow/util/escape.hpp>

#include <fmt/format.h>

#include <map>
#include <set>
#include <variant>

namespace escrow::history {

namespace {

std::string esc(std::string_view text)
{
  return util::escape_controls(text);
}

std::string in_quotes(std::string_view text)
{
  return "\"" + esc(text) + "\"";
}

template<typename Set>
std::string joined(const Set& items)
{
  std::string out;
  for (const auto& item : items) {
    out += (out.empty() ? "" : ", ") + esc(std::string_view(item));
  }
  return out;
}

std::string roles_text(const std::set<Role>& roles)
{
  std::string out;
  for (const Role r : roles) {
    out += (out.empty() ? "" : ", ") + std::string(role_name(r));
  }
  return out.empty() ? "no role" : out;
}

std::string envs_text(const std::set<std::string>& envs)
{
  return envs.empty() ? std::string() : " in " + joined(envs);
}

// A request id as people see it (8 characters, then an ellipsis).
std::string request_text(std::string_view id)
{
  return esc(id.substr(0, 8)) + (id.size() > 8 ? "…" : "");
}

std::string vid_text(std::string_view vid)
{
  return esc(vid.substr(0, 8));
}

// Follows version numbers through the journal, so that a rotation says which version it replaces.
struct Versions
{
  std::map<std::string, std::map<std::string, std::int64_t>> v; // secret → vid → v
  std::map<std::string, std::string> current;                   // secret → vid
  std::map<std::pair<std::string, std::string>, RotationKind> pending;

  std::string number(const std::string& secret, const std::string& vid) const
  {
    const auto s = v.find(secret);
    if (s != v.end()) {
      const auto it = s->second.find(vid);
      if (it != s->second.end()) {
        return "v" + std::to_string(it->second);
      }
    }
    return "version " + vid_text(vid);
  }
  std::string current_number(const std::string& secret) const
  {
    const auto it = current.find(secret);
    return it == current.end() ? std::string("?") : number(secret, it->second);
  }
};

std::string describe_policy(const PolicySetArgs& a)
{
  std::vector<std::string> parts;
  if (a.every) {
    parts.push_back("every " + (*a.every > 0 ? format_duration(*a.every) : std::string("never")));
  }
  if (a.keep) {
    parts.push_back("keep " + std::to_string(*a.keep));
  }
  if (a.max_ttl) {
    parts.push_back("max ttl " + format_duration(*a.max_ttl));
  }
  if (a.min_threshold) {
    parts.push_back("min threshold " + std::to_string(*a.min_threshold));
  }
  if (a.require_why) {
    parts.push_back(*a.require_why ? "why required" : "why optional");
  }
  if (a.notify) {
    parts.push_back("notify " + in_quotes(*a.notify));
  }
  return joined(parts);
}

std::string describe_op(const Entry& e, const Op& op, Versions& versions)
{
  const std::string by = " by " + esc(e.actor);
  return std::visit(
    [&](const auto& a) -> std::string {
      using T = std::decay_t<decltype(a)>;
      if constexpr (std::is_same_v<T, InitArgs>) {
        std::string envs;
        for (const auto& [env, policy] : a.policy.envs) {
          (void)policy;
          envs += (envs.empty() ? "" : ", ") + esc(env);
        }
        return "vault created" + by + " (genesis admin; policy for " + envs + ")";
      } else if constexpr (std::is_same_v<T, MemberAddArgs>) {
        return "member " + esc(a.name) + " added" + by + ": " + roles_text(a.roles) + envs_text(a.envs);
      } else if constexpr (std::is_same_v<T, MemberSetArgs>) {
        return "member " + esc(a.name) + " set" + by + ": " + roles_text(a.roles) + envs_text(a.envs);
      } else if constexpr (std::is_same_v<T, MemberRemoveArgs>) {
        return "member " + esc(a.name) + " removed" + by;
      } else if constexpr (std::is_same_v<T, PolicySetArgs>) {
        return "policy of " + esc(a.env) + " set" + by + ": " + describe_policy(a);
      } else if constexpr (std::is_same_v<T, ConnectorAddArgs>) {
        std::string what = "connector " + esc(a.name) + ": " + std::string(connector_kind_name(a.kind)) + " in "
                           + esc(a.env);
        if (!a.update.empty()) {
          what += ", update " + in_quotes(a.update);
        }
        if (!a.verify.empty()) {
          what += ", verify " + in_quotes(a.verify);
        }
        if (!a.instructions.empty()) {
          what += ", instructions " + in_quotes(a.instructions);
        }
        // The native kinds' settings a reviewer must see (where a value goes, whose role, which
        // secret authenticates); a CA's PEM and header templates are named, not shown.
        const ConnectorSettings& c = a.settings;
        const auto field = [&](std::string_view label, const std::string& v) {
          if (!v.empty()) {
            what += fmt::format(", {} {}", label, in_quotes(v));
          }
        };
        field("conninfo", c.conninfo);
        field("role", c.role);
        field("alternate role", c.alternate_role);
        field("user", c.db_user);
        field("host", c.db_host);
        field("url", c.url);
        field("body", c.body);
        field("verify url", c.verify_url);
        field("node", c.node);
        field("field", c.field);
        field("auth user", c.auth_user);
        field("auth secret", c.auth_secret);
        for (const std::string& header : c.headers) {
          what += ", header " + in_quotes(header.substr(0, header.find(':')));
        }
        if (!c.cacert.empty()) {
          what += ", its own CA certificates";
        }
        field("rehearse with", a.rehearse_with);
        return what + " (added" + by + ")";
      } else if constexpr (std::is_same_v<T, ConnectorRemoveArgs>) {
        return "connector " + esc(a.name) + " removed" + by;
      } else if constexpr (std::is_same_v<T, SecretAddArgs>) {
        versions.v[a.secret][a.version.vid] = 1;
        versions.current[a.secret] = a.version.vid;
        std::string what = esc(a.secret) + ": add v1" + by + " (owner " + esc(a.owner) + ", " + in_quotes(a.purpose);
        if (a.every > 0) {
          what += ", every " + format_duration(a.every);
        }
        if (!a.custodians.empty()) {
          what += fmt::format(", custodians {} of {}", a.threshold, joined(a.custodians));
        }
        if (!a.connectors.empty()) {
          what += ", connectors " + joined(a.connectors);
        }
        if (a.escrow_only) {
          what += ", escrow only";
        }
        return what + ")";
      } else if constexpr (std::is_same_v<T, SecretSetArgs>) {
        std::vector<std::string> parts;
        if (a.owner) {
          parts.push_back("owner " + esc(*a.owner));
        }
        if (a.purpose) {
          parts.push_back("purpose " + in_quotes(*a.purpose));
        }
        if (a.tier) {
          parts.push_back("tier " + esc(*a.tier));
        }
        if (a.connectors) {
          parts.push_back("connectors " + (a.connectors->empty() ? std::string("none") : joined(*a.connectors)));
        }
        if (a.every) {
          parts.push_back("every " + (*a.every > 0 ? format_duration(*a.every) : std::string("never")));
        }
        if (a.generator) {
          parts.push_back("generator " + in_quotes(*a.generator));
        }
        if (a.after_access) {
          parts.push_back(*a.after_access ? "rotate after access" : "no rotation after access");
        }
        if (a.escrow_only) {
          parts.push_back(*a.escrow_only ? "escrow only" : "not escrow only");
        }
        return esc(a.secret) + ": set " + joined(parts) + by;
      } else if constexpr (std::is_same_v<T, CustodiansSetArgs>) {
        return fmt::format("{}: custodians {} of {}{}", esc(a.secret), a.threshold, joined(a.custodians), by);
      } else if constexpr (std::is_same_v<T, ShareArgs>) {
        std::string what;
        for (const ShareItem& item : a.items) {
          what += (what.empty() ? "" : "; ") + esc(item.secret);
        }
        return what + ": shared with " + esc(a.member) + by;
      } else if constexpr (std::is_same_v<T, UnshareArgs>) {
        return esc(a.secret) + ": unshared from " + esc(a.member) + by;
      } else if constexpr (std::is_same_v<T, RetireArgs>) {
        return esc(a.secret) + ": retired" + by;
      } else if constexpr (std::is_same_v<T, RotateStartArgs>) {
        std::string what;
        for (const RotateItem& item : a.items) {
          std::string line;
          versions.pending[{item.secret, item.vid}] = item.kind;
          if (item.kind == RotationKind::rotate) {
            const std::string from = versions.current_number(item.secret);
            versions.v[item.secret][item.vid] = item.v;
            line = fmt::format("{}: {} → v{}{} (rotation started", esc(item.secret), from, item.v, by);
            if (!item.why.empty()) {
              line += ": " + in_quotes(item.why);
            }
            line += ")";
          } else {
            line = fmt::format("{}: {} → {}{} (rollback started)", esc(item.secret),
                               versions.current_number(item.secret), versions.number(item.secret, item.vid), by);
          }
          what += (what.empty() ? "" : "; ") + line;
        }
        return what;
      } else if constexpr (std::is_same_v<T, ConfirmArgs>) {
        return fmt::format("{}: {} confirmed on connector {}{}", esc(a.secret), versions.number(a.secret, a.vid),
                           esc(a.connector), by);
      } else if constexpr (std::is_same_v<T, RotateFinishArgs>) {
        std::string what;
        for (const FinishItem& item : a.items) {
          const auto pending = versions.pending.find({item.secret, item.vid});
          const bool rollback = pending != versions.pending.end() && pending->second == RotationKind::rollback;
          const std::string line = fmt::format("{}: {} → {}{} ({})", esc(item.secret),
                                               versions.current_number(item.secret),
                                               versions.number(item.secret, item.vid), by,
                                               rollback ? "rollback" : "rotation");
          versions.current[item.secret] = item.vid;
          if (pending != versions.pending.end()) {
            versions.pending.erase(pending);
          }
          what += (what.empty() ? "" : "; ") + line;
        }
        return what;
      } else if constexpr (std::is_same_v<T, RotateFailArgs>) {
        std::string what;
        for (const FailItem& item : a.items) {
          what += (what.empty() ? "" : "; ")
                  + fmt::format("{}: rotation to {} ended{} ({})", esc(item.secret),
                                versions.number(item.secret, item.vid), by, fail_result_name(item.result));
          versions.pending.erase({item.secret, item.vid});
        }
        return what;
      } else if constexpr (std::is_same_v<T, CompromiseArgs>) {
        return fmt::format("{}: {} marked compromised{}", esc(a.secret), versions.number(a.secret, a.vid), by);
      } else if constexpr (std::is_same_v<T, RequestArgs>) {
        return fmt::format("request {} on {}{} for {}", request_text(a.id), esc(a.secret), by, format_duration(a.ttl));
      } else if constexpr (std::is_same_v<T, ApproveArgs>) {
        return fmt::format("request {} on {} approved{} (v{} for {})", request_text(a.request), esc(a.secret), by,
                           a.v, esc(a.requester));
      } else if constexpr (std::is_same_v<T, DenyArgs>) {
        return fmt::format("request {} on {} denied{}", request_text(a.request), esc(a.secret), by);
      } else if constexpr (std::is_same_v<T, GrantUsedArgs>) {
        return fmt::format("request {} on {}: grant used{}", request_text(a.request), esc(a.secret), by);
      } else if constexpr (std::is_same_v<T, JournalLossArgs>) {
        return fmt::format("{} lost journal entr{} acknowledged{}", a.lost.size(), a.lost.size() == 1 ? "y" : "ies",
                           by);
      } else if constexpr (std::is_same_v<T, ResolveArgs>) {
        const std::string exposed =
          a.exposed.empty() ? std::string()
                            : fmt::format(", {} rotation operation{} kept exposed", a.exposed.size(),
                                          a.exposed.size() == 1 ? "" : "s");
        return fmt::format("merge resolved{} ({} operation{} voided, {} rotation race{} settled{})", by,
                           a.voided.size(), a.voided.size() == 1 ? "" : "s", a.rotations.size(),
                           a.rotations.size() == 1 ? "" : "s", exposed);
      } else {
        return std::string(op_kind_name(op.kind())) + by;
      }
    },
    op.args);
}

// An event's or a refusal's facts: only the fields known to be names and numbers.
std::string describe_event(const Entry& e)
{
  const std::string action = action_name(e.action);
  const std::string by = " by " + esc(e.actor);
  std::string secret;
  std::string rest;
  if (e.detail && e.detail->is_object()) {
    const Json& d = *e.detail;
    if (d.contains("secret") && d["secret"].is_string()) {
      secret = esc(d["secret"].get<std::string>());
    }
    if (d.contains("version") && d["version"].is_number_integer()) {
      rest += " v" + std::to_string(d["version"].get<std::int64_t>());
    }
    for (const char* key : {"via", "into", "connector"}) {
      if (d.contains(key) && d[key].is_string()) {
        rest += fmt::format(" {} {}", key, esc(d[key].get<std::string>()));
      }
    }
    if (d.contains("request") && d["request"].is_string()) {
      rest += " request " + request_text(d["request"].get<std::string>());
    }
    if (d.contains("secrets") && d["secrets"].is_array()) {
      std::string names;
      for (const Json& s : d["secrets"]) {
        if (s.is_string()) {
          names += (names.empty() ? "" : ", ") + esc(s.get<std::string>());
        }
      }
      secret = names;
    }
  }
  if (std::holds_alternative<EventKind>(e.action) && std::get<EventKind>(e.action) == EventKind::merge) {
    return fmt::format("merge of {} heads sealed{}", e.parents.size(), by);
  }
  std::string line = (secret.empty() ? "" : secret + ": ") + action + rest + by;
  if (e.result != Result::ok) {
    line += fmt::format(" ({})", result_name(e.result));
    if (e.detail && e.detail->is_object() && e.detail->contains("reason") && (*e.detail)["reason"].is_string()) {
      line += ": " + in_quotes((*e.detail)["reason"].get<std::string>());
    }
  }
  return line;
}

std::string summarize_head(std::string_view bytes)
{
  try {
    const HeadFile head = parse_head_file(bytes, "escrow.vault");
    std::string heads;
    for (const EntryHash& h : head.heads) {
      heads += (heads.empty() ? "" : ", ") + short_hash(h);
    }
    return fmt::format("vault {} (escrow-vault/2): {} journal entries, head{} {}\n", canonical::b64(head.vault_id),
                       head.entries, head.heads.size() == 1 ? "" : "s", heads);
  } catch (const Error&) {
    return fmt::format("(an escrow-vault/2 head file that does not parse: {} bytes)\n", bytes.size());
  }
}

std::string describe_line(const LineName& n)
{
  const std::string secret = esc(n.secret);
  switch (n.kind) {
  case LineKind::reader_key:
    return fmt::format("reader key of {} generation {} for {}", secret, n.gen, esc(n.holder));
  case LineKind::value:
    return fmt::format("value of {} version {}", secret, n.vid.hex().substr(0, 8));
  case LineKind::share:
    return fmt::format("custodian share of {} version {} for {}", secret, n.vid.hex().substr(0, 8), esc(n.holder));
  case LineKind::grant:
    return fmt::format("grant of {} version {} for {}", secret, n.vid.hex().substr(0, 8), esc(n.holder));
  case LineKind::approval:
    return fmt::format("approval share of {} version {} for request {} by {}", secret, n.vid.hex().substr(0, 8),
                       request_text(n.request), esc(n.holder));
  }
  return "key line";
}

std::string summarize_keys(std::string_view bytes)
{
  std::string out;
  try {
    const KeysFile keys = KeysFile::parse(std::string(bytes), "escrow.keys");
    out = fmt::format("keys of vault {} (escrow-keys/2)\n", canonical::b64(keys.vault_id()));
    std::size_t unreadable = 0;
    keys.for_each([&](std::string_view key, std::string_view) {
      const std::string_view logical = key.substr(0, key.rfind('#'));
      const std::optional<LineName> name = LineName::parse(logical);
      if (name) {
        out += describe_line(*name) + "\n";
      } else {
        ++unreadable;
      }
    });
    if (unreadable > 0) {
      out += fmt::format("({} key lines that do not parse)\n", unreadable);
    }
  } catch (const Error&) {
    out += fmt::format("(an escrow-keys/2 file that does not parse: {} bytes)\n", bytes.size());
  }
  return out;
}

} // namespace

std::string summarize_journal_v2(std::string_view text)
{
  std::string out;
  Versions versions;
  std::size_t start = 0;
  std::size_t number = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    const bool torn = end == std::string_view::npos;
    if (torn) {
      end = text.size();
    }
    ++number;
    const std::string_view line = text.substr(start, end - start);
    start = end + 1;
    if (line.empty()) {
      continue;
    }
    if (torn) {
      out += fmt::format("(line {}: an incomplete entry, {} bytes)\n", number, line.size());
      break;
    }
    try {
      const Entry e = parse_entry(line, "escrow.journal");
      std::string what = e.op ? describe_op(e, *e.op, versions) : describe_event(e);
      if (e.why && !(e.op && std::holds_alternative<RotateStartArgs>(e.op->args))) {
        what += ": " + in_quotes(*e.why);
      }
      out += format_time(e.ts) + " " + what + "\n";
    } catch (const Error&) {
      out += fmt::format("(line {}: not a journal entry, {} bytes)\n", number, line.size());
    }
  }
  return out;
}

std::optional<std::string> summarize_v2(std::string_view bytes)
{
  switch (detect_format(bytes)) {
  case MergedFormat::head:
    return summarize_head(bytes);
  case MergedFormat::journal:
    return summarize_journal_v2(bytes);
  case MergedFormat::keys:
    return summarize_keys(bytes);
  case MergedFormat::other:
    break;
  }
  return std::nullopt;
}

} // namespace escrow::history
