#include <commands/context.hpp>

namespace escrow::cli {

void setup_escrow(CLI::App& app, Context& context)
{
  (void)app;
  (void)context;
}

} // namespace escrow::cli
