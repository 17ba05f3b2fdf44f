/* The services of the re-exec benchmark: write "ID SEQ PID MONOTONIC_NS"
   to stdout every PERIOD_MS milliseconds, for ever (300 s at most), one
   write(2) per line so a line never waits in a buffer.

   ticker ID PERIOD_MS
   The first line goes out at a random offset within the period, so 100
   tickers spread over it instead of writing together. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: ticker ID PERIOD_MS\n");
        return 2;
    }
    long period = atol(argv[2]) * 1000000L;
    if (period <= 0)
        return 2;
    alarm(300);
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    srand((unsigned)getpid() ^ (unsigned)next.tv_nsec);
    long offset = rand() % period;
    next.tv_nsec += offset;
    for (unsigned long seq = 0;; seq++) {
        next.tv_sec += next.tv_nsec / 1000000000L;
        next.tv_nsec %= 1000000000L;
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
            ;
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        char line[96];
        int n = snprintf(line, sizeof line, "%s %lu %d %lld\n", argv[1], seq, (int)getpid(),
                         (long long)now.tv_sec * 1000000000LL + now.tv_nsec);
        if (write(1, line, n) != n)
            return 1;
        next.tv_nsec += period;
    }
}
