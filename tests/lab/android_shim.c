/* Android's app sandbox, for the lab: an LD_PRELOAD library that refuses what Android 10+
 * refuses an untrusted app (SELinux), with the same error, EACCES:
 *
 * - netlink route sockets: the socket is made but bind/send/connect on it fail, which is
 *   what makes `ip route` on a phone print "Cannot bind netlink socket: Permission denied";
 * - getifaddrs() and if_nameindex() (glibc answers them over netlink internally, where
 *   LD_PRELOAD cannot reach, so they are refused at the entry point);
 * - opening anything under /proc/net, /proc/self/net, /proc/<pid>/net or /sys/class/net.
 *
 * Built by tests/lab/android.py with the system compiler into a temporary directory.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

static int denied_path(const char *path) {
    if (path == NULL) {
        return 0;
    }
    if (strncmp(path, "/sys/class/net", 14) == 0 && (path[14] == '\0' || path[14] == '/')) {
        return 1;
    }
    if (strncmp(path, "/proc/", 6) != 0) {
        return 0;
    }
    const char *rest = path + 6;
    if (strncmp(rest, "self/", 5) == 0 || strncmp(rest, "thread-self/", 12) == 0) {
        rest = strchr(rest, '/') + 1;
    } else if (*rest >= '0' && *rest <= '9') {
        while (*rest >= '0' && *rest <= '9') {
            rest++;
        }
        if (*rest != '/') {
            return 0;
        }
        rest++;
    }
    return strncmp(rest, "net", 3) == 0 && (rest[3] == '\0' || rest[3] == '/');
}

static int is_netlink(int fd) {
    int domain = 0;
    socklen_t size = sizeof(domain);
    return getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &size) == 0 && domain == AF_NETLINK;
}

#define REAL(name) ((__typeof__(&name))dlsym(RTLD_NEXT, #name))
#define REFUSE(value) \
    do {              \
        errno = EACCES; \
        return value; \
    } while (0)

int bind(int fd, const struct sockaddr *address, socklen_t size) {
    if (is_netlink(fd)) REFUSE(-1);
    return REAL(bind)(fd, address, size);
}

int connect(int fd, const struct sockaddr *address, socklen_t size) {
    if (is_netlink(fd)) REFUSE(-1);
    return REAL(connect)(fd, address, size);
}

ssize_t send(int fd, const void *buffer, size_t size, int flags) {
    if (is_netlink(fd)) REFUSE(-1);
    return REAL(send)(fd, buffer, size, flags);
}

ssize_t sendto(int fd, const void *buffer, size_t size, int flags,
               const struct sockaddr *address, socklen_t address_size) {
    if (is_netlink(fd)) REFUSE(-1);
    return REAL(sendto)(fd, buffer, size, flags, address, address_size);
}

ssize_t sendmsg(int fd, const struct msghdr *message, int flags) {
    if (is_netlink(fd)) REFUSE(-1);
    return REAL(sendmsg)(fd, message, flags);
}

int getifaddrs(struct ifaddrs **found) {
    (void)found;
    REFUSE(-1);
}

struct if_nameindex *if_nameindex(void) {
    REFUSE(NULL);
}

/* open() and friends take a mode only with O_CREAT/O_TMPFILE. */
#define MODE_ARG(flags, mode)                              \
    do {                                                   \
        if ((flags) & (O_CREAT | __O_TMPFILE)) {           \
            va_list args;                                  \
            va_start(args, flags);                         \
            mode = va_arg(args, mode_t);                   \
            va_end(args);                                  \
        }                                                  \
    } while (0)

int open(const char *path, int flags, ...) {
    mode_t mode = 0;
    MODE_ARG(flags, mode);
    if (denied_path(path)) REFUSE(-1);
    return REAL(open)(path, flags, mode);
}

int open64(const char *path, int flags, ...) {
    mode_t mode = 0;
    MODE_ARG(flags, mode);
    if (denied_path(path)) REFUSE(-1);
    return REAL(open64)(path, flags, mode);
}

int openat(int dirfd, const char *path, int flags, ...) {
    mode_t mode = 0;
    MODE_ARG(flags, mode);
    if (denied_path(path)) REFUSE(-1);
    return REAL(openat)(dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...) {
    mode_t mode = 0;
    MODE_ARG(flags, mode);
    if (denied_path(path)) REFUSE(-1);
    return REAL(openat64)(dirfd, path, flags, mode);
}

int __open_2(const char *path, int flags) {
    if (denied_path(path)) REFUSE(-1);
    return REAL(__open_2)(path, flags);
}

int __open64_2(const char *path, int flags) {
    if (denied_path(path)) REFUSE(-1);
    return REAL(__open64_2)(path, flags);
}

FILE *fopen(const char *path, const char *mode) {
    if (denied_path(path)) REFUSE(NULL);
    return REAL(fopen)(path, mode);
}

FILE *fopen64(const char *path, const char *mode) {
    if (denied_path(path)) REFUSE(NULL);
    return REAL(fopen64)(path, mode);
}

DIR *opendir(const char *path) {
    if (denied_path(path)) REFUSE(NULL);
    return REAL(opendir)(path);
}
