/* Status codes: names and messages come from the one table in fitcl.h. */
#include "fitcl.h"

const char *fitcl_version(void) { return FITCL_VERSION_STRING; }

const char *fitcl_strerror(fitcl_status status) {
  switch (status) {
#define FITCL_STATUS_MSG_(name, code, msg) case FITCL_##name: return msg;
    FITCL_STATUS_MAP(FITCL_STATUS_MSG_)
#undef FITCL_STATUS_MSG_
  }
  return "unknown status code";
}

const char *fitcl_status_name(fitcl_status status) {
  switch (status) {
#define FITCL_STATUS_NAME_(name, code, msg) case FITCL_##name: return "FITCL_" #name;
    FITCL_STATUS_MAP(FITCL_STATUS_NAME_)
#undef FITCL_STATUS_NAME_
  }
  return "FITCL_UNKNOWN";
}

int fitcl_status_is_user_error(fitcl_status status) {
  return (int)status >= 100 && (int)status < 400;
}
