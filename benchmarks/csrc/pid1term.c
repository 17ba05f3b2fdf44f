/* pid1term OFFSET_US SIGNO TIMEOUT_MS ERRFILE CMD [ARGS...]

   Starts CMD as PID 1 of a fresh PID namespace (with its own /proc, as
   `unshare --pid --fork --mount-proc` would), sends it SIGNO OFFSET_US after
   the fork, and waits at most TIMEOUT_MS for it to exit; then SIGKILL,
   which ends the namespace. CMD's stderr goes to ERRFILE. Prints one line:
   `exit CODE US`, `signal N US` (US: from the signal to the exit) or
   `hang SIGNO TIMEOUT_US`. Timing the signal from this side of the fork is
   what finds the window before CMD can catch it. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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
    int64_t offset = atoll(argv[1]);
    int signo = atoi(argv[2]);
    int64_t timeout = atoll(argv[3]) * 1000;
    if (unshare(CLONE_NEWPID | CLONE_NEWNS) < 0) {
        perror("pid1term: unshare");
        return 2;
    }
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
