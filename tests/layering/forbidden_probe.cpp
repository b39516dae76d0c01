// Must not compile: gateway/ is above cloud/, and this target links only t2m::cloud.
#include "gateway/gateway.h"

int t2m_layering_forbidden_probe() {
  return 0;
}
