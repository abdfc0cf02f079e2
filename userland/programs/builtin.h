// The demo programs that ship with machsim.
#pragma once

#include <vector>

#include "machsim.h"

namespace machsim::demos {

Program echo_program();      // RPC echo server and client over the bootstrap server
Program prodcons_program();  // producer/consumer with a port's queue as the bounded buffer

inline std::vector<Program> builtin() { return {echo_program(), prodcons_program()}; }

}  // namespace machsim::demos
