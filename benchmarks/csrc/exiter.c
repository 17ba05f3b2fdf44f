/* The child in the exit-code checks.

   exiter code N          exit with N
   exiter signal SIG      kill itself with SIG
   exiter wait READYFILE  die of whatever signal arrives: restore default
                          dispositions, create READYFILE, wait (60 s at most) */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "code") == 0)
        return atoi(argv[2]);
    if (argc == 3 && strcmp(argv[1], "signal") == 0) {
        signal(atoi(argv[2]), SIG_DFL);
        kill(getpid(), atoi(argv[2]));
        pause();
        return 1;
    }
    if (argc == 3 && strcmp(argv[1], "wait") == 0) {
        /* an ignored SIGINT is inherited through exec from a shell's
           background job; the check is about the init, not about that */
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0)
            return 1;
        close(fd);
        alarm(60);
        for (;;)
            pause();
    }
    fprintf(stderr, "usage: exiter code N | signal SIG | wait READYFILE\n");
    return 2;
}
