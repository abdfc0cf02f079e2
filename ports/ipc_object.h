// IpcObject: what a name in a space can denote: a port or a port set.
// Objects are reference counted; references come from space entries, from
// messages carrying rights, and from the kernel while it works on them.
#pragma once

#include <cstdint>

#include "kernel/machine/assert.h"

namespace machsim::ipc {

struct Env;

enum class ObjectKind : uint8_t { Port, PortSet };

class IpcObject {
public:
    IpcObject(ObjectKind kind, uint32_t id) : kind_(kind), id_(id) {}
    virtual ~IpcObject() = default;
    IpcObject(const IpcObject&) = delete;
    IpcObject& operator=(const IpcObject&) = delete;

    ObjectKind kind() const { return kind_; }
    uint32_t id() const { return id_; }  // shown as P<id> in traces

    void ref() { ++refs_; }
    // Drops a reference; the object is freed with the last one.
    [[gnu::always_inline]] void unref() {
        MS_ASSERT(refs_ > 0, "P{}: reference count underflow", id_);
        if (--refs_ == 0) delete this;
    }
    uint32_t refs() const { return refs_; }

private:
    ObjectKind kind_;
    uint32_t id_;
    uint32_t refs_ = 1;  // the creator's reference
};

}  // namespace machsim::ipc
