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

#ifndef BRIDGEKEEPER_EMBEDDED
// (Regular runtime only: HELPER_RUNTIME=regular. The Embedded Swift build, the default, has no
// such runtime members: scripts/embedded-helper.sh defines BRIDGEKEEPER_EMBEDDED.)
// Two members of the static Swift runtime (libswiftCore.a) that the helper replaces by defining
// every symbol they export, so the linker never pulls them in (an archive member is linked only
// for a symbol still undefined). Both cost start-up time on every run and do nothing useful here:
//
// - CommandLine.cpp's ArgvGrabber, a global constructor, opens /proc/self/maps, parses it with
//   sscanf (about 50,000 instructions) and scans the stack for argv relative to environ, which
//   the pre-init hook has already moved, so it finds nothing. Swift's CommandLine gets argv from
//   _swift_stdlib_getUnsafeArgvArgc: this one answers with what the pre-init hook saved (exactly
//   what execve passed). The helper itself reads bk_entry_argv, not CommandLine.
// - Paths.cpp's swift_copyAuxiliaryExecutablePath is how the backtracer's constructor looks for
//   a `swift-backtrace` program next to the executable (readlink /proc/self/exe and 9 stat calls
//   under /usr/libexec/swift and the executable's directory), even in a setuid process, where
//   the runtime then disables backtracing anyway. Here it finds nothing without looking, so
//   backtracing stays off in every mode (as root too) and no path outside the binary is ever
//   consulted. swift_getRootPath and swift_getRuntimeLibraryPath are Paths.cpp's other exports:
//   nothing in the static runtime calls them; defined so the member can never be needed.
//
// If a later toolchain adds an export to either member that something references, the link
// fails with a duplicate definition: loud, never a silent change. The release gates check the
// result (no /proc/self/maps, no swift-backtrace probe in the helper's start-up).
__attribute__((swiftcall, used))
char **_swift_stdlib_getUnsafeArgvArgc(int *outArgLen) {
    *outArgLen = saved_argc;
    return saved_argv;
}

// Only the Swift REPL/JIT calls this (to give CommandLine a made-up argv); the helper never does.
__attribute__((swiftcall, used))
void _swift_stdlib_overrideUnsafeArgvArgc(char **argv, int argc) {
    saved_argv = argv;
    saved_argc = argc;
}

__attribute__((used)) char *swift_copyAuxiliaryExecutablePath(const char *name) {
    (void)name;
    return NULL;
}

__attribute__((used)) const char *swift_getRootPath(void) { return NULL; }
__attribute__((used)) const char *swift_getRuntimeLibraryPath(void) { return NULL; }
#endif
