#include "tasks/task.h"

#include "ports/env.h"
#include "ports/rights.h"

namespace machsim::tasks {

Thread::Thread(Task& t, uint32_t thread_id, ipc::Env& env, std::function<int()> b)
    : task(t), id(thread_id), waiter(env, this), body(std::move(b)) {
    trace_task = t.id;
    trace_thread = thread_id;
}

Task::Task(ipc::Env& env, uint32_t task_id, std::string task_name, bool is_daemon)
    : id(task_id), name(std::move(task_name)), daemon(is_daemon), space(env, task_id, &vm) {}

Task::~Task() = default;

void semaphore_end(ipc::Env& env, Semaphore& s) {
    s.active = false;
    while (machine::Context* c = s.waiters.pop_front()) env.sched.wake(c, KERN_TERMINATED);
}

void teardown(ipc::Env& env, Task& task) {
    MS_ASSERT(task.live_threads == 0, "tearing down task {} with {} live threads", task.id, task.live_threads);
    task.alive = false;
    ipc::space_destroy(task.space);
    for (auto& s : task.semaphores) {
        semaphore_end(env, *s);
        if (ipc::Port* p = s->port) {
            s->port = nullptr;
            p->kobject = nullptr;
            ipc::port_destroy(env, p);
        }
    }
    if (ipc::Port* p = task.task_port) {
        task.task_port = nullptr;
        p->kobject = nullptr;
        ipc::port_destroy(env, p);  // send rights to it elsewhere become dead names
    }
    task.vm.release_all();
}

}  // namespace machsim::tasks
