#include <escrow/canonical.hpp>
#include <escrow/history/material.hpp>
#include <escrow/seal_into.hpp>
#include <escrow/shamir.hpp>

#include <algorithm>
#include <set>

namespace escrow::history {

namespace {

// label || 0x00 || vault_id || ENV/NAME || 0x00 — the start of every v2 context of a secret.
Bytes context(std::string_view label, const SecretRef& ref)
{
  Bytes out;
  out.reserve(label.size() + 1 + ref.vault_id.size() + ref.secret.size() + 1 + 16);
  out.insert(out.end(), label.begin(), label.end());
  out.push_back(0);
  out.insert(out.end(), ref.vault_id.begin(), ref.vault_id.end());
  out.insert(out.end(), ref.secret.begin(), ref.secret.end());
  out.push_back(0);
  return out;
}

void append_decimal(Bytes& out, std::uint32_t number)
{
  const std::string text = std::to_string(number);
  out.insert(out.end(), text.begin(), text.end());
}

std::string where(const KeysFile& keys, const SecretRef& ref, const Vid& vid)
{
  return fmt::format("{}: {} version {}", keys.what(), ref.secret, vid.hex());
}

void check_key_size(const SecretBytes& key, std::string_view which)
{
  if (key.size() != crypto::k_key_size) {
    fail(ErrorKind::failed, "internal error: {} has the wrong size", which);
  }
}

void check_generation(std::uint32_t gen)
{
  if (gen == 0 || gen > k_max_line_generation) {
    fail(ErrorKind::failed, "internal error: generation {} is out of range", gen);
  }
}

// The v line's parts: nonce(24) ‖ dk_nonce(24) ‖ dk_box(48) ‖ ciphertext(len + 16).
struct ValueParts
{
  ByteView nonce;
  ByteView dk_nonce;
  ByteView dk_box;
  ByteView ciphertext;
};
ValueParts split_value(const SealedLine& line)
{
  // The keys file checked the size (at least 112 bytes).
  const ByteView raw(line.raw);
  constexpr std::size_t n = crypto::k_nonce_size;
  constexpr std::size_t box = crypto::k_key_size + crypto::k_tag_size;
  return {raw.subspan(0, n), raw.subspan(n, n), raw.subspan(2 * n, box), raw.subspan(2 * n + box)};
}

bool matches(const Commit& expected, const Commit& actual)
{
  return crypto::equal(expected, actual);
}

// A decoded share of a 32-byte data key; KeyError(corrupted) for anything else.
shamir::Share decode_share(const SecretBytes& opened, const std::string& context_text)
{
  shamir::Share share;
  try {
    share = shamir::decode(opened.expose());
  } catch (const Error&) {
    throw KeyError(KeyFailure::corrupted, fmt::format("{}: is not a share of a data key (written corrupted)", context_text));
  }
  if (share.y.size() != crypto::k_key_size) {
    throw KeyError(KeyFailure::corrupted, fmt::format("{}: is not a share of a data key (written corrupted)", context_text));
  }
  return share;
}

// The two ways a reader key line fails to give the generation's key (open_reader_key*).
KeyError reader_key_error(KeyFailure failure, std::string_view keys_what, const SecretRef& ref,
                          const GenerationRef& generation, const Identity& identity)
{
  const std::string& me = identity.pub.name;
  if (failure == KeyFailure::wrong_key) {
    return KeyError(failure, fmt::format("{}: {} generation {}: the reader key sealed to {} does not open with this "
                                         "identity (wrong key)",
                                         keys_what, ref.secret, generation.gen, me));
  }
  return KeyError(failure, fmt::format("{}: {} generation {}: the reader key sealed to {} fails the reader key "
                                       "commitment (forged by a writer)",
                                       keys_what, ref.secret, generation.gen, me));
}

} // namespace

Commit dk_commit(const SecretBytes& data_key)
{
  check_key_size(data_key, "a data key");
  return crypto::keyed_hash(data_key.expose(), k_dk_commit_label);
}

Commit rk_commit(const SecretRef& ref, std::uint32_t gen, const SecretBytes& reader_key)
{
  check_key_size(reader_key, "a reader key");
  Bytes data = context(k_rk_commit_label, ref);
  append_decimal(data, gen);
  return crypto::keyed_hash(reader_key.expose(),
                            std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
}

Bytes value_ad(const SecretRef& ref, const Vid& vid)
{
  Bytes ad = context(k_value_label, ref);
  ad.insert(ad.end(), vid.bytes.begin(), vid.bytes.end());
  return ad;
}

Bytes dk_box_ad(const SecretRef& ref, const Vid& vid, std::uint32_t gen)
{
  Bytes ad = context(k_dk_box_label, ref);
  ad.insert(ad.end(), vid.bytes.begin(), vid.bytes.end());
  append_decimal(ad, gen);
  return ad;
}

// --- sealing -----------------------------------------------------------------------------------

ReaderKey new_generation(const SecretRef& ref, std::uint32_t gen)
{
  return known_generation(ref, gen, crypto::random_secret(crypto::k_key_size));
}

ReaderKey known_generation(const SecretRef& ref, std::uint32_t gen, SecretBytes reader_key)
{
  check_generation(gen);
  ReaderKey out;
  out.gen = gen;
  out.commit = rk_commit(ref, gen, reader_key);
  out.reader_key = std::move(reader_key);
  return out;
}

SealedLine seal_reader_key(const SecretRef& ref, const ReaderKey& generation, const Recipient& member)
{
  check_generation(generation.gen);
  check_key_size(generation.reader_key, "a reader key");
  return SealedLine::make(LineName::reader_key(ref.secret, generation.gen, member.name),
                       crypto::seal(generation.reader_key.expose(), member.box_pk));
}

SealedVersion seal_value(const SecretRef& ref, const ReaderKey& generation, const SecretBytes& value)
{
  return seal_value(ref, generation, value, Vid::random());
}

SealedVersion seal_value(const SecretRef& ref, const ReaderKey& generation, const SecretBytes& value, const Vid& vid)
{
  if (value.size() > k_max_value_size) {
    fail(ErrorKind::usage, "{}: the value is {} bytes; the limit is {}", ref.secret, value.size(), k_max_value_size);
  }
  check_generation(generation.gen);
  check_key_size(generation.reader_key, "a reader key");
  SealedVersion out;
  out.vid = vid;
  out.gen = generation.gen;
  out.data_key = crypto::random_secret(crypto::k_key_size);
  out.commit = dk_commit(out.data_key);
  const crypto::Sealed body = crypto::aead_encrypt(value.expose(), value_ad(ref, vid), out.data_key);
  const crypto::Sealed box = crypto::aead_encrypt(out.data_key.expose(), dk_box_ad(ref, vid, generation.gen),
                                                  generation.reader_key);
  Bytes raw;
  raw.reserve(body.nonce.size() + box.nonce.size() + box.ciphertext.size() + body.ciphertext.size());
  raw.insert(raw.end(), body.nonce.begin(), body.nonce.end());
  raw.insert(raw.end(), box.nonce.begin(), box.nonce.end());
  raw.insert(raw.end(), box.ciphertext.begin(), box.ciphertext.end());
  raw.insert(raw.end(), body.ciphertext.begin(), body.ciphertext.end());
  out.value_line = SealedLine::make(LineName::value(ref.secret, vid), std::move(raw));
  return out;
}

std::vector<SealedLine> seal_shares(const SecretRef& ref,
                                 const Vid& vid,
                                 const SecretBytes& data_key,
                                 unsigned threshold,
                                 std::span<const Recipient> custodians)
{
  check_key_size(data_key, "a data key");
  std::set<std::string> names;
  for (const Recipient& custodian : custodians) {
    if (!names.insert(custodian.name).second) {
      fail(ErrorKind::failed, "internal error: custodian {} listed twice", custodian.name);
    }
  }
  const auto shares = shamir::split(data_key, threshold, static_cast<unsigned>(custodians.size()));
  std::vector<SealedLine> lines;
  lines.reserve(shares.size());
  for (std::size_t i = 0; i < shares.size(); ++i) {
    const SecretBytes encoded = shamir::encode(shares[i]);
    lines.push_back(SealedLine::make(LineName::share(ref.secret, vid, custodians[i].name),
                                  crypto::seal(encoded.expose(), custodians[i].box_pk)));
  }
  return lines;
}

SealedLine seal_grant(const SecretRef& ref, const Vid& vid, const SecretBytes& data_key, const Recipient& member)
{
  check_key_size(data_key, "a data key");
  return SealedLine::make(LineName::grant(ref.secret, vid, member.name), crypto::seal(data_key.expose(), member.box_pk));
}

SealedLine seal_approval(const SecretRef& ref,
                      const Vid& vid,
                      std::string_view request,
                      std::string_view approver,
                      const SecretBytes& share,
                      const Recipient& requester)
{
  (void)decode_share(share, fmt::format("{} version {}: the share of {}", ref.secret, vid.hex(), approver));
  return SealedLine::make(LineName::approval(ref.secret, vid, std::string(request), std::string(approver)),
                       crypto::seal(share.expose(), requester.box_pk));
}

// --- opening -----------------------------------------------------------------------------------

SecretBytes open_reader_key(const KeysFile& keys,
                            const SecretRef& ref,
                            const GenerationRef& generation,
                            const LineHash& holder_line,
                            const Identity& identity)
{
  const SealedLine line = keys.get(LineName::reader_key(ref.secret, generation.gen, identity.pub.name), holder_line);
  return open_reader_key(line, keys.what(), ref, generation, identity);
}

SecretBytes open_reader_key(const SealedLine& line,
                            std::string_view keys_what,
                            const SecretRef& ref,
                            const GenerationRef& generation,
                            const Identity& identity)
{
  auto opened = identity.seal_open(line.raw);
  if (!opened) {
    throw reader_key_error(KeyFailure::wrong_key, keys_what, ref, generation, identity);
  }
  if (opened->size() != crypto::k_key_size || !matches(generation.rk_commit, rk_commit(ref, generation.gen, *opened))) {
    throw reader_key_error(KeyFailure::commitment, keys_what, ref, generation, identity);
  }
  return std::move(*opened);
}

void open_reader_key_into(const SealedLine& line,
                          std::string_view keys_what,
                          const SecretRef& ref,
                          const GenerationRef& generation,
                          const Identity& identity,
                          ReaderKey& out)
{
  check_generation(generation.gen);
  if (line.raw.size() != crypto::k_key_size + crypto::k_seal_overhead) {
    // Not a sealed 32-byte key: the one-key path judges it (wrong key, or a key of another size
    // that fails the commitment), so the error is the same.
    (void)open_reader_key(line, keys_what, ref, generation, identity);
    fail(ErrorKind::failed, "internal error: a {}-byte box opened as a reader key", line.raw.size());
  }
  if (out.reader_key.size() != crypto::k_key_size) {
    out.reader_key = SecretBytes(crypto::k_key_size);
  }
  if (!seal_open_into(identity, line.raw, out.reader_key)) {
    throw reader_key_error(KeyFailure::wrong_key, keys_what, ref, generation, identity);
  }
  if (!matches(generation.rk_commit, rk_commit(ref, generation.gen, out.reader_key))) {
    throw reader_key_error(KeyFailure::commitment, keys_what, ref, generation, identity);
  }
  out.gen = generation.gen;
  out.commit = generation.rk_commit;
}

SecretBytes open_data_key(const KeysFile& keys, const SecretRef& ref, const VersionRef& version, const SecretBytes& reader_key)
{
  check_key_size(reader_key, "a reader key");
  const SealedLine line = keys.get(LineName::value(ref.secret, version.vid), version.material);
  const ValueParts parts = split_value(line);
  auto data_key = crypto::aead_decrypt(parts.dk_nonce, parts.dk_box, dk_box_ad(ref, version.vid, version.gen), reader_key);
  if (!data_key) {
    throw KeyError(KeyFailure::corrupted,
                   fmt::format("{}: its data key box does not open under the reader key of generation {} "
                               "(written corrupted or under another key)",
                               where(keys, ref, version.vid), version.gen));
  }
  if (!matches(version.dk_commit, dk_commit(*data_key))) {
    throw KeyError(KeyFailure::commitment,
                   fmt::format("{}: the data key in its box fails the data key commitment (forged by a writer)",
                               where(keys, ref, version.vid)));
  }
  return std::move(*data_key);
}

SecretBytes open_as_reader(const KeysFile& keys,
                           const SecretRef& ref,
                           const VersionRef& version,
                           const GenerationRef& generation,
                           const LineHash& holder_line,
                           const Identity& identity)
{
  if (generation.gen != version.gen) {
    fail(ErrorKind::failed, "internal error: {} version {} is under generation {}, not {}", ref.secret,
         version.vid.hex(), version.gen, generation.gen);
  }
  const SecretBytes reader_key = open_reader_key(keys, ref, generation, holder_line, identity);
  return open_data_key(keys, ref, version, reader_key);
}

SecretBytes open_grant(const KeysFile& keys, const SecretRef& ref, const VersionRef& version, const LineHash& grant_line,
                       const Identity& identity)
{
  const std::string& me = identity.pub.name;
  const SealedLine line = keys.get(LineName::grant(ref.secret, version.vid, me), grant_line);
  const std::string context_text = fmt::format("{}: the data key granted to {}", where(keys, ref, version.vid), me);
  auto opened = identity.seal_open(line.raw);
  if (!opened) {
    throw KeyError(KeyFailure::wrong_key, fmt::format("{} does not open with this identity (wrong key)", context_text));
  }
  if (opened->size() != crypto::k_key_size || !matches(version.dk_commit, dk_commit(*opened))) {
    throw KeyError(KeyFailure::commitment,
                   fmt::format("{} fails the data key commitment (forged by a writer)", context_text));
  }
  return std::move(*opened);
}

SecretBytes open_own_share(const KeysFile& keys, const SecretRef& ref, const VersionRef& version,
                           const LineHash& share_line, const Identity& identity)
{
  const std::string& me = identity.pub.name;
  const SealedLine line = keys.get(LineName::share(ref.secret, version.vid, me), share_line);
  const std::string context_text = fmt::format("{}: the share sealed to {}", where(keys, ref, version.vid), me);
  auto opened = identity.seal_open(line.raw);
  if (!opened) {
    throw KeyError(KeyFailure::wrong_key, fmt::format("{} does not open with this identity (wrong key)", context_text));
  }
  (void)decode_share(*opened, context_text);
  return std::move(*opened);
}

SecretBytes open_approvals(const KeysFile& keys,
                           const SecretRef& ref,
                           const VersionRef& version,
                           std::string_view request,
                           std::span<const ApprovalRef> approvals,
                           unsigned threshold,
                           const Identity& identity)
{
  const std::string& me = identity.pub.name;
  if (threshold == 0 || approvals.size() < threshold) {
    fail(ErrorKind::access, "{}: request {} has {} of {} approvals", where(keys, ref, version.vid), request,
         approvals.size(), threshold);
  }
  std::set<std::string> approvers;
  std::vector<shamir::Share> shares;
  shares.reserve(approvals.size());
  std::string misdirected; // the first approval that does not open for this identity
  std::string misdirected_context;
  for (std::size_t i = 0; i < approvals.size(); ++i) {
    const ApprovalRef& approval = approvals[i];
    if (!approvers.insert(approval.approver).second) {
      fail(ErrorKind::failed, "internal error: approver {} counted twice", approval.approver);
    }
    const SealedLine line = keys.get(LineName::approval(ref.secret, version.vid, std::string(request), approval.approver),
                                  approval.line);
    const std::string context_text =
      fmt::format("{}: the share approved by {} for {}", where(keys, ref, version.vid), approval.approver, me);
    auto opened = identity.seal_open(line.raw);
    if (!opened) {
      if (misdirected.empty()) {
        misdirected = approval.approver;
        misdirected_context = context_text;
      }
      continue;
    }
    shares.push_back(decode_share(*opened, context_text));
  }
  if (!misdirected.empty()) {
    // None opens: this identity is not the requester's key. One opens and another does not: its
    // approver sealed it to someone else (whatever the order the approvals are counted in).
    if (shares.empty()) {
      throw KeyError(KeyFailure::wrong_key,
                     fmt::format("{} does not open with this identity (wrong key)", misdirected_context));
    }
    throw KeyError(KeyFailure::commitment,
                   fmt::format("{} is not sealed to the requester (misdirected by its approver)", misdirected_context));
  }
  SecretBytes data_key;
  try {
    data_key = shamir::combine(shares);
  } catch (const Error&) {
    throw KeyError(KeyFailure::corrupted,
                   fmt::format("{}: the approved shares of request {} do not combine (two are the same share)",
                               where(keys, ref, version.vid), request));
  }
  if (!matches(version.dk_commit, dk_commit(data_key))) {
    throw KeyError(KeyFailure::commitment,
                   fmt::format("{}: the approved shares of request {} do not rebuild the data key (a forged share)",
                               where(keys, ref, version.vid), request));
  }
  return data_key;
}

SecretBytes decrypt_value(const KeysFile& keys, const SecretRef& ref, const VersionRef& version, const SecretBytes& data_key)
{
  check_key_size(data_key, "a data key");
  if (!matches(version.dk_commit, dk_commit(data_key))) {
    throw KeyError(KeyFailure::commitment, fmt::format("{}: the data key fails its commitment (forged by a writer)",
                                                       where(keys, ref, version.vid)));
  }
  const SealedLine line = keys.get(LineName::value(ref.secret, version.vid), version.material);
  const ValueParts parts = split_value(line);
  auto value = crypto::aead_decrypt(parts.nonce, parts.ciphertext, value_ad(ref, version.vid), data_key);
  if (!value) {
    throw KeyError(KeyFailure::corrupted,
                   fmt::format("{}: the ciphertext does not decrypt under its committed data key (corrupted)",
                               where(keys, ref, version.vid)));
  }
  return std::move(*value);
}

} // namespace escrow::history
