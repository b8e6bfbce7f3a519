/* b-swap: swaps what a path names, as fast as it can, until SIGTERM (t-h-files' race).
 *   b-swap symlink A B DEST   DEST becomes a symlink to A, then to B, ... (symlink(2) to
 *                             DEST.tmp, then rename(2) over DEST)
 *   b-swap link A B DEST      DEST becomes a hard link of A, then of B, ... (link(2), rename(2))
 *   b-swap exchange A DEST    renameat2(RENAME_EXCHANGE) of A and DEST (files or directories)
 * DEST always exists (rename is atomic). On SIGTERM prints `swaps=N` and exits 0. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_term(int sig) { (void)sig; stop = 1; }

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: b-swap symlink|link A B DEST | exchange A DEST\n"); return 2; }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    const char *mode = argv[1];
    long swaps = 0;
    if (!strcmp(mode, "exchange")) {
        while (!stop) {
            if (renameat2(AT_FDCWD, argv[2], AT_FDCWD, argv[3], RENAME_EXCHANGE) < 0) {
                fprintf(stderr, "b-swap: renameat2: %s\n", strerror(errno));
                return 1;
            }
            swaps++;
        }
    } else {
        if (argc != 5) { fprintf(stderr, "usage: b-swap symlink|link A B DEST\n"); return 2; }
        int symbolic = !strcmp(mode, "symlink");
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s.swap-tmp", argv[4]);
        while (!stop) {
            const char *src = (swaps % 2) ? argv[3] : argv[2];
            unlink(tmp);
            if ((symbolic ? symlink(src, tmp) : link(src, tmp)) < 0 || rename(tmp, argv[4]) < 0) {
                fprintf(stderr, "b-swap: %s\n", strerror(errno));
                return 1;
            }
            swaps++;
        }
        unlink(tmp);
    }
    printf("swaps=%ld\n", swaps);
    return 0;
}
