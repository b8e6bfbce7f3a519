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

int bk_entry_argc(void) { return saved_argc; }
char *const *bk_entry_argv(void) { return saved_argv; }
int bk_entry_ran(void) { return ran; }
