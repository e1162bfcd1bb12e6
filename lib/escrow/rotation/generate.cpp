// The new value: generated at random, or printed by an external generator command straight into
// locked memory (its output redacted; the engine journals a failure).
#include <escrow/error.hpp>
#include <escrow/generator.hpp>
#include <escrow/history/keys_file.hpp>
#include <escrow/redact.hpp>
#include <escrow/rotation/outcome.hpp>
#include <escrow/util/process.hpp>

#include <memory>

namespace escrow::rotation {

using history::k_max_value_size;

Generated run_generator(const GeneratorSpec& spec, const std::string& secret, const std::string& env, std::int64_t v)
{
  Generated result;
  if (spec.command.empty()) {
    result.value = generate_random(spec);
    return result;
  }
  // An external command prints the value (a credential minted by a provider). Its stdout is
  // collected straight into locked memory; its stderr is kept only redacted.
  struct Collected
  {
    SecretBytes out;
    SecretBytes err;
    bool overflow = false;
  };
  auto collected = std::make_shared<Collected>();
  const auto append = [](SecretBytes& into, std::string_view chunk, std::size_t limit, bool& overflow) {
    if (into.size() + chunk.size() > limit) {
      overflow = true;
      chunk = chunk.substr(0, limit > into.size() ? limit - into.size() : 0);
    }
    const std::size_t at = into.size();
    into.resize(at + chunk.size());
    std::copy(chunk.begin(), chunk.end(), into.expose_mut().begin() + static_cast<std::ptrdiff_t>(at));
  };
  util::ProcessSpec process;
  process.argv = util::shell_argv(spec.command);
  process.extra_env = connector::scrubbed_environment();
  process.extra_env.insert(process.extra_env.end(), {{"ESCROW_SECRET_NAME", secret},
                                                     {"ESCROW_ENV", env},
                                                     {"ESCROW_VERSION", std::to_string(v)}});
  process.timeout = std::chrono::seconds(120);
  process.kill_grace = std::chrono::milliseconds(1000);
  process.filter = [collected, append](std::string_view chunk, bool is_stderr) {
    bool ignored = false;
    if (is_stderr) {
      append(collected->err, chunk, 4096, ignored);
    } else {
      append(collected->out, chunk, k_max_value_size + 2, collected->overflow);
    }
    return std::string();
  };
  const util::ProcessResult run = util::run_process(process);
  SecretBytes value = std::move(collected->out);
  if (!value.empty() && value.expose_view().back() == '\n') {
    value.resize(value.size() - 1);
  }
  Redactor redactor;
  redactor.add(label(secret, v), value);
  result.said = connector::one_line(redactor.redact_all(collected->err.expose_view()), connector::k_message_output);
  if (run.timed_out) {
    result.problem = "timed out after 120s";
  } else if (run.exit_code != 0) {
    result.problem = fmt::format("exit {}", run.exit_code);
  } else if (collected->overflow || value.size() > k_max_value_size) {
    result.problem = fmt::format("printed more than {} bytes", k_max_value_size);
  } else if (value.empty()) {
    result.problem = "printed nothing";
  }
  if (result.problem.empty()) {
    result.value = std::move(value);
  }
  return result;
}

} // namespace escrow::rotation
