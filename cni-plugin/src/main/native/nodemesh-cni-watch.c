/*
 * nodemesh-cni-watch: the DaemonSet's install-cni sidecar without a resident JVM (docs/cni.md, "Keeping the plugin
 * installed"). It runs COMMAND, `nodemesh install-cni ...` (which installs or repairs, then exits), at start and again
 * whenever one of the watched directories changes, and otherwise sleeps in poll(2) on an inotify descriptor: about a
 * megabyte resident instead of a JVM's 86 MiB, and the JVM only while a repair runs.
 *
 *   nodemesh-cni-watch --dir DIR [--dir DIR ...] [--recheck-seconds N] [--settle-ms N] -- COMMAND [ARG ...]
 *
 * - A burst of changes (a primary CNI's temp file and rename) is one run: the run starts settle-ms after the first.
 * - Changes made while the command runs (its own writes, or another hand's) bring one more run; a change during that
 *   one waits for the next change or the re-check, so a command that always writes cannot loop.
 * - A directory that is missing, or goes away, is looked for every second; when it is there, it is watched and the
 *   command runs. An inotify queue overflow runs the command.
 * - A run that fails (status not 0, or killed) is tried again after 1, 2, 4 ... s, at most 60 s (and at most the
 *   re-check), or at the next change; what changed while it failed does not count, so a failing command that writes
 *   cannot loop either.
 * - Without any change the command runs every --recheck-seconds (default 300; 0: never).
 * - SIGTERM or SIGINT: a run under way may finish (10 s at most, then SIGKILL); then exit 0. Nothing is removed: the
 *   plugin stays installed (a DaemonSet restart must not leave pods uncaptured).
 * - As a container's PID 1 it reaps every child, also those it did not start.
 *
 * Exit status: 0 stopped by a signal; 2 bad arguments or inotify unusable. Messages go to stderr, one line each,
 * prefixed "nodemesh-cni-watch: ".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_DIRS 8
#define WATCH_MASK (IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB \
                    | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)
#define MISSING_POLL_MS 1000LL
#define STOP_WAIT_MS 10000LL
#define MAX_BACKOFF_MS 60000LL

struct dir {
    const char *path;
    int wd;         /* -1: not watched (missing, or the watch could not be added) */
    int reported;   /* errno last told about it, so that each problem is told once */
};

static struct dir dirs[MAX_DIRS];
static int ndirs;
static int ino = -1;
static int sfd = -1;
static sigset_t original_mask;
static char **command;

static void say(const char *format, ...) {
    va_list args;
    va_start(args, format);
    fputs("nodemesh-cni-watch: ", stderr);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    fflush(stderr);
    va_end(args);
}

static void usage(const char *problem) {
    if (problem != NULL) {
        say("%s", problem);
    }
    fputs("usage: nodemesh-cni-watch --dir DIR [--dir DIR ...] [--recheck-seconds N] [--settle-ms N] "
          "-- COMMAND [ARG ...]\n"
          "Runs COMMAND now and each time a DIR changes; stops on SIGTERM, leaving everything in place.\n",
          problem != NULL ? stderr : stdout);
    exit(problem != NULL ? 2 : 0);
}

static long long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long) t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* A whole number in [0, max], or usage. */
static long long number(const char *option, const char *text, long long max) {
    char *end;
    errno = 0;
    long long n = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || n < 0 || n > max) {
        char message[256];
        snprintf(message, sizeof message, "%s wants a whole number from 0 to %lld, not \"%s\"", option, max, text);
        usage(message);
    }
    return n;
}

/* The value of "--name=value" or "--name value" at argv[*i], advancing *i past it; NULL if argv[*i] is not --name. */
static const char *option(const char *name, int argc, char **argv, int *i) {
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0) {
        return NULL;
    }
    if (argv[*i][n] == '=') {
        return argv[*i] + n + 1;
    }
    if (argv[*i][n] != '\0') {
        return NULL;
    }
    if (*i + 1 >= argc) {
        char message[128];
        snprintf(message, sizeof message, "%s wants a value", name);
        usage(message);
    }
    return argv[++*i];
}

/* Adds a watch to each directory that has none; returns 1 if one was added (it was missing: the command should run). */
static int watch_dirs(void) {
    int added = 0;
    for (int i = 0; i < ndirs; i++) {
        struct dir *d = &dirs[i];
        if (d->wd >= 0) {
            continue;
        }
        int wd = inotify_add_watch(ino, d->path, WATCH_MASK);
        if (wd >= 0) {
            if (d->reported != 0) {
                say("%s is there: watching it", d->path);
            }
            d->wd = wd;
            d->reported = 0;
            added = 1;
        } else if (errno != d->reported) {
            d->reported = errno;
            if (errno == ENOENT) {
                say("%s does not exist (yet): looking for it every second", d->path);
            } else if (errno == ENOTDIR) {
                say("%s is not a directory: looking again every second", d->path);
            } else if (errno == ENOSPC) {
                say("cannot watch %s: the user's inotify watches are used up (fs.inotify.max_user_watches); "
                    "trying again every second", d->path);
            } else {
                say("cannot watch %s: %s; trying again every second", d->path, strerror(errno));
            }
        }
    }
    return added;
}

static int all_watched(void) {
    for (int i = 0; i < ndirs; i++) {
        if (dirs[i].wd < 0) {
            return 0;
        }
    }
    return 1;
}

/*
 * Reads every pending event; returns 1 if any says something changed. A directory that went away (deleted, moved,
 * unmounted) loses its watch and is looked for again.
 */
static int drain(const char **what) {
    *what = "a watched directory";
    char buffer[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
    int changed = 0;
    for (;;) {
        ssize_t n = read(ino, buffer, sizeof buffer);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno != EAGAIN) {
                say("reading inotify events: %s", strerror(errno));
                exit(2);
            }
            return changed;
        }
        for (char *p = buffer; p < buffer + n;) {
            const struct inotify_event *event = (const struct inotify_event *) p;
            p += sizeof(struct inotify_event) + event->len;
            changed = 1;
            if (event->mask & IN_Q_OVERFLOW) {
                *what = "events were lost (inotify queue overflow)";
                continue;
            }
            for (int i = 0; i < ndirs; i++) {
                struct dir *d = &dirs[i];
                if (d->wd != event->wd) {
                    continue;
                }
                *what = d->path;
                if (event->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED | IN_UNMOUNT)) {
                    if (!(event->mask & IN_IGNORED)) {
                        inotify_rm_watch(ino, d->wd); /* a moved directory keeps its watch: not the path's any more */
                    }
                    say("%s went away", d->path);
                    d->wd = -1;
                    d->reported = ENOENT;
                }
            }
        }
    }
}

/* Reaps every child that has exited; returns pid's status through *status and 1 if pid was among them. */
static int reap(pid_t pid, int *status) {
    int found = 0;
    for (;;) {
        int s;
        pid_t done = waitpid(-1, &s, WNOHANG);
        if (done <= 0) {
            return found;
        }
        if (done == pid) {
            *status = s;
            found = 1;
        }
    }
}

/* Reads the pending signals; returns 1 if one asks to stop. */
static int signals(void) {
    int stop = 0;
    struct signalfd_siginfo info;
    while (read(sfd, &info, sizeof info) == (ssize_t) sizeof info) {
        if (info.ssi_signo == SIGTERM || info.ssi_signo == SIGINT) {
            stop = 1;
        }
    }
    return stop;
}

/*
 * Runs the command and waits for it. Returns its exit status (128 + the signal when one killed it, 127 when it could
 * not be started); sets *stop when a signal asked to stop meanwhile (the run was let finish, or killed after 10 s).
 */
static int run(const char *why, int *stop) {
    say("running %s%s%s (%s)", command[0], command[1] != NULL ? " " : "", command[1] != NULL ? command[1] : "", why);
    pid_t pid = fork();
    if (pid < 0) {
        say("cannot start %s: %s", command[0], strerror(errno));
        return 127;
    }
    if (pid == 0) {
        sigprocmask(SIG_SETMASK, &original_mask, NULL);
        execvp(command[0], command);
        say("cannot run %s: %s", command[0], strerror(errno));
        _exit(127);
    }
    long long deadline = -1;
    for (;;) {
        int status;
        if (reap(pid, &status)) {
            if (WIFSIGNALED(status)) {
                return 128 + WTERMSIG(status);
            }
            return WEXITSTATUS(status);
        }
        int timeout = -1;
        if (deadline >= 0) {
            long long left = deadline - now_ms();
            timeout = left > 0 ? (int) left : 0;
        }
        struct pollfd p = { .fd = sfd, .events = POLLIN };
        int ready = poll(&p, 1, timeout);
        if (ready < 0 && errno != EINTR) {
            say("poll: %s", strerror(errno));
            exit(2);
        }
        if (ready == 0 && deadline >= 0) {
            say("%s still runs %lld s after the signal to stop: killing it", command[0], STOP_WAIT_MS / 1000);
            kill(pid, SIGKILL);
            deadline = -1;
        }
        if (ready > 0 && signals() && !*stop) {
            *stop = 1;
            say("asked to stop: letting the running %s finish (at most %lld s)", command[0], STOP_WAIT_MS / 1000);
            deadline = now_ms() + STOP_WAIT_MS;
        }
    }
}

int main(int argc, char **argv) {
    long long recheck_ms = 300 * 1000LL;
    long long settle_ms = 50;
    int i = 1;
    for (; i < argc; i++) {
        const char *value;
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(NULL);
        } else if ((value = option("--dir", argc, argv, &i)) != NULL) {
            if (ndirs == MAX_DIRS) {
                usage("at most 8 --dir");
            }
            if (*value == '\0') {
                usage("--dir wants a directory");
            }
            dirs[ndirs++] = (struct dir) { .path = value, .wd = -1, .reported = 0 };
        } else if ((value = option("--recheck-seconds", argc, argv, &i)) != NULL) {
            recheck_ms = number("--recheck-seconds", value, 30L * 24 * 3600) * 1000;
        } else if ((value = option("--settle-ms", argc, argv, &i)) != NULL) {
            settle_ms = number("--settle-ms", value, 10000);
        } else {
            char message[256];
            snprintf(message, sizeof message, "unknown argument \"%s\" (the command goes after --)", argv[i]);
            usage(message);
        }
    }
    if (ndirs == 0) {
        usage("no --dir to watch");
    }
    if (i >= argc) {
        usage("no command after --");
    }
    command = argv + i;

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGCHLD);
    /* Blocked signals are queued even for a PID 1 without handlers, and read from the signalfd. */
    if (sigprocmask(SIG_BLOCK, &mask, &original_mask) != 0
            || (sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
        say("signalfd: %s", strerror(errno));
        return 2;
    }
    ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (ino < 0) {
        say("inotify_init1: %s%s", strerror(errno),
            errno == EMFILE ? " (fs.inotify.max_user_instances is reached)" : "");
        return 2;
    }
    watch_dirs();
    for (int d = 0; d < ndirs; d++) {
        if (dirs[d].wd >= 0) {
            say("watching %s", dirs[d].path);
        }
    }
    if (recheck_ms > 0) {
        say("and running the command every %lld s without a change", recheck_ms / 1000);
    }

    long long next = now_ms();      /* when the command runs next; -1: at the next change */
    const char *why = "start";
    int failures = 0;
    int rerun = 0;                  /* the coming run is for changes made while the last one ran */
    char reason[PATH_MAX + 64];
    for (;;) {
        long long now = now_ms();
        if (next >= 0 && now >= next) {
            int stop = 0;
            int was_rerun = rerun;
            int status = run(why, &stop);
            if (stop) {
                say("stopped; what is installed stays installed");
                return 0;
            }
            const char *what;
            int changed = drain(&what);
            now = now_ms();
            rerun = 0;
            if (status == 0) {
                failures = 0;
                next = recheck_ms > 0 ? now + recheck_ms : -1;
                why = "periodic re-check";
                if (changed && !was_rerun) {
                    snprintf(reason, sizeof reason, "%s changed while it ran", what);
                    why = reason;
                    next = now + settle_ms;
                    rerun = 1;
                }
            } else {
                long long backoff = 1000LL << (failures < 6 ? failures : 6);
                if (backoff > MAX_BACKOFF_MS) {
                    backoff = MAX_BACKOFF_MS;
                }
                if (recheck_ms > 0 && backoff > recheck_ms) {
                    backoff = recheck_ms;
                }
                failures++;
                say("%s exited with status %d: trying again in %lld s, or at the next change", command[0], status,
                    backoff / 1000);
                next = now + backoff;
                why = "trying again";
            }
            continue;
        }

        int timeout = -1;
        if (next >= 0) {
            timeout = next - now > 3600 * 1000LL ? 3600 * 1000 : (int) (next - now);
        }
        if (!all_watched() && (timeout < 0 || timeout > MISSING_POLL_MS)) {
            timeout = (int) MISSING_POLL_MS;
        }
        struct pollfd p[2] = { { .fd = sfd, .events = POLLIN }, { .fd = ino, .events = POLLIN } };
        int ready = poll(p, 2, timeout);
        if (ready < 0) {
            if (errno == EINTR) {
                continue;
            }
            say("poll: %s", strerror(errno));
            return 2;
        }
        if (p[0].revents & POLLIN) {
            int status;
            int stop = signals();
            reap(-1, &status);
            if (stop) {
                say("stopped; what is installed stays installed");
                return 0;
            }
        }
        const char *what;
        if ((p[1].revents & POLLIN) && drain(&what)) {
            snprintf(reason, sizeof reason, "%s changed", what);
            if (next < 0 || next > now_ms() + settle_ms || rerun || failures > 0) {
                why = reason;
                next = now_ms() + settle_ms;
                rerun = 0;
            }
        }
        if (watch_dirs()) {
            snprintf(reason, sizeof reason, "a watched directory appeared");
            why = reason;
            next = now_ms() + settle_ms;
            rerun = 0;
        }
    }
}
