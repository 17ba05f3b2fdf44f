/* The service in the restart-latency benchmark: on start, append
   "PID MONOTONIC_NS" to a file, then wait to be killed (120 s at most).

   stamper FILE   append to FILE
   stamper DIR    append to DIR/stamps
   stamper        append to ./stamps
   The last two let a service directory's `run` be a symlink to this
   program, so no shell adds its start-up: s6-supervise runs it with the
   directory as its argument, runsv with none, in the directory. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    const char *path = argc > 1 ? argv[1] : "stamps";
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0 && errno == EISDIR && chdir(path) == 0)
        fd = open("stamps", O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0)
        return 1;
    char line[64];
    int n = snprintf(line, sizeof line, "%d %lld\n", (int)getpid(),
                     (long long)now.tv_sec * 1000000000LL + now.tv_nsec);
    if (write(fd, line, n) != n)  /* one write: O_APPEND keeps lines whole */
        return 1;
    close(fd);
    alarm(120);
    for (;;)
        pause();
}
