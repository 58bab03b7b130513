package io.nodemesh.proxy.transport;

import io.netty.channel.IoHandle;
import io.netty.channel.IoHandler;
import io.netty.channel.IoHandlerContext;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.IoOps;
import io.netty.channel.IoRegistration;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollIoOps;

/**
 * Works around a Netty 4.2.18 epoll bug (also in 4.2.19 and 4.2.20): when a channel's interest set
 * becomes empty, {@code EpollIoHandler} removes the fd from epoll ({@code EPOLL_CTL_DEL}, since
 * netty/netty#16689) but keeps the registration marked as added, so the next interest change is an
 * {@code EPOLL_CTL_MOD} that fails with ENOENT. A proxy hits this all the time: a half-closed
 * socket (FIN received, so no EPOLLIN and EPOLLRDHUP cleared) whose reply direction later fills the
 * send buffer and needs EPOLLOUT, or a socket whose client sent FIN before the upstream connected.
 *
 * <p>The workaround never lets the interest set become empty: an empty set is submitted as
 * {@code EPOLLET} alone, which keeps the fd in epoll waiting for no event (only an error or hang-up,
 * reported once since it is edge-triggered). Everything else is passed through unchanged. Remove
 * this class when Netty keeps its registration state in step with the epoll set.
 */
final class EpollEmptyInterestWorkaround implements IoHandlerFactory {

    private final IoHandlerFactory delegate;

    private EpollEmptyInterestWorkaround(IoHandlerFactory delegate) {
        this.delegate = delegate;
    }

    /** {@link EpollIoHandler#newFactory()}, with the workaround. */
    static IoHandlerFactory newFactory() {
        return new EpollEmptyInterestWorkaround(EpollIoHandler.newFactory());
    }

    @Override
    public IoHandler newHandler(io.netty.util.concurrent.ThreadAwareExecutor executor) {
        return new Handler(delegate.newHandler(executor));
    }

    @Override
    public boolean isChangingThreadSupported() {
        return delegate.isChangingThreadSupported();
    }

    private record Handler(IoHandler delegate) implements IoHandler {
        @Override
        public void initialize() {
            delegate.initialize();
        }

        @Override
        public int run(IoHandlerContext context) {
            return delegate.run(context);
        }

        @Override
        public void prepareToDestroy() {
            delegate.prepareToDestroy();
        }

        @Override
        public void destroy() {
            delegate.destroy();
        }

        @Override
        public IoRegistration register(IoHandle handle) throws Exception {
            return new Registration(delegate.register(handle));
        }

        @Override
        public void wakeup() {
            delegate.wakeup();
        }

        @Override
        public boolean isCompatible(Class<? extends IoHandle> handleType) {
            return delegate.isCompatible(handleType);
        }
    }

    private record Registration(IoRegistration delegate) implements IoRegistration {
        @Override
        public <T> T attachment() {
            return delegate.attachment();
        }

        @Override
        public long submit(IoOps ops) {
            if (ops instanceof EpollIoOps epoll && epoll.value() == EpollIoOps.NONE.value()) {
                delegate.submit(EpollIoOps.EPOLLET);
                return 0;
            }
            return delegate.submit(ops);
        }

        @Override
        public boolean isValid() {
            return delegate.isValid();
        }

        @Override
        public boolean cancel() {
            return delegate.cancel();
        }
    }
}
