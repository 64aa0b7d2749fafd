/* Simulated gain/loss data sets shared by the analysis tests. */
#ifndef FITCL_TEST_SIM_FIXTURE_H
#define FITCL_TEST_SIM_FIXTURE_H

#include "fitcl.h"

/* A 12-taxon tree with unequal branch lengths. */
extern const char *const FITCL_TEST_TREE12;

/* Simulates a data set on `newick` (conditioned as `so` says) and builds
 * it; retained families are flagged in `retained` when not NULL.  Fails
 * the test on any error. */
fitcl_data *fitcl_test_sim_data(const char *newick, const fitcl_sim_options *so,
                                unsigned char *retained);

#endif
