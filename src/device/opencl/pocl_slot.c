/* A PoCL kernel-cache directory of this process's own (pocl_slot.h). */
#include "device/opencl/pocl_slot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/util.h"

/* More processes than this at once on one host share nothing anyway: the
 * claim gives up and PoCL keeps the directory it would have used. */
#define MAX_SLOTS 1024

static char slot_dir[1024];

const char *fitcl__pocl_slot_dir(void) { return slot_dir; }

/* Is the PoCL ICD registered?  The loader reads OCL_ICD_VENDORS (a
 * directory or one .icd file) or /etc/OpenCL/vendors; an .icd file names
 * the library.  Other OpenCL implementations never see a slot. */
static int icd_file_is_pocl(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  char line[512] = "";
  int pocl = fgets(line, sizeof line, f) && strstr(line, "pocl");
  fclose(f);
  return pocl;
}

static int pocl_registered(void) {
  const char *v = getenv("OCL_ICD_VENDORS");
  const char *dir = v && *v ? v : "/etc/OpenCL/vendors";
  struct stat st;
  if (stat(dir, &st) == 0 && S_ISREG(st.st_mode)) return icd_file_is_pocl(dir);
  DIR *d = opendir(dir);
  if (!d) return 0;
  int pocl = 0;
  struct dirent *de;
  while (!pocl && (de = readdir(d)) != NULL) {
    size_t n = strlen(de->d_name);
    if (n < 5 || strcmp(de->d_name + n - 4, ".icd") != 0) continue;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
    pocl = icd_file_is_pocl(path);
  }
  closedir(d);
  return pocl;
}

/* The directory slots go in.  A POCL_CACHE_DIR that is itself a slot (a
 * child of a fitcl process inherits it) means that slot's parent. */
static int slot_base(char *out, size_t size) {
  const char *v = getenv("POCL_CACHE_DIR");
  if (v && *v) {
    fitcl__strlcpy(out, v, size);
    char *slash = strrchr(out, '/');
    if (slash && slash != out && !strncmp(slash + 1, "fitcl-slot-", 11)) *slash = '\0';
    return 1;
  }
  const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
  if (xdg && xdg[0] == '/') snprintf(out, size, "%s/pocl", xdg);
  else if (home && *home) snprintf(out, size, "%s/.cache/pocl", home);
  else return 0;
  return 1;
}

static int mkdirs(const char *path) {
  char tmp[1024];
  fitcl__strlcpy(tmp, path, sizeof tmp);
  size_t n = strlen(tmp);
  for (size_t i = 1; i <= n; ++i) {
    if (tmp[i] != '/' && tmp[i] != '\0') continue;
    char c = tmp[i];
    tmp[i] = '\0';
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST) return -1;
    tmp[i] = c;
  }
  return 0;
}

int fitcl__pocl_slot_claim(char *why, size_t whylen) {
  const char *off = getenv("FITCL_POCL_SLOTS");
  if (off && !strcmp(off, "off")) {
    snprintf(why, whylen, "FITCL_POCL_SLOTS=off");
    return 0;
  }
  if (!pocl_registered()) {
    snprintf(why, whylen, "the PoCL ICD is not registered");
    return 0;
  }
  char base[900];
  if (!slot_base(base, sizeof base) || mkdirs(base) != 0) {
    snprintf(why, whylen, "no directory for PoCL's cache");
    return 0;
  }
  int base_fd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (base_fd < 0) {
    snprintf(why, whylen, "cannot open %s: %s", base, strerror(errno));
    return 0;
  }
  for (int n = 0; n < MAX_SLOTS; ++n) {
    char name[32], lock[40];
    snprintf(name, sizeof name, "fitcl-slot-%d", n);
    snprintf(lock, sizeof lock, "%s.lock", name);
    int fd = openat(base_fd, lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) continue;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      close(fd);
      continue; /* another running process has it */
    }
    /* Ours while this process runs: the descriptor stays open on purpose. */
    struct stat st;
    if ((mkdirat(base_fd, name, 0700) != 0 && errno != EEXIST) ||
        fstatat(base_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode) ||
        st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH))) {
      close(fd);
      continue; /* not a directory of ours: never used */
    }
    snprintf(slot_dir, sizeof slot_dir, "%s/%s", base, name);
    close(base_fd);
    if (setenv("POCL_CACHE_DIR", slot_dir, 1) != 0) {
      snprintf(why, whylen, "cannot set POCL_CACHE_DIR: %s", strerror(errno));
      slot_dir[0] = '\0';
      close(fd);
      return 0;
    }
    return 1;
  }
  close(base_fd);
  snprintf(why, whylen, "all %d slots in %s are in use", MAX_SLOTS, base);
  return 0;
}
