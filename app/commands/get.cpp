// escrow get ENV/NAME --reveal [--version N]: a value's exact bytes on stdout (journaled)
#include <commands/context.hpp>

#include <escrow/error.hpp>
#include <escrow/history/secrets.hpp>
#include <escrow/records.hpp>

#include <ostream>

namespace escrow::cli {

namespace {

struct GetOptions
{
  std::string name;
  bool reveal = false;
  std::int64_t version = 0;
};

// `text` as a JSON string, written straight to `out`: the value never passes through a
// std::string or a Json document (both would leave copies in freed memory).
void write_json_string(std::ostream& out, std::string_view text)
{
  out << '"';
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    switch (c) {
    case '"': out << "\\\""; break;
    case '\\': out << "\\\\"; break;
    case '\b': out << "\\b"; break;
    case '\f': out << "\\f"; break;
    case '\n': out << "\\n"; break;
    case '\r': out << "\\r"; break;
    case '\t': out << "\\t"; break;
    default:
      if (byte < 0x20) {
        out << fmt::format("\\u{:04x}", byte);
      } else {
        out << c;
      }
    }
  }
  out << '"';
}

void run_get(const GetOptions& options, Context& context)
{
  if (!options.reveal) {
    throw Error(ErrorKind::usage, "get: refusing to print a secret value without --reveal")
      .hint("to use a value without seeing it: escrow exec --set VAR=" + options.name + " -- COMMAND");
  }
  (void)split_secret_name(options.name); // usage errors before the session
  history::VaultSession session = context.open_v2(history::Access::read);
  const history::Revealed revealed = history::reveal(session, options.name, options.version);
  context.warn(session.warnings());
  auto& out = context.out();
  const std::string_view value = revealed.value.expose_view();
  if (context.json()) {
    // The layout of Context::emit (keys sorted, two-space indent).
    out << "{\n  \"secret\": ";
    write_json_string(out, revealed.secret);
    if (canonical::valid_utf8(value)) {
      out << ",\n  \"value\": ";
      write_json_string(out, value);
    } else {
      const SecretBytes encoded = canonical::b64_secret(revealed.value);
      out << ",\n  \"value_base64\": \"" << encoded.expose_view() << '"';
    }
    out << ",\n  \"version\": " << revealed.version << "\n}\n";
    out.flush();
    return;
  }
  out.write(value.data(), static_cast<std::streamsize>(value.size()));
  out.flush();
}

} // namespace

void setup_get(CLI::App& app, Context& context)
{
  auto options = std::make_shared<GetOptions>();
  auto* get = app.add_subcommand("get", "print a value's exact bytes to stdout (needs --reveal; journaled)");
  get->add_option("name", options->name, "ENV/NAME")->required();
  get->add_flag("--reveal", options->reveal, "yes, print the value");
  get->add_option("--version", options->version, "a version other than the current one");
  get->callback([options, &context] { run_get(*options, context); });
}

} // namespace escrow::cli
