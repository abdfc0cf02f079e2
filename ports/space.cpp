#include "ports/space.h"

#include <algorithm>

#include "ports/env.h"
#include "ports/rights.h"

namespace machsim::ipc {

IpcSpace::IpcSpace(Env& env, uint32_t task_id, machine::AddressSpace* vm)
    : env_(env), task_id_(task_id), vm_(vm), table_(1), max_names_(env.max_names) {}

IpcSpace::~IpcSpace() { MS_ASSERT(count_ == 0, "space of task {} destroyed with {} names", task_id_, count_); }

Entry* IpcSpace::lookup_sparse(mach_port_name_t name) {
    auto it = sparse_.find(name);
    return it == sparse_.end() ? nullptr : &it->second;
}

void IpcSpace::make_dead(mach_port_name_t name, Entry& e) { right_became_dead(*this, name, e); }

Entry* IpcSpace::allocate_slow(mach_port_name_t& name) {
    if (full()) return nullptr;
    uint32_t idx;
    for (;;) {
        if (!free_.empty()) {
            idx = free_.back();
            free_.pop_back();
        } else {
            idx = static_cast<uint32_t>(table_.size());
            if (idx >= (1u << 24)) return nullptr;
            table_.emplace_back();
        }
        // A name the task chose (allocate_named) for another generation of this slot,
        // while the slot was in use, lives in sparse_: the slot's next name skips it.
        // A slot whose every generation is taken there is not used again.
        int tries = 0;
        while (sparse_.count((idx << 8) | table_[idx].gen) && ++tries < 64)
            table_[idx].gen = next_generation(table_[idx].gen);
        if (tries < 64) break;
    }
    Entry& e = table_[idx];
    e.used = true;
    name = (idx << 8) | e.gen;
    ++count_;
    return &e;
}

kern_return_t IpcSpace::allocate_named(mach_port_name_t name, Entry*& out) {
    if (!MACH_PORT_VALID(name)) return KERN_INVALID_VALUE;
    if (lookup(name)) return KERN_NAME_EXISTS;
    if (full()) return KERN_NO_SPACE;
    uint32_t idx = name >> 8;
    uint8_t gen = name & 0xff;
    if (idx != 0 && idx < env_.max_names) {
        while (table_.size() <= idx) {  // grow; the new slots are free
            free_.insert(free_.begin(), static_cast<uint32_t>(table_.size()));
            table_.emplace_back();
        }
        auto f = std::find(free_.begin(), free_.end(), idx);
        if (f != free_.end()) {
            free_.erase(f);
            table_[idx].gen = gen;
            table_[idx].used = true;
            ++count_;
            out = &table_[idx];
            return KERN_SUCCESS;
        }
    }
    out = &sparse_[name];
    ++count_;
    return KERN_SUCCESS;
}

void IpcSpace::release_sparse(mach_port_name_t name) {
    auto it = sparse_.find(name);
    MS_ASSERT(it != sparse_.end() && it->second.type == 0, "releasing name {:#x} that is not free to go", name);
    sparse_.erase(it);
    --count_;
}

std::vector<mach_port_name_t> IpcSpace::names() const {
    std::vector<mach_port_name_t> out;
    out.reserve(count_);
    for (uint32_t i = 1; i < table_.size(); ++i)
        if (table_[i].type != 0) out.push_back((i << 8) | table_[i].gen);
    for (const auto& [n, e] : sparse_)
        if (e.type != 0) out.push_back(n);
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace machsim::ipc
