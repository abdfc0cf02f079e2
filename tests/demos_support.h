// What the demo tests share: running a registered program with a trace, and
// reading its report.
#pragma once

#include <algorithm>

#include "tests/support.h"
#include "userland/programs/builtin.h"

namespace mt {

inline machsim::RunReport run_program(const char* name, machsim::TraceLog& log, machsim::Config cfg = {}) {
    const machsim::Program* p = machsim::find_program(name);
    REQUIRE(p != nullptr);
    return run_kernel(p->setup, cfg, &log);
}

// Every ordinary task returned 0 from its body.
inline bool all_exited_zero(const machsim::RunReport& r) {
    return std::all_of(r.tasks.begin(), r.tasks.end(), [](const machsim::TaskReport& t) {
        return t.daemon || (t.end == machsim::TaskEnd::Exited && t.exit_code == 0);
    });
}

// The id of the task named `name`, or 0.
inline uint32_t task_id(const machsim::RunReport& r, const char* name) {
    const machsim::TaskReport* t = r.task(name);
    return t ? t->id : 0;
}

}  // namespace mt
