// escrow-inventory: prints a vault's inventory as CSV (name,env,owner,purpose,current version)
// using escrow's library. It verifies what it reads exactly as the CLI does.
//   escrow-inventory [VAULT]   (identity from ESCROW_IDENTITY / ESCROW_IDENTITY_DATA)
#include <escrow/error.hpp>
#include <escrow/session.hpp>

#include <cstdlib>
#include <iostream>

int main(int argc, char* argv[])
{
  try {
    escrow::init_library();
    // The library reads no environment: a program passes what it wants in SessionOptions.
    escrow::SessionOptions options;
    options.vault_path = argc > 1 ? argv[1] : "escrow.vault";
    if (const char* data = std::getenv("ESCROW_IDENTITY_DATA"); data != nullptr && *data != '\0') {
      options.identity_data = escrow::SecretBytes::from(data);
    } else if (const char* path = std::getenv("ESCROW_IDENTITY"); path != nullptr && *path != '\0') {
      options.identity_path = path;
    } else {
      std::cerr << "escrow-inventory: error: set ESCROW_IDENTITY or ESCROW_IDENTITY_DATA\n";
      return 2;
    }
    const char* home = std::getenv("HOME");
    options.state_dir = std::string(home != nullptr ? home : ".") + "/.local/state/escrow";
    options.clock = escrow::Clock::from_setting("");
    auto session = escrow::Session::open(options, escrow::Mode::read);
    std::cout << "name,env,owner,purpose,version\n";
    for (const auto& name : session.vault().secret_names()) {
      const auto& secret = session.vault().secret(name);
      const auto* current = secret.current();
      std::cout << name << ',' << secret.env << ',' << secret.owner << ",\"" << secret.purpose << "\","
                << (current != nullptr ? current->v : 0) << '\n';
    }
    return 0;
  } catch (const escrow::Error& error) {
    std::cerr << "escrow-inventory: error: " << error.what() << '\n';
    return error.exit_code();
  }
}
