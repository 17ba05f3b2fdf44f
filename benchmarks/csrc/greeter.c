/* The on-demand service of the live benchmark: accept on the socket passed
   as fd 3 (LISTEN_FDS, as luasup and systemd pass it), write "hello\n" to
   each client and close, for ever (300 s at most).

   greeter [FD]   accept on FD instead (0: supervisord's fcgi-program) */
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    int fd = argc > 1 ? atoi(argv[1]) : 3;
    alarm(300);
    for (;;) {
        int c = accept(fd, NULL, NULL);
        if (c < 0)
            return 1;
        if (write(c, "hello\n", 6) != 6)
            return 1;
        close(c);
    }
}
