// See CHelperEntry.h for why this exists.
#include "CHelperEntry.h"

#include <stddef.h>

extern char **environ;

static int saved_argc;
static char **saved_argv;
static int ran;
// An empty environment, not a NULL one: the Swift runtime scans environ and would crash on NULL.
static char *empty_environment[1] = { NULL };

static void bk_preinit(int argc, char **argv, char **envp) {
    (void)envp;
    saved_argc = argc;
    saved_argv = argv;
    environ = empty_environment;
    ran = 1;
}

__attribute__((section(".preinit_array"), used))
static void (*const bk_preinit_entry)(int, char **, char **) = bk_preinit;

// LINK=dynamic: ld.so calls the pre-init hook before it jumps to _start, and glibc's
// __libc_start_main then sets environ again from the stack, before the executable's own
// constructors (among them the statically linked Swift runtime's). The lowest constructor
// priority a program may use (101) sorts this one first in .init_array, ahead of the runtime's
// (all default priority), so it takes the environment away again. Static builds need it not
// (there __libc_start_main sets environ before the pre-init hook) and it is harmless there.
__attribute__((constructor(101), used))
static void bk_clear_environment_again(void) {
    environ = empty_environment;
}

int bk_entry_argc(void) { return saved_argc; }
char *const *bk_entry_argv(void) { return saved_argv; }
int bk_entry_ran(void) { return ran; }
