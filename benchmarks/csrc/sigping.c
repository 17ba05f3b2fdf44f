/* Signal round trips through an init.

   sigping recv FIFO       the child: waits for SIGUSR1 with sigtimedwait and
                           writes its CLOCK_MONOTONIC receipt time to FIFO
   sigping send PID FIFO N GAP_US
                           sends SIGUSR1 to PID N times, one at a time, and
                           prints receipt time minus send time in ns

   Both ends take the time from the same clock, so the latency excludes the
   way back; one signal is in flight at a time, so none are merged. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int recv_main(const char *fifo)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    int fd = open(fifo, O_WRONLY);
    if (fd < 0) {
        perror("sigping recv: open");
        return 1;
    }
    int64_t stamp = 0; /* the ready mark: the signal is blocked from here on */
    if (write(fd, &stamp, sizeof stamp) != sizeof stamp)
        return 1;
    /* an orphaned receiver gives up after 30 s without a signal */
    struct timespec idle = {30, 0};
    for (;;) {
        int sig = sigtimedwait(&set, NULL, &idle);
        if (sig < 0) {
            if (errno == EINTR)
                continue;
            return 0;
        }
        stamp = now_ns();
        if (write(fd, &stamp, sizeof stamp) != sizeof stamp)
            return 0;
    }
}

static int read_stamp(int fd, int64_t *stamp, int timeout_ms)
{
    struct pollfd p = {fd, POLLIN, 0};
    size_t got = 0;
    while (got < sizeof *stamp) {
        int r = poll(&p, 1, timeout_ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        ssize_t n = read(fd, (char *)stamp + got, sizeof *stamp - got);
        if (n < 0 && errno == EAGAIN)
            continue;
        if (n <= 0)
            return -1;
        got += n;
    }
    return 0;
}

static int send_main(pid_t pid, const char *fifo, long count, long gap_us)
{
    int fd = open(fifo, O_RDONLY | O_NONBLOCK);
    if (fd < 0) {
        perror("sigping send: open");
        return 1;
    }
    int64_t stamp;
    if (read_stamp(fd, &stamp, 20000) < 0) {
        fprintf(stderr, "sigping send: receiver never became ready\n");
        return 1;
    }
    struct timespec gap = {gap_us / 1000000, (gap_us % 1000000) * 1000};
    for (long i = 0; i < count; i++) {
        int64_t sent = now_ns();
        if (kill(pid, SIGUSR1) < 0) {
            perror("sigping send: kill");
            return 1;
        }
        if (read_stamp(fd, &stamp, 2000) < 0) {
            fprintf(stderr, "sigping send: signal %ld never arrived\n", i);
            return 1;
        }
        printf("%lld\n", (long long)(stamp - sent));
        nanosleep(&gap, NULL);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "recv") == 0)
        return recv_main(argv[2]);
    if (argc == 6 && strcmp(argv[1], "send") == 0)
        return send_main(atoi(argv[2]), argv[3], atol(argv[4]), atol(argv[5]));
    fprintf(stderr, "usage: sigping recv FIFO | sigping send PID FIFO N GAP_US\n");
    return 2;
}
