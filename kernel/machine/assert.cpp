#include "kernel/machine/assert.h"

#include <cstdio>
#include <cstdlib>

namespace machsim::machine {

void assert_failed(const char* cond, const char* file, int line, const std::string& why) {
    std::fprintf(stderr, "machsim: kernel invariant broken at %s:%d: %s\n  %s\n", file, line, cond,
                 why.c_str());
    std::fflush(stderr);
    std::abort();
}

}  // namespace machsim::machine
