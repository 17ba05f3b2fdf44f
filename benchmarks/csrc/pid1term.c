/* pid1term OFFSET_US SIGNO TIMEOUT_MS ERRFILE CMD [ARGS...]

   Starts CMD as PID 1 of a fresh PID namespace (with its own /proc, as
   `unshare --pid --fork --mount-proc` would), sends it SIGNO OFFSET_US after
   the fork, and waits at most TIMEOUT_MS for it to exit; then SIGKILL,
   which ends the namespace. CMD's stderr goes to ERRFILE. Prints one line:
   `exit CODE US`, `signal N US` (US: from the signal to the exit) or
   `hang SIGNO TIMEOUT_US`. Timing the signal from this side of the fork is
   what finds the window before CMD can catch it.

   OFFSET_US written `@N` counts from the moment CMD has SIGNO blocked (read
   from /proc/PID/status) instead of from the fork: that moment
   is when CMD took the signal over, so the window before it (the
   interpreter's own start-up, longer on a loaded machine) is left out. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Whether SIGNO is in the SigBlk mask of PID's main thread. PROC
   is this side's /proc, opened before the child mounts its own over it. */
static int takes(int proc, pid_t pid, int signo)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "%d/status", (int)pid);
    int fd = openat(proc, path, O_RDONLY);
    FILE *f = fd < 0 ? NULL : fdopen(fd, "r");
    if (!f)
        return 0;
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) {
        if (strncmp(line, "SigBlk:", 7))
            continue;
        unsigned long long mask = strtoull(line + 7, NULL, 16);
        found = (mask >> (signo - 1)) & 1;
    }
    fclose(f);
    return found;
}

static void sleep_until(int64_t when)
{
    int64_t left;
    while ((left = when - now_us()) > 0) {
        struct timespec ts = {left / 1000000, (left % 1000000) * 1000};
        nanosleep(&ts, NULL);
    }
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: pid1term OFFSET_US SIGNO TIMEOUT_MS ERRFILE CMD [ARGS...]\n");
        return 2;
    }
    int after_taken = argv[1][0] == '@';
    int64_t offset = atoll(argv[1] + after_taken);
    int signo = atoi(argv[2]);
    int64_t timeout = atoll(argv[3]) * 1000;
    if (unshare(CLONE_NEWPID | CLONE_NEWNS) < 0) {
        perror("pid1term: unshare");
        return 2;
    }
    int proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int64_t start = now_us();
    pid_t pid = fork();
    if (pid < 0) {
        perror("pid1term: fork");
        return 2;
    }
    if (pid == 0) {
        int err = open(argv[4], O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int null = open("/dev/null", O_RDWR);
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
            mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
            _exit(125);
        dup2(null, 0);
        dup2(null, 1);
        dup2(err, 2);
        execvp(argv[5], argv + 5);
        _exit(127);
    }
    if (after_taken) {
        struct timespec poll = {0, 100000};
        while (!takes(proc, pid, signo)) {
            if (now_us() - start > timeout) {
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
                printf("hang %d %lld\n", signo, (long long)timeout);
                return 0;
            }
            nanosleep(&poll, NULL);
        }
        start = now_us();
    }
    sleep_until(start + offset);
    int64_t sent = now_us();
    kill(pid, signo);
    struct timespec pause = {0, 1000000};
    for (;;) {
        int status;
        pid_t got = waitpid(pid, &status, WNOHANG);
        if (got == pid) {
            int64_t took = now_us() - sent;
            if (WIFEXITED(status))
                printf("exit %d %lld\n", WEXITSTATUS(status), (long long)took);
            else
                printf("signal %d %lld\n", WTERMSIG(status), (long long)took);
            return 0;
        }
        if (now_us() - sent > timeout) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            printf("hang %d %lld\n", signo, (long long)timeout);
            return 0;
        }
        nanosleep(&pause, NULL);
    }
}
