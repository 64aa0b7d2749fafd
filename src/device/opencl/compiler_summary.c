/* clang's summary as a small automaton, and the split as a best-path
 * search over lines (see compiler_summary.h). */
#include "device/opencl/compiler_summary.h"

#include <stdlib.h>
#include <string.h>

/* The summary is  N " warning" ["s"] [" and " N " error" ["s"]] " generated.\n"
 *            or   N " error" ["s"] " generated.\n",
 * with the "s" exactly when N is not 1 (which settles whether a line that
 * begins with "s" is a piece).  A state is a node, how much of the node's
 * literal has been read, and whether the last count was plural. */
enum {
  START,
  COUNT1,
  SPACE1,
  WARNING,
  WARNING_S,
  SPACE2,
  AND,
  COUNT2,
  ERROR,
  ERROR_S,
  GENERATED,
  NODES
};
enum {
  LITERAL_ROOM = 16,
  PLURAL = NODES * LITERAL_ROOM,
  STATES = 2 * PLURAL,
  DEAD = -1,
  DONE = -2
};

static const char *const literal[NODES] = {
    [WARNING] = " warning", [AND] = " and ", [ERROR] = " error", [GENERATED] = " generated.\n"};

static int at(int node, int k, int plural) {
  return node * LITERAL_ROOM + k + (plural ? PLURAL : 0);
}
static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* The state after a count's first digit c. */
static int count_begins(int node, char c) { return is_digit(c) ? at(node, 0, c != '1') : DEAD; }

/* The state after reading c in `state`: a state, DEAD or DONE. */
static int step(int state, char c) {
  int plural = state >= PLURAL, node = state % PLURAL / LITERAL_ROOM, k = state % LITERAL_ROOM;
  const char *lit = literal[node];
  if (lit && lit[k]) {
    if (c != lit[k]) return DEAD;
    return node == GENERATED && !lit[k + 1] ? DONE : at(node, k + 1, plural);
  }
  /* After a whole word: its "s" if the count was plural, else the space. */
  int word_end = plural ? 's' : ' ';
  switch (node) {
  case START: return count_begins(COUNT1, c);
  case COUNT1: return is_digit(c) ? at(COUNT1, 0, 1) : c == ' ' ? at(SPACE1, 0, plural) : DEAD;
  case SPACE1: return c == 'w' ? at(WARNING, 2, plural) : c == 'e' ? at(ERROR, 2, plural) : DEAD;
  case WARNING: return c != word_end ? DEAD : plural ? at(WARNING_S, 0, 0) : at(SPACE2, 0, 0);
  case WARNING_S: return c == ' ' ? at(SPACE2, 0, 0) : DEAD;
  case SPACE2: return c == 'a' ? at(AND, 2, 0) : c == 'g' ? at(GENERATED, 2, 0) : DEAD;
  case AND: return count_begins(COUNT2, c);
  case COUNT2: return is_digit(c) ? at(COUNT2, 0, 1) : c == ' ' ? at(ERROR, 1, plural) : DEAD;
  case ERROR: return c != word_end ? DEAD : plural ? at(ERROR_S, 0, 0) : at(GENERATED, 1, 0);
  case ERROR_S: return c == ' ' ? at(GENERATED, 1, 0) : DEAD;
  default: return DEAD;
  }
}

/* Whether clang can have stopped writing in `state`, between two of its
 * pieces: N, " warning", "s", " and ", " error", " generated", ".\n". */
static int between_pieces(int state) {
  int node = state % PLURAL / LITERAL_ROOM, k = state % LITERAL_ROOM;
  switch (node) {
  case COUNT1:
  case COUNT2:
  case WARNING_S:
  case ERROR_S: return 1;
  case WARNING:
  case AND:
  case ERROR: return !literal[node][k];
  case GENERATED: return k == sizeof " generated" - 1;
  default: return 0;
  }
}

/* Whether line[0..n) is a whole summary on its own. */
static int whole_summary(const char *line, size_t n) {
  int s = at(START, 0, 0);
  for (size_t j = 0; j < n; ++j) {
    s = step(s, line[j]);
    if (s == DONE) return j + 1 == n;
    if (s == DEAD) return 0;
  }
  return 0;
}

/* Beyond this many lines the search's tables would be large; whole-line
 * summaries are still recognised there. */
enum { SEARCH_MAX_LINES = 2048 };

/* A reading so far: the best one has the most summaries, then gives them
 * the most bytes (a count "12" is one piece, not "1" and then a line
 * beginning "2"), then cuts the fewest lines. */
typedef struct {
  long summaries, cuts, bytes; /* summaries < 0: unreachable */
  int prev;                    /* the state at the start of the previous line */
  size_t cut;                  /* how many bytes of the previous line are summary */
} cell;

static int better(long summaries, long cuts, long bytes, const cell *than) {
  if (summaries != than->summaries) return summaries > than->summaries;
  if (bytes != than->bytes) return bytes > than->bytes;
  return cuts < than->cuts;
}

static void relax(cell *c, const cell *from, long summary, long cut_line, int prev, size_t cut) {
  long summaries = from->summaries + summary, cuts = from->cuts + cut_line,
       bytes = from->bytes + (long)cut;
  if (better(summaries, cuts, bytes, c)) *c = (cell){summaries, cuts, bytes, prev, cut};
}

/* cut[i]: how many leading bytes of line i are summary pieces. */
static void choose_cuts(const char *text, const size_t *start, size_t lines, size_t *cut) {
  cell *table = lines <= SEARCH_MAX_LINES ? malloc((lines + 1) * STATES * sizeof *table) : NULL;
  if (!table) {
    for (size_t i = 0; i < lines; ++i) {
      size_t n = start[i + 1] - start[i];
      cut[i] = whole_summary(text + start[i], n) ? n : 0;
    }
    return;
  }
  for (size_t k = 0; k < (lines + 1) * STATES; ++k) table[k] = (cell){-1, 0, 0, 0, 0};
  table[at(START, 0, 0)] = (cell){0, 0, 0, 0, 0};
  for (size_t i = 0; i < lines; ++i) {
    const char *line = text + start[i];
    size_t n = start[i + 1] - start[i];
    cell *row = table + i * STATES, *next = row + STATES;
    for (int s = 0; s < STATES; ++s) {
      if (row[s].summaries < 0) continue;
      relax(&next[s], &row[s], 0, 0, s, 0); /* the whole line is another writer's */
      int t = s;
      for (size_t j = 1; j <= n; ++j) {
        t = step(t, line[j - 1]);
        if (t == DEAD) break;
        if (t == DONE) {
          if (j == n) relax(&next[at(START, 0, 0)], &row[s], 1, 0, s, j);
          break;
        }
        if (j < n && between_pieces(t)) /* the rest is another writer's */
          relax(&next[t], &row[s], 0, 1, s, j);
      }
    }
  }
  int s = at(START, 0, 0);
  for (size_t i = lines; i-- > 0;) {
    const cell *c = &table[(i + 1) * STATES + s];
    cut[i] = c->cut;
    s = c->prev;
  }
  free(table);
}

size_t fitcl__split_compiler_summary(const char *text, size_t len, char *other, char *summary,
                                     size_t *summary_len) {
  size_t lines = 0;
  for (size_t i = 0; i < len; ++i)
    if (text[i] == '\n' || i + 1 == len) ++lines;
  size_t *start = malloc((lines + 1) * sizeof *start);
  size_t *cut = malloc((lines ? lines : 1) * sizeof *cut);
  size_t kept = 0;
  *summary_len = 0;
  if (!start || !cut) { /* no memory to search: keep everything as it came */
    memcpy(other, text, len);
    free(start);
    free(cut);
    return len;
  }
  lines = 0;
  start[0] = 0;
  for (size_t i = 0; i < len; ++i)
    if (text[i] == '\n' || i + 1 == len) start[++lines] = i + 1;
  choose_cuts(text, start, lines, cut);
  for (size_t i = 0; i < lines; ++i) {
    size_t n = start[i + 1] - start[i];
    memcpy(summary + *summary_len, text + start[i], cut[i]);
    *summary_len += cut[i];
    memcpy(other + kept, text + start[i] + cut[i], n - cut[i]);
    kept += n - cut[i];
  }
  free(start);
  free(cut);
  return kept;
}
