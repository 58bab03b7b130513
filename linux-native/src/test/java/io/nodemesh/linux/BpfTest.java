package io.nodemesh.linux;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;

/** Programs loaded through the kernel's verifier, as the eBPF capture loads them. */
class BpfTest {

    private static final long SYS_GETTID = 186; // x86_64
    private static final long SYS_TGKILL = 234;
    private static final long SIGPIPE = 13; // the JVM handles it (and ignores it): delivered, so it interrupts
    private static final MethodHandle SYSCALL = Linker.nativeLinker().downcallHandle(
            Linker.nativeLinker().defaultLookup().find("syscall").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG,
                    ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG),
            Linker.Option.firstVariadicArg(1));

    /**
     * The verifier gives up with EAGAIN when a signal arrives for the loading thread (a profiler's, every few
     * milliseconds): such a load is tried again, not failed. Found when a profiled proxy's restart failed one pod's
     * capture in 500; without the retries this test fails dozens of loads.
     */
    @Test
    void aLoadThatSignalsInterruptIsTriedAgain() throws Exception {
        RootOnly.require("loading an eBPF program needs root (CAP_BPF)");
        BpfCode code = new BpfCode().mov64(0, 1);
        for (int i = 0; i < 4000; i++) { // long enough for a signal to land while the verifier walks it
            code.add64(0, 0);
        }
        byte[] program = code.exit().bytes();
        AtomicLong tid = new AtomicLong();
        AtomicInteger loads = new AtomicInteger();
        List<IOException> failures = new CopyOnWriteArrayList<>();
        Thread loader = Thread.ofPlatform().name("bpf-loader").start(() -> {
            tid.set(syscall(SYS_GETTID, 0, 0, 0));
            long end = System.nanoTime() + Duration.ofSeconds(1).toNanos();
            while (System.nanoTime() < end && failures.size() < 50) {
                try {
                    Libc.close(Bpf.progLoad(Bpf.PROG_SK_LOOKUP, Bpf.ATTACH_SK_LOOKUP, program, "nm_test_eagain"));
                    loads.incrementAndGet();
                } catch (IOException e) {
                    failures.add(e);
                }
            }
        });
        long pid = ProcessHandle.current().pid();
        int sent = 0;
        while (tid.get() == 0 && loader.isAlive()) {
            Thread.onSpinWait();
        }
        while (loader.isAlive()) {
            if (syscall(SYS_TGKILL, pid, tid.get(), SIGPIPE) == 0) {
                sent++;
            }
            LockSupport.parkNanos(2_000_000);
        }
        loader.join();

        assertThat(failures).as("loads failed while %d signals came", sent).isEmpty();
        assertThat(sent).as("signals sent to the loading thread").isGreaterThan(50);
        assertThat(loads.get()).isGreaterThan(50);
    }

    private static long syscall(long number, long a, long b, long c) {
        try {
            return (long) SYSCALL.invokeExact(number, a, b, c);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }
}
