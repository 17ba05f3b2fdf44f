/* orphans N OUTFILE TIMEOUT_S

   Double-forks N orphans that all wait on one pipe, so they are reparented
   to the nearest reaper (the init under test) while still alive. Then closes
   the pipe: all N exit at once, and the clock runs until every one of them
   has been reaped (kill(pid, 0) answers ESRCH only once a zombie is gone).
   Writes "elapsed_ns left_unreaped" to OUTFILE. Keeping the forks out of the
   timed part makes this a measure of the reaper, not of fork(). */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: orphans N OUTFILE TIMEOUT_S\n");
        return 2;
    }
    long n = atol(argv[1]);
    int64_t timeout = (int64_t)atol(argv[3]) * 1000000000;
    pid_t *pids = calloc(n, sizeof *pids);
    int gate[2], report[2];
    if (!pids || pipe(gate) < 0 || pipe(report) < 0)
        return 1;
    for (long i = 0; i < n; i++) {
        pid_t middle = fork();
        if (middle < 0) {
            perror("orphans: fork");
            return 1;
        }
        if (middle == 0) {
            pid_t orphan = fork();
            if (orphan == 0) {
                char c;
                close(gate[1]);
                close(report[0]);
                close(report[1]);
                while (read(gate[0], &c, 1) < 0 && errno == EINTR)
                    ;
                _exit(0);
            }
            write(report[1], &orphan, sizeof orphan);
            _exit(0);
        }
        if (read(report[0], &pids[i], sizeof pids[i]) != sizeof pids[i] || pids[i] <= 0)
            return 1;
        waitpid(middle, NULL, 0);
    }
    int64_t start = now_ns();
    close(gate[1]);
    long left = n;
    struct timespec pause = {0, 200000};
    while (left > 0 && now_ns() - start < timeout) {
        for (long i = 0; i < n; i++)
            if (pids[i] > 0 && kill(pids[i], 0) < 0 && errno == ESRCH) {
                pids[i] = 0;
                left--;
            }
        if (left > 0)
            nanosleep(&pause, NULL);
    }
    int64_t elapsed = now_ns() - start;
    /* written aside and renamed, so a reader never sees half of it */
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", argv[2]);
    FILE *out = fopen(tmp, "w");
    if (!out)
        return 1;
    fprintf(out, "%lld %ld\n", (long long)elapsed, left);
    if (fclose(out) != 0 || rename(tmp, argv[2]) != 0)
        return 1;
    return 0;
}
