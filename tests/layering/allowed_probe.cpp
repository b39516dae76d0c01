// Compiles: a target that links t2m::cloud sees cloud/ and what cloud links (common, protocol, mqtt).
#include "cloud/openapi.h"
#include "common/result.h"
#include "mqtt/client.h"
#include "protocol/frame.h"

int t2m_layering_allowed_probe() {
  return 0;
}
