#include "sim_fixture.h"

#include <criterion/criterion.h>
#include <stdlib.h>

const char *const FITCL_TEST_TREE12 =
    "(((t1:0.12,t2:0.31):0.18,(t3:0.22,(t4:0.09,t5:0.15):0.2):0.11):0.25,"
    "((t6:0.4,t7:0.05):0.3,((t8:0.21,t9:0.17):0.08,(t10:0.33,(t11:0.14,t12:0.26):0.1):0.12):0.15):0.2);";

fitcl_data *fitcl_test_sim_data(const char *newick, const fitcl_sim_options *so,
                                unsigned char *retained) {
  char err[512] = "";
  fitcl_tree *t = NULL;
  cr_assert_eq(fitcl_tree_parse(newick, &t, err, sizeof err), FITCL_OK, "%s", err);
  int nt = fitcl_tree_ntips(t);
  size_t n = so->families;
  unsigned char *s = malloc(n * (size_t)nt);
  cr_assert_eq(fitcl_simulate(NULL, t, so, s, retained), FITCL_OK);
  const char **taxa = malloc(sizeof *taxa * (size_t)nt);
  for (int i = 0; i < nt; ++i) taxa[i] = fitcl_tree_tip_name(t, i);
  fitcl_pamatrix *m = NULL;
  cr_assert_eq(fitcl_pamatrix_create(n, (size_t)nt, s, NULL, taxa, &m, err, sizeof err), FITCL_OK,
               "%s", err);
  fitcl_data *d = NULL;
  cr_assert_eq(fitcl_data_build(t, m, NULL, &d, err, sizeof err), FITCL_OK, "%s", err);
  fitcl_pamatrix_destroy(m);
  fitcl_tree_destroy(t);
  free(taxa);
  free(s);
  return d;
}
