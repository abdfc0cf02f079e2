// mach_msg_destroy: give back everything a received message carries, as the
// user-level routine of the same name does on Mach.
#include <cstring>

#include "mach/mach.h"

namespace {

void drop_right(mach_port_name_t name, mach_msg_type_name_t type) {
    if (!MACH_PORT_VALID(name)) return;
    switch (type) {
    case MACH_MSG_TYPE_PORT_RECEIVE: (void)mach_port_mod_refs(mach_task_self(), name, MACH_PORT_RIGHT_RECEIVE, -1); break;
    case MACH_MSG_TYPE_PORT_SEND:
    case MACH_MSG_TYPE_PORT_SEND_ONCE: (void)mach_port_deallocate(mach_task_self(), name); break;
    default: break;
    }
}

}  // namespace

extern "C" void mach_msg_destroy(mach_msg_header_t* msg) {
    if (!msg) return;
    mach_msg_bits_t bits = msg->msgh_bits;
    drop_right(msg->msgh_remote_port, MACH_MSGH_BITS_REMOTE(bits));
    if (!MACH_MSGH_BITS_IS_COMPLEX(bits)) return;
    auto* base = reinterpret_cast<unsigned char*>(msg);
    mach_msg_body_t body;
    std::memcpy(&body, base + sizeof(mach_msg_header_t), sizeof body);
    unsigned char* d = base + sizeof(mach_msg_header_t) + sizeof body;
    for (mach_msg_size_t i = 0; i < body.msgh_descriptor_count; ++i) {
        mach_msg_descriptor_type_t type = d[11];
        if (type == MACH_MSG_PORT_DESCRIPTOR) {
            mach_msg_port_descriptor_t p;
            std::memcpy(&p, d, sizeof p);
            drop_right(p.name, p.disposition);
            d += sizeof p;
        } else if (type == MACH_MSG_OOL_DESCRIPTOR || type == MACH_MSG_OOL_VOLATILE_DESCRIPTOR) {
            mach_msg_ool_descriptor_t o;
            std::memcpy(&o, d, sizeof o);
            if (o.address) (void)vm_deallocate(mach_task_self(), reinterpret_cast<vm_address_t>(o.address), o.size);
            d += sizeof o;
        } else if (type == MACH_MSG_OOL_PORTS_DESCRIPTOR) {
            mach_msg_ool_ports_descriptor_t o;
            std::memcpy(&o, d, sizeof o);
            auto* names = static_cast<mach_port_name_t*>(o.address);
            for (mach_msg_size_t k = 0; names && k < o.count; ++k) drop_right(names[k], o.disposition);
            if (o.address)
                (void)vm_deallocate(mach_task_self(), reinterpret_cast<vm_address_t>(o.address),
                                    o.count * sizeof(mach_port_name_t));
            d += sizeof o;
        } else {
            return;  // unknown descriptor: stop rather than guess its size
        }
    }
}
