// The replay of escrow-journal/2 journals (lib/escrow/history/replay.hpp): pass 1 over any bytes,
// the linearization, causal states, merges (check_merge) and the fold. Properties: replay never
// throws, whatever the input; every finding formats to one line; a replay is deterministic; a
// journal that verifies gives the same state and heads when replayed from a snapshot of a prefix
// (when replay_from can continue there), and a snapshot of the whole continues with nothing new.
//
// So that mutated operations reach authorize, apply and the merge check (mutations rarely keep a
// BLAKE2b or an Ed25519 signature right), the input is also replayed "re-sealed": each line that
// is a JSON object gets the hash its content gives, parents renamed to the re-sealed hashes of
// earlier lines, and the replay is told that every signature is known (the signature pass is
// separable: replay.hpp). The seeds (corpus/replay/seed-*) are journals written by the unit
// tests' World: a team, a fork with its merge, an unsealed conflict, an acknowledged loss.
#include "fuzz.hpp"

#include <escrow/canonical.hpp>
#include <escrow/history/labels.hpp>
#include <escrow/history/replay.hpp>

#include <map>

using namespace escrow;
using namespace escrow::history;

namespace {

void check_result(const ReplayResult& r, std::string_view text, const ReplayOptions& options)
{
  for (const Finding& f : r.findings) {
    const std::string line = format_finding(f);
    fuzz::check(std::none_of(line.begin(), line.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; }),
                "a finding is one line of text");
  }
  fuzz::check(r.ok() == (r.first_problem() == nullptr), "ok() is the absence of an error or a conflict");
  if (!r.ok()) {
    fuzz::accepted({ErrorKind::integrity, ErrorKind::failed}, [&] { r.require_ok(); });
    return;
  }
  fuzz::must("require_ok accepts a verified journal", [&] { r.require_ok(); });
  ReplayResult again;
  fuzz::must("replay does not throw", [&] { again = replay(text, options); });
  fuzz::check(again.ok() && again.state.digest() == r.state.digest() && again.heads == r.heads
                && again.order == r.order,
              "a replay is deterministic");
  fuzz::round_tripped();
  // From a snapshot of the first half of the lines.
  std::size_t cut = 0;
  std::size_t count = 0;
  for (std::size_t pos = 0; pos < text.size(); ++pos) {
    if (text[pos] == '\n' && ++count == (r.lines + 1) / 2) {
      cut = pos + 1;
      break;
    }
  }
  if (cut > 0) {
    ReplayResult first;
    fuzz::must("replay of a prefix does not throw", [&] { first = replay(text.substr(0, cut), options); });
    if (first.ok()) {
      ReplayResult rest;
      fuzz::must("replay_from does not throw", [&] { rest = replay_from(first.snapshot(), text.substr(cut), options); });
      if (!rest.needs_full_replay) {
        fuzz::check(rest.ok(), "a verified journal verifies from a snapshot of its prefix");
        fuzz::check(rest.state.digest() == r.state.digest() && rest.heads == r.heads,
                    "replay_from gives the state and heads of the full replay");
      }
    }
  }
  if (!r.heads.empty()) {
    ReplayResult none;
    fuzz::must("replay_from with nothing new does not throw", [&] { none = replay_from(r.snapshot(), "", options); });
    fuzz::check(none.ok() && none.state.digest() == r.state.digest() && none.heads == r.heads,
                "a snapshot continues with nothing new to itself");
  }
}

// Every line that is a JSON object with a vault id, re-hashed (parents renamed first).
std::string resealed(std::string_view text)
{
  std::map<std::string, std::string> renamed; // b64 old hash -> b64 new hash
  std::string out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    const bool terminated = end != std::string_view::npos;
    if (!terminated) {
      end = text.size();
    }
    std::string line(text.substr(pos, end - pos));
    fuzz::accepted({ErrorKind::integrity, ErrorKind::usage}, [&] {
      Json json = canonical::parse(line, "fuzz");
      if (!json.is_object() || !json.contains("vault") || !json["vault"].is_string()) {
        return;
      }
      if (json.contains("parents") && json["parents"].is_array()) {
        for (Json& p : json["parents"]) {
          if (p.is_string()) {
            const auto found = renamed.find(p.get<std::string>());
            if (found != renamed.end()) {
              p = found->second;
            }
          }
        }
      }
      const Bytes vault = canonical::unb64(json["vault"].get<std::string>(), "fuzz");
      Json body = json;
      body.erase("hash");
      body.erase("sig");
      Bytes message = vault;
      const std::string dumped = canonical::dump(body);
      message.insert(message.end(), dumped.begin(), dumped.end());
      const Hash h = crypto::hash(labels::k_entry, message);
      const std::string fresh = canonical::b64(ByteView(h.data(), h.size()));
      if (json.contains("hash") && json["hash"].is_string()) {
        renamed[json["hash"].get<std::string>()] = fresh;
      }
      json["hash"] = fresh;
      line = canonical::dump(json);
    });
    out += line;
    if (terminated) {
      out += '\n';
    }
    pos = end + 1;
  }
  return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
  fuzz::start();
  const std::string text = fuzz::text(data, size);

  const ReplayOptions plain;
  ReplayResult r;
  fuzz::must("replay does not throw", [&] { r = replay(text, plain); });
  check_result(r, text, plain);

  ReplayOptions trusting;
  trusting.signature_known = [](const Entry&, std::string_view) { return true; };
  const std::string sealed = resealed(text);
  ReplayResult s;
  fuzz::must("replay of the re-sealed journal does not throw", [&] { s = replay(sealed, trusting); });
  check_result(s, sealed, trusting);
  if (sealed == text) {
    fuzz::check(s.state.digest() == r.state.digest() || !r.ok(),
                "skipping known signatures changes nothing on a verified journal");
  }
  return 0;
}
