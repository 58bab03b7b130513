package io.nodemesh.proxy.transport;

import io.netty.channel.Channel;
import io.netty.channel.nio.AbstractNioChannel;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.channels.SelectableChannel;
import java.util.Optional;

/**
 * The file descriptor under a Netty NIO channel, so the NIO transport can make the same two socket
 * calls as the native ones (SO_ORIGINAL_DST, SO_MARK). Java hides it: the JDK's socket channels
 * implement {@code sun.nio.ch.SelChImpl#getFDVal()}, and {@code sun.nio.ch} is exported only when
 * the JVM runs with {@value #FLAG} (the jar's manifest says {@code Add-Exports: java.base/sun.nio.ch},
 * every launcher and surefire pass the flag). Both handles are looked up once; without the flag
 * {@link #unavailability()} says why and the NIO transport cannot capture.
 */
public final class NioDescriptors {

    /** The JVM flag that makes {@code sun.nio.ch} readable to nodemesh. */
    public static final String FLAG = "--add-exports=java.base/sun.nio.ch=ALL-UNNAMED";

    /** {@code AbstractNioChannel#javaChannel()}: protected, but Netty is in nodemesh's (unnamed) module. */
    private static final MethodHandle JAVA_CHANNEL;
    /** {@code SelChImpl#getFDVal()}, or null. */
    private static final MethodHandle FD_VAL;
    private static final String UNAVAILABLE;

    static {
        MethodHandle javaChannel = null;
        MethodHandle fdVal = null;
        String why = null;
        try {
            javaChannel = MethodHandles.privateLookupIn(AbstractNioChannel.class, MethodHandles.lookup())
                    .findVirtual(AbstractNioChannel.class, "javaChannel", MethodType.methodType(SelectableChannel.class))
                    .asType(MethodType.methodType(SelectableChannel.class, AbstractNioChannel.class));
            Class<?> selChImpl = Class.forName("sun.nio.ch.SelChImpl");
            fdVal = MethodHandles.lookup().findVirtual(selChImpl, "getFDVal", MethodType.methodType(int.class))
                    .asType(MethodType.methodType(int.class, Object.class));
        } catch (IllegalAccessException e) {
            why = "the JVM does not export sun.nio.ch to nodemesh (" + e.getMessage() + "); run java with " + FLAG;
        } catch (ReflectiveOperationException | RuntimeException e) {
            why = "this JDK has no sun.nio.ch.SelChImpl#getFDVal() or Netty no AbstractNioChannel#javaChannel() (" + e + ")";
        }
        JAVA_CHANNEL = javaChannel;
        FD_VAL = why == null ? fdVal : null;
        UNAVAILABLE = why;
    }

    private NioDescriptors() {
    }

    /** Why file descriptors of NIO channels cannot be read, or empty when they can. */
    public static Optional<String> unavailability() {
        return Optional.ofNullable(UNAVAILABLE);
    }

    /**
     * The file descriptor of a Netty NIO channel's socket.
     *
     * @throws IllegalStateException when {@link #unavailability()} is not empty
     * @throws IllegalArgumentException when {@code ch} is not a Netty NIO channel (or its socket is not the JDK's)
     */
    public static int fd(Channel ch) {
        if (!(ch instanceof AbstractNioChannel nio)) {
            throw new IllegalArgumentException(ch + " is not a NIO channel");
        }
        if (UNAVAILABLE != null) {
            throw new IllegalStateException("cannot read the file descriptor of a NIO socket: " + UNAVAILABLE);
        }
        return fd(javaChannel(nio));
    }

    /** The file descriptor of a JDK socket channel (a {@code SocketChannel} or {@code ServerSocketChannel}). */
    public static int fd(SelectableChannel ch) {
        if (FD_VAL == null) {
            throw new IllegalStateException("cannot read the file descriptor of a NIO socket: " + UNAVAILABLE);
        }
        try {
            return (int) FD_VAL.invokeExact((Object) ch);
        } catch (ClassCastException e) {
            throw new IllegalArgumentException(ch.getClass().getName() + " is not one of the JDK's socket channels", e);
        } catch (Throwable t) {
            throw new IllegalStateException("SelChImpl#getFDVal() failed on " + ch, t);
        }
    }

    private static SelectableChannel javaChannel(AbstractNioChannel ch) {
        try {
            return (SelectableChannel) JAVA_CHANNEL.invokeExact(ch);
        } catch (Throwable t) {
            throw new IllegalStateException("AbstractNioChannel#javaChannel() failed on " + ch, t);
        }
    }
}
