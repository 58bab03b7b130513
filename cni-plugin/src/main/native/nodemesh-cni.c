/*
 * libnodemesh-cni.so: the plugin's four system-call paths for a pod of an enrolled namespace, as JNI functions of
 * io.nodemesh.cni.JniControlSocket (docs/cni.md, "Why JNI"). The plugin is a fresh JVM per pod start; linking FFM
 * downcalls cost it 80-120 ms there (jmh-bench/RESULTS.md), a JNI function costs a dlsym. Everything else,
 * the decisions and the messages, stays in Java: each function here makes its system calls and reports a failure as
 * the step that failed and its errno, in failure[0] and failure[1].
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <jni.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

/* The steps, as io.nodemesh.cni.JniControlSocket names them. */
enum { STEP_OPEN = 1, STEP_NSTYPE = 2, STEP_TYPE = 3, STEP_SOCKET = 4, STEP_CONNECT = 5, STEP_SEND = 6,
       STEP_RECEIVE = 7, STEP_PATH = 8 };

static jint fail(JNIEnv *env, jintArray failure, jint step, jint value) {
    jint pair[2] = { step, value };
    (*env)->SetIntArrayRegion(env, failure, 0, 2, pair);
    return -1;
}

/* Copies a Java byte[] path into a NUL-terminated C string of at most max bytes (with the NUL); 0 if it does not
 * fit or holds a NUL. */
static int path_of(JNIEnv *env, jbyteArray path, char *out, size_t max) {
    jsize n = (*env)->GetArrayLength(env, path);
    if (n <= 0 || (size_t) n >= max) {
        return 0;
    }
    (*env)->GetByteArrayRegion(env, path, 0, n, (jbyte *) out);
    out[n] = '\0';
    return strlen(out) == (size_t) n;
}

/* open(path, O_RDONLY|O_CLOEXEC), then NS_GET_NSTYPE: the descriptor of a network namespace, or -1. */
JNIEXPORT jint JNICALL Java_io_nodemesh_cni_JniControlSocket_nativeOpenNetwork(JNIEnv *env, jclass cls, jbyteArray path,
                                                                          jintArray failure) {
    char name[4096];
    if (!path_of(env, path, name, sizeof name)) {
        return fail(env, failure, STEP_PATH, ENAMETOOLONG);
    }
    int fd = open(name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return fail(env, failure, STEP_OPEN, errno);
    }
    int type = ioctl(fd, NS_GET_NSTYPE);
    if (type < 0) {
        int error = errno;
        close(fd);
        return fail(env, failure, STEP_NSTYPE, error);
    }
    if (type != CLONE_NEWNET) {
        close(fd);
        return fail(env, failure, STEP_TYPE, type);
    }
    return fd;
}

JNIEXPORT void JNICALL Java_io_nodemesh_cni_JniControlSocket_nativeClose(JNIEnv *env, jclass cls, jint fd) {
    close(fd); /* Linux releases the number even when close fails: nothing to retry */
}

/*
 * One exchange on the control socket: socket(AF_UNIX, SOCK_SEQPACKET), both timeouts set before connect (a full
 * backlog then fails with EAGAIN instead of blocking), connect, one sendmsg with fd by SCM_RIGHTS when fd >= 0, one
 * recv into reply. Returns the reply's length, the whole datagram's (MSG_TRUNC: larger than reply means it was cut),
 * 0 when the proxy closed without a reply, or -1.
 */
JNIEXPORT jint JNICALL Java_io_nodemesh_cni_JniControlSocket_nativeExchange(JNIEnv *env, jclass cls, jbyteArray path,
                                                                       jlong timeoutMicros, jbyteArray request,
                                                                       jint fd, jbyteArray reply, jintArray failure) {
    struct sockaddr_un address = { .sun_family = AF_UNIX };
    if (!path_of(env, path, address.sun_path, sizeof address.sun_path)) {
        return fail(env, failure, STEP_PATH, ENAMETOOLONG);
    }
    int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (s < 0) {
        return fail(env, failure, STEP_SOCKET, errno);
    }
    struct timeval timeout = { .tv_sec = timeoutMicros / 1000000, .tv_usec = timeoutMicros % 1000000 };
    if (setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout) < 0
            || setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout) < 0) {
        int error = errno;
        close(s);
        return fail(env, failure, STEP_SOCKET, error);
    }
    if (connect(s, (struct sockaddr *) &address, sizeof address) < 0) {
        int error = errno;
        close(s);
        return fail(env, failure, STEP_CONNECT, error);
    }
    jsize length = (*env)->GetArrayLength(env, request);
    jbyte *bytes = malloc(length > 0 ? length : 1);
    if (bytes == NULL) {
        close(s);
        return fail(env, failure, STEP_SEND, ENOMEM);
    }
    (*env)->GetByteArrayRegion(env, request, 0, length, bytes);
    struct iovec data = { .iov_base = bytes, .iov_len = length };
    union {
        char buffer[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof control);
    struct msghdr message = { .msg_iov = &data, .msg_iovlen = 1 };
    if (fd >= 0) {
        message.msg_control = control.buffer;
        message.msg_controllen = sizeof control.buffer;
        struct cmsghdr *header = CMSG_FIRSTHDR(&message);
        header->cmsg_level = SOL_SOCKET;
        header->cmsg_type = SCM_RIGHTS;
        header->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(header), &fd, sizeof(int));
    }
    ssize_t sent;
    do {
        sent = sendmsg(s, &message, MSG_NOSIGNAL);
    } while (sent < 0 && errno == EINTR);
    int error = errno;
    free(bytes);
    if (sent < 0) {
        close(s);
        return fail(env, failure, STEP_SEND, error);
    }
    jsize capacity = (*env)->GetArrayLength(env, reply);
    jbyte *answer = malloc(capacity > 0 ? capacity : 1);
    if (answer == NULL) {
        close(s);
        return fail(env, failure, STEP_RECEIVE, ENOMEM);
    }
    ssize_t received;
    do {
        received = recv(s, answer, capacity, MSG_TRUNC);
    } while (received < 0 && errno == EINTR);
    error = errno;
    close(s);
    if (received < 0) {
        free(answer);
        return fail(env, failure, STEP_RECEIVE, error);
    }
    (*env)->SetByteArrayRegion(env, reply, 0, received < capacity ? (jsize) received : capacity, answer);
    free(answer);
    return received > 0x7fffffff ? 0x7fffffff : (jint) received;
}

JNIEXPORT jstring JNICALL Java_io_nodemesh_cni_JniControlSocket_nativeStrerror(JNIEnv *env, jclass cls, jint errnum) {
    char text[256];
    return (*env)->NewStringUTF(env, strerror_r(errnum, text, sizeof text));
}
