// CHelperEntry: linked into bridgekeeper-helper only (never into the CLI or the tests).
//
// The Swift runtime reads SWIFT_* environment variables during its own start-up, before main,
// with no secure-mode check (SWIFT_DEBUG_LIB_PRESPECIALIZED_PATH even makes it open a file the
// caller names). A function in .preinit_array runs before every constructor, including the
// runtime's, so it can take the environment away first (LINK=dynamic: glibc restores environ
// after it, so a first constructor takes it away again; see entry.c). It also saves argc/argv,
// which entry.c hands to Swift's CommandLine in place of the runtime's own argv grabber (that one
// reads /proc/self/maps and finds argv relative to environ, which is no longer where it was), and
// it keeps the runtime's backtracer from probing for a swift-backtrace program (entry.c).
#ifndef CHELPERENTRY_H
#define CHELPERENTRY_H

/// argc and argv exactly as execve() passed them, saved before anything else ran.
int bk_entry_argc(void);
char *const *bk_entry_argv(void);
/// 1 if the pre-init hook ran (checked by main: a build where it did not must not go on).
int bk_entry_ran(void);

#endif
