// tls-pin: the public-key pin of a certificate, as clients, relays
// (--upstream-tls-pin) and the bindings take it (docs/tls.md "Pinning").
// Touches no store.
#include <iostream>

#include "admin/cli.h"
#include "admin/format.h"
#include "postbox/sync/tls.h"

namespace postbox::admin {

void AddTlsCommands(CLI::App* app, Command* selected) {
  auto file = std::make_shared<std::string>();
  CLI::App* pin = app->add_subcommand(
      "tls-pin", "Print the pin (sha256/BASE64 of its public key) of a PEM certificate");
  pin->add_option("cert", *file, "PEM file; its first certificate is pinned")->required();
  OnSelected(pin, selected, [file](const Context& ctx) -> Status {
    POSTBOX_ASSIGN_OR_RETURN(std::string p, sync::TlsPublicKeyPin(*file));
    if (ctx.json()) {
      ctx.EmitJson({{"pin", p}});
    } else {
      std::cout << p << "\n";
    }
    return Status::Ok();
  });
}

}  // namespace postbox::admin
