/* fitcl simulate: presence/absence data simulated under the gain/loss model. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_analysis.h"

static void help(void) {
  printf("usage: fitcl simulate --tree TREE --gain G --loss L --families N --seed S\n"
         "                      -o OUT.Rtab [--retained-fraction F --effect THETA]\n"
         "                      [--gamma-cats K --alpha A] [--condition] [--truth FILE]\n\n"
         "Simulates N gene families along the tree under the 2-state gain/loss model\n"
         "(root drawn from the stationary distribution) and writes a Roary-style Rtab:\n"
         "header 'Gene' + tip names, one row per family (fam0001, fam0002, ...), 0/1.\n"
         "The output depends only on the tree, the options and the seed.\n\n"
         "options:\n"
         "  --tree FILE              rooted Newick tree\n"
         "  --gain G, --loss L       rates per unit branch length (> 0)\n"
         "  --families N             number of families\n"
         "  --retained-fraction F    fraction of families (chosen at random) whose loss\n"
         "                           is multiplied by --effect (default 0)\n"
         "  --effect THETA           loss multiplier of those families (default 1)\n"
         "  --gamma-cats K           discrete-gamma rate categories (default 1)\n"
         "  --alpha A                gamma shape, required with K > 1\n"
         "  --condition              redraw families absent from every tip, as the\n"
         "                           conditioned likelihood assumes\n"
         "  --seed S                 seed (whole number; required)\n"
         "  -o, --output FILE        output Rtab (written atomically; '-' for stdout)\n"
         "  --truth FILE             also write the retained families' names, one per\n"
         "                           line (usable as retention-test --families)\n"
         "  --help                   show this help\n\n"
         "exit status: 0 success, 1 internal failure, 2 bad usage or input.\n");
}

int cli_simulate(int argc, char **argv) {
  const char *tree_path = NULL, *out = NULL, *truth = NULL;
  double gain = NAN, loss = NAN, frac = 0, effect = 1, alpha = NAN;
  long nfam = 0, cats = 1;
  int have_seed = 0;
  fitcl_sim_options so = {0};
  enum { O_TREE = 1, O_GAIN, O_LOSS, O_FAM, O_FRAC, O_EFFECT, O_CATS, O_ALPHA, O_COND,
         O_SEED, O_OUT, O_TRUTH, O_HELP };
  static const struct option opts[] = {
      {"tree", required_argument, NULL, O_TREE},
      {"gain", required_argument, NULL, O_GAIN},
      {"loss", required_argument, NULL, O_LOSS},
      {"families", required_argument, NULL, O_FAM},
      {"retained-fraction", required_argument, NULL, O_FRAC},
      {"effect", required_argument, NULL, O_EFFECT},
      {"gamma-cats", required_argument, NULL, O_CATS},
      {"alpha", required_argument, NULL, O_ALPHA},
      {"condition", no_argument, NULL, O_COND},
      {"seed", required_argument, NULL, O_SEED},
      {"output", required_argument, NULL, O_OUT},
      {"truth", required_argument, NULL, O_TRUTH},
      {"help", no_argument, NULL, O_HELP},
      {NULL, 0, NULL, 0}};
  int c;
  opterr = 0;
  optind = 1;
  while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
    switch (c) {
    case O_TREE: tree_path = optarg; break;
    case O_GAIN: if (!cli_parse_double("--gain", optarg, &gain)) return CLI_EXIT_USAGE; break;
    case O_LOSS: if (!cli_parse_double("--loss", optarg, &loss)) return CLI_EXIT_USAGE; break;
    case O_FAM: if (!cli_parse_long("--families", optarg, 1, 100000000, &nfam)) return CLI_EXIT_USAGE; break;
    case O_FRAC: if (!cli_parse_double("--retained-fraction", optarg, &frac)) return CLI_EXIT_USAGE; break;
    case O_EFFECT: if (!cli_parse_double("--effect", optarg, &effect)) return CLI_EXIT_USAGE; break;
    case O_CATS: if (!cli_parse_long("--gamma-cats", optarg, 1, 64, &cats)) return CLI_EXIT_USAGE; break;
    case O_ALPHA: if (!cli_parse_double("--alpha", optarg, &alpha)) return CLI_EXIT_USAGE; break;
    case O_COND: so.condition = 1; break;
    case O_SEED: {
      char *end = NULL;
      so.seed = strtoull(optarg, &end, 10);
      if (!*optarg || *end || optarg[0] == '-') {
        cli_error("--seed: expected a whole number from 0 to 2^64-1, got '%s'", optarg);
        return CLI_EXIT_USAGE;
      }
      have_seed = 1;
      break;
    }
    case 'o': case O_OUT: out = optarg; break;
    case O_TRUTH: truth = optarg; break;
    case O_HELP: help(); return CLI_EXIT_OK;
    default: return cli_bad_option(argv, optopt, optind);
    }
  }
  if (optind < argc) return cli_usage_error("unexpected argument");
  if (!tree_path || isnan(gain) || isnan(loss) || nfam == 0 || !have_seed || !out)
    return cli_usage_error("--tree, --gain, --loss, --families, --seed and -o are required");
  if (!(gain > 0) || !(loss > 0)) {
    cli_error("--gain and --loss must be > 0 (got %g and %g)", gain, loss);
    return CLI_EXIT_USAGE;
  }
  if (!(frac >= 0 && frac <= 1)) {
    cli_error("--retained-fraction must lie in [0, 1], got %g", frac);
    return CLI_EXIT_USAGE;
  }
  if (!(effect > 0)) {
    cli_error("--effect must be > 0, got %g", effect);
    return CLI_EXIT_USAGE;
  }
  if (cats > 1 && !(alpha > 0)) {
    cli_error("--gamma-cats %ld needs --alpha A with A > 0", cats);
    return CLI_EXIT_USAGE;
  }
  if (truth && strcmp(truth, "-") == 0 && strcmp(out, "-") == 0) {
    cli_error("--truth and -o cannot both be stdout");
    return CLI_EXIT_USAGE;
  }
  so.gain = gain;
  so.loss = loss;
  so.families = (size_t)nfam;
  so.retained_fraction = frac;
  so.effect = effect;
  so.gamma_cats = (int)cats;
  so.alpha = cats > 1 ? alpha : 0;

  fitcl_tree *tree = NULL;
  fitcl_pamatrix *m = NULL;
  unsigned char *states = NULL, *ret = NULL;
  char **names = NULL;
  const char **taxa = NULL;
  char *namebuf = NULL;
  int rc = cli_load_tree(tree_path, &tree);
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
  if (st == FITCL_OK) {
    if (strcmp(out, "-") == 0) {
      /* The Rtab writer works on files; stdout goes through the same
       * format by hand. */
      printf("Gene");
      for (int i = 0; i < nt; ++i) printf("\t%s", taxa[i]);
      putchar('\n');
      for (size_t f = 0; f < n; ++f) {
        fputs(names[f], stdout);
        for (int i = 0; i < nt; ++i) {
          putchar('\t');
          putchar('0' + states[f * (size_t)nt + (size_t)i]);
        }
        putchar('\n');
      }
    } else {
      st = fitcl_pamatrix_write_rtab(m, out, err, sizeof err);
    }
  }
  if (st != FITCL_OK) {
    cli_error("%s", err[0] ? err : fitcl_strerror(st));
    rc = cli_exit_code(st);
    goto done;
  }
  if (truth) {
    size_t cap = 256 + n * (size_t)(width + 5), len = 0;
    char *buf = malloc(cap);
    if (!buf) { cli_error("out of memory"); rc = CLI_EXIT_FAILURE; goto done; }
    len += (size_t)snprintf(buf + len, cap - len,
                            "# retained families: loss x %g (fitcl simulate --seed %llu)\n",
                            effect, (unsigned long long)so.seed);
    for (size_t f = 0; f < n; ++f)
      if (ret[f]) len += (size_t)snprintf(buf + len, cap - len, "%s\n", names[f]);
    rc = cli_write_atomic(truth, buf, len);
    free(buf);
    if (rc) goto done;
  }
  rc = CLI_EXIT_OK;
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
