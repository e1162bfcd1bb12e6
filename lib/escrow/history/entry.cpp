#include <escrow/history/entry.hpp>

#include <escrow/history/json_read.hpp>
#include <escrow/history/labels.hpp>

#include <algorithm>
#include <set>

namespace escrow::history {

namespace jr = json_read;

namespace {

constexpr std::size_t k_max_detail_members = 64;
constexpr std::size_t k_max_detail_text = 4096;

std::string b64(ByteView bytes)
{
  return canonical::b64(bytes);
}

bool printable_one_line(std::string_view text)
{
  return std::none_of(text.begin(), text.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  });
}

bool detail_key(std::string_view key)
{
  return !key.empty() && key.size() <= 32 && std::all_of(key.begin(), key.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || c == '_';
         });
}

} // namespace

std::string_view event_kind_name(EventKind kind)
{
  switch (kind) {
  case EventKind::audit_compare: return "audit-compare";
  case EventKind::backup: return "backup";
  case EventKind::drill: return "drill";
  case EventKind::exec: return "exec";
  case EventKind::import: return "import";
  case EventKind::merge: return "merge";
  case EventKind::rehearsal: return "rehearsal";
  case EventKind::restore: return "restore";
  case EventKind::reveal: return "reveal";
  case EventKind::rollback_accepted: return "rollback-accepted";
  }
  return "reveal";
}

std::optional<EventKind> parse_event_kind(std::string_view name)
{
  for (const EventKind k : {EventKind::audit_compare, EventKind::backup, EventKind::drill, EventKind::exec,
                            EventKind::import, EventKind::merge, EventKind::rehearsal, EventKind::restore,
                            EventKind::reveal, EventKind::rollback_accepted}) {
    if (event_kind_name(k) == name) {
      return k;
    }
  }
  return std::nullopt;
}

std::string action_name(const Action& action)
{
  if (const OpKind* op = std::get_if<OpKind>(&action)) {
    return std::string(op_kind_name(*op));
  }
  return std::string(event_kind_name(std::get<EventKind>(action)));
}

std::optional<Action> parse_action(std::string_view name)
{
  if (const std::optional<OpKind> op = parse_op_kind(name)) {
    return Action{*op};
  }
  if (const std::optional<EventKind> event = parse_event_kind(name)) {
    return Action{*event};
  }
  return std::nullopt;
}

std::string_view result_name(Result result)
{
  switch (result) {
  case Result::denied: return "denied";
  case Result::failed: return "failed";
  case Result::ok: return "ok";
  }
  return "ok";
}

std::optional<Result> parse_result(std::string_view name)
{
  for (const Result r : {Result::denied, Result::failed, Result::ok}) {
    if (result_name(r) == name) {
      return r;
    }
  }
  return std::nullopt;
}

void check_entry(const Entry& e, ErrorKind kind, std::string_view what)
{
  const auto bad = [&](std::string_view problem) { throw Error(kind, fmt::format("{}: {}", what, problem)); };
  if (!valid_member_name(e.actor)) {
    bad("actor: not a member name");
  }
  if (e.ts < k_min_time || e.ts > k_max_time) {
    bad("ts: out of range");
  }
  if (e.host.size() > k_max_host || !canonical::valid_utf8(e.host) || !printable_one_line(e.host)) {
    bad("host: at most 255 bytes of printable UTF-8");
  }
  if (e.why) {
    if (e.why->empty() || e.why->size() > k_max_why || !canonical::valid_utf8(*e.why)
        || !printable_one_line(*e.why)) {
      bad("why: 1-1024 bytes of UTF-8 without control characters");
    }
  }
  if (e.parents.size() > k_max_parents) {
    bad("parents: too many");
  }
  if (e.parents.size() > 1 && std::set<Hash>(e.parents.begin(), e.parents.end()).size() != e.parents.size()) {
    bad("parents: a parent is named twice");
  }
  const OpKind* op_kind = std::get_if<OpKind>(&e.action);
  const bool genesis = op_kind != nullptr && *op_kind == OpKind::init;
  if (genesis != e.genesis_format) {
    bad(genesis ? "format: the genesis entry names the journal format" : "format: only the genesis entry names a format");
  }
  if (genesis != e.parents.empty()) {
    bad(genesis ? "parents: the genesis entry has no parents" : "parents: only the genesis entry has no parents");
  }
  if (genesis && e.result != Result::ok) {
    bad("result: the genesis entry is an operation");
  }
  const bool wants_op = op_kind != nullptr && e.result == Result::ok;
  if (wants_op != e.op.has_value()) {
    bad(wants_op ? "op: missing (an ok operation carries its op)" : "op: only an ok operation carries an op");
  }
  if (e.op) {
    if (e.op->kind() != *op_kind) {
      bad("op: its arguments are not those of the action");
    }
    if (e.detail) {
      bad("detail: only events carry details");
    }
    check_args(*e.op, kind, what);
    if ((*op_kind == OpKind::deny || *op_kind == OpKind::compromise || *op_kind == OpKind::journal_loss) && !e.why) {
      bad(fmt::format("why: required for {}", op_kind_name(*op_kind)));
    }
  }
  if (e.detail) {
    if (!e.detail->is_object() || e.detail->size() > k_max_detail_members) {
      bad("detail: expected an object of at most 64 facts");
    }
    for (const auto& item : e.detail->items()) {
      if (!detail_key(item.key())) {
        bad("detail: a key is not 1-32 of a-z _");
      }
      const Json& value = item.value();
      const auto text_ok = [](const Json& v) {
        return v.is_string() && v.get_ref<const std::string&>().size() <= k_max_detail_text
               && canonical::valid_utf8(v.get_ref<const std::string&>());
      };
      bool ok = text_ok(value) || value.is_boolean() || value.is_number_integer();
      if (value.is_array()) {
        ok = value.size() <= 256 && std::all_of(value.begin(), value.end(), text_ok);
      }
      if (!ok) {
        bad("detail: a fact is not a string, an integer, a boolean or a list of strings");
      }
    }
  }
}

// The entry as a JSON value. The journal's text is written by for_each_member below, without
// a DOM; this is the reference the tests and the entry fuzzer hold that text to (canonical::dump
// of this value, byte for byte).
Json entry_to_json(const Entry& e, bool with_seal)
{
  Json parents = Json::array();
  for (const Hash& p : e.parents) {
    parents.push_back(b64(ByteView(p.data(), p.size())));
  }
  Json out{{"action", action_name(e.action)},
           {"actor", e.actor},
           {"host", e.host},
           {"parents", parents},
           {"result", std::string(result_name(e.result))},
           {"ts", format_time(e.ts)},
           {"vault", b64(ByteView(e.vault.data(), e.vault.size()))}};
  if (e.genesis_format) {
    out["format"] = std::string(k_journal_format);
  }
  if (e.op) {
    out["op"] = op_to_json(*e.op);
  }
  if (e.why) {
    out["why"] = *e.why;
  }
  if (e.detail) {
    out["detail"] = *e.detail;
  }
  if (with_seal) {
    out["hash"] = b64(ByteView(e.hash.data(), e.hash.size()));
    out["sig"] = b64(ByteView(e.sig.data(), e.sig.size()));
  }
  return out;
}

namespace {

// H("escrow/v2/entry", vault || body) fed piece by piece: the label, 0x00, the vault id; then the
// caller's body.
void start_entry_hash(crypto::Hasher& hasher, const VaultId& vault)
{
  hasher.update(as_bytes(labels::k_entry));
  const std::uint8_t zero = 0;
  hasher.update(ByteView(&zero, 1));
  hasher.update(ByteView(vault.data(), vault.size()));
}

// `text` as canonical::dump writes a JSON string: between quotes as it is when every byte is one
// nlohmann_json writes as itself (base64, times, names), else dump's own text.
void append_string(std::string& out, std::string_view text)
{
  const bool plain = std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' || c == '/'
           || c == '=' || c == ':' || c == '.' || c == '_' || c == '-';
  });
  if (!plain) {
    out += canonical::dump(Json(std::string(text)));
    return;
  }
  out += '"';
  out += text;
  out += '"';
}

// Base64's alphabet (A-Z a-z 0-9 + / =) is written as it is: no escapes to look for.
void append_b64(std::string& out, ByteView bytes)
{
  out += '"';
  out += b64(bytes);
  out += '"';
}

// The members of an entry's journal line in their canonical order (keys sorted bytewise), each
// as `"key":value` into `member` and handed to fn(key, member), without building the object: the
// one spelling that dump_entry writes, compute_hash hashes and parse_entry compares every line
// it reads with (canonical::dump(entry_to_json(e)) is the reference: the tests and the entry
// fuzzer hold the two to the same bytes).
template<typename Fn>
void for_each_member(const Entry& e, Fn&& fn)
{
  std::string member;
  const auto emit = [&](std::string_view key, auto&& value) {
    member.clear();
    member += '"';
    member += key;
    member += "\":";
    value(member);
    fn(key, std::string_view(member));
  };
  emit("action", [&](std::string& out) { append_string(out, action_name(e.action)); });
  emit("actor", [&](std::string& out) { append_string(out, e.actor); });
  if (e.detail) {
    emit("detail", [&](std::string& out) { out += canonical::dump(*e.detail); });
  }
  if (e.genesis_format) {
    emit("format", [&](std::string& out) { append_string(out, k_journal_format); });
  }
  emit("hash", [&](std::string& out) { append_b64(out, ByteView(e.hash.data(), e.hash.size())); });
  emit("host", [&](std::string& out) { append_string(out, e.host); });
  if (e.op) {
    emit("op", [&](std::string& out) { out += canonical::dump(op_to_json(*e.op)); });
  }
  emit("parents", [&](std::string& out) {
    out += '[';
    for (std::size_t i = 0; i < e.parents.size(); ++i) {
      if (i > 0) {
        out += ',';
      }
      append_b64(out, ByteView(e.parents[i].data(), e.parents[i].size()));
    }
    out += ']';
  });
  emit("result", [&](std::string& out) { append_string(out, result_name(e.result)); });
  emit("sig", [&](std::string& out) { append_b64(out, ByteView(e.sig.data(), e.sig.size())); });
  emit("ts", [&](std::string& out) { append_string(out, format_time(e.ts)); });
  emit("vault", [&](std::string& out) { append_b64(out, ByteView(e.vault.data(), e.vault.size())); });
  if (e.why) {
    emit("why", [&](std::string& out) { append_string(out, *e.why); });
  }
}

// compute_hash's body fed member by member: the object without "hash" and "sig".
class BodyHash
{
public:
  explicit BodyHash(const VaultId& vault)
  {
    start_entry_hash(m_hasher, vault);
    m_hasher.update(as_bytes(std::string_view("{")));
  }

  void member(std::string_view key, std::string_view text)
  {
    if (key == "hash" || key == "sig") {
      return;
    }
    if (!m_first) {
      m_hasher.update(as_bytes(std::string_view(",")));
    }
    m_hasher.update(as_bytes(text));
    m_first = false;
  }

  Hash finish()
  {
    m_hasher.update(as_bytes(std::string_view("}")));
    return m_hasher.finish();
  }

private:
  crypto::Hasher m_hasher;
  bool m_first = true;
};

} // namespace

std::string dump_entry(const Entry& entry)
{
  std::string out = "{";
  for_each_member(entry, [&out](std::string_view, std::string_view member) {
    if (out.size() > 1) {
      out += ',';
    }
    out += member;
  });
  out += '}';
  return out;
}

Hash compute_hash(const Entry& entry)
{
  BodyHash body(entry.vault);
  for_each_member(entry, [&body](std::string_view key, std::string_view member) { body.member(key, member); });
  return body.finish();
}

void seal_entry(Entry& entry, const Identity& author, std::string_view what)
{
  check_entry(entry, ErrorKind::usage, what);
  if (author.pub.name != entry.actor) {
    fail(ErrorKind::usage, "{}: signed by {} but written as {}", what, author.pub.name, entry.actor);
  }
  entry.hash = compute_hash(entry);
  entry.sig = author.sign(labels::k_entry_sig, ByteView(entry.hash.data(), entry.hash.size()));
}

bool verify_signature(const Entry& entry, const crypto::SignPublicKey& actor_key)
{
  const Hash expected = compute_hash(entry);
  if (!crypto::equal(ByteView(expected.data(), expected.size()), ByteView(entry.hash.data(), entry.hash.size()))) {
    return false;
  }
  return crypto::verify(labels::k_entry_sig, ByteView(entry.hash.data(), entry.hash.size()),
                        ByteView(entry.sig.data(), entry.sig.size()),
                        ByteView(actor_key.data(), actor_key.size()));
}

Entry parse_entry(std::string_view line, std::string_view what)
{
  if (line.size() > k_max_entry_line) {
    fail(ErrorKind::integrity, "{}: longer than 16 MiB", what);
  }
  Json json = canonical::parse(line, what);
  jr::Fields f(json, std::string(what), ": ");
  Entry e;
  const std::optional<Action> action = parse_action(jr::string(f.need("action"), f.at("action")));
  if (!action) {
    fail(ErrorKind::integrity, "{}: unknown action", f.at("action"));
  }
  e.action = *action;
  e.actor = jr::string(f.need("actor"), f.at("actor"));
  const Json* detail = f.maybe("detail");
  if (detail != nullptr) {
    (void)jr::object(*detail, f.at("detail"));
  }
  if (const Json* format = f.maybe("format")) {
    if (jr::string(*format, f.at("format")) != k_journal_format) {
      fail(ErrorKind::integrity, "{}: not {} (a journal of another format or version)", f.at("format"),
           k_journal_format);
    }
    e.genesis_format = true;
  }
  e.hash = jr::fixed_b64<32>(f.need("hash"), f.at("hash"));
  e.host = jr::string(f.need("host"), f.at("host"));
  const std::string parents_at = f.at("parents");
  for (const Json& p : jr::array(f.need("parents"), parents_at, k_max_parents)) {
    e.parents.push_back(jr::fixed_b64<32>(p, parents_at));
  }
  const std::optional<Result> result = parse_result(jr::string(f.need("result"), f.at("result")));
  if (!result) {
    fail(ErrorKind::integrity, "{}: unknown result", f.at("result"));
  }
  e.result = *result;
  if (const Json* op = f.maybe("op")) {
    const OpKind* kind = std::get_if<OpKind>(&e.action);
    if (kind == nullptr) {
      fail(ErrorKind::integrity, "{}: an event carries no op", f.at("op"));
    }
    e.op = op_from_json(*kind, *op, what);
  }
  e.sig = jr::fixed_b64<64>(f.need("sig"), f.at("sig"));
  e.ts = jr::time(f.need("ts"), f.at("ts"));
  e.vault = jr::fixed_b64<16>(f.need("vault"), f.at("vault"));
  if (const Json* why = f.maybe("why")) {
    e.why = jr::string(*why, f.at("why"));
  }
  f.finish();
  if (detail != nullptr) {
    e.detail = std::move(json.find("detail").value()); // moved out of the parsed line, not copied
  }
  check_entry(e, ErrorKind::integrity, what);
  // One spelling per entry: what was read must be what escrow writes, byte for byte (key order,
  // escapes, set order, no whitespace). Anything else would give one entry two hashes.
  // One serialisation serves both checks (issue 12 target 5): the canonical object is "{" and its
  // members "key":value joined by ",", so each member is written once (for_each_member, without
  // building a second DOM), compared with the line where it must be, and fed to the hash unless
  // it is "hash" or "sig" (compute_hash's body is the same object without them).
  BodyHash body(e.vault);
  std::size_t at = 1;
  bool canonical = line.substr(0, 1) == "{";
  for_each_member(e, [&](std::string_view key, std::string_view member) {
    if (at > 1) {
      canonical = canonical && at < line.size() && line[at] == ',';
      ++at;
    }
    if (canonical && (at > line.size() || line.compare(at, member.size(), member) != 0)) {
      canonical = false;
    }
    at += member.size();
    body.member(key, member);
  });
  if (!canonical || at + 1 != line.size() || line.back() != '}') {
    fail(ErrorKind::integrity, "{}: not in canonical form", what);
  }
  const Hash expected = body.finish();
  if (!crypto::equal(ByteView(expected.data(), expected.size()), ByteView(e.hash.data(), e.hash.size()))) {
    fail(ErrorKind::integrity, "{}: hash does not match the entry's content (modified)", what);
  }
  return e;
}

VaultId derive_vault_id(const GenesisMember& member, Timestamp added_at)
{
  const Json body{{"added_at", format_time(added_at)},
                  {"box_pk", b64(ByteView(member.box_pk.data(), member.box_pk.size()))},
                  {"name", member.name},
                  {"salt", b64(ByteView(member.salt.data(), member.salt.size()))},
                  {"sign_pk", b64(ByteView(member.sign_pk.data(), member.sign_pk.size()))}};
  return crypto::hash16(labels::k_vault_id, as_bytes(canonical::dump(body)));
}

std::string short_hash(const Hash& hash)
{
  return b64(ByteView(hash.data(), hash.size())).substr(0, 12);
}

std::set<Hash> entry_hashes(std::string_view journal)
{
  std::set<Hash> out;
  std::size_t start = 0;
  while (start < journal.size()) {
    const std::size_t nl = journal.find('\n', start);
    if (nl == std::string_view::npos) {
      break; // a torn last line: not an entry
    }
    try {
      out.insert(parse_entry(journal.substr(start, nl - start), "journal").hash);
    } catch (const Error&) {
      // not an entry: reported by the replay
    }
    start = nl + 1;
  }
  return out;
}

} // namespace escrow::history
