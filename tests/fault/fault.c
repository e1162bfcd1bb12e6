/* Fault injection for tests (issue 16): an LD_PRELOAD shim that makes the Nth file-system call
 * on a file under a folder fail, as a full or failing disk would.
 *
 *   ESCROW_FAULT_DIR=/abs/folder   only calls on paths (or descriptors of files) under it count
 *   ESCROW_FAULT_AT=N              the Nth counted call fails (1-based); 0 or unset: none fails
 *   ESCROW_FAULT_ERRNO=ENOSPC|EIO  the error it fails with (default ENOSPC)
 *   ESCROW_FAULT_CALLS=a,b,...     which calls count (default: all of open, openat, write,
 *                                  pwrite, fsync, fdatasync, ftruncate, rename, renameat, close)
 *   ESCROW_FAULT_REPORT=/abs/file  when the fault is injected, "CALL N PATH" is written there
 *                                  (so a test knows whether its run reached the Nth call)
 *
 * A failed write writes nothing; a failed close still closes the descriptor (as Linux does);
 * everything else fails before the real call. Writes to the terminal, pipes and files outside
 * ESCROW_FAULT_DIR never count, so the error message itself always gets out. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

static long g_count = 0;

static const char* env(const char* name)
{
  const char* value = getenv(name);
  return value != NULL && *value != '\0' ? value : NULL;
}

static int call_counts(const char* call)
{
  const char* calls = env("ESCROW_FAULT_CALLS");
  if (calls == NULL) {
    return 1;
  }
  const size_t length = strlen(call);
  for (const char* at = calls; (at = strstr(at, call)) != NULL; at += length) {
    const int starts = at == calls || at[-1] == ',';
    const int ends = at[length] == '\0' || at[length] == ',';
    if (starts && ends) {
      return 1;
    }
  }
  return 0;
}

static int under_dir(const char* path)
{
  const char* dir = env("ESCROW_FAULT_DIR");
  if (dir == NULL || path == NULL) {
    return 0;
  }
  const size_t length = strlen(dir);
  return strncmp(path, dir, length) == 0 && (path[length] == '/' || path[length] == '\0');
}

/* The absolute path of a path argument: relative ones against the working folder or dirfd. */
static int absolute(int dirfd, const char* path, char* out, size_t size)
{
  if (path == NULL) {
    return 0;
  }
  if (path[0] == '/') {
    snprintf(out, size, "%s", path);
    return 1;
  }
  char base[PATH_MAX];
  if (dirfd == AT_FDCWD) {
    if (getcwd(base, sizeof base) == NULL) {
      return 0;
    }
  } else {
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
    const ssize_t got = readlink(link, base, sizeof base - 1);
    if (got <= 0) {
      return 0;
    }
    base[got] = '\0';
  }
  snprintf(out, size, "%s/%s", base, path);
  return 1;
}

static int fd_path(int fd, char* out, size_t size)
{
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  const ssize_t got = readlink(link, out, size - 1);
  if (got <= 0) {
    return 0;
  }
  out[got] = '\0';
  return 1;
}

static void report(const char* call, const char* path)
{
  const char* file = env("ESCROW_FAULT_REPORT");
  if (file == NULL) {
    return;
  }
  char line[PATH_MAX + 64];
  const int length = snprintf(line, sizeof line, "%s %ld %s\n", call, g_count, path);
  const int fd = (int)syscall(SYS_openat, AT_FDCWD, file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd >= 0) {
    (void)!syscall(SYS_write, fd, line, (size_t)length);
    syscall(SYS_close, fd);
  }
}

/* Counts a call on `path`; returns the errno to fail with, or 0. */
static int fault(const char* call, const char* path)
{
  if (!under_dir(path) || !call_counts(call)) {
    return 0;
  }
  const char* at = env("ESCROW_FAULT_AT");
  const long target = at != NULL ? strtol(at, NULL, 10) : 0;
  ++g_count;
  if (target <= 0 || g_count != target) {
    return 0;
  }
  report(call, path);
  const char* name = env("ESCROW_FAULT_ERRNO");
  return name != NULL && strcmp(name, "EIO") == 0 ? EIO : ENOSPC;
}

static int fault_fd(const char* call, int fd)
{
  char path[PATH_MAX];
  return fd_path(fd, path, sizeof path) ? fault(call, path) : 0;
}

static int fault_at(const char* call, int dirfd, const char* name)
{
  char path[2 * PATH_MAX + 2];
  return absolute(dirfd, name, path, sizeof path) ? fault(call, path) : 0;
}

#define REAL(name)                                                                                   \
  static __typeof__(&name) real_##name = NULL;                                                     \
  if (real_##name == NULL) {                                                                       \
    real_##name = (__typeof__(&name))dlsym(RTLD_NEXT, #name);                                      \
  }

static mode_t mode_arg(int flags, va_list args)
{
  return (flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(args, int) : 0;
}

int open(const char* path, int flags, ...)
{
  va_list args;
  va_start(args, flags);
  const mode_t mode = mode_arg(flags, args);
  va_end(args);
  REAL(open);
  const int error = fault_at("open", AT_FDCWD, path);
  if (error != 0) {
    errno = error;
    return -1;
  }
  return real_open(path, flags, mode);
}

int open64(const char* path, int flags, ...)
{
  va_list args;
  va_start(args, flags);
  const mode_t mode = mode_arg(flags, args);
  va_end(args);
  REAL(open64);
  const int error = fault_at("open", AT_FDCWD, path);
  if (error != 0) {
    errno = error;
    return -1;
  }
  return real_open64(path, flags, mode);
}

int openat(int dirfd, const char* path, int flags, ...)
{
  va_list args;
  va_start(args, flags);
  const mode_t mode = mode_arg(flags, args);
  va_end(args);
  REAL(openat);
  const int error = fault_at("openat", dirfd, path);
  if (error != 0) {
    errno = error;
    return -1;
  }
  return real_openat(dirfd, path, flags, mode);
}

int openat64(int dirfd, const char* path, int flags, ...)
{
  va_list args;
  va_start(args, flags);
  const mode_t mode = mode_arg(flags, args);
  va_end(args);
  REAL(openat64);
  const int error = fault_at("openat", dirfd, path);
  if (error != 0) {
    errno = error;
    return -1;
  }
  return real_openat64(dirfd, path, flags, mode);
}

ssize_t write(int fd, const void* data, size_t size)
{
  REAL(write);
  const int error = fault_fd("write", fd);
  if (error != 0) {
    errno = error;
    return -1;
  }
  return real_write(fd, data, size);
}

ssize_t pwrite(int fd, const void* data, size_t size, off_t offset)
{
  REAL(pwrite);
  const int error = fault_fd("pwrite", fd);
  if (error != 0) {
    errno = error;
    return -1;
  }
  return real_pwrite(fd, data, size, offset);
}

ssize_t pwrite64(int fd, const void* data, size_t size, off_t offset)
{
  REAL(pwrite64);
  const int error = fault_fd("pwrite", fd);
  if (error != 0) {
    errno = error;
    return -1;
  }
  return real_pwrite64(fd, data, size, offset);
}

int fsync(int fd)
{
  REAL(fsync);
  const int error = fault_fd("fsync", fd);
  if (error != 0) {
    errno = error;
    return -1;
  }
  return real_fsync(fd);
}

int fdatasync(int fd)
{
  REAL(fdatasync);
  const int error = fault_fd("fdatasync", fd);
  if (error != 0) {
    errno = error;
    return -1;
  }
  return real_fdatasync(fd);
}

int ftruncate(int fd, off_t length)
{
  REAL(ftruncate);
  const int error = fault_fd("ftruncate", fd);
  if (error != 0) {
    errno = error;
    return -1;
  }
  return real_ftruncate(fd, length);
}

int ftruncate64(int fd, off_t length)
{
  REAL(ftruncate64);
  const int error = fault_fd("ftruncate", fd);
  if (error != 0) {
    errno = error;
    return -1;
  }
  return real_ftruncate64(fd, length);
}

int rename(const char* from, const char* to)
{
  REAL(rename);
  const int error = fault_at("rename", AT_FDCWD, to);
  if (error != 0) {
    errno = error;
    return -1;
  }
  return real_rename(from, to);
}

int renameat(int from_dir, const char* from, int to_dir, const char* to)
{
  REAL(renameat);
  const int error = fault_at("renameat", to_dir, to);
  if (error != 0) {
    errno = error;
    return -1;
  }
  return real_renameat(from_dir, from, to_dir, to);
}

int close(int fd)
{
  REAL(close);
  const int error = fault_fd("close", fd);
  const int result = real_close(fd);
  if (error != 0) {
    errno = error;
    return -1;
  }
  return result;
}
