/* writer BYTES TIMEFILE: writes BYTES to stdout in 64 KiB blocks and records
   in TIMEFILE the ns from the first write to the last one returning. Blocking
   writes pace it to whatever drains the pipe, so this is the relay's speed,
   without the start-up of whatever sits in between. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BLOCK 65536

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: writer BYTES TIMEFILE\n");
        return 2;
    }
    long long left = atoll(argv[1]);
    static char block[BLOCK];
    memset(block, 'x', sizeof block);
    int64_t start = now_ns();
    while (left > 0) {
        size_t want = left < BLOCK ? (size_t)left : BLOCK;
        ssize_t n = write(1, block, want);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("writer: write");
            return 1;
        }
        left -= n;
    }
    int64_t elapsed = now_ns() - start;
    /* written aside and renamed, so a reader never sees half of it */
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", argv[2]);
    FILE *out = fopen(tmp, "w");
    if (!out)
        return 1;
    fprintf(out, "%lld\n", (long long)elapsed);
    if (fclose(out) != 0 || rename(tmp, argv[2]) != 0)
        return 1;
    return 0;
}
