// MemoryObject: the pages behind VM regions. Backed by a memfd, so one object
// can be mapped into several address spaces (shared memory) and is also mapped
// once for the kernel itself (its alias, the "physmap"), through which the
// kernel reads and writes memory of tasks that are not running.
#pragma once

#include <cstddef>
#include <cstdint>

namespace machsim::machine {

// The memory objects of one kernel: how many are alive (its leak check) and the
// number the next one gets.
class MemoryObjects {
public:
    std::size_t live() const { return live_; }

private:
    friend class MemoryObject;
    std::size_t live_ = 0;
    uint32_t next_id_ = 0;
};

class MemoryObject {
public:
    // A zero-filled object of `size` bytes (a page multiple), counted in `owner`,
    // which must outlive it; null when the host refuses.
    static MemoryObject* create(MemoryObjects& owner, std::size_t size);

    void ref() { ++refs_; }
    void unref();

    int fd() const { return fd_; }
    std::size_t size() const { return size_; }
    uint8_t* alias() const { return alias_; }  // the kernel's own read-write mapping
    uint32_t id() const { return id_; }
    bool shared() const { return refs_ > 1; }  // more than one mapping or memory entry holds it
    uint32_t refs() const { return refs_; }

private:
    MemoryObject(MemoryObjects& owner, int fd, std::size_t size, uint8_t* alias, uint32_t id)
        : owner_(owner), fd_(fd), size_(size), alias_(alias), id_(id) {}
    ~MemoryObject();

    MemoryObjects& owner_;
    int fd_;
    std::size_t size_;
    uint8_t* alias_;
    uint32_t id_;
    uint32_t refs_ = 1;
};

}  // namespace machsim::machine
