// The helper's audit record: one datagram to the system log socket, without glibc's syslog()
// (which takes its tag from argv[0] and reads /etc/localtime for a timestamp the daemon adds
// anyway). Declared in CBridgeShims.h. sockaddr_un is filled here because Swift sees sun_path as
// a 108-element tuple.
#define _GNU_SOURCE
#include "CBridgeShims.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int bk_send_datagram(const char *path, const void *data, size_t length) {
    struct sockaddr_un address;
    memset(&address, 0, sizeof address);
    address.sun_family = AF_UNIX;
    size_t path_length = strlen(path);
    if (path_length == 0 || path_length >= sizeof address.sun_path) { errno = ENAMETOOLONG; return -1; }
    memcpy(address.sun_path, path, path_length + 1);
    // Non-blocking twice over: the socket (SOCK_NONBLOCK) and the call (MSG_DONTWAIT). A reader
    // that never reads fills its queue and the send fails at once with EAGAIN.
    int sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (sock < 0) return -1;
    socklen_t address_length = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + path_length + 1);
    ssize_t sent;
    do {
        sent = sendto(sock, data, length, MSG_DONTWAIT | MSG_NOSIGNAL, (const struct sockaddr *)&address,
                      address_length);
    } while (sent < 0 && errno == EINTR);
    int saved = errno;
    close(sock);
    errno = saved;
    return sent < 0 ? -1 : 0;
}
