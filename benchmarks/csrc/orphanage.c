/* orphanage N same|separate REPORTFILE PIDFILE

   Double-forks N orphans, so they are reparented to the nearest reaper (the
   init under test) while alive. With `same` they all stay in this process's
   group; with `separate` each leads a group of its own. An orphan that gets
   SIGTERM appends its pid to REPORTFILE and exits, so the report says which
   ones the init reached with SIGTERM rather than SIGKILL; one that gets
   nothing dies by SIGALRM after 120 s, so none outlives a broken run by
   much. Once every orphan is in place (its handler set), their pids go to
   PIDFILE and this process exits 3. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int report_fd = -1;

static void on_term(int signo)
{
    char buf[24];
    int len = 0;
    unsigned pid = (unsigned)getpid();
    char digits[16];
    int n = 0;
    (void)signo;
    do {
        digits[n++] = (char)('0' + pid % 10);
        pid /= 10;
    } while (pid);
    while (n)
        buf[len++] = digits[--n];
    buf[len++] = '\n';
    (void)!write(report_fd, buf, len);
    _exit(0);
}

static void be_orphan(int separate, int tell)
{
    struct sigaction sa;
    sigset_t none;
    int null = open("/dev/null", O_RDWR);
    pid_t me = getpid();

    if (separate)
        setpgid(0, 0);
    /* hold no pipe of the init's: a capture must see end of file */
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGALRM, SIG_DFL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    alarm(120);
    (void)!write(tell, &me, sizeof me);
    close(tell);
    for (;;)
        pause();
}

int main(int argc, char **argv)
{
    if (argc != 5 || (strcmp(argv[2], "same") && strcmp(argv[2], "separate"))) {
        fprintf(stderr, "usage: orphanage N same|separate REPORTFILE PIDFILE\n");
        return 2;
    }
    long n = atol(argv[1]);
    int separate = strcmp(argv[2], "separate") == 0;
    int ready[2];
    report_fd = open(argv[3], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (report_fd < 0 || pipe(ready) < 0) {
        perror("orphanage");
        return 1;
    }
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", argv[4]);
    FILE *out = fopen(tmp, "w");
    if (!out)
        return 1;
    for (long i = 0; i < n; i++) {
        pid_t middle = fork();
        if (middle < 0) {
            perror("orphanage: fork");
            return 1;
        }
        if (middle == 0) {
            close(ready[0]);
            if (fork() == 0)
                be_orphan(separate, ready[1]);
            _exit(0);
        }
        waitpid(middle, NULL, 0);
        pid_t orphan;
        if (read(ready[0], &orphan, sizeof orphan) != sizeof orphan)
            return 1;
        fprintf(out, "%d\n", (int)orphan);
    }
    /* written aside and renamed, so a reader never sees half of it */
    if (fclose(out) != 0 || rename(tmp, argv[4]) != 0)
        return 1;
    return 3;
}
