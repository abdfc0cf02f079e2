// The named programs the `machsim` command can run: built-in demos first, then
// whatever the embedding program registers.
#include <algorithm>

#include "machsim.h"
#include "userland/programs/builtin.h"

namespace machsim {

namespace {
std::vector<Program>& table() {
    static std::vector<Program> t;
    return t;
}
bool builtins_added = false;

void add_builtins() {
    if (builtins_added) return;
    builtins_added = true;
    std::vector<Program> builtin = demos::builtin();
    auto& t = table();
    for (auto it = builtin.rbegin(); it != builtin.rend(); ++it) {
        bool taken = std::any_of(t.begin(), t.end(), [&](const Program& p) { return p.name == it->name; });
        if (!taken) t.insert(t.begin(), std::move(*it));  // an embedder's program of the same name wins
    }
}
}  // namespace

void register_program(Program program) {
    auto& t = table();
    auto same = [&](const Program& p) { return p.name == program.name; };
    t.erase(std::remove_if(t.begin(), t.end(), same), t.end());  // a later registration replaces an earlier one
    t.push_back(std::move(program));
}

const std::vector<Program>& programs() {
    add_builtins();
    return table();
}

const Program* find_program(std::string_view name) {
    for (const Program& p : programs())
        if (p.name == name) return &p;
    return nullptr;
}

}  // namespace machsim
