#include "kernel/machine/memory_object.h"

#include <sys/mman.h>
#include <unistd.h>

#include "kernel/machine/assert.h"

namespace machsim::machine {

MemoryObject* MemoryObject::create(MemoryObjects& owner, std::size_t size) {
    int fd = memfd_create("machsim-memory", MFD_CLOEXEC);
    if (fd < 0) return nullptr;
    if (ftruncate(fd, static_cast<off_t>(size)) != 0) {
        close(fd);
        return nullptr;
    }
    void* alias = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (alias == MAP_FAILED) {
        close(fd);
        return nullptr;
    }
    ++owner.live_;
    return new MemoryObject(owner, fd, size, static_cast<uint8_t*>(alias), ++owner.next_id_);
}

void MemoryObject::unref() {
    MS_ASSERT(refs_ > 0, "memory object {}: reference count underflow", id_);
    if (--refs_ == 0) delete this;
}

MemoryObject::~MemoryObject() {
    munmap(alias_, size_);
    close(fd_);
    --owner_.live_;
}

}  // namespace machsim::machine
