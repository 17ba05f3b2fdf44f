/* The on-demand service of the live benchmark: accept on the socket passed
   as fd 3 (LISTEN_FDS, as luasup and systemd pass it), write "hello\n" to
   each client and close, for ever (120 s at most). */
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void)
{
    alarm(120);
    for (;;) {
        int c = accept(3, NULL, NULL);
        if (c < 0)
            return 1;
        if (write(c, "hello\n", 6) != 6)
            return 1;
        close(c);
    }
}
