// escrow-inventory: prints a vault's inventory as CSV (name,env,owner,purpose,current version)
// using escrow's library. It verifies what it reads exactly as the CLI does (the journal replayed,
// or continued from this machine's verified cache); the inventory is public to every holder of
// the repository, so no identity is unlocked.
//   escrow-inventory [VAULT]
#include <escrow/error.hpp>
#include <escrow/history/vault_session.hpp>
#include <escrow/session_options.hpp> // init_library

#include <cstdlib>
#include <iostream>

int main(int argc, char* argv[])
{
  try {
    escrow::init_library();
    // The library reads no environment: a program passes what it wants in the options.
    escrow::history::VaultSessionOptions options;
    options.vault_path = argc > 1 ? argv[1] : "escrow.vault";
    const char* state = std::getenv("XDG_STATE_HOME");
    const char* home = std::getenv("HOME");
    options.state_home = state != nullptr && *state != '\0'
                           ? std::filesystem::path(state)
                           : std::filesystem::path(home != nullptr ? home : ".") / ".local/state";
    options.clock = escrow::Clock::from_setting("");
    const auto session = escrow::history::VaultSession::open(options, escrow::history::Access::read);
    std::cout << "name,env,owner,purpose,version\n";
    for (const auto& [name, secret] : session.state().secrets) {
      const auto* current = secret->find_state(escrow::VersionState::current);
      std::cout << name << ',' << secret->env << ',' << secret->owner << ",\"" << secret->purpose << "\","
                << (current != nullptr ? current->v : 0) << '\n';
    }
    return 0;
  } catch (const escrow::Error& error) {
    std::cerr << "escrow-inventory: error: " << error.what() << '\n';
    return error.exit_code();
  }
}
