// Implementation of CBridgeAudit.h.
#define _GNU_SOURCE
#include "CBridgeAudit.h"

#include <fcntl.h>
#include <sys/xattr.h>
#include <unistd.h>

int bk_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

ssize_t bk_lgetxattr(const char *path, const char *name, void *value, size_t size) {
    return lgetxattr(path, name, value, size);
}
