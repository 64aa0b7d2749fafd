#include "device/discover_memo.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Not "... with fp64" as before devices without fp64 were used: a record
 * of that wording does not match, so such a host probes again. */
static const char PAYLOAD[] = "no OpenCL GPU or accelerator\n";

/* Variables that change which OpenCL devices exist or are visible. */
static const char *const VARS[] = {"FITCL_OPENCL_LIBRARY", "OCL_ICD_VENDORS",
                                   "OCL_ICD_FILENAMES",    "OPENCL_VENDOR_PATH",
                                   "POCL_DEVICES",         "CUDA_VISIBLE_DEVICES",
                                   "ROCR_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES",
                                   "GPU_DEVICE_ORDINAL",   "ZE_AFFINITY_MASK",
                                   "ONEAPI_DEVICE_SELECTOR"};

typedef struct buf {
  char *p;
  size_t size, len;
  int overflow;
} buf;

static void add(buf *b, const char *fmt, ...) {
  if (b->overflow) return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(b->p + b->len, b->size - b->len, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= b->size - b->len) b->overflow = 1;
  else b->len += (size_t)n;
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Adds the sorted names in `dir` that start with one of `prefixes` (all
 * names when `prefixes` is NULL), with each file's size, time and text
 * when `with_contents` is set. */
static void add_dir(buf *b, const char *dir, const char *const *prefixes, int with_contents) {
  DIR *d = opendir(dir);
  if (!d) {
    add(b, "%s: absent\n", dir);
    return;
  }
  char *names[256];
  size_t n = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL && n < 256) {
    if (de->d_name[0] == '.') continue;
    int match = prefixes == NULL;
    for (const char *const *p = prefixes; p && *p && !match; ++p)
      match = strncmp(de->d_name, *p, strlen(*p)) == 0;
    if (match && (names[n] = strdup(de->d_name)) != NULL) ++n;
  }
  if (de != NULL) b->overflow = 1; /* more entries than we describe */
  closedir(d);
  qsort(names, n, sizeof *names, by_name);
  add(b, "%s:\n", dir);
  for (size_t i = 0; i < n; ++i) {
    add(b, "  %s", names[i]);
    if (with_contents) {
      /* A driver file: its text names the library; size and time catch an
       * upgrade that rewrote it in place. */
      char path[1024], text[512];
      snprintf(path, sizeof path, "%s/%s", dir, names[i]);
      struct stat st;
      FILE *f = fopen(path, "r");
      size_t got = f ? fread(text, 1, sizeof text - 1, f) : 0;
      text[got] = '\0';
      if (f) fclose(f);
      for (char *c = text; *c; ++c)
        if (*c == '\n' || *c == '\r') *c = ' ';
      if (stat(path, &st) == 0)
        add(b, " %lld %lld.%09ld [%s]", (long long)st.st_size, (long long)st.st_mtim.tv_sec,
            st.st_mtim.tv_nsec, text);
    }
    add(b, "\n");
    free(names[i]);
  }
}

int fitcl__discovery_key(char *out, size_t size) {
  buf b = {out, size, 0, 0};
  add(&b, "fitcl device discovery 1\nfitcl %s\n", FITCL_VERSION_STRING);
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  host[sizeof host - 1] = '\0';
  char boot[64] = "";
  FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
  if (f) {
    if (!fgets(boot, sizeof boot, f)) boot[0] = '\0';
    fclose(f);
    boot[strcspn(boot, "\n")] = '\0';
  }
  /* The boot id makes every reboot (new drivers, new cards) probe again. */
  add(&b, "host %s\nboot %s\n", host, boot);
  for (size_t i = 0; i < sizeof VARS / sizeof *VARS; ++i) {
    const char *v = getenv(VARS[i]);
    add(&b, "%s=%s%s\n", VARS[i], v ? "" : "(unset)", v ? v : "");
  }
  const char *vendors = getenv("OCL_ICD_VENDORS");
  struct stat st;
  if (vendors && *vendors && stat(vendors, &st) == 0 && S_ISDIR(st.st_mode))
    add_dir(&b, vendors, NULL, 1);
  else
    add_dir(&b, "/etc/OpenCL/vendors", NULL, 1);
  static const char *const dev[] = {"nvidia", "kfd", "dxg", "accel", "mali", "kgsl", NULL};
  add_dir(&b, "/dev", dev, 0);
  static const char *const dri[] = {"renderD", "card", NULL};
  add_dir(&b, "/dev/dri", dri, 0);
  return !b.overflow;
}

int fitcl__discovery_memo_no_gpu(fitcl__cache *c, const char *key) {
  void *p = NULL;
  size_t len = 0;
  int hit = fitcl__cache_get_meta(c, key, &p, &len) == FITCL__CACHE_HIT &&
            len == sizeof PAYLOAD - 1 && memcmp(p, PAYLOAD, len) == 0;
  free(p);
  return hit;
}

void fitcl__discovery_memo_store_no_gpu(fitcl__cache *c, const char *key) {
  char why[256];
  /* Failing to remember only costs the next process a probe. */
  (void)fitcl__cache_put_meta(c, key, PAYLOAD, sizeof PAYLOAD - 1, why, sizeof why);
}
