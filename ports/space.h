// IpcSpace: one task's port names. A name is (index << 8 | generation), so a
// freed and reused slot gets a different name (0x103, then 0x107). Names a task
// chooses itself (mach_port_allocate_name) that do not fit the table go to a
// small side map.
#pragma once

#include <cstdint>
#include <map>
#include <unordered_map>
#include <vector>

#include "mach/port.h"
#include "ports/port.h"

namespace machsim::machine {
class AddressSpace;
}

namespace machsim::ipc {

struct Env;

struct Entry {
    IpcObject* object = nullptr;  // the port or set; null for a dead name
    mach_port_type_t type = 0;    // MACH_PORT_TYPE_* bits; 0 = unused
    uint16_t urefs = 0;           // user references of send and dead-name rights
    uint8_t gen = 3;              // generation of the name using this slot
    bool used = false;            // the slot belongs to a name (rights may still be on their way in)

    Port* port() const { return as_port(object); }
    PortSet* set() const { return as_set(object); }
    bool has(mach_port_type_t t) const { return (type & t) != 0; }
};

class IpcSpace {
public:
    IpcSpace(Env& env, uint32_t task_id, machine::AddressSpace* vm);
    ~IpcSpace();
    IpcSpace(const IpcSpace&) = delete;
    IpcSpace& operator=(const IpcSpace&) = delete;

    uint32_t task_id() const { return task_id_; }
    machine::AddressSpace* vm() const { return vm_; }
    Env& env() const { return env_; }
    bool active() const { return active_; }

    // The entry `name` denotes, or null. A send or send-once right whose port
    // has died becomes a dead name here, the first time it is looked at.
    Entry* lookup(mach_port_name_t name) {
        Entry* e = find(name);
        if (!e && !sparse_.empty()) e = lookup_sparse(name);
        if (e && (e->type & MACH_PORT_TYPE_SEND_RIGHTS) && !e->port()->active) make_dead(name, *e);
        return e;
    }
    // lookup for the fast path: the table only, and a right to a dead port stays as
    // it is (the fast path leaves those to the general one). Changes nothing.
    [[gnu::always_inline]] Entry* find(mach_port_name_t name) {
        uint32_t idx = name >> 8;
        if (idx >= table_.size()) return nullptr;
        Entry* e = &table_[idx];
        return e->type != 0 && e->gen == (name & 0xff) ? e : nullptr;
    }

    // A fresh name with an empty entry, or null when the space is full.
    Entry* allocate(mach_port_name_t& name) {
        // sparse_ may hold a name for a slot's next generation: allocate_slow skips those.
        if (__builtin_expect(free_.empty() || full() || !sparse_.empty(), 0))
            return allocate_slow(name);
        uint32_t idx = free_.back();
        free_.pop_back();
        Entry& e = table_[idx];
        e.used = true;
        name = (idx << 8) | e.gen;
        ++count_;
        return &e;
    }
    // The entry for a name the task chose: KERN_SUCCESS, KERN_INVALID_VALUE,
    // KERN_NAME_EXISTS or KERN_NO_SPACE.
    kern_return_t allocate_named(mach_port_name_t name, Entry*& out);
    // Returns a name whose entry holds nothing any more to the free pool. Forced
    // inline: the fast path releases a name per send-once message.
    [[gnu::always_inline]] void release_name(mach_port_name_t name) {
        uint32_t idx = name >> 8;
        if (__builtin_expect(idx == 0 || idx >= table_.size() || !table_[idx].used || table_[idx].gen != (name & 0xff), 0))
            return release_sparse(name);
        Entry& e = table_[idx];
        MS_ASSERT(e.type == 0, "releasing name {:#x} whose entry still holds rights", name);
        uint8_t gen = next_generation(e.gen);
        e = Entry{};
        e.gen = gen;
        free_.push_back(idx);
        --count_;
    }

    // The next name for a slot differs (0x103, then 0x107).
    static uint8_t next_generation(uint8_t gen) {
        gen = static_cast<uint8_t>(gen + 4);
        return gen == 0 ? 3 : gen;
    }

    // The name under which this space holds send or receive rights for p.
    mach_port_name_t name_for(const Port* p) const {
        auto it = reverse_.find(p);
        return it == reverse_.end() ? MACH_PORT_NULL : it->second;
    }
    void remember(const Port* p, mach_port_name_t name) { reverse_[p] = name; }
    void forget(const Port* p) { reverse_.erase(p); }

    template <class F>
    void for_each_reverse(F&& f) const {
        for (const auto& [p, n] : reverse_) f(p, n);
    }

    std::vector<mach_port_name_t> names() const;  // in ascending order
    // Visits every entry in use without the lazy dead-name conversion of lookup.
    template <class F>
    void for_each_entry(F&& f) const {
        for (uint32_t i = 1; i < table_.size(); ++i)
            if (table_[i].type != 0) f((i << 8) | table_[i].gen, table_[i]);
        for (const auto& [n, e] : sparse_)
            if (e.type != 0) f(n, e);
    }
    std::size_t size() const { return count_; }
    // No name is left to give (Config::max_names).
    bool full() const { return count_ >= max_names_; }
    void deactivate() { active_ = false; }

private:
    Entry* allocate_slow(mach_port_name_t& name);
    void release_sparse(mach_port_name_t name);
    Entry* lookup_sparse(mach_port_name_t name);
    void make_dead(mach_port_name_t name, Entry& e);

    Env& env_;
    uint32_t task_id_;
    machine::AddressSpace* vm_;
    bool active_ = true;
    std::vector<Entry> table_;            // index 0 is never used
    std::vector<uint32_t> free_;          // free table indices, reused last-in first-out
    std::map<mach_port_name_t, Entry> sparse_;
    std::unordered_map<const Port*, mach_port_name_t> reverse_;
    std::size_t count_ = 0;
    uint32_t max_names_;
};

}  // namespace machsim::ipc
