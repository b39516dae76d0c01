#include "gateway/cli.h"

int main(int argc, char** argv) {
  return t2m::gw::cli_main(argc, argv);
}
