#ifndef CBRIDGE_AUDIT_H
#define CBRIDGE_AUDIT_H
// What `bridgekeeper explain` and `matrix` need from libc that the Glibc module does not export.
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/// pipe2(fds, O_CLOEXEC): both ends close-on-exec from the start (<unistd.h> declares pipe2
/// only under _GNU_SOURCE).
int bk_pipe_cloexec(int fds[2]);
/// lgetxattr(2) from <sys/xattr.h>: reads a file's POSIX ACL (system.posix_acl_access)
/// without following a final symbolic link.
ssize_t bk_lgetxattr(const char *path, const char *name, void *value, size_t size);

#ifdef __cplusplus
}
#endif
#endif
