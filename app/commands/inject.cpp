// escrow inject -i TEMPLATE [-o FILE]
#include <commands/context.hpp>

#include <escrow/history/secrets.hpp>
#include <escrow/references.hpp>

namespace escrow::cli {

namespace {

struct InjectOptions
{
  std::string input;
  std::string output;
};

void run_inject(const InjectOptions& options, Context& context)
{
  history::VaultSession session = context.open_v2(history::Access::read);
  SecretBytes rendered;
  const InjectResult result = history::inject(session, options.input, options.output, &rendered);
  context.warn(session.warnings());
  Json secrets = Json::array();
  for (const auto& [name, version] : result.secrets) {
    secrets.push_back(Json{{"secret", name}, {"version", version}});
  }
  if (options.output.empty()) {
    if (context.json()) {
      Json document{{"template", options.input}, {"output", "-"}, {"references", result.references}, {"secrets", secrets}};
      if (canonical::valid_utf8(rendered.expose_view())) {
        document["text"] = std::string(rendered.expose_view());
      } else {
        document["text_base64"] = canonical::b64(rendered.expose());
      }
      context.emit(document);
      return;
    }
    context.out().write(rendered.expose_view().data(), static_cast<std::streamsize>(rendered.size()));
    context.out().flush();
    return;
  }
  context.emit_or_say(Json{{"template", options.input},
                           {"output", options.output},
                           {"references", result.references},
                           {"secrets", secrets}},
                      fmt::format("wrote {} (mode 0600): {} reference(s) to {} secret(s) resolved", options.output,
                                  result.references, result.secrets.size()));
}

} // namespace

void setup_inject(CLI::App& app, Context& context)
{
  auto options = std::make_shared<InjectOptions>();
  auto* inject = app.add_subcommand(
    "inject", "copy a template, replacing escrow://ENV/NAME[@vN] references with values (journaled)");
  inject->add_option("-i,--in", options->input, "the template (any text file; it holds references, not values)")
    ->required();
  inject->add_option("-o,--out", options->output,
                     "the file to write (mode 0600, atomically; never through a symlink); default: stdout");
  inject->footer("Unknown secret or version: exit 2; no access: exit 4; either way nothing is written.\n"
                 "Each secret read is journaled as a reveal into the output. See docs/DAILY.md.");
  inject->callback([options, &context] { run_inject(*options, context); });
}

} // namespace escrow::cli
