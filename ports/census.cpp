#include "ports/census.h"

#include <fmt/format.h>

#include <unordered_map>

namespace machsim::ipc {

void Census::add_space(const IpcSpace& space) {
    std::unordered_map<mach_port_name_t, const Entry*> named;  // the entries holding send or receive rights
    space.for_each_entry([&](mach_port_name_t name, const Entry& e) {
        if (!(e.type & MACH_PORT_TYPE_PORT_RIGHTS)) return;
        const Port* p = e.port();
        if (e.type & (MACH_PORT_TYPE_SEND | MACH_PORT_TYPE_RECEIVE)) named[name] = &e;
        Tally& t = tally_[p];
        ++t.refs;
        if (e.has(MACH_PORT_TYPE_SEND)) ++t.srights;
        if (e.has(MACH_PORT_TYPE_SEND_ONCE)) ++t.sorights;
        if (e.has(MACH_PORT_TYPE_RECEIVE)) {
            ++t.receive;
            if (p->receiver != &space || p->receiver_name != name)
                problems_.push_back(fmt::format("P{}: receive right under {:#x} in task {}, but the port thinks it is {:#x}",
                                                p->id(), name, space.task_id(), p->receiver_name));
        }
        if (e.has(MACH_PORT_TYPE_SEND) && p->active && space.name_for(p) != name)
            problems_.push_back(fmt::format("P{}: task {} names it {:#x} but its reverse map says {:#x}", p->id(),
                                            space.task_id(), name, space.name_for(p)));
    });
    space.for_each_reverse([&](const Port* p, mach_port_name_t name) {
        auto it = named.find(name);
        if (it == named.end() || it->second->port() != p)
            problems_.push_back(fmt::format("P{}: task {}'s reverse map names it {:#x}, which holds no send or "
                                            "receive right for it",
                                            p->id(), space.task_id(), name));
    });
}

void Census::add_carried(const Carried& c) {
    if (!c.port) return;
    Tally& t = tally_[c.port];
    ++t.refs;
    if (c.type == MACH_MSG_TYPE_PORT_SEND) ++t.srights;
    if (c.type == MACH_MSG_TYPE_PORT_SEND_ONCE) ++t.sorights;
    if (c.type == MACH_MSG_TYPE_PORT_RECEIVE) ++t.receive;
}

void Census::add_message(const KMsg& m) {
    ++messages_;
    add_carried(Carried{m.dest, m.dest_type, false});
    add_carried(m.reply);
    for (const BodyItem& item : m.items) {
        add_carried(item.right);
        for (const Carried& c : item.rights) add_carried(c);
    }
}

void Census::add_waiter(const Waiter& w) {
    if (w.msg) add_message(*w.msg);
}

void Census::add_kernel_right(const Carried& c) { add_carried(c); }

void Census::add_kernel_ref(const Port* p) {
    if (p) ++tally_[p].refs;
}

std::vector<std::string> Census::check(Env& env) {
    for (Port* p = env.ports.front(); p; p = env.ports.next(p)) {
        for (KMsg* m = p->queue.front(); m; m = p->queue.next(m)) add_message(*m);
        if (p->destination) ++tally_[p->destination].refs;
        add_carried(p->pdrequest);  // notification requests hold send-once rights
        add_carried(p->nsrequest);
        for (const DeadNameRequest& r : p->dnrequests) add_carried(r.notify);
    }
    for (Port* p = env.ports.front(); p; p = env.ports.next(p)) {
        const Tally& t = tally_[p];
        if (t.srights != p->srights)
            problems_.push_back(fmt::format("P{}: counts {} send rights, {} exist", p->id(), p->srights, t.srights));
        if (t.sorights != p->sorights)
            problems_.push_back(
                fmt::format("P{}: counts {} send-once rights, {} exist", p->id(), p->sorights, t.sorights));
        if (t.refs != p->refs())
            problems_.push_back(fmt::format("P{}: has {} references, {} holders found", p->id(), p->refs(), t.refs));
        uint32_t want = p->active && p->kobject_kind == KobjectKind::None ? 1 : 0;
        if (t.receive != want)
            problems_.push_back(fmt::format("P{} ({}): {} receive rights found, {} expected", p->id(),
                                            p->active ? "alive" : "dead", t.receive, want));
        if (!p->active && !p->queue.empty())
            problems_.push_back(fmt::format("P{}: dead with {} messages queued", p->id(), p->queue.size()));
    }
    if (messages_ != env.msgs.live())
        problems_.push_back(fmt::format("{} messages allocated, {} found in queues and waiting threads",
                                        env.msgs.live(), messages_));
    return std::move(problems_);
}

}  // namespace machsim::ipc
