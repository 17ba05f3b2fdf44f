/* logwriter ID LINES GOFILE [BYTES_PER_S]: the service in the log benchmarks.
   Waits until GOFILE exists (so no subject's start-up is timed), then writes
   LINES numbered lines of LINE bytes to stdout:

       |w3|000000042|xxxxxxxx...x\n

   40 lines to a write(): 4,000 bytes, under PIPE_BUF, so writers sharing one
   pipe never cut each other's lines. Without BYTES_PER_S, as fast as the pipe
   takes them; with it, paced to that rate. The "|wID|" tag lets the harness
   count each writer's lines in what the loggers kept. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LINE 100
#define PER_WRITE 40

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void nap(double seconds)
{
    struct timespec ts = {(time_t)seconds, (long)((seconds - (time_t)seconds) * 1e9)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static int write_all(const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(1, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("logwriter: write");
            return -1;
        }
        buf += n;
        len -= n;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 4 || argc > 5) {
        fprintf(stderr, "usage: logwriter ID LINES GOFILE [BYTES_PER_S]\n");
        return 2;
    }
    const char *id = argv[1];
    long long lines = atoll(argv[2]);
    double rate = argc == 5 ? atof(argv[4]) : 0;
    /* bounded: a harness that never says go leaves no writer behind */
    double give_up = now() + 120;
    while (access(argv[3], F_OK) != 0) {
        if (now() > give_up) {
            fprintf(stderr, "logwriter: no %s within 120 s\n", argv[3]);
            return 1;
        }
        nap(0.001);
    }
    static char buf[LINE * PER_WRITE];
    memset(buf, 'x', sizeof buf);
    double start = now();
    long long seq = 0;
    while (seq < lines) {
        int count = lines - seq < PER_WRITE ? (int)(lines - seq) : PER_WRITE;
        for (int i = 0; i < count; i++) {
            char *line = buf + i * LINE;
            int n = snprintf(line, LINE, "|w%s|%09lld|", id, ++seq);
            line[n] = 'x';  /* snprintf's terminating NUL */
            line[LINE - 1] = '\n';
        }
        if (write_all(buf, (size_t)count * LINE) < 0)
            return 1;
        if (rate > 0) {
            double due = start + seq * LINE / rate;
            double ahead = due - now();
            if (ahead > 0)
                nap(ahead);
        }
    }
    return 0;
}
