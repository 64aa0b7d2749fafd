/* fitcl public API: trees, presence/absence matrices, and the data set that
 * joins them.  Included by fitcl.h; do not include directly.
 *
 * None of these calls needs a context.  Every reader returns a status and,
 * on failure, writes one line into the caller's `err` buffer (when err is
 * not NULL and errlen > 0) of the form
 *     <file>:<line>:<column>: <what is wrong>
 * where line and column count from 1 (columns in bytes).  Text parsed from
 * memory uses the name "<string>" unless the call takes a name.
 *
 * Thread-safety: the objects here are immutable after creation except
 * through fitcl_data_set_groups().  Distinct objects may be used from
 * different threads; one object may be read from several threads at once
 * as long as nobody modifies or destroys it. */
#ifndef FITCL_TREE_H
#define FITCL_TREE_H
#include "../fitcl.h"
#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------- */
/* Trees (Newick)                                                            */

typedef struct fitcl_tree fitcl_tree;

/**
 * Reads the first (and only) Newick tree of a file.
 *
 * Accepted: quoted labels ('it''s' and "..." with doubled quotes), comments
 * in square brackets anywhere between tokens (nested brackets allowed),
 * internal labels and support values (kept as labels), branch lengths in
 * decimal or scientific notation, multifurcations, unary nodes, an unrooted
 * (trifurcating) root kept as a 3-child root, and any whitespace or
 * newlines between tokens.  Underscores in unquoted labels are kept as they
 * are (so names match genome names verbatim).
 *
 * Rejected, with file:line:column: unbalanced parentheses, a missing ';',
 * text after the ';', duplicate or empty tip names, a branch length that is
 * negative, NaN, infinite, malformed or missing (every node but the root
 * needs one; a root length is accepted and ignored), fewer than two tips.
 *
 * Nesting depth is limited only by memory (no recursion).
 *
 * @param path   file to read.
 * @param out    receives the tree (owned by the caller; fitcl_tree_destroy).
 *               Set to NULL on failure.
 * @param err    receives the one-line message on failure (may be NULL).
 * @return FITCL_OK, FITCL_ERR_PARSE (syntax), FITCL_ERR_DATA (bad branch
 *         length, duplicate or empty name, too few tips), FITCL_ERR_IO,
 *         FITCL_ERR_NOMEM, FITCL_ERR_NULL.
 */
FITCL_API fitcl_status fitcl_tree_read(const char *path, fitcl_tree **out, char *err,
                                       size_t errlen);

/** As fitcl_tree_read, from a NUL-terminated string; messages use the name
 *  "<string>". */
FITCL_API fitcl_status fitcl_tree_parse(const char *text, fitcl_tree **out, char *err,
                                        size_t errlen);

/** Releases a tree.  Accepts NULL. */
FITCL_API void fitcl_tree_destroy(fitcl_tree *tree);

/** Number of tips (leaves). */
FITCL_API int fitcl_tree_ntips(const fitcl_tree *tree);
/** Number of nodes, tips included.  Tips are 0..ntips-1 in the order they
 *  appear in the Newick text; internal nodes follow in post-order; the root
 *  is nnodes-1. */
FITCL_API int fitcl_tree_nnodes(const fitcl_tree *tree);
/** Name of tip i (0 <= i < ntips), or NULL when out of range.  Owned by the
 *  tree. */
FITCL_API const char *fitcl_tree_tip_name(const fitcl_tree *tree, int i);
/** Label of node v (internal labels and support values too), or NULL when it
 *  has none or v is out of range.  Owned by the tree. */
FITCL_API const char *fitcl_tree_node_label(const fitcl_tree *tree, int v);
/** Parent of node v, -1 for the root or when v is out of range. */
FITCL_API int fitcl_tree_parent(const fitcl_tree *tree, int v);
/** Length of the branch above node v (0 for the root), NaN when out of
 *  range. */
FITCL_API double fitcl_tree_branch_length(const fitcl_tree *tree, int v);
/** Index of the tip called `name`, or -1. */
FITCL_API int fitcl_tree_find_tip(const fitcl_tree *tree, const char *name);

/**
 * Writes the tree as Newick text (children in stored order, labels quoted
 * when they need it, lengths with 17 significant digits so they read back
 * exactly).
 * @param out  receives a malloc'ed NUL-terminated string; free() it.
 */
FITCL_API fitcl_status fitcl_tree_to_newick(const fitcl_tree *tree, char **out);

/* ------------------------------------------------------------------------- */
/* Presence/absence matrices                                                 */

typedef struct fitcl_pamatrix fitcl_pamatrix;

/** Values of a matrix cell. */
#define FITCL_PA_ABSENT 0
#define FITCL_PA_PRESENT 1
#define FITCL_PA_MISSING 2

typedef enum fitcl_pamatrix_format {
  /** Decide from the extension, then the content: ".csv" whose header starts
   *  with "Gene","Non-unique Gene name","Annotation" is a Roary/Panaroo
   *  gene_presence_absence.csv; other ".csv" is a plain CSV table; ".Rtab",
   *  ".tsv", ".tab" and ".txt" are tab-separated tables; any other name is
   *  tab-separated when its first line holds a tab, else comma-separated. */
  FITCL_PAMATRIX_AUTO = 0,
  /** Tab-separated table (Roary/Panaroo gene_presence_absence.Rtab and
   *  other TSV): a header row of names, then one row per record whose first
   *  cell is the record's name.  Values: 0 absent, a positive integer
   *  (a count) present, "?", "-" or "NA" missing. */
  FITCL_PAMATRIX_TSV,
  /** The same table, comma-separated (RFC 4180 quoting). */
  FITCL_PAMATRIX_CSV,
  /** Roary or Panaroo gene_presence_absence.csv: quoted CSV whose first
   *  columns are annotations (Roary: 14, Panaroo: 3, recognised by their
   *  header names), then one column per genome.  An empty cell is absent,
   *  "?", "-" or "NA" missing, anything else (gene identifiers) present.
   *  Families are always in rows. */
  FITCL_PAMATRIX_PANGENOME_CSV
} fitcl_pamatrix_format;

typedef struct fitcl_pamatrix_options {
  /** Input format.  0 (FITCL_PAMATRIX_AUTO): detected as described above. */
  fitcl_pamatrix_format format;
  /** For TSV and CSV tables: 0 (default) means one row per family and one
   *  column per taxon (the Rtab layout); nonzero means one row per taxon and
   *  one column per family.  Not allowed with FITCL_PAMATRIX_PANGENOME_CSV. */
  int taxa_in_rows;
  /** For a ".npy" matrix (fitcl_pamatrix_read only): the file naming its
   *  columns, one taxon name per line, as many as the array has columns
   *  (required).  NULL for the text formats. */
  const char *taxa_file;
  /** For a ".npy" matrix: the file naming its rows, one family name per
   *  line, as many as the array has rows; NULL names them "F1", "F2"... */
  const char *family_names_file;
} fitcl_pamatrix_options;

/**
 * Reads a presence/absence matrix, streaming: memory holds two bits per
 * cell plus the names, never the text.
 *
 * A path ending in ".npy" (any case) is a uint8 NumPy array of shape
 * (families, taxa), C or Fortran order: 0 absent, 1 present, 255 missing.
 * It is read in large blocks into the two-bit cells (never a second copy
 * of the array); the names come from opt->taxa_file (required) and
 * opt->family_names_file.  Rejected, naming the file: another dtype or
 * number of dimensions, another value (with its row and column), a names
 * file whose count differs from the array's dimension, or with an empty
 * line or a name twice (with the line numbers); the names options with a
 * path not ending in ".npy".
 *
 * Rejected, with file:line:column: an empty file, a header without taxon
 * (or family) columns, no data rows, ragged rows (too few or too many
 * cells), bad values, duplicate or empty taxon or family names, an
 * unterminated quote, unrecognised Roary/Panaroo annotation headers.
 * Blank lines are skipped; CRLF line ends and a UTF-8 byte-order mark are
 * accepted.
 *
 * @param path  file to read.
 * @param opt   options, or NULL for the defaults.
 * @param out   receives the matrix (fitcl_pamatrix_destroy); NULL on failure.
 * @param err   receives the one-line message on failure (may be NULL).
 * @return FITCL_OK, FITCL_ERR_PARSE, FITCL_ERR_DATA, FITCL_ERR_ARG,
 *         FITCL_ERR_SIZE, FITCL_ERR_IO, FITCL_ERR_NOMEM, FITCL_ERR_NULL.
 */
FITCL_API fitcl_status fitcl_pamatrix_read(const char *path, const fitcl_pamatrix_options *opt,
                                           fitcl_pamatrix **out, char *err, size_t errlen);

/** As fitcl_pamatrix_read, from `len` bytes in memory.  `name` is used in
 *  messages and, with FITCL_PAMATRIX_AUTO, for detection by extension (NULL:
 *  "<string>", detected by content). */
FITCL_API fitcl_status fitcl_pamatrix_parse(const char *text, size_t len, const char *name,
                                            const fitcl_pamatrix_options *opt,
                                            fitcl_pamatrix **out, char *err, size_t errlen);

/**
 * Builds a matrix from memory (for simulated data and bindings).
 * @param values  [nfamilies * ntaxa], family-major: values[f*ntaxa + t] is
 *                FITCL_PA_ABSENT, FITCL_PA_PRESENT or FITCL_PA_MISSING.
 * @param family_names, taxon_names  copied; must be non-empty and unique.
 *                family_names may be NULL: families are named "F1", "F2"...
 */
FITCL_API fitcl_status fitcl_pamatrix_create(size_t nfamilies, size_t ntaxa, const uint8_t *values,
                                             const char *const *family_names,
                                             const char *const *taxon_names,
                                             fitcl_pamatrix **out, char *err, size_t errlen);

/** Releases a matrix.  Accepts NULL. */
FITCL_API void fitcl_pamatrix_destroy(fitcl_pamatrix *m);

FITCL_API size_t fitcl_pamatrix_nfamilies(const fitcl_pamatrix *m);
FITCL_API size_t fitcl_pamatrix_ntaxa(const fitcl_pamatrix *m);
/** Names, owned by the matrix; NULL when out of range. */
FITCL_API const char *fitcl_pamatrix_family_name(const fitcl_pamatrix *m, size_t family);
FITCL_API const char *fitcl_pamatrix_taxon_name(const fitcl_pamatrix *m, size_t taxon);
/** FITCL_PA_ABSENT/PRESENT/MISSING, or -1 when out of range. */
FITCL_API int fitcl_pamatrix_get(const fitcl_pamatrix *m, size_t family, size_t taxon);

/**
 * Writes the matrix as a Roary-style Rtab (tab-separated, header "Gene" then
 * the taxon names, one row per family, 0/1, "?" for missing).  A regular
 * file is written to a temporary file in the same directory and renamed, so
 * a failure never leaves a half-written file; a symlink is followed (the
 * file it points to is replaced), a FIFO or character device is written in
 * place, anything else is refused.  Every write error is reported
 * (FITCL_ERR_IO); a path that cannot be created gives FITCL_ERR_FILE.
 */
FITCL_API fitcl_status fitcl_pamatrix_write_rtab(const fitcl_pamatrix *m, const char *path,
                                                 char *err, size_t errlen);

/* ------------------------------------------------------------------------- */
/* Data set: a tree matched to a matrix, compressed into site patterns       */

typedef struct fitcl_data fitcl_data;

typedef struct fitcl_data_options {
  /** 0 (default): every tree tip must be a matrix taxon.  Nonzero: tree tips
   *  absent from the matrix are dropped; nodes left with one child are
   *  suppressed (their branch lengths summed), childless ones removed. */
  int prune_missing;
  /** 0 (default): every matrix taxon must be a tree tip.  Nonzero: matrix
   *  columns absent from the tree are ignored. */
  int ignore_extra_taxa;
  /** Rate group of each family ([fitcl_pamatrix_nfamilies], each in
   *  0..65535), copied.  NULL (default): every family in group 0. */
  const int *groups;
} fitcl_data_options;

/**
 * Matches tree tips to matrix taxa by exact name and compresses the families
 * into weighted site patterns: identical columns in the same rate group
 * become one pattern whose weight is the number of families.
 *
 * On a name mismatch the message lists every name found on only one side
 * (FITCL_ERR_MISMATCH).  The tree and matrix are not retained; the data set
 * holds its own (possibly pruned) copy of the tree.
 *
 * @param tree, matrix  inputs, only read; they may be destroyed afterwards.
 * @param opt  options, or NULL for the defaults.
 * @param out  receives the data set (fitcl_data_destroy); NULL on failure.
 * @param err  receives the one-line message on failure (may be NULL); a
 *             name list longer than errlen is cut.
 * @return FITCL_OK, FITCL_ERR_MISMATCH (names differ, or fewer than 2 tips
 *         remain after pruning), FITCL_ERR_RANGE (a group outside
 *         0..65535), FITCL_ERR_NULL, FITCL_ERR_NOMEM.
 */
FITCL_API fitcl_status fitcl_data_build(const fitcl_tree *tree, const fitcl_pamatrix *matrix,
                                        const fitcl_data_options *opt, fitcl_data **out,
                                        char *err, size_t errlen);

/**
 * fitcl_data_build that takes the matrix: the patterns are compressed into
 * the matrix's own cell storage, so the cells are held once rather than
 * twice (the matrix and the patterns) while the data set is built.  The
 * result is the same as fitcl_data_build's.
 *
 * @param matrix  *matrix is destroyed and set to NULL, whatever the outcome.
 * Other parameters and return values as fitcl_data_build.
 */
FITCL_API fitcl_status fitcl_data_build_take(const fitcl_tree *tree, fitcl_pamatrix **matrix,
                                             const fitcl_data_options *opt, fitcl_data **out,
                                             char *err, size_t errlen);

/** Releases a data set.  Accepts NULL. */
FITCL_API void fitcl_data_destroy(fitcl_data *data);

/** The data set's tree (pruned when asked).  Owned by the data set; valid
 *  until it is destroyed. */
FITCL_API const fitcl_tree *fitcl_data_tree(const fitcl_data *data);
FITCL_API size_t fitcl_data_nfamilies(const fitcl_data *data);
FITCL_API size_t fitcl_data_npatterns(const fitcl_data *data);
/** Number of taxa, equal to fitcl_tree_ntips(fitcl_data_tree(data)). */
FITCL_API int fitcl_data_ntaxa(const fitcl_data *data);
/** Number of rate groups: 1 + the largest group. */
FITCL_API int fitcl_data_ngroups(const fitcl_data *data);
/** Family names in matrix order; NULL when out of range. */
FITCL_API const char *fitcl_data_family_name(const fitcl_data *data, size_t family);
/** Group of a family, -1 when out of range. */
FITCL_API int fitcl_data_family_group(const fitcl_data *data, size_t family);
/** Pattern of a family, (size_t)-1 when out of range. */
FITCL_API size_t fitcl_data_family_pattern(const fitcl_data *data, size_t family);
/** Weight (number of families) of a pattern, 0 when out of range. */
FITCL_API double fitcl_data_pattern_weight(const fitcl_data *data, size_t pattern);
/** State of tip `taxon` (tree tip order) in a pattern: FITCL_PA_*, or -1. */
FITCL_API int fitcl_data_pattern_state(const fitcl_data *data, size_t pattern, int taxon);

/**
 * Assigns rate groups and recompresses the patterns (pattern indices change;
 * any likelihood object built on this data set must be rebuilt).
 * @param groups  [n] with n == fitcl_data_nfamilies, each in 0..65535;
 *                NULL puts every family back in group 0.
 * @return FITCL_OK, FITCL_ERR_MISMATCH (n differs), FITCL_ERR_RANGE,
 *         FITCL_ERR_NOMEM; on failure the data set is unchanged.
 */
FITCL_API fitcl_status fitcl_data_set_groups(fitcl_data *data, const int *groups, size_t n,
                                             char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
