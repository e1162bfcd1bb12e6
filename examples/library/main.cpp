// escrow-inventory: prints a vault's inventory as CSV (name,env,owner,purpose,current version)
// using escrow's library. It verifies what it reads exactly as the CLI does.
//   escrow-inventory [VAULT]   (identity from ESCROW_IDENTITY / ESCROW_IDENTITY_DATA)
#include <escrow/crypto.hpp>
#include <escrow/error.hpp>
#include <escrow/session.hpp>

#include <iostream>

int main(int argc, char* argv[])
{
  try {
    escrow::crypto::init();
    auto options = escrow::SessionOptions::from_environment();
    if (argc > 1) {
      options.vault_path = argv[1];
    }
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
