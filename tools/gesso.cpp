// gesso.cpp: the `gesso` command line (subcommands added as the applications land).
#include <CLI/CLI.hpp>
#include <cstdio>
#include "autograd/ops.h"

int main(int argc, char** argv) {
  CLI::App app{"gesso: a deep learning engine for GANs and neural style transfer"};
  app.require_subcommand(1);
  CLI11_PARSE(app, argc, argv);
  return 0;
}
