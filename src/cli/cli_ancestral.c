/* fitcl ancestral: posterior presence of every family at every internal
 * node, and expected gains and losses per branch. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_analysis.h"
#include "cli/cli_mpi.h"
#include "cli/cli_opts.h"

typedef struct ancestral_args {
  const char *tree, *matrix, *nodes, *branches;
  cli_data_flags data;
  double gain, loss, alpha; /* NaN: not given */
  long cats;
  int no_condition, json;
} ancestral_args;

#define A ancestral_args
static const cli_opt options[] = {
  {CLI_STRING("tree", "FILE", A, tree, "rooted Newick tree, as for 'fitcl fit'"),
   .flags = CLI_REQUIRED},
  {CLI_STRING("matrix", "FILE", A, matrix, "presence/absence matrix, as for 'fitcl fit'"),
   .flags = CLI_REQUIRED},
  CLI_DATA_OPTIONS(A, data),
  {CLI_DOUBLE("gain", "G", CLI_POSITIVE, A, gain, "gain rate to use instead of fitting it")},
  {CLI_DOUBLE("loss", "L", CLI_POSITIVE, A, loss, "loss rate to use instead of fitting it")},
  {CLI_DOUBLE("alpha", "A", CLI_POSITIVE, A, alpha, "gamma shape with --gamma-cats K > 1")},
  {CLI_LONG("gamma-cats", "K", 1, 64, A, cats, "rate categories (default 1)")},
  {CLI_FLAG("no-condition", A, no_condition, "fit without conditioning on observation")},
  {CLI_STRING("nodes", "FILE", A, nodes, "node table (default '-')")},
  {CLI_STRING("branches", "FILE", A, branches, "branch table (default '-')")},
  {CLI_FLAG("json", A, json,
            "print one JSON object instead of the tables: {gain, loss, alpha, nodes:[names], "
            "families:[{family, p_present:[per node]}], branches:[{node, parent, length, "
            "expected_gains, expected_losses}], backend[, device, fallback_reason]}")},
  {CLI_END}};
#undef A

static const cli_spec spec = {
  .usage = "usage: fitcl ancestral --tree TREE --matrix MATRIX [--gain G --loss L [--alpha A]]\n"
           "                       [--gamma-cats K] [--nodes FILE] [--branches FILE]\n",
  .about = "Ancestral gene content under the 2-state gain/loss model.  Without --gain and\n"
           "--loss the rates (and alpha with --gamma-cats) are first fitted by maximum\n"
           "likelihood, as by 'fitcl fit'.\n\n"
           "Outputs (tab-separated, written atomically; '-' is stdout, the default for\n"
           "both, in which case the node table comes first, then a blank line):\n"
           "  node table    one row per family: 'family' then, for every internal node,\n"
           "                the posterior probability that the family is present there;\n"
           "                columns are named by the node's Newick label, else 'nodeN'\n"
           "                (N = the node's index, tips first, the root last)\n"
           "  branch table  one row per branch: node, parent, length, expected_gains,\n"
           "                expected_losses (sums over families of P(absent at the parent,\n"
           "                present below | data) and the reverse)\n",
  .opts = options,
  .epilog = "exit status: 0 success, 1 device or internal failure, 2 bad usage or input.\n"};

static const char *node_name(const fitcl_tree *t, int v, char *buf, size_t len) {
  int nt = fitcl_tree_ntips(t);
  if (v < nt) return fitcl_tree_tip_name(t, v);
  const char *l = fitcl_tree_node_label(t, v);
  if (l && *l) return l;
  snprintf(buf, len, "node%d", v);
  return buf;
}

/* Appends formatted text to a growing buffer; returns 0 when out of memory. */
static int append(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int append(char **buf, size_t *len, size_t *cap, const char *fmt, ...) {
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(*buf ? *buf + *len : NULL, *buf ? *cap - *len : 0, fmt, ap);
    va_end(ap);
    if (n < 0) return 0;
    if (*buf && *len + (size_t)n < *cap) {
      *len += (size_t)n;
      return 1;
    }
    size_t nc = (*cap ? *cap * 2 : 65536) + (size_t)n;
    char *nb = realloc(*buf, nc);
    if (!nb) return 0;
    *buf = nb;
    *cap = nc;
  }
}

/* The --json form of both tables. */
static int print_json(fitcl_context *ctx, const fitcl_data *data, const fitcl_gl_params *p, int cats,
                      const fitcl_ancestral_result *ar) {
  const fitcl_tree *t = fitcl_data_tree(data);
  int nt = fitcl_tree_ntips(t), nn = ar->nodes;
  char name[64], pname[64];
  cJSON *root = cJSON_CreateObject();
  cli_json_num(root, "gain", p->gain);
  cli_json_num(root, "loss", p->loss);
  if (cats > 1) cli_json_num(root, "alpha", p->alpha);
  cJSON *nodes = cJSON_AddArrayToObject(root, "nodes");
  for (int v = nt; v < nn; ++v)
    cJSON_AddItemToArray(nodes, cJSON_CreateString(node_name(t, v, name, sizeof name)));
  cJSON *fams = cJSON_AddArrayToObject(root, "families");
  for (size_t f = 0; f < ar->families; ++f) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "family", fitcl_data_family_name(data, f));
    cJSON *pp = cJSON_AddArrayToObject(o, "p_present");
    for (int v = nt; v < nn; ++v)
      cJSON_AddItemToArray(pp, cJSON_CreateNumber(ar->p_present[f * (size_t)nn + (size_t)v]));
    cJSON_AddItemToArray(fams, o);
  }
  cJSON *br = cJSON_AddArrayToObject(root, "branches");
  for (int v = 0; v < nn - 1; ++v) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "node", node_name(t, v, name, sizeof name));
    cJSON_AddStringToObject(o, "parent", node_name(t, fitcl_tree_parent(t, v), pname, sizeof pname));
    cli_json_num(o, "length", fitcl_tree_branch_length(t, v));
    cli_json_num(o, "expected_gains", ar->gains[v]);
    cli_json_num(o, "expected_losses", ar->losses[v]);
    cJSON_AddItemToArray(br, o);
  }
  if (ctx) cli_json_add_backend(root, ctx);
  else cJSON_AddStringToObject(root, "backend", "cpu");
  cli_print_json(root);
  return CLI_EXIT_OK;
}

int cli_ancestral(int argc, char **argv) {
  ancestral_args a = {.nodes = "-", .branches = "-", .gain = NAN, .loss = NAN, .alpha = NAN,
                      .cats = 1};
  int rc = cli_parse(&spec, argc, argv, &a, NULL);
  if (rc >= 0) return rc;
  const char *nodes_out = a.nodes, *br_out = a.branches;
  const double gain = a.gain, loss = a.loss, alpha = a.alpha;
  const long cats = a.cats;
  if (isnan(gain) != isnan(loss)) return cli_usage_error("give both --gain and --loss, or neither");
  if (!isnan(gain) && cats > 1 && isnan(alpha))
    return cli_usage_error("--gamma-cats %ld with fixed rates needs --alpha A with A > 0", cats);
  const cli_file outs_given[] = {{a.json ? NULL : nodes_out, "--nodes"},
                                 {a.json ? NULL : br_out, "--branches"}},
                 ins[] = {{a.tree, "--tree"}, {a.matrix, "--matrix"}, {a.data.taxa, "--taxa"},
                          {a.data.family_names, "--family-names"}};
  rc = cli_check_outputs(outs_given, 2, ins, 4);
  if (rc) return rc;

  fitcl_data *data = NULL;
  fitcl_context *ctx = NULL;
  fitcl_ancestral_result ar = {0};
  char *nb = NULL, *bb = NULL;
  size_t nl = 0, ncap = 0, bl = 0, bcap = 0;
  rc = cli_shared_context(&ctx);
  if (!rc) rc = cli_load_data(a.tree, a.matrix, &a.data, ctx, &data);
  /* Over several ranks the context came first (the ranks read their rows
   * through it), even with the rates given; every rank has its inputs, or
   * the job stops here. */
  if (!rc && !ctx && isnan(gain)) rc = cli_open_context(&ctx);
  rc = cli_mpi_sync(rc);
  if (rc) goto done;
  fitcl_gl_params p = {0};
  p.gain = gain;
  p.loss = loss;
  p.alpha = alpha;
  fitcl_status st;
  if (isnan(gain)) {
    fitcl_fit_options fo = {0};
    fo.gamma_cats = (int)cats;
    fo.no_condition = a.no_condition;
    fo.no_stderr = 1;
    fitcl_fit_result fr;
    st = fitcl_fit_rates(ctx, data, &fo, &fr);
    if (st != FITCL_OK) { rc = cli_fail(ctx, st, "fit"); goto done; }
    p.gain = fr.gain;
    p.loss = fr.loss;
    p.alpha = fr.alpha;
    fprintf(stderr, "%s: fitted gain %.6g, loss %.6g%s", cli_prog, fr.gain, fr.loss,
            cats > 1 ? "" : "\n");
    if (cats > 1) fprintf(stderr, ", alpha %.6g\n", fr.alpha);
  }
  st = fitcl_ancestral(ctx, data, &p, (int)cats, &ar);
  if (st != FITCL_OK) { rc = cli_fail(ctx, st, "ancestral"); goto done; }
  /* Every rank has the result; rank 0 writes it. */
  if (cli_mpi_rank() != 0) goto done;
  const fitcl_tree *t = fitcl_data_tree(data);
  int nt = fitcl_tree_ntips(t), nn = ar.nodes;
  char name[64];
  if (a.json) {
    /* The backend that fitted the rates; given rates need none (a context
     * opened only to share the work over ranks leaves no trace). */
    rc = print_json(isnan(gain) ? ctx : NULL, data, &p, (int)cats, &ar);
    goto done;
  }
  int ok = append(&nb, &nl, &ncap, "family");
  for (int v = nt; v < nn && ok; ++v) ok = append(&nb, &nl, &ncap, "\t%s", node_name(t, v, name, sizeof name));
  ok = ok && append(&nb, &nl, &ncap, "\n");
  for (size_t f = 0; f < ar.families && ok; ++f) {
    ok = append(&nb, &nl, &ncap, "%s", fitcl_data_family_name(data, f));
    for (int v = nt; v < nn && ok; ++v)
      ok = append(&nb, &nl, &ncap, "\t%.6g", ar.p_present[f * (size_t)nn + (size_t)v]);
    ok = ok && append(&nb, &nl, &ncap, "\n");
  }
  ok = ok && append(&bb, &bl, &bcap, "node\tparent\tlength\texpected_gains\texpected_losses\n");
  for (int v = 0; v < nn - 1 && ok; ++v) {
    char pname[64];
    int pv = fitcl_tree_parent(t, v);
    ok = append(&bb, &bl, &bcap, "%s\t%s\t%.6g\t%.6g\t%.6g\n", node_name(t, v, name, sizeof name),
                node_name(t, pv, pname, sizeof pname), fitcl_tree_branch_length(t, v),
                ar.gains[v], ar.losses[v]);
  }
  if (!ok) { cli_error("out of memory"); rc = CLI_EXIT_FAILURE; goto done; }
  /* Both tables are written, then committed together; both on stdout are
   * one output, the node table first, then a blank line. */
  fitcl__outfile outs[2];
  int both_stdout = strcmp(nodes_out, "-") == 0 && strcmp(br_out, "-") == 0;
  rc = cli_out_open(&outs[0], nodes_out);
  if (rc) goto done;
  fitcl__out_write(&outs[0], nb, nl);
  if (both_stdout) {
    fitcl__out_write(&outs[0], "\n", 1);
    fitcl__out_write(&outs[0], bb, bl);
    rc = cli_out_commit(outs, 1);
    goto done;
  }
  rc = cli_out_open(&outs[1], br_out);
  if (rc) {
    fitcl__out_abort(&outs[0]);
    goto done;
  }
  fitcl__out_write(&outs[1], bb, bl);
  rc = cli_out_commit(outs, 2);
done:
  free(nb);
  free(bb);
  fitcl_ancestral_free(&ar);
  fitcl_context_destroy(ctx);
  fitcl_data_destroy(data);
  return rc;
}
