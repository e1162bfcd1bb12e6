// The named attack classes of vault-2-plan.md §1.3 that need neither git nor the CLI.
#include "expected.hpp"
#include "insider_support.hpp"

using namespace insider;
