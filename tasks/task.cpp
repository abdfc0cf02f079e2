#include "tasks/task.h"

#include "ports/env.h"
#include "ports/rights.h"

namespace machsim::tasks {

Thread::Thread(Task& t, uint32_t thread_id, ipc::Env& env, std::function<int()> b)
    : task(t), id(thread_id), waiter(env, this), body(std::move(b)) {
    trace_task = t.id;
    trace_thread = thread_id;
    vm = &t.vm;
}

Task::Task(ipc::Env& env, machine::MemoryObjects& objects, uint32_t task_id, std::string task_name, bool is_daemon)
    : id(task_id), name(std::move(task_name)), daemon(is_daemon), vm(objects), space(env, task_id, &vm) {}

Task::~Task() {
    // Semaphores whose port outlived the run (a leak the run reported) go with their owner.
    while (Semaphore* s = semaphores.pop_front()) delete s;
}

Semaphore& semaphore_new(Task& t, int value) {
    auto* s = new Semaphore(t, value);  // owned by t.semaphores until semaphore_release or ~Task
    t.semaphores.push_back(s);
    return *s;
}

void semaphore_end(ipc::Env& env, Semaphore& s) {
    s.active = false;
    while (machine::Context* c = s.waiters.pop_front()) semaphore_wake(env, c, KERN_TERMINATED);
}

void semaphore_wake(ipc::Env& env, machine::Context* c, kern_return_t result) {
    auto* t = static_cast<Thread*>(c);  // only threads wait on semaphores
    t->wait_object = &t->waiter;        // where IPC waits find their Waiter
    env.sched.wake(c, result);
}

void semaphore_release(ipc::Env& env, Semaphore& s) {
    MS_ASSERT(!s.active && s.waiters.empty(), "releasing a semaphore still in use");
    if (ipc::Port* p = s.port) {
        s.port = nullptr;
        p->kobject = nullptr;
        ipc::port_destroy(env, p);
    }
    s.owner->semaphores.remove(&s);
    delete &s;
}

void release_thread_ports(ipc::Env& env, Thread& t) {
    if (ipc::Port* p = t.thread_port) {  // rights to the thread become dead names
        t.thread_port = nullptr;
        p->kobject = nullptr;
        ipc::port_destroy(env, p);
    }
    if (ipc::Port* p = t.exc_reply) {
        t.exc_reply = nullptr;
        ipc::port_destroy(env, p);
    }
    release_exception_ports(env, t.exc_ports);
}

void release_exception_ports(ipc::Env& env, ExceptionPorts& ports) {
    for (ExceptionPort& ep : ports) {
        if (ep.port) ipc::release_send(env, ep.port);
        ep = {};
    }
}

void release_held(ipc::Env& env, HeldSend& h) {
    if (h.port) ipc::release_send(env, h.port);
    h = {};
}

void teardown(ipc::Env& env, Task& task) {
    MS_ASSERT(task.live_threads == 0, "tearing down task {} with {} live threads", task.id, task.live_threads);
    task.alive = false;
    ipc::space_destroy(task.space);
    task.semaphores.for_each([&env](Semaphore* s) {
        semaphore_end(env, *s);
        // As in XNU, the port outlives its semaphore while others hold send rights:
        // their calls answer KERN_TERMINATED until the last right goes (semaphore_release).
        if (s->port->srights == 0) semaphore_release(env, *s);  // frees s: for_each allows it
    });
    for (auto& th : task.threads) release_thread_ports(env, *th);  // threads that never ran
    release_exception_ports(env, task.exc_ports);
    release_held(env, task.bootstrap);
    if (ipc::Port* p = task.task_port) {
        task.task_port = nullptr;
        p->kobject = nullptr;
        ipc::port_destroy(env, p);  // send rights to it elsewhere become dead names
    }
    task.vm.release_all();
}

}  // namespace machsim::tasks
