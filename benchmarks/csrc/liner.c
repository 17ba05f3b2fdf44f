/* liner BYTES LINELEN: writes BYTES to stdout as lines of LINELEN bytes
   (the newline included; LINELEN must divide 65536), or with LINELEN 0 as
   one line with no newline at all. Blocking 64 KiB writes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BLOCK 65536

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: liner BYTES LINELEN\n");
        return 2;
    }
    long long left = atoll(argv[1]);
    long linelen = atol(argv[2]);
    static char block[BLOCK];
    if (linelen < 0 || (linelen > 0 && BLOCK % linelen != 0)) {
        fprintf(stderr, "liner: LINELEN must divide %d\n", BLOCK);
        return 2;
    }
    memset(block, 'x', sizeof block);
    if (linelen > 0)
        for (long i = linelen - 1; i < BLOCK; i += linelen)
            block[i] = '\n';
    while (left > 0) {
        size_t want = left < BLOCK ? (size_t)left : BLOCK;
        ssize_t n = write(1, block, want);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("liner: write");
            return 1;
        }
        left -= n;
    }
    return 0;
}
