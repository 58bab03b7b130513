package io.nodemesh.testing;

import java.util.concurrent.Executor;

/**
 * Where tests run their blocking side tasks (a server that accepts and reads, a client that uploads, a process's
 * output read to its end): each task on a platform thread of its own. Not the common pool, which has one worker on a
 * two-core machine, so that a task that blocks there holds back every other test's task queued behind it; and not a
 * virtual thread, because a task may enter a network namespace, which moves the thread it runs on.
 */
public final class OwnThreads {

    /** Runs each task on a new daemon platform thread. */
    public static final Executor EACH = task -> Thread.ofPlatform().daemon().name("test-task").start(task);

    private OwnThreads() {
    }
}
