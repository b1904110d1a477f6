// tls-pin: the public-key pin of a certificate, as clients, relays
// (--upstream-tls-pin) and the bindings take it (docs/tls.md "Pinning").
// Touches no store.
#include <iostream>

#include "admin/cli.h"
#include "admin/format.h"
#include "postbox/sync/tls.h"

namespace postbox::admin {

namespace {

Status Pin(const Context& ctx, const std::string& file) {
  POSTBOX_ASSIGN_OR_RETURN(std::string p, sync::TlsPublicKeyPin(file));
  if (ctx.json()) {
    ctx.EmitJson({{"pin", p}});
  } else {
    std::cout << p << "\n";
  }
  return Status::Ok();
}

}  // namespace

void AddTlsCommands(CLI::App* app, Selected* selected) {
  auto file = std::make_shared<std::string>();
  CLI::App* pin = app->add_subcommand(
      "tls-pin", "Print the pin (sha256/BASE64 of its public key) of a PEM certificate");
  pin->add_option("cert", *file, "PEM file; its first certificate is pinned")->required();
  // It reads only the file: --data and --server are not used.
  OnSelected(
      pin, selected, [file](const Context& ctx) { return Pin(ctx, *file); }, Target::kNeither);
}

}  // namespace postbox::admin
