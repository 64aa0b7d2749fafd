/* FITCL_DEVICE: auto | cpu | opencl[:PLATFORM[:TYPE[:DEVICE]]] | a+b | a;b;c
 *
 * Only `auto` and ';' lists fall back to a later candidate; a single
 * explicit selector either names a usable device or is an error, so a farm
 * node never silently runs somewhere the user did not ask for.  '+' joins
 * devices into one set (one context over all of them) and `*` as DEVICE
 * takes every match; every member of a set must match, or the entry fails. */
#include "device/selector.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/util.h"
#include "device/opencl_absent.h"

typedef struct sel_item {
  enum { SEL_AUTO, SEL_CPU, SEL_OPENCL } kind;
  char platform[128]; /* "" = any */
  char type[8];       /* "" or "all" = any */
  char device[128];   /* "" = any; "*" = every match */
} sel_item;

static void trim(char *s) {
  size_t n = strlen(s);
  while (n && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
  size_t i = 0;
  while (s[i] && isspace((unsigned char)s[i])) ++i;
  if (i) memmove(s, s + i, n - i + 1);
}

static int is_index(const char *s, long *v) {
  if (!*s) return 0;
  for (const char *p = s; *p; ++p)
    if (!isdigit((unsigned char)*p)) return 0;
  errno = 0;
  *v = strtol(s, NULL, 10);
  return errno == 0;
}

/* Parses one item; returns 0 and writes `why` on a syntax error. */
static int parse_item(const char *text, sel_item *it, char *why, size_t whylen) {
  memset(it, 0, sizeof *it);
  char buf[512];
  fitcl__strlcpy(buf, text, sizeof buf);
  trim(buf);
  if (!strcasecmp(buf, "auto") || buf[0] == '\0') {
    it->kind = SEL_AUTO;
    return 1;
  }
  if (!strcasecmp(buf, "cpu") || !strcasecmp(buf, "pthreads")) {
    it->kind = SEL_CPU;
    return 1;
  }
  char *fields[5] = {0};
  int nf = 0;
  char *p = buf;
  fields[nf++] = p;
  while ((p = strchr(p, ':')) != NULL) {
    *p++ = '\0';
    if (nf == 4) {
      snprintf(why, whylen, "too many ':' fields in '%s' (at most opencl:PLATFORM:TYPE:DEVICE)", text);
      return 0;
    }
    fields[nf++] = p;
  }
  for (int i = 0; i < nf; ++i) trim(fields[i]);
  if (strcasecmp(fields[0], "opencl") != 0) {
    snprintf(why, whylen, "unknown device kind '%s' (expected auto, cpu or opencl[:PLATFORM[:TYPE[:DEVICE]]])",
             fields[0]);
    return 0;
  }
  it->kind = SEL_OPENCL;
  if (nf > 1) fitcl__strlcpy(it->platform, fields[1], sizeof it->platform);
  if (nf > 2) {
    const char *t = fields[2];
    if (*t && strcasecmp(t, "gpu") && strcasecmp(t, "cpu") && strcasecmp(t, "acc") &&
        strcasecmp(t, "all")) {
      snprintf(why, whylen, "unknown device type '%s' (expected gpu, cpu, acc or all)", t);
      return 0;
    }
    fitcl__strlcpy(it->type, t, sizeof it->type);
    for (char *c = it->type; *c; ++c) *c = (char)tolower((unsigned char)*c);
  }
  if (nf > 3) fitcl__strlcpy(it->device, fields[3], sizeof it->device);
  return 1;
}

static int platform_matches(const sel_item *it, const fitcl_device_desc *d) {
  if (!it->platform[0]) return 1;
  long idx;
  if (is_index(it->platform, &idx)) return d->platform_index == idx;
  return fitcl__strcasecontains(d->platform, it->platform) ||
         fitcl__strcasecontains(d->vendor, it->platform);
}

static int type_matches(const sel_item *it, const fitcl_device_desc *d) {
  if (!it->type[0] || !strcmp(it->type, "all")) return 1;
  return strcmp(d->type, it->type) == 0;
}

void fitcl__devices_summary(const fitcl_device_desc *list, size_t count, char *out, size_t size) {
  fitcl__buf b = {0};
  for (size_t i = 0; i < count; ++i) {
    const fitcl_device_desc *d = &list[i];
    if (i) fitcl__buf_printf(&b, "; ");
    if (!strcmp(d->backend, "cpu")) fitcl__buf_printf(&b, "cpu (pthreads)");
    else fitcl__buf_printf(&b, "%s (%s, %s%s)", d->selector, d->name, d->platform, d->fp64 ? ", fp64" : ", no fp64");
  }
  if (count == 0) fitcl__buf_printf(&b, "none");
  fitcl__strlcpy(out, b.data ? b.data : "", size);
  fitcl__buf_free(&b);
}

static int any_opencl(const fitcl_device_desc *list, size_t count) {
  for (size_t i = 0; i < count; ++i)
    if (!strcmp(list[i].backend, "opencl")) return 1;
  return 0;
}

/* Adds the devices one item names.  Returns 0 and writes why when nothing
 * usable matches. */
static int item_candidates(const sel_item *it, const fitcl_device_desc *list, size_t count,
                           size_t *cand, size_t *n, char *why, size_t whylen) {
  size_t before = *n;
  if (it->kind == SEL_CPU || it->kind == SEL_AUTO) {
    /* auto: GPUs and accelerators with fp64 first, then those without
     * (they run in mixed precision), then the cpu backend. */
    for (int want = 1; it->kind == SEL_AUTO && want >= 0; --want)
      for (size_t i = 0; i < count && *n < FITCL__MAX_CANDIDATES; ++i)
        if (!strcmp(list[i].backend, "opencl") && list[i].fp64 == want &&
            (!strcmp(list[i].type, "gpu") || !strcmp(list[i].type, "acc")))
          cand[(*n)++] = i;
    for (size_t i = 0; i < count && *n < FITCL__MAX_CANDIDATES; ++i)
      if (!strcmp(list[i].backend, "cpu")) {
        cand[(*n)++] = i;
        break;
      }
    return *n > before;
  }
  /* opencl: filter by platform and type, then pick by DEVICE. */
  size_t filtered[256], nfilt = 0;
  for (size_t i = 0; i < count && nfilt < 256; ++i)
    if (!strcmp(list[i].backend, "opencl") && platform_matches(it, &list[i]) && type_matches(it, &list[i]))
      filtered[nfilt++] = i;
  size_t chosen[256], nch = 0;
  long idx;
  if (!strcmp(it->device, "*")) {
    /* Every match joins the set, in list order. */
    for (size_t k = 0; k < nfilt && *n < FITCL__MAX_CANDIDATES; ++k) cand[(*n)++] = filtered[k];
    if (nfilt == 0) {
      const char *absent = any_opencl(list, count) ? NULL : fitcl__opencl_absent_reason();
      if (absent) snprintf(why, whylen, "matches no device: OpenCL is unavailable (%s)", absent);
      else snprintf(why, whylen, "matches no device");
      return 0;
    }
    return 1;
  }
  if (!it->device[0]) {
    memcpy(chosen, filtered, nfilt * sizeof *filtered);
    nch = nfilt;
  } else if (is_index(it->device, &idx)) {
    if ((size_t)idx < nfilt) chosen[nch++] = filtered[idx];
  } else {
    for (size_t k = 0; k < nfilt; ++k)
      if (fitcl__strcasecontains(list[filtered[k]].name, it->device)) chosen[nch++] = filtered[k];
  }
  if (nch == 0) {
    /* OpenCL asked for on a host without it: say why, not only that the
     * cpu backend is all there is.  A list from discovery has already tried
     * the load, so asking costs nothing then. */
    const char *absent = any_opencl(list, count) ? NULL : fitcl__opencl_absent_reason();
    if (absent) snprintf(why, whylen, "matches no device: OpenCL is unavailable (%s)", absent);
    else snprintf(why, whylen, "matches no device");
    return 0;
  }
  /* The first match with fp64, else the first: a device without fp64 runs
   * in mixed precision (docs/precision.md); forcing double on it fails when
   * it opens, with FITCL_ERR_NO_FP64. */
  size_t pickd = chosen[0];
  for (size_t k = nch; k-- > 0;)
    if (list[chosen[k]].fp64) pickd = chosen[k];
  if (*n < FITCL__MAX_CANDIDATES) cand[(*n)++] = pickd;
  return 1;
}

/* One ';' entry: a single item (auto may give several candidates, each a
 * set of one) or items joined by '+' (one set of all their devices). */
static fitcl_status entry_sets(const char *sel, const char *label, char *entry,
                               const fitcl_device_desc *list, size_t count, fitcl__devset *sets,
                               size_t *nsets, int *fallback, char *why, size_t whylen, char *err,
                               size_t errlen) {
  sel_item items[FITCL__MAX_SET];
  char texts[FITCL__MAX_SET][128];
  int nitems = 0;
  const int joined = strchr(entry, '+') != NULL;
  for (char *tok = entry, *next; tok; tok = next) {
    next = strchr(tok, '+');
    if (next) *next++ = '\0';
    char t[512], w[256];
    fitcl__strlcpy(t, tok, sizeof t);
    trim(t);
    if (nitems == FITCL__MAX_SET) {
      snprintf(err, errlen, "%s='%s' joins more than %d devices with '+'", label, sel,
               FITCL__MAX_SET);
      return FITCL_ERR_SELECTOR;
    }
    if (joined && !t[0]) {
      snprintf(err, errlen, "%s='%s' has an empty entry next to a '+'", label, sel);
      return FITCL_ERR_SELECTOR;
    }
    if (!parse_item(t, &items[nitems], w, sizeof w)) {
      snprintf(err, errlen, "%s='%s' is malformed: %s", label, sel, w);
      return FITCL_ERR_SELECTOR;
    }
    fitcl__strlcpy(texts[nitems], t, sizeof texts[nitems]);
    if (joined && items[nitems].kind == SEL_AUTO) {
      snprintf(err, errlen, "%s='%s' is malformed: auto cannot be joined with '+' (name the devices)",
               label, sel);
      return FITCL_ERR_SELECTOR;
    }
    if (strchr(items[nitems].device, '*') && strcmp(items[nitems].device, "*")) {
      snprintf(err, errlen, "%s='%s' is malformed: '*' must be the whole DEVICE field", label, sel);
      return FITCL_ERR_SELECTOR;
    }
    ++nitems;
  }
  size_t cand[FITCL__MAX_CANDIDATES], n = 0;
  if (!joined && items[0].kind == SEL_AUTO) {
    *fallback = 1;
    if (!item_candidates(&items[0], list, count, cand, &n, why, whylen)) return FITCL_OK;
    for (size_t k = 0; k < n && *nsets < FITCL__MAX_CANDIDATES; ++k) {
      sets[*nsets].n = 1;
      sets[(*nsets)++].dev[0] = cand[k];
    }
    return FITCL_OK;
  }
  for (int i = 0; i < nitems; ++i) {
    char w[768] = "";
    if (!item_candidates(&items[i], list, count, cand, &n, w, sizeof w)) {
      if (joined) snprintf(why, whylen, "has a member '%s' that %s", texts[i], w);
      else fitcl__strlcpy(why, w, whylen);
      return FITCL_OK; /* this entry has no set; a later one may */
    }
  }
  if (n > FITCL__MAX_SET) {
    snprintf(err, errlen, "%s='%s' selects %zu devices; a set holds at most %d", label, sel, n,
             FITCL__MAX_SET);
    return FITCL_ERR_SELECTOR;
  }
  for (size_t a = 0; a < n; ++a)
    for (size_t b = a + 1; b < n; ++b)
      if (cand[a] == cand[b]) {
        snprintf(err, errlen, "%s='%s' names device %s more than once", label, sel,
                 list[cand[a]].selector);
        return FITCL_ERR_SELECTOR;
      }
  if (*nsets < FITCL__MAX_CANDIDATES) {
    sets[*nsets].n = n;
    memcpy(sets[*nsets].dev, cand, n * sizeof *cand);
    ++*nsets;
  }
  return FITCL_OK;
}

fitcl_status fitcl__selector_sets(const char *selector, const char *label,
                                  const fitcl_device_desc *list, size_t count, fitcl__devset *sets,
                                  size_t *nsets, int *fallback, char *err, size_t errlen) {
  *nsets = 0;
  *fallback = 0;
  const char *sel = (selector && *selector) ? selector : "auto";
  char devs[2048];
  fitcl__devices_summary(list, count, devs, sizeof devs);

  char copy[1024];
  if (strlen(sel) >= sizeof copy) {
    snprintf(err, errlen, "%s is too long (%zu characters)", label, strlen(sel));
    return FITCL_ERR_SELECTOR;
  }
  fitcl__strlcpy(copy, sel, sizeof copy);
  int nentries = 0;
  const int is_list = strchr(copy, ';') != NULL;
  char first_why[768] = "";
  /* Split by hand: strtok would silently skip empty entries ("a;;b").
   * Every entry is parsed before any device is opened, so a typo late in
   * a list is an error, not a fallback. */
  for (char *tok = copy, *next; tok; tok = next) {
    next = strchr(tok, ';');
    if (next) *next++ = '\0';
    if (nentries == 16) {
      snprintf(err, errlen, "%s='%s' has more than 16 ';'-separated entries", label, sel);
      return FITCL_ERR_SELECTOR;
    }
    char t[512];
    fitcl__strlcpy(t, tok, sizeof t);
    trim(t);
    if (!t[0] && is_list) {
      snprintf(err, errlen, "%s='%s' has an empty entry between ';' separators", label, sel);
      return FITCL_ERR_SELECTOR;
    }
    char why[768] = "";
    fitcl_status st = entry_sets(sel, label, t, list, count, sets, nsets, fallback, why,
                                 sizeof why, err, errlen);
    if (st != FITCL_OK) return st;
    if (why[0] && !first_why[0]) fitcl__strlcpy(first_why, why, sizeof first_why);
    ++nentries;
  }
  if (is_list) *fallback = 1;
  if (*nsets == 0) {
    snprintf(err, errlen, "%s='%s' %s. Devices: %s", label, sel,
             first_why[0] ? first_why : "matches no device", devs);
    return FITCL_ERR_NO_DEVICE;
  }
  return FITCL_OK;
}

fitcl_status fitcl__selector_candidates(const char *selector, const char *label,
                                        const fitcl_device_desc *list, size_t count,
                                        size_t *cand, size_t *ncand, int *fallback,
                                        char *err, size_t errlen) {
  fitcl__devset sets[FITCL__MAX_CANDIDATES];
  size_t nsets = 0;
  *ncand = 0;
  fitcl_status st =
      fitcl__selector_sets(selector, label, list, count, sets, &nsets, fallback, err, errlen);
  for (size_t k = 0; st == FITCL_OK && k < nsets; ++k) cand[(*ncand)++] = sets[k].dev[0];
  return st;
}

fitcl_status fitcl_devices_resolve_set(const char *selector, const fitcl_device_desc *list,
                                       size_t count, size_t *index, size_t cap, size_t *n,
                                       char *err, size_t errlen) {
  char dummy[8];
  if (!err) {
    err = dummy;
    errlen = sizeof dummy;
  }
  if (errlen) err[0] = '\0';
  if (!list || !index || !n) return FITCL_ERR_NULL;
  *n = 0;
  fitcl__devset sets[FITCL__MAX_CANDIDATES];
  size_t nsets = 0;
  int fallback = 0;
  fitcl_status st = fitcl__selector_sets(selector, "FITCL_DEVICE", list, count, sets, &nsets,
                                         &fallback, err, errlen);
  if (st != FITCL_OK) return st;
  for (size_t k = 0; k < sets[0].n && k < cap; ++k) index[(*n)++] = sets[0].dev[k];
  return FITCL_OK;
}

fitcl_status fitcl_devices_resolve(const char *selector, const fitcl_device_desc *list,
                                   size_t count, size_t *index, char *err, size_t errlen) {
  size_t n = 0;
  return fitcl_devices_resolve_set(selector, list, count, index, 1, &n, err, errlen);
}
