/*
 * gesso.cpp: the `gesso` command line. Each subcommand lives in its own
 * file of tools/ and registers itself here; errors from the engine become
 * one clear line on stderr and exit status 1.
 */
#include <cstdio>
#include <exception>

#include "tensor/error.h"
#include "tools/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"gesso: a deep learning engine for GANs and neural style transfer"};
  app.require_subcommand(1);
  gesso::tools::add_info_command(app);
  gesso::tools::add_demo_command(app);
  gesso::tools::add_gan_command(app);
  gesso::tools::add_style_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gesso: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
