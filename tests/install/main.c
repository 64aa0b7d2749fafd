#include <fitcl.h>
#include <stdio.h>
int main(void) {
  fitcl_context_options o = {0};
  o.device = "cpu";
  fitcl_context *ctx = NULL;
  fitcl_status st = fitcl_context_create(&o, &ctx);
  printf("fitcl %s: %s\n", fitcl_version(), fitcl_strerror(st));
  fitcl_context_destroy(ctx);
  return st;
}
