// TCP_NODELAY for the sockets Paho opens and never exposes (see tcp_nodelay.cpp for why).
#pragma once

namespace t2m::mqtt {

// Loop thread, after each broker connect: gives TCP_NODELAY to every open TCP socket of the process that
// lacks it. Returns how many sockets it changed.
int set_nodelay_on_tcp_sockets();

}  // namespace t2m::mqtt
