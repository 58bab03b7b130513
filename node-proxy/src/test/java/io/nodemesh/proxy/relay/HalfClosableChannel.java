package io.nodemesh.proxy.relay;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelPromise;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.DuplexChannel;

/**
 * An {@link EmbeddedChannel} that can be half-closed like a TCP socket, and remembers how many bytes had been sent
 * when its output was shut down (the FIN), so a test can tell whether the FIN came after the data written before it.
 */
final class HalfClosableChannel extends EmbeddedChannel implements DuplexChannel {

    private boolean inputShutdown;
    private boolean outputShutdown;
    private long bytesSent;
    private long bytesSentBeforeFin = -1;

    /** Bytes this channel had sent when its output was shut down, or -1 while it was not. */
    long bytesSentBeforeFin() {
        return bytesSentBeforeFin;
    }

    @Override
    protected void handleOutboundMessage(Object msg) {
        if (msg instanceof ByteBuf b) {
            bytesSent += b.readableBytes();
        }
        super.handleOutboundMessage(msg);
    }

    @Override
    public boolean isInputShutdown() {
        return inputShutdown;
    }

    @Override
    public ChannelFuture shutdownInput() {
        return shutdownInput(newPromise());
    }

    @Override
    public ChannelFuture shutdownInput(ChannelPromise promise) {
        inputShutdown = true;
        return promise.setSuccess();
    }

    @Override
    public boolean isOutputShutdown() {
        return outputShutdown;
    }

    @Override
    public ChannelFuture shutdownOutput() {
        return shutdownOutput(newPromise());
    }

    @Override
    public ChannelFuture shutdownOutput(ChannelPromise promise) {
        if (!outputShutdown) {
            outputShutdown = true;
            bytesSentBeforeFin = bytesSent;
        }
        return promise.setSuccess();
    }

    @Override
    public boolean isShutdown() {
        return inputShutdown && outputShutdown;
    }

    @Override
    public ChannelFuture shutdown() {
        return shutdown(newPromise());
    }

    @Override
    public ChannelFuture shutdown(ChannelPromise promise) {
        shutdownInput();
        return shutdownOutput(promise);
    }
}
