package io.nodemesh.cni.install;

import java.nio.file.Path;

/**
 * One {@code install()} on a {@link FakeNode} under {@code args[0]}, then exit: what {@code nodemesh install-cni} does on a
 * node, as the command {@link CniWatchTest} gives nodemesh-cni-watch. Prints each change; exit 2 with the message on
 * an {@link InstallException}, as the CLI does.
 */
public final class InstallOnce {

    private InstallOnce() {
    }

    public static void main(String[] args) {
        try {
            new FakeNode(Path.of(args[0])).installer().install().forEach(System.out::println);
        } catch (InstallException e) {
            System.err.println("install-cni: " + e.getMessage());
            System.exit(2);
        }
    }
}
