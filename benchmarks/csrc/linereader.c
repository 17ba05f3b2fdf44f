/* linereader LINES TIMEFILE: drains stdin in 64 KiB reads, counting bytes
   and newlines. The moment the LINES-th newline arrives, CLOCK_MONOTONIC in
   ns goes to TIMEFILE (a supervisor's stdout stays open after its last line,
   so EOF cannot mark the end); at EOF it prints "BYTES LINES". */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int stamp(const char *path)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *out = fopen(tmp, "w");
    if (!out)
        return -1;
    fprintf(out, "%lld\n", (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
    /* written aside and renamed, so the harness never reads half of it */
    if (fclose(out) != 0 || rename(tmp, path) != 0)
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: linereader LINES TIMEFILE\n");
        return 2;
    }
    long long want = atoll(argv[1]);
    static char buf[65536];
    long long bytes = 0, lines = 0;
    for (;;) {
        ssize_t n = read(0, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        bytes += n;
        long long before = lines;
        for (char *p = buf, *end = buf + n; (p = memchr(p, '\n', end - p)) != NULL; p++)
            lines++;
        if (before < want && lines >= want && stamp(argv[2]) < 0) {
            perror("linereader: stamp");
            return 1;
        }
    }
    printf("%lld %lld\n", bytes, lines);
    return 0;
}
