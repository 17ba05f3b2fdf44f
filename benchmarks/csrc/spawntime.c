/* spawntime [-o FILE] N CMD [ARGS...]: posix_spawnp + waitpid CMD N times,
   printing each run's wall time in ns and its wait status. Both the start-up
   timer (each line) and the spawn-rate floor (their sum) of the benchmarks.
   With -o the lines go to FILE, so a CMD that prints (a control client) can
   share spawntime's stdout without mixing its output into the timings. */
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
    FILE *out = stdout;
    if (argc > 2 && strcmp(argv[1], "-o") == 0) {
        out = fopen(argv[2], "w");
        if (!out) {
            perror("spawntime: fopen");
            return 1;
        }
        argv += 2;
        argc -= 2;
    }
    if (argc < 3) {
        fprintf(stderr, "usage: spawntime [-o FILE] N CMD [ARGS...]\n");
        return 2;
    }
    long n = atol(argv[1]);
    for (long i = 0; i < n; i++) {
        pid_t pid;
        int status;
        int64_t start = now_ns();
        if (posix_spawnp(&pid, argv[2], NULL, NULL, argv + 2, environ) != 0) {
            perror("spawntime: posix_spawnp");
            return 1;
        }
        if (waitpid(pid, &status, 0) < 0)
            return 1;
        fprintf(out, "%lld %d\n", (long long)(now_ns() - start), status);
    }
    return fclose(out) == 0 ? 0 : 1;
}
