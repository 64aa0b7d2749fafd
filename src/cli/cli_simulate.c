/* fitcl simulate: presence/absence data simulated under the gain/loss model. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"
#include "cli/cli_analysis.h"
#include "cli/cli_opts.h"
#include "io/pamatrix.h"
#include "io/pamatrix_npy.h"

typedef struct simulate_args {
  const char *tree, *output, *truth, *taxa_out, *families_out;
  double gain, loss, fraction, effect, alpha;
  long families, cats;
  unsigned long long seed;
  int condition;
} simulate_args;

#define A simulate_args
static const cli_opt options[] = {
  {CLI_STRING("tree", "FILE", A, tree, "rooted Newick tree"), .flags = CLI_REQUIRED},
  {CLI_DOUBLE("gain", "G", CLI_POSITIVE, A, gain, "gain rate per unit branch length (> 0)"),
   .flags = CLI_REQUIRED},
  {CLI_DOUBLE("loss", "L", CLI_POSITIVE, A, loss, "loss rate per unit branch length (> 0)"),
   .flags = CLI_REQUIRED},
  {CLI_LONG("families", "N", 1, 100000000, A, families, "number of families"),
   .flags = CLI_REQUIRED},
  {CLI_DOUBLE("retained-fraction", "F", CLI_UNIT, A, fraction,
              "fraction of families (chosen at random) whose loss is multiplied by --effect "
              "(default 0)")},
  {CLI_DOUBLE("effect", "THETA", CLI_POSITIVE, A, effect,
              "loss multiplier of those families (default 1)")},
  {CLI_LONG("gamma-cats", "K", 1, 64, A, cats, "discrete-gamma rate categories (default 1)")},
  {CLI_DOUBLE("alpha", "A", CLI_POSITIVE, A, alpha, "gamma shape, required with K > 1")},
  {CLI_FLAG("condition", A, condition,
            "redraw families absent from every tip, as the conditioned likelihood assumes")},
  {CLI_SEED("seed", "S", A, seed, "seed (whole number; required)"), .flags = CLI_REQUIRED},
  {CLI_STRING("output", "FILE", A, output,
              "output Rtab, or with a name ending in .npy a uint8 array of shape (families, "
              "taxa) ('-' for stdout; a file is replaced atomically, a symlink followed, a FIFO "
              "or device written in place)"),
   .short_name = 'o', .flags = CLI_REQUIRED},
  {CLI_STRING("taxa-out", "FILE", A, taxa_out,
              "with -o FILE.npy (required there): write the taxon names, one per column, one "
              "per line (what --taxa reads)")},
  {CLI_STRING("family-names-out", "FILE", A, families_out,
              "with -o FILE.npy: write the family names, one per row, one per line (what "
              "--family-names reads; without it they read back as F1, F2, ...)")},
  {CLI_STRING("truth", "FILE", A, truth,
              "also write the retained families' names, one per line (usable as "
              "retention-test --families)")},
  {CLI_END}};
#undef A

static const cli_spec spec = {
  .usage = "usage: fitcl simulate --tree TREE --gain G --loss L --families N --seed S\n"
           "                      -o OUT.Rtab [--retained-fraction F --effect THETA]\n"
           "                      [--gamma-cats K --alpha A] [--condition] [--truth FILE]\n"
           "       fitcl simulate ... -o OUT.npy --taxa-out FILE [--family-names-out FILE]\n",
  .about = "Simulates N gene families along the tree under the 2-state gain/loss model\n"
           "(root drawn from the stationary distribution) and writes a Roary-style Rtab:\n"
           "header 'Gene' + tip names, one row per family (fam0001, fam0002, ...), 0/1.\n"
           "An output named *.npy is the compact form instead (10 GB for 10^4 taxa x 10^6\n"
           "families, where the Rtab is 20 GB): a uint8 array, one row per family, one\n"
           "column per tip, the names in --taxa-out and --family-names-out; the other\n"
           "commands read it with --matrix OUT.npy --taxa FILE [--family-names FILE].\n"
           "All outputs are committed together: a failure leaves none of them.\n"
           "The output depends only on the tree, the options and the seed.\n",
  .opts = options,
  .epilog = "exit status: 0 success, 1 internal failure, 2 bad usage or input.\n"};

int cli_simulate(int argc, char **argv) {
  simulate_args a = {.fraction = 0, .effect = 1, .alpha = NAN, .cats = 1};
  int rc = cli_parse(&spec, argc, argv, &a, NULL);
  if (rc >= 0) return rc;
  const char *out = a.output, *truth = a.truth, *taxa_out = a.taxa_out,
             *fam_out = a.families_out;
  const size_t olen = strlen(out);
  const int npy = olen > 4 && strcasecmp(out + olen - 4, ".npy") == 0;
  const double effect = a.effect;
  const long nfam = a.families, cats = a.cats;
  if (cats > 1 && isnan(a.alpha))
    return cli_usage_error("--gamma-cats %ld needs --alpha A with A > 0", cats);
  if (npy && !taxa_out)
    return cli_usage_error("-o %s writes a .npy matrix: give --taxa-out FILE for its taxon names "
                           "(they are not in the array)", out);
  if (!npy && (taxa_out || fam_out))
    return cli_usage_error("%s goes with -o FILE.npy only (an Rtab holds its names)",
                           taxa_out ? "--taxa-out" : "--family-names-out");
  if (npy && truth && !fam_out)
    return cli_usage_error("--truth lists families by name (fam0001, ...): with -o %s give "
                           "--family-names-out FILE too, so that the matrix has those names "
                           "when read back", out);
  const cli_file outs_given[] = {{out, "-o"}, {truth, "--truth"}, {taxa_out, "--taxa-out"},
                                 {fam_out, "--family-names-out"}},
                 ins[] = {{a.tree, "--tree"}};
  int dashes = 0;
  for (size_t i = 0; i < 4; ++i) dashes += outs_given[i].path && !strcmp(outs_given[i].path, "-");
  if (dashes > 1) return cli_usage_error("only one output can be stdout ('-')");
  rc = cli_check_outputs(outs_given, 4, ins, 1);
  if (rc) return rc;
  fitcl_sim_options so = {0};
  so.seed = a.seed;
  so.condition = a.condition;
  so.gain = a.gain;
  so.loss = a.loss;
  so.families = (size_t)nfam;
  so.retained_fraction = a.fraction;
  so.effect = effect;
  so.gamma_cats = (int)cats;
  so.alpha = cats > 1 ? a.alpha : 0;

  fitcl_tree *tree = NULL;
  fitcl_pamatrix *m = NULL;
  unsigned char *states = NULL, *ret = NULL;
  char **names = NULL;
  const char **taxa = NULL;
  char *namebuf = NULL;
  rc = cli_load_tree(a.tree, &tree);
  if (rc) return rc;
  int nt = fitcl_tree_ntips(tree);
  size_t n = (size_t)nfam;
  states = malloc(n * (size_t)nt);
  ret = malloc(n);
  names = malloc(sizeof *names * n);
  taxa = malloc(sizeof *taxa * (size_t)nt);
  /* Zero-padded names sort in simulation order; at most 9 digits (n <= 1e8). */
  int width = 4;
  while (width < 9 && n >= (size_t)pow(10, width)) ++width;
  namebuf = malloc(n * (size_t)(width + 4));
  if (!states || !ret || !names || !taxa || !namebuf) {
    cli_error("out of memory for %zu families x %d taxa", n, nt);
    rc = CLI_EXIT_FAILURE;
    goto done;
  }
  fitcl_status st = fitcl_simulate(NULL, tree, &so, states, ret);
  if (st != FITCL_OK) {
    /* Without a context the library returns the status only; the options
     * were validated above, so what is left is conditioning that cannot be
     * met. */
    cli_error("simulation failed: %s%s", fitcl_strerror(st),
              st == FITCL_ERR_DATA ? " (every draw of a family was absent everywhere: "
                                     "the gain rate is too small for --condition)" : "");
    rc = cli_exit_code(st);
    goto done;
  }
  for (size_t f = 0; f < n; ++f) {
    names[f] = namebuf + f * (size_t)(width + 4);
    snprintf(names[f], (size_t)(width + 4), "fam%0*u", width & 15, (unsigned)(f + 1));
  }
  for (int i = 0; i < nt; ++i) taxa[i] = fitcl_tree_tip_name(tree, i);
  char err[1024] = "";
  st = fitcl_pamatrix_create(n, (size_t)nt, states, (const char *const *)names, taxa, &m, err,
                             sizeof err);
  if (st == FITCL_OK)
    st = npy ? fitcl__pamatrix_npy_check(m, out, err, sizeof err)
             : fitcl__pamatrix_rtab_check(m, out, err, sizeof err);
  if (st != FITCL_OK) {
    cli_error("%s", err[0] ? err : fitcl_strerror(st));
    rc = cli_exit_code(st);
    goto done;
  }
  /* Every output is written, then all are committed together: a failure
   * leaves none. */
  fitcl__outfile outs[4];
  size_t nout = 0;
  rc = cli_out_open(&outs[nout], out);
  if (rc) goto done;
  nout++;
  if ((npy ? fitcl__pamatrix_npy_write(m, &outs[0]) : fitcl__pamatrix_rtab_write(m, &outs[0])) !=
      FITCL_OK) {
    cli_error("out of memory");
    rc = CLI_EXIT_FAILURE;
    goto abort;
  }
  for (int fam = 0; fam < 2; ++fam) {
    const char *path = fam ? fam_out : taxa_out;
    if (!path) continue;
    if ((rc = cli_out_open(&outs[nout], path)) != 0) goto abort;
    fitcl__pamatrix_names_write(m, fam, &outs[nout++]);
  }
  if (truth) {
    if ((rc = cli_out_open(&outs[nout], truth)) != 0) goto abort;
    fitcl__outfile *o = &outs[nout++];
    fitcl__out_printf(o, "# retained families: loss x %g (fitcl simulate --seed %llu)\n", effect,
                      (unsigned long long)so.seed);
    for (size_t f = 0; f < n; ++f)
      if (ret[f]) fitcl__out_printf(o, "%s\n", names[f]);
  }
  rc = cli_out_commit(outs, nout);
  if (rc) goto done;
  rc = CLI_EXIT_OK;
  goto done;
abort:
  for (size_t i = 0; i < nout; ++i) fitcl__out_abort(&outs[i]);
done:
  fitcl_pamatrix_destroy(m);
  fitcl_tree_destroy(tree);
  free(states);
  free(ret);
  free(names);
  free(taxa);
  free(namebuf);
  return rc;
}
