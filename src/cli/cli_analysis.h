/* Helpers shared by the gene-content subcommands (loglik, fit,
 * retention-test, simulate, ancestral). */
#ifndef FITCL_CLI_ANALYSIS_H
#define FITCL_CLI_ANALYSIS_H

#include <cjson/cJSON.h>
#include "cli/cli_opts.h"
#include "fitcl.h"

/* Input options shared by the subcommands that read a tree and a matrix. */
typedef struct cli_data_flags {
  int taxa_in_rows;   /* --taxa-in-rows: the matrix has one row per genome */
  int prune_missing;  /* --prune-missing: drop tree tips absent from the matrix */
  int ignore_extra;   /* --ignore-extra-taxa: ignore matrix taxa absent from the tree */
  const char *taxa;          /* --taxa FILE: the column names of a .npy matrix */
  const char *family_names;  /* --family-names FILE: its row names */
} cli_data_flags;
/* Their entries in an option table (cli_opts.h): T is the values struct,
 * member its cli_data_flags. */
#define CLI_DATA_OPTIONS(T, member)                                                       \
  {CLI_FLAG("taxa-in-rows", T, member.taxa_in_rows,                                        \
            "the matrix has one row per genome (default: one per family)")},              \
  {CLI_FLAG("prune-missing", T, member.prune_missing,                                      \
            "drop tree tips that are absent from the matrix")},                            \
  {CLI_FLAG("ignore-extra-taxa", T, member.ignore_extra,                                   \
            "ignore matrix taxa that are absent from the tree")},                          \
  {CLI_STRING("taxa", "FILE", T, member.taxa,                                             \
              "with a .npy matrix (uint8, shape (families, taxa), 0/1, 255 missing): its "  \
              "taxon names, one per line, one per column (required)")},                    \
  {CLI_STRING("family-names", "FILE", T, member.family_names,                             \
              "with a .npy matrix: its family names, one per line, one per row (default "   \
              "F1, F2, ...)")}

/* Reads a tree (and, when matrix_path is not NULL, a presence/absence
 * matrix matched to it into *data).  On failure prints one line and returns
 * the exit code; 0 on success.  *tree is set only when data is NULL. */
int cli_load_tree(const char *tree_path, fitcl_tree **tree);
/* ctx: NULL, or a shared context (cli_shared_context). */
int cli_load_data(const char *tree_path, const char *matrix_path, const cli_data_flags *flags,
                  fitcl_context *ctx, fitcl_data **data);
/* Under mpirun, the context is opened and shared before the data are read
 * (the ranks read their rows together, through it); 0 or the exit code,
 * agreed by every rank.  Without MPI, nothing. */
int cli_shared_context(fitcl_context **ctx);
/* The matrix reader's options from the flags. */
fitcl_pamatrix_options cli_matrix_options(const cli_data_flags *flags);

/* Adds a number, or JSON null when it is not finite. */
void cli_json_num(cJSON *obj, const char *key, double v);

/* Seconds since an arbitrary fixed point (monotonic). */
double cli_now(void);

#endif
