/*
 * nodemesh-keeper: holds the captured pods' listening sockets while the node proxy restarts (docs/upgrade.md, "A
 * restart: the listener keeper"). The proxy gives it a duplicate of each captured pod's network namespace and
 * listening sockets; when the proxy process ends, for whatever reason, those sockets stay open here, so the kernel
 * goes on completing the pods' new connections into their accept queues instead of refusing them; the next proxy
 * takes them over from here, accepts what waited, and carries on. About a megabyte resident, no JVM.
 *
 *   nodemesh-keeper --socket PATH [--max-pods N]      (or --socket=PATH, --max-pods=N)
 *
 * The socket is AF_UNIX SOCK_SEQPACKET, mode 0600 (its directory made, 0755, if missing); a peer whose SO_PEERCRED uid is neither 0 nor the keeper's own is
 * refused. Every datagram is at most 64 KiB with at most 16 descriptors.
 *
 * A holding session (one at a time: the running proxy's), text commands, each answered "ok[ N]" or "error TEXT":
 *   hold                  begins the session; every pod held is marked stale; "ok N": N pods are held
 *   keep KEY\nJSON        + the pod's netns, then its listening TCP sockets: replaces what is held for KEY; JSON is
 *                         the proxy's handover "pod" message for it, sent back as it came in a takeover
 *   release KEY           closes what is held for KEY ("ok 1"; "ok 0" if nothing was)
 *   synced                closes the pods still stale: those the proxy did not keep since "hold" ("ok N": N closed)
 *   ping                  "ok N": N pods are held (the proxy's check that the session is alive)
 * When the holding session ends (the proxy stopped, or died), everything held stays.
 *
 * A takeover session is the old side of the handover protocol (docs/upgrade.md, "The protocol"), without relays or
 * control socket: to {"type":"takeover"} the keeper sends every pod held (its JSON and descriptors), then
 * {"type":"listeners_done"}; to {"type":"accepting"} it answers {"type":"done","moved":0,"kept":0} and ends the
 * session. It keeps holding: the new proxy keeps what it captured in its own holding session. A takeover is refused
 * while a holding session is open (a live proxy holds these listeners: take over from it instead).
 *
 * SIGTERM or SIGINT: removes its socket file (if it is still its own) and exits 0; the sockets it held close with
 * it. Exit status 2: bad arguments or the socket cannot be set up. Messages go to stderr, prefixed "nodemesh-keeper: ".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/nsfs.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_BYTES 65536
#define MAX_FDS 16
#define MAX_SESSIONS 16
#define MAX_KEY 253
#define SEND_TIMEOUT_S 30

enum kind { FREE, NEW, HOLDING, TAKING_OVER };

struct session {
    int fd;
    enum kind kind;
    pid_t pid;
};

struct pod {
    char key[MAX_KEY + 1];
    char *json;
    size_t length;
    int fds[MAX_FDS];
    int nfds;
    int stale;
};

static struct session sessions[MAX_SESSIONS];
static struct pod *pods;
static int npods;
static int max_pods = 4096;
static const char *socket_path;
static ino_t socket_inode;
static char buffer[MAX_BYTES + 1];

static void say(const char *format, ...) {
    va_list args;
    va_start(args, format);
    fputs("nodemesh-keeper: ", stderr);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    fflush(stderr);
    va_end(args);
}

static void usage(const char *problem) {
    if (problem != NULL) {
        say("%s", problem);
    }
    fputs("usage: nodemesh-keeper --socket PATH [--max-pods N]\n"
          "Holds the node proxy's captured pods' listening sockets across its restarts.\n",
          problem != NULL ? stderr : stdout);
    exit(problem != NULL ? 2 : 0);
}

static void close_all(const int *fds, int n) {
    for (int i = 0; i < n; i++) {
        close(fds[i]);
    }
}

/* One datagram, with descriptors when nfds > 0 (a pod's JSON is sent as it came: not NUL-terminated when stored). */
static int send_bytes(int fd, const char *data, size_t length, const int *fds, int nfds) {
    struct iovec iov = { .iov_base = (void *) data, .iov_len = length };
    union {
        struct cmsghdr align;
        char space[CMSG_SPACE(sizeof(int) * MAX_FDS)];
    } control;
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
    if (nfds > 0) {
        memset(&control, 0, sizeof control);
        msg.msg_control = control.space;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
    }
    return sendmsg(fd, &msg, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

static int send_text(int fd, const char *text) {
    return send_bytes(fd, text, strlen(text), NULL, 0);
}

static void reply(struct session *s, const char *format, ...) {
    char text[512];
    va_list args;
    va_start(args, format);
    vsnprintf(text, sizeof text, format, args);
    va_end(args);
    if (send_text(s->fd, text) < 0) {
        say("pid %d: cannot answer: %s", (int) s->pid, strerror(errno));
    }
}

static void end_session(struct session *s) {
    if (s->kind == HOLDING) {
        say("pid %d stopped holding; %d pod(s) held", (int) s->pid, npods);
    }
    close(s->fd);
    s->fd = -1;
    s->kind = FREE;
}

static struct session *holder(void) {
    for (int i = 0; i < MAX_SESSIONS; i++) {
        if (sessions[i].kind == HOLDING) {
            return &sessions[i];
        }
    }
    return NULL;
}

static struct pod *find(const char *key) {
    for (int i = 0; i < npods; i++) {
        if (strcmp(pods[i].key, key) == 0) {
            return &pods[i];
        }
    }
    return NULL;
}

static void drop(struct pod *p) {
    close_all(p->fds, p->nfds);
    free(p->json);
    *p = pods[--npods];
}

/* A pod's key is namespace/name: DNS labels and subdomains, so these characters only. */
static int valid_key(const char *key, size_t length) {
    if (length == 0 || length > MAX_KEY) {
        return 0;
    }
    int slashes = 0;
    for (size_t i = 0; i < length; i++) {
        char c = key[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        int edge = i == 0 || i == length - 1 || key[i - 1] == '/' || key[i + 1] == '/';
        if (c == '/') {
            slashes++;
        } else if (!alnum && (edge || (c != '-' && c != '.' && c != '_'))) {
            return 0; /* each part begins and ends with a letter or digit */
        }
    }
    return slashes == 1 && key[0] != '/' && key[length - 1] != '/';
}

static const char *check_descriptors(const int *fds, int nfds) {
    static char why[160];
    if (nfds < 2) {
        return "a pod comes with its network namespace and at least one listening socket";
    }
    if (ioctl(fds[0], NS_GET_NSTYPE) != CLONE_NEWNET) {
        return "descriptor 1 is not a network namespace";
    }
    for (int i = 1; i < nfds; i++) {
        int type = 0, domain = 0, listening = 0;
        socklen_t l1 = sizeof type, l2 = sizeof domain, l3 = sizeof listening;
        if (getsockopt(fds[i], SOL_SOCKET, SO_TYPE, &type, &l1) < 0
            || getsockopt(fds[i], SOL_SOCKET, SO_DOMAIN, &domain, &l2) < 0
            || getsockopt(fds[i], SOL_SOCKET, SO_ACCEPTCONN, &listening, &l3) < 0
            || type != SOCK_STREAM || (domain != AF_INET && domain != AF_INET6) || !listening) {
            snprintf(why, sizeof why, "descriptor %d is not a listening TCP socket", i + 1);
            return why;
        }
    }
    return NULL;
}

/* Stores the pod; returns 1 if it took the descriptors, 0 (refused, answered) if the caller is to close them. */
static int keep(struct session *s, char *text, size_t length, const int *fds, int nfds) {
    char *newline = memchr(text, '\n', length);
    if (newline == NULL) {
        reply(s, "error keep: no pod message after the key");
        return 0;
    }
    char *key = text + 5;
    size_t key_length = (size_t) (newline - key);
    char *json = newline + 1;
    size_t json_length = length - (size_t) (json - text);
    if (!valid_key(key, key_length)) {
        reply(s, "error keep: not a pod key (namespace/name)");
        return 0;
    }
    *newline = '\0';
    if (json_length < 2 || json[0] != '{' || json[json_length - 1] != '}') {
        reply(s, "error keep %s: the pod message is not a JSON object", key);
        return 0;
    }
    const char *why = check_descriptors(fds, nfds);
    if (why != NULL) {
        reply(s, "error keep %s: %s", key, why);
        return 0;
    }
    struct pod *p = find(key);
    if (p == NULL && npods == max_pods) {
        reply(s, "error keep %s: already %d pods held (--max-pods)", key, max_pods);
        return 0;
    }
    char *copy = malloc(json_length);
    if (copy == NULL) {
        reply(s, "error keep %s: out of memory", key);
        return 0;
    }
    memcpy(copy, json, json_length);
    if (p == NULL) {
        p = &pods[npods++];
        memcpy(p->key, key, key_length + 1);
    } else {
        close_all(p->fds, p->nfds);
        free(p->json);
    }
    p->json = copy;
    p->length = json_length;
    memcpy(p->fds, fds, sizeof(int) * nfds);
    p->nfds = nfds;
    p->stale = 0;
    reply(s, "ok");
    return 1;
}

/* A text command; returns 1 if it took the descriptors that came with it (a pod kept), else 0. */
static int command(struct session *s, char *text, size_t length, const int *fds, int nfds) {
    text[length] = '\0';
    if (length == 4 && memcmp(text, "hold", 4) == 0 && nfds == 0) {
        struct session *h = holder();
        if (h != NULL && h != s) {
            reply(s, "error another proxy (pid %d) holds the listeners", (int) h->pid);
            return 0;
        }
        s->kind = HOLDING;
        for (int i = 0; i < npods; i++) {
            pods[i].stale = 1;
        }
        say("pid %d holds the listeners; %d pod(s) held", (int) s->pid, npods);
        reply(s, "ok %d", npods);
        return 0;
    }
    if (s->kind != HOLDING) {
        reply(s, "error not holding: begin with \"hold\"");
        return 0;
    }
    if (length > 5 && memcmp(text, "keep ", 5) == 0) {
        return keep(s, text, length, fds, nfds);
    }
    if (nfds > 0) {
        reply(s, "error only keep carries descriptors");
        return 0;
    }
    if (length == 4 && memcmp(text, "ping", 4) == 0) {
        reply(s, "ok %d", npods);
    } else if (length > 8 && memcmp(text, "release ", 8) == 0) {
        struct pod *p = find(text + 8);
        if (p != NULL) {
            drop(p);
        }
        reply(s, "ok %d", p != NULL);
    } else if (length == 6 && memcmp(text, "synced", 6) == 0) {
        int dropped = 0;
        for (int i = 0; i < npods;) {
            if (pods[i].stale) {
                say("pod %s: not kept by pid %d since it began holding: closed", pods[i].key, (int) s->pid);
                drop(&pods[i]);
                dropped++;
            } else {
                i++;
            }
        }
        reply(s, "ok %d", dropped);
    } else {
        reply(s, "error unknown command");
    }
    return 0;
}

static void failed_json(struct session *s, const char *why) {
    char text[512];
    snprintf(text, sizeof text, "{\"version\":1,\"type\":\"failed\",\"error\":\"%s\"}", why);
    send_text(s->fd, text);
}

/* A message of the handover protocol (none carries descriptors to this side: the caller closes any that came). */
static void handover(struct session *s, const char *text) {
    if (s->kind == NEW && strstr(text, "\"type\":\"takeover\"") != NULL) {
        struct session *h = holder();
        if (h != NULL) {
            char why[160];
            snprintf(why, sizeof why, "a proxy (pid %d) holds these listeners: take over from it", (int) h->pid);
            say("pid %d: takeover refused: %s", (int) s->pid, why);
            failed_json(s, why);
            end_session(s);
            return;
        }
        for (int i = 0; i < npods; i++) {
            if (send_bytes(s->fd, pods[i].json, pods[i].length, pods[i].fds, pods[i].nfds) < 0) {
                say("pid %d: takeover: cannot send pod %s: %s", (int) s->pid, pods[i].key, strerror(errno));
                end_session(s);
                return;
            }
        }
        char done[128];
        snprintf(done, sizeof done, "{\"version\":1,\"type\":\"listeners_done\",\"pods\":%d}", npods);
        if (send_text(s->fd, done) < 0) {
            end_session(s);
            return;
        }
        s->kind = TAKING_OVER;
        say("pid %d takes over %d pod(s)' listeners", (int) s->pid, npods);
    } else if (s->kind == TAKING_OVER && strstr(text, "\"type\":\"accepting\"") != NULL) {
        send_text(s->fd, "{\"version\":1,\"type\":\"done\",\"moved\":0,\"kept\":0}");
        say("pid %d accepts on the pods' listeners", (int) s->pid);
        end_session(s);
    } else if (strstr(text, "\"type\":\"failed\"") != NULL) {
        say("pid %d gave the takeover up: %s", (int) s->pid, text);
        end_session(s);
    } else {
        failed_json(s, "unexpected message");
        end_session(s);
    }
}

static void serve(struct session *s) {
    int fds[MAX_FDS];
    int nfds = 0;
    union {
        struct cmsghdr align;
        char space[CMSG_SPACE(sizeof(int) * MAX_FDS)];
    } control;
    struct iovec iov = { .iov_base = buffer, .iov_len = MAX_BYTES };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.space,
                          .msg_controllen = sizeof control.space };
    ssize_t n = recvmsg(s->fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        return;
    }
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); n >= 0 && c != NULL; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            int count = (int) ((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            for (int i = 0; i < count; i++) {
                int fd;
                memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
                if (nfds < MAX_FDS) {
                    fds[nfds++] = fd;
                } else {
                    close(fd);
                }
            }
        }
    }
    if (n <= 0) {
        if (n < 0) {
            say("pid %d: %s", (int) s->pid, strerror(errno));
        }
        close_all(fds, nfds); /* an empty datagram may still have carried some */
        end_session(s);
        return;
    }
    int taken = 0; /* whether a pod kept took the descriptors; whatever else came is closed here */
    if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0) {
        reply(s, "error a message larger than %d bytes or with more than %d descriptors", MAX_BYTES, MAX_FDS);
    } else if (buffer[0] == '{') {
        buffer[n] = '\0';
        handover(s, buffer);
    } else {
        taken = command(s, buffer, (size_t) n, fds, nfds);
    }
    if (!taken) {
        close_all(fds, nfds);
    }
}

static void accept_session(int listener) {
    int fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) {
        if (errno != EAGAIN && errno != EINTR) {
            say("accept: %s", strerror(errno));
        }
        return;
    }
    struct ucred who;
    socklen_t length = sizeof who;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &who, &length) < 0) {
        say("SO_PEERCRED: %s", strerror(errno));
        close(fd);
        return;
    }
    if (who.uid != 0 && who.uid != geteuid()) {
        say("refused pid %d: uid %d is not root", (int) who.pid, (int) who.uid);
        close(fd);
        return;
    }
    struct timeval timeout = { .tv_sec = SEND_TIMEOUT_S };
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    for (int i = 0; i < MAX_SESSIONS; i++) {
        if (sessions[i].kind == FREE) {
            sessions[i] = (struct session) { .fd = fd, .kind = NEW, .pid = who.pid };
            return;
        }
    }
    say("refused pid %d: %d sessions open", (int) who.pid, MAX_SESSIONS);
    close(fd);
}

/* mkdir -p of the socket's directory (0755: the socket itself is 0600). */
static void make_parents(void) {
    char dir[sizeof ((struct sockaddr_un *) 0)->sun_path];
    snprintf(dir, sizeof dir, "%s", socket_path);
    for (char *slash = strchr(dir + 1, '/'); slash != NULL; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
            say("cannot create %s: %s", dir, strerror(errno));
            exit(2);
        }
        *slash = '/';
    }
}

static int open_socket(void) {
    struct sockaddr_un address = { .sun_family = AF_UNIX };
    if (strlen(socket_path) >= sizeof address.sun_path) {
        usage("--socket: the path is too long for a Unix socket");
    }
    strcpy(address.sun_path, socket_path);
    make_parents();
    struct stat st;
    if (lstat(socket_path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            say("%s exists and is not a socket", socket_path);
            exit(2);
        }
        int probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (probe >= 0 && connect(probe, (struct sockaddr *) &address, sizeof address) == 0) {
            say("another keeper listens at %s; this one takes the path (the other keeps what it holds)", socket_path);
        }
        if (probe >= 0) {
            close(probe);
        }
        unlink(socket_path);
    }
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    mode_t mask = umask(077);
    int bound = fd < 0 ? -1 : bind(fd, (struct sockaddr *) &address, sizeof address);
    umask(mask);
    if (bound < 0 || chmod(socket_path, 0600) < 0 || listen(fd, 64) < 0 || stat(socket_path, &st) < 0) {
        say("cannot listen at %s: %s", socket_path, strerror(errno));
        exit(2);
    }
    socket_inode = st.st_ino;
    return fd;
}

static void remove_socket(void) {
    struct stat st;
    if (stat(socket_path, &st) == 0 && st.st_ino == socket_inode) {
        unlink(socket_path);
    }
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(NULL);
        } else if ((strcmp(argv[i], "--socket") == 0 && i + 1 < argc) || strncmp(argv[i], "--socket=", 9) == 0) {
            socket_path = argv[i][8] == '=' ? argv[i] + 9 : argv[++i];
        } else if ((strcmp(argv[i], "--max-pods") == 0 && i + 1 < argc) || strncmp(argv[i], "--max-pods=", 11) == 0) {
            char *end;
            long n = strtol(argv[i][10] == '=' ? argv[i] + 11 : argv[++i], &end, 10);
            if (*end != '\0' || n < 1 || n > 65536) {
                usage("--max-pods: a number from 1 to 65536");
            }
            max_pods = (int) n;
        } else {
            usage("unknown or incomplete argument");
        }
    }
    if (socket_path == NULL) {
        usage("--socket PATH is required");
    }
    pods = calloc((size_t) max_pods, sizeof *pods);
    if (pods == NULL) {
        say("out of memory");
        return 2;
    }
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    signal(SIGPIPE, SIG_IGN);
    if (sfd < 0) {
        say("signalfd: %s", strerror(errno));
        return 2;
    }
    int listener = open_socket();
    for (int i = 0; i < MAX_SESSIONS; i++) {
        sessions[i].fd = -1;
    }
    say("listening at %s (at most %d pods)", socket_path, max_pods);
    while (1) {
        struct pollfd p[MAX_SESSIONS + 2];
        int index[MAX_SESSIONS + 2];
        int n = 0;
        p[n++] = (struct pollfd) { .fd = sfd, .events = POLLIN };
        p[n++] = (struct pollfd) { .fd = listener, .events = POLLIN };
        for (int i = 0; i < MAX_SESSIONS; i++) {
            if (sessions[i].kind != FREE) {
                index[n] = i;
                p[n++] = (struct pollfd) { .fd = sessions[i].fd, .events = POLLIN };
            }
        }
        if (poll(p, (nfds_t) n, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            say("poll: %s", strerror(errno));
            return 2;
        }
        if (p[0].revents != 0) {
            struct signalfd_siginfo info;
            if (read(sfd, &info, sizeof info) == (ssize_t) sizeof info) {
                say("stopping on signal %d; %d pod(s)' listeners close", (int) info.ssi_signo, npods);
                remove_socket();
                return 0;
            }
        }
        for (int i = 2; i < n; i++) {
            if (p[i].revents != 0 && sessions[index[i]].kind != FREE) {
                serve(&sessions[index[i]]);
            }
        }
        if (p[1].revents != 0) {
            accept_session(listener);
        }
    }
}
