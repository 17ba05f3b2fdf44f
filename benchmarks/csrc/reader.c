/* reader: drains stdin in 64 KiB reads and prints how many bytes came. */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

int main(void)
{
    static char buf[65536];
    long long total = 0;
    for (;;) {
        ssize_t n = read(0, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        total += n;
    }
    printf("%lld\n", total);
    return 0;
}
