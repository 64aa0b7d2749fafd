#!/bin/sh
# fitcl under mpirun (docs/mpi.md):
#   - loglik, fit, retention-test, ancestral and curve-fit over 2 and 3 ranks print the
#     output of one process byte for byte ("seconds" aside), on every backend built;
#   - ancestral writes its tables on rank 0 alone, the bytes one process writes;
#   - a rank given a corrupt file, or a bad value in the chunk of a .npy that
#     only one rank reads, makes every rank exit 2, with one message naming
#     that rank;
#   - each rank reading only its rows of a matrix (Rtab or .npy) gives one
#     process's outputs, and a bad row makes the rank that reads it fail
#     the job with one message;
#   - a rank killed mid-job ends the job, with a failure, within seconds.
# usage: mpi_cli.sh FITCL MPIRUN TREE WITH_OPENCL(0|1)
set -u
fitcl=$1 mpirun=$2 tree=$3 with_opencl=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
fails=0
fail() {
  echo "FAIL: $*" >&2
  fails=$((fails + 1))
}
# Open MPI refuses root without these; oversubscribe: more ranks than cores.
run_mpi() {
  n=$1
  shift
  timeout 300 "$mpirun" --allow-run-as-root --oversubscribe -n "$n" "$@"
}
nosecs() { sed -E 's/"seconds":[-+0-9.eE]+,?//g'; }

"$fitcl" simulate --tree "$tree" --gain 0.3 --loss 0.5 --families 20000 --gamma-cats 4 \
  --alpha 0.6 --seed 7 --condition -o m.Rtab || exit 1
# ancestral: 2,000 families, 8 blocks of patterns (and a small output).
"$fitcl" simulate --tree "$tree" --gain 0.3 --loss 0.5 --families 2000 --seed 5 --condition \
  -o anc.Rtab || exit 1
# One block of patterns: ranks 1 and 2 hold none.
"$fitcl" simulate --tree "$tree" --gain 0.3 --loss 0.5 --families 30 --seed 3 --condition \
  -o small.Rtab || exit 1
# Curve-fit data: 200,000 points in 13 chunks of 16,384, so the ranks hold
# different numbers of chunks.
awk 'BEGIN { print "x,y"; for (i = 0; i < 200000; ++i) { x = 10 * i / 200000;
             printf "%.17g,%.17g\n", x, 2 * exp(-0.7 * x) + 0.1 + 0.05 * sin(i * 0.37) } }' >d.csv
# The same points as a .npy (float64, C order, x and y): each rank reads only
# its own chunks' rows.  bad.npy has a NaN at row 20,000, in chunk 1 (rank 1's).
npy() { # points, row made NaN (-1: none)
  perl -e 'my ($n, $bad) = @ARGV; binmode STDOUT;
    my $h = "{\x27descr\x27: \x27<f8\x27, \x27fortran_order\x27: False, \x27shape\x27: ($n, 2), }";
    $h .= " " x (63 - (10 + length $h) % 64) . "\n";
    print "\x93NUMPY\x01\x00", pack("v", length $h), $h;
    for my $i (0 .. $n - 1) { my $x = 10 * $i / $n;
      my $y = $i == $bad ? "nan" : 2 * exp(-0.7 * $x) + 0.1 + 0.05 * sin($i * 0.37);
      print pack("d<d<", $x, $y) }' "$@"
}
npy 200000 -1 >d.npy || exit 1
npy 200000 20000 >bad.npy || exit 1

same_json() { # name, then the command line
  name=$1
  shift
  "$fitcl" "$@" >one.json 2>one.err || { fail "$name: one process failed: $(cat one.err)"; return; }
  nosecs <one.json >one.cmp
  grep -q . one.cmp || { fail "$name: no output"; return; }
  for n in 1 2 3; do
    run_mpi "$n" "$fitcl" "$@" >n.json 2>n.err || { fail "$name -n $n failed: $(cat n.err)"; continue; }
    nosecs <n.json >n.cmp
    cmp -s one.cmp n.cmp || fail "$name: -n $n differs from one process:
$(cat one.cmp)
$(cat n.cmp)"
  done
}

devices=cpu
[ "$with_opencl" = 1 ] && devices="cpu opencl"
for dev in $devices; do
  export FITCL_DEVICE=$dev
  same_json "loglik ($dev)" loglik --tree "$tree" --matrix m.Rtab --gain 0.3 --loss 0.5 \
    --gamma-cats 4 --alpha 0.6 --grad --json
  same_json "loglik, fewer blocks than ranks ($dev)" loglik --tree "$tree" --matrix small.Rtab \
    --gain 0.3 --loss 0.5 --gamma-cats 3 --alpha 0.8 --grad --json
  same_json "fit ($dev)" fit --tree "$tree" --matrix m.Rtab --gamma-cats 4 --json
  same_json "retention-test ($dev)" retention-test --tree "$tree" --matrix m.Rtab \
    --families-regex 'fam0[0-2]' --ci profile --bootstrap 3 --gamma-cats 2 --json
  same_json "ancestral, fitted rates ($dev)" ancestral --tree "$tree" --matrix anc.Rtab \
    --gamma-cats 2 --json
  same_json "ancestral, fewer blocks than ranks ($dev)" ancestral --tree "$tree" \
    --matrix small.Rtab --gain 0.3 --loss 0.5 --gamma-cats 3 --alpha 0.8 --json
  same_json "curve-fit ($dev)" curve-fit --data d.csv --model 'a*exp(-k*x)+c' \
    --p0 a=1,k=1,c=0 --chunk 16384 --solver normal --json
  same_json "curve-fit .npy ($dev)" curve-fit --data d.npy --model 'a*exp(-k*x)+c' \
    --p0 a=1,k=1,c=0 --chunk 16384 --solver normal --json
  same_json "curve-fit .npy, read on every pass ($dev)" curve-fit --data d.npy \
    --model 'a*exp(-k*x)+c' --p0 a=1,k=1,c=0 --chunk 16384 --memory-mb 0 --solver normal --json
done
export FITCL_DEVICE=cpu

# ancestral's two tables, written to files by rank 0: the bytes of one process.
"$fitcl" ancestral --tree "$tree" --matrix anc.Rtab --gain 0.3 --loss 0.5 --nodes one.nodes \
  --branches one.br 2>anc1.err || fail "ancestral to files: one process failed: $(cat anc1.err)"
for n in 2 3; do
  rm -f n.nodes n.br
  run_mpi "$n" "$fitcl" ancestral --tree "$tree" --matrix anc.Rtab --gain 0.3 --loss 0.5 \
    --nodes n.nodes --branches n.br 2>ancn.err || fail "ancestral to files -n $n: $(cat ancn.err)"
  cmp -s one.nodes n.nodes || fail "ancestral -n $n: the node table differs from one process"
  cmp -s one.br n.br || fail "ancestral -n $n: the branch table differs from one process"
done

# The bootstrap over a set of devices: one process hands the replicates to
# cpu and OpenCL as units, ranks run them as on the first device; the
# output is cpu's either way (but for the devices' counts and the name of
# the first device).
if [ "$with_opencl" = 1 ]; then
  nodev() {
    nosecs | sed -E 's/,"devices":\[[^]]*\]//; s/"backend":"[^"]*","device":"[^"]*",//'
  }
  boot="retention-test --tree $tree --matrix m.Rtab --families-regex fam0[0-2] --bootstrap 4 --json"
  FITCL_DEVICE=cpu "$fitcl" $boot 2>boot1.err | nodev >boot1.cmp
  grep -q bootstrap boot1.cmp || fail "bootstrap (cpu): no output: $(cat boot1.err)"
  for set in cpu+opencl opencl+cpu; do
    for n in 1 2; do
      FITCL_DEVICE=$set run_mpi "$n" "$fitcl" $boot 2>bootn.err | nodev >bootn.cmp
      cmp -s boot1.cmp bootn.cmp || fail "bootstrap ($set) -n $n differs from cpu: $(cat bootn.err)
$(cat boot1.cmp)
$(cat bootn.cmp)"
    done
  done
fi

# A warning (no convergence) is printed once, as by one process.
"$fitcl" fit --tree "$tree" --matrix m.Rtab --max-iter 2 --json >/dev/null 2>warn1.err
run_mpi 3 "$fitcl" fit --tree "$tree" --matrix m.Rtab --max-iter 2 --json >/dev/null 2>warn3.err ||
  fail "fit --max-iter 2 -n 3 failed: $(cat warn3.err)"
grep '^fitcl' warn3.err >warn3.fitcl
grep -q 'did not converge' warn1.err || fail "fit --max-iter 2: no warning from one process"
cmp -s warn1.err warn3.fitcl || fail "fit --max-iter 2 -n 3: stderr $(cat warn3.err), expected $(cat warn1.err)"

# A corrupt matrix on rank 1 only (MPMD: one program line per rank).
printf 'Gene\tA\n' >bad.Rtab
args="loglik --tree $tree --gain 0.3 --loss 0.5"
run_mpi 1 "$fitcl" $args --matrix m.Rtab : -n 1 "$fitcl" $args --matrix bad.Rtab \
  : -n 1 "$fitcl" $args --matrix m.Rtab >bad.out 2>bad.err
rc=$?
[ "$rc" = 2 ] || fail "corrupt file on rank 1: exit $rc, expected 2"
msgs=$(grep -c '^fitcl' bad.err)
[ "$msgs" = 1 ] || fail "corrupt file on rank 1: $msgs messages from fitcl, expected 1: $(cat bad.err)"
grep -q '^fitcl loglik: rank 1: .*bad.Rtab' bad.err ||
  fail "corrupt file on rank 1: the message does not name rank 1 and the file: $(cat bad.err)"
[ -s bad.out ] && fail "corrupt file on rank 1: output written: $(cat bad.out)"

# The same for ancestral, with the rates given: nothing written.
args="ancestral --tree $tree --gain 0.3 --loss 0.5 --nodes bad.nodes --branches bad.br"
run_mpi 1 "$fitcl" $args --matrix anc.Rtab : -n 1 "$fitcl" $args --matrix anc.Rtab \
  : -n 1 "$fitcl" $args --matrix bad.Rtab >bad.out 2>bad.err
rc=$?
[ "$rc" = 2 ] || fail "ancestral, corrupt file on rank 2: exit $rc, expected 2"
msgs=$(grep -c '^fitcl' bad.err)
[ "$msgs" = 1 ] || fail "ancestral, corrupt file on rank 2: $msgs messages, expected 1: $(cat bad.err)"
grep -q '^fitcl ancestral: rank 2: .*bad.Rtab' bad.err ||
  fail "ancestral, corrupt file on rank 2: the message does not name rank 2: $(cat bad.err)"
[ -e bad.nodes ] || [ -e bad.br ] && fail "ancestral, corrupt file on rank 2: a table was written"

# A NaN in the chunk of rank 1 alone (it alone reads it): exit 2 on every rank,
# one message naming rank 1 and the row.
run_mpi 3 "$fitcl" curve-fit --data bad.npy --model 'a*exp(-k*x)+c' --p0 a=1,k=1,c=0 \
  --chunk 16384 --solver normal --json >bad.out 2>bad.err
rc=$?
[ "$rc" = 2 ] || fail "curve-fit, NaN in rank 1's chunk: exit $rc, expected 2"
msgs=$(grep -c '^fitcl' bad.err)
[ "$msgs" = 1 ] || fail "curve-fit, NaN in rank 1's chunk: $msgs messages, expected 1: $(cat bad.err)"
grep -q "^fitcl curve-fit: rank 1: bad.npy: row 20000: .* NaN" bad.err ||
  fail "curve-fit, NaN in rank 1's chunk: the message does not name rank 1 and the row: $(cat bad.err)"
[ -s bad.out ] && fail "curve-fit, NaN in rank 1's chunk: output written: $(cat bad.out)"

# curve-fit from CSV/TSV: each rank reads its share of the bytes (cut at line
# starts) and the chunks that begin there.  The same bytes as one process
# for a header after comments, comment and blank lines among the rows, CRLF,
# no final newline, an unused text column (quoted, with a newline inside:
# then every rank reads the whole file), a TSV, a file with fewer lines than
# ranks, --residuals and --band; a bad cell in the last rank's share; and
# checkpoints taken by one process or by 3 ranks, resumed by either.
csv_shares() {
  awk 'BEGIN { printf "# exported by hand\r\n\r\nx,note,y,s\r\n";
    for (i = 0; i < 60000; ++i) { x = 10 * i / 60000;
      if (i % 7919 == 5) printf "# a comment line\r\n";
      if (i % 9973 == 3) printf "\r\n";
      printf "%.17g,\"n, %d\",%.17g,%.17g%s", x, i, 2 * exp(-0.7 * x) + 0.1 + 0.05 * sin(i * 0.37),
        0.5 + (i % 5) * 0.1, i < 59999 ? "\r\n" : "" } }' >c1.csv
  awk 'BEGIN { print "x\ty"; for (i = 0; i < 50001; ++i) { x = 10 * i / 50001;
    printf "%.17g\t%.17g\n", x, 2 * exp(-0.7 * x) + 0.1 + 0.05 * cos(i * 0.37) } }' >c1.tsv
  # Row 30,000's note: 300,000 quoted lines, from a quarter to three quarters
  # of the file's bytes, so that every cut falls inside it.
  awk '{ if (NR != 30005) { print; next } i = index($0, "\"n, "); printf "%s", substr($0, 1, i);
         for (k = 0; k < 300000; ++k) printf "line %d\n", k; print substr($0, i + 1) }' \
    c1.csv >q.csv
  args="--model a*exp(-k*x)+c --p0 a=1,k=1,c=0 --chunk 4096 --solver normal --json"
  same_json "curve-fit CSV shares: comments, CRLF, no final newline" curve-fit --data c1.csv \
    --sigma s $args
  same_json "curve-fit CSV shares: quoted newline" curve-fit --data q.csv --sigma s $args
  same_json "curve-fit CSV shares: TSV" curve-fit --data c1.tsv $args
  same_json "curve-fit CSV shares: kept in memory, 1 chunk a rank" curve-fit --data c1.csv \
    --model 'a*exp(-k*x)+c' --p0 a=1,k=1,c=0 --chunk 30000 --solver normal --json
  same_json "curve-fit CSV shares: parsed on every pass" curve-fit --data c1.csv --sigma s \
    --memory-mb 0 $args
  # Fewer lines than ranks (5 ranks, 3 lines).
  printf 'x,y\n1,2.5\n2,4.75' >tiny.csv
  "$fitcl" curve-fit --data tiny.csv --model 'a*x' --p0 a=1 --json | nosecs >one.cmp ||
    fail "curve-fit tiny.csv: one process failed"
  for n in 2 5; do
    run_mpi "$n" "$fitcl" curve-fit --data tiny.csv --model 'a*x' --p0 a=1 --json >n.json \
      2>n.err || { fail "curve-fit tiny.csv -n $n failed: $(cat n.err)"; continue; }
    nosecs <n.json | cmp -s one.cmp - || fail "curve-fit tiny.csv -n $n differs from one process"
  done
  # The residuals and the band, written by rank 0: the bytes of one process.
  "$fitcl" curve-fit --data c1.csv --sigma s $args --residuals one.res.csv --band one.band.csv \
    >/dev/null 2>one.err || fail "curve-fit CSV outputs: one process failed: $(cat one.err)"
  run_mpi 3 "$fitcl" curve-fit --data c1.csv --sigma s $args --residuals n.res.csv \
    --band n.band.csv >/dev/null 2>n.err || fail "curve-fit CSV outputs -n 3: $(cat n.err)"
  cmp -s one.res.csv n.res.csv || fail "curve-fit CSV -n 3: the residuals differ"
  cmp -s one.band.csv n.band.csv || fail "curve-fit CSV -n 3: the band differs"

  # A bad cell on line 55,006 (row 55,000, in the last rank's share).
  awk '{ if (NR == 55006) sub(/^[^,]*,/, "0.5x,"); print }' c1.csv >bad.csv
  "$fitcl" curve-fit --data bad.csv --sigma s $args >bad.out 2>bad1.err
  one_msg=$(sed 's/^fitcl curve-fit: //' bad1.err)
  grep -q "bad.csv:55006:1: column 'x': not a number" bad1.err ||
    fail "curve-fit bad.csv: one process says $(cat bad1.err)"
  run_mpi 3 "$fitcl" curve-fit --data bad.csv --sigma s $args >bad.out 2>bad.err
  rc=$?
  [ "$rc" = 2 ] || fail "curve-fit, bad cell in rank 2's share: exit $rc, expected 2"
  msgs=$(grep -c '^fitcl' bad.err)
  [ "$msgs" = 1 ] || fail "curve-fit, bad cell in rank 2's share: $msgs messages: $(cat bad.err)"
  grep -qxF "fitcl curve-fit: rank 2: $one_msg" bad.err ||
    fail "curve-fit, bad cell in rank 2's share: $(cat bad.err), expected rank 2: $one_msg"
  [ -s bad.out ] && fail "curve-fit, bad cell in rank 2's share: output written"

  # Checkpoints: the fingerprint is formed from each rank's own rows.
  ck="--data c1.csv --sigma s $args --max-iter 2"
  rm -f one.ckpt n.ckpt
  "$fitcl" curve-fit $ck --checkpoint one.ckpt >/dev/null 2>&1
  run_mpi 3 "$fitcl" curve-fit $ck --checkpoint n.ckpt >/dev/null 2>&1
  grep -q '^data 60000 ' one.ckpt || fail "curve-fit checkpoint: no data line: $(cat one.ckpt)"
  cmp -s one.ckpt n.ckpt || fail "curve-fit checkpoint -n 3 differs from one process:
$(cat one.ckpt)
$(cat n.ckpt)"
  "$fitcl" curve-fit --data c1.csv --sigma s $args --resume one.ckpt | nosecs >one.cmp
  grep -q . one.cmp || fail "curve-fit --resume: no output"
  for pair in "3 one.ckpt" "2 n.ckpt" "1 n.ckpt"; do
    set -- $pair
    run_mpi "$1" "$fitcl" curve-fit --data c1.csv --sigma s $args --resume "$2" >n.json \
      2>n.err || { fail "curve-fit -n $1 --resume $2: $(cat n.err)"; continue; }
    nosecs <n.json | cmp -s one.cmp - || fail "curve-fit -n $1 --resume $2 differs from one process"
  done
  # Other data (one value changed, in rank 1's share): refused on every rank.
  awk '{ if (NR == 30006) sub(/,0\.[5-9]/, ",0.55"); print }' c1.csv >c2.csv
  cmp -s c1.csv c2.csv && fail "curve-fit checkpoint: c2.csv was not changed"
  run_mpi 3 "$fitcl" curve-fit --data c2.csv --sigma s $args --resume one.ckpt >/dev/null \
    2>other.err
  rc=$?
  [ "$rc" = 2 ] || fail "curve-fit --resume on other data -n 3: exit $rc, expected 2"
  grep -q 'was taken on other data' other.err ||
    fail "curve-fit --resume on other data -n 3: $(cat other.err)"
}
export FITCL_DEVICE=cpu
csv_shares

# Each rank reads only its rows of the matrix (an Rtab's byte range, a .npy's
# rows) and the ranks merge their pattern tables: loglik, fit, retention-test
# and ancestral (its per-family node table too) on 1, 2 and 3 ranks, from an
# Rtab, from one whose rows the general reader reads (counts and NA cells),
# and from a .npy, print and write the bytes of one process.
"$fitcl" simulate --tree "$tree" --gain 0.3 --loss 0.5 --families 3000 --seed 11 --condition \
  -o r.npy --taxa-out r.taxa --family-names-out r.fams || exit 1
"$fitcl" simulate --tree "$tree" --gain 0.3 --loss 0.5 --families 3000 --seed 11 --condition \
  -o r.Rtab || exit 1
# Counts and missing cells on some rows of every rank's share.
awk 'BEGIN { FS = OFS = "\t" } NR > 1 && NR % 97 == 0 { $2 = ($2 == "1") ? "12" : "NA" } 1' \
  r.Rtab >g.Rtab
npyargs="--matrix r.npy --taxa r.taxa --family-names r.fams"
for m in "--matrix r.Rtab" "--matrix g.Rtab" "$npyargs"; do
  same_json "rows: loglik $m" loglik --tree "$tree" $m --gain 0.3 --loss 0.5 --gamma-cats 2 \
    --alpha 0.7 --grad --json
  same_json "rows: fit $m" fit --tree "$tree" $m --gamma-cats 2 --json
  same_json "rows: retention-test $m" retention-test --tree "$tree" $m \
    --families-regex 'fam0[0-4]' --gamma-cats 2 --json
  same_json "rows: ancestral $m" ancestral --tree "$tree" $m --gain 0.3 --loss 0.5 --json
  "$fitcl" ancestral --tree "$tree" $m --gain 0.3 --loss 0.5 --nodes r1.nodes \
    --branches r1.br 2>r1.err || fail "rows: ancestral $m to files: $(cat r1.err)"
  for n in 2 3; do
    rm -f rn.nodes rn.br
    run_mpi "$n" "$fitcl" ancestral --tree "$tree" $m --gain 0.3 --loss 0.5 --nodes rn.nodes \
      --branches rn.br 2>rn.err || fail "rows: ancestral $m to files -n $n: $(cat rn.err)"
    cmp -s r1.nodes rn.nodes || fail "rows: ancestral $m -n $n: the node table differs"
    cmp -s r1.br rn.br || fail "rows: ancestral $m -n $n: the branch table differs"
  done
done
# A quoted family name holding a newline in the middle rows: a cut at a line
# start could split it, so every rank reads the whole table (as one process).
awk 'BEGIN { FS = OFS = "\t" } NR == 1500 { $1 = "\"q\nx\"" } 1' r.Rtab >q.Rtab
"$fitcl" ancestral --tree "$tree" --matrix q.Rtab --gain 0.3 --loss 0.5 --nodes q1.nodes \
  --branches q1.br 2>q.err || fail "rows: quoted name: one process: $(cat q.err)"
grep -qx 'q' q1.nodes || fail "rows: quoted name: not in the node table"
for n in 2 3; do
  run_mpi "$n" "$fitcl" ancestral --tree "$tree" --matrix q.Rtab --gain 0.3 --loss 0.5 \
    --nodes qn.nodes --branches qn.br 2>q.err || fail "rows: quoted name -n $n: $(cat q.err)"
  cmp -s q1.nodes qn.nodes || fail "rows: quoted name -n $n: the node table differs"
done
# The same families in every rank (the table of one pattern): merged weights.
awk 'BEGIN { FS = OFS = "\t" } NR == 1 { print; next } { $1 = "f" NR; for (i = 2; i <= NF; ++i)
  $i = (i % 3 == 0) } 1' r.Rtab >same.Rtab
same_json "rows: one pattern" loglik --tree "$tree" --matrix same.Rtab --gain 0.3 --loss 0.5 \
  --no-condition --json

# A bad cell in the last rows (rank 2's share of 3): every rank exits 2, and
# rank 0 prints one message naming rank 2 and the line one process names.
bad_rows() { # name, expected rank, then the command line
  name=$1 want=$2
  shift 2
  "$fitcl" "$@" >/dev/null 2>one.err
  [ $? = 2 ] || fail "$name: one process did not exit 2: $(cat one.err)"
  run_mpi 3 "$fitcl" "$@" >bad.out 2>bad.err
  rc=$?
  [ "$rc" = 2 ] || fail "$name: exit $rc, expected 2: $(cat bad.err)"
  msgs=$(grep -c '^fitcl' bad.err)
  [ "$msgs" = 1 ] || fail "$name: $msgs messages, expected 1: $(cat bad.err)"
  expect=$(sed "s/^\(fitcl [a-z-]*\): /\1: rank $want: /" one.err)
  grep -qxF "$expect" bad.err || fail "$name: expected '$expect', got: $(cat bad.err)"
  [ -s bad.out ] && fail "$name: output written: $(cat bad.out)"
}
awk 'BEGIN { FS = OFS = "\t" } NR == 2990 { $5 = "x" } 1' r.Rtab >badrow.Rtab
bad_rows "rows: a bad cell in rank 2's rows" 2 loglik --tree "$tree" --matrix badrow.Rtab \
  --gain 0.3 --loss 0.5 --json
awk 'BEGIN { FS = OFS = "\t" } NR == 2990 { $5 = "x" } 1' g.Rtab >badrow.Rtab
bad_rows "rows: a bad cell after general rows, rank 2" 2 fit --tree "$tree" \
  --matrix badrow.Rtab --json
# A family name that rank 2 repeats from rank 0's rows.
f1=$(awk 'NR == 2 { print $1 }' r.Rtab)
awk -v f1="$f1" 'BEGIN { FS = OFS = "\t" } NR == 2995 { $1 = f1 } 1' r.Rtab >dup.Rtab
run_mpi 3 "$fitcl" ancestral --tree "$tree" --matrix dup.Rtab --gain 0.3 --loss 0.5 \
  >bad.out 2>bad.err
rc=$?
[ "$rc" = 2 ] || fail "rows: a repeated name: exit $rc, expected 2: $(cat bad.err)"
[ "$(grep -c '^fitcl' bad.err)" = 1 ] || fail "rows: a repeated name: $(cat bad.err)"
grep -qF "fitcl ancestral: rank 2: dup.Rtab: duplicate family name '$f1' (data rows 1 and 2994)" \
  bad.err || fail "rows: a repeated name: $(cat bad.err)"
# A bad byte in rank 2's rows of a .npy (row 2990 of 3000, column 3).
perl -e 'open(my $f, "+<", $ARGV[0]) or die; binmode $f; read($f, my $h, 10);
  my $len = unpack("v", substr($h, 8, 2)); my $nt = $ARGV[1];
  seek($f, 10 + $len + 2990 * $nt + 3, 0); print $f "\x07"; close $f' r.npy \
  "$(wc -l <r.taxa)" && mv r.npy badrow.npy
bad_rows "rows: a bad byte in rank 2's rows of a .npy" 2 loglik --tree "$tree" \
  --matrix badrow.npy --taxa r.taxa --family-names r.fams --gain 0.3 --loss 0.5 --json

# One rank killed while the job runs: the job ends, failing, within seconds.
"$fitcl" simulate --tree "$tree" --gain 0.3 --loss 0.5 --families 100000 --seed 8 --condition \
  -o big.Rtab || exit 1
"$mpirun" --allow-run-as-root --oversubscribe -n 3 "$fitcl" fit --tree "$tree" --matrix big.Rtab \
  --gamma-cats 8 --json >kill.out 2>kill.err &
job=$!
victim=""
for i in $(seq 1 100); do # the ranks, once started
  victim=$(pgrep -P "$job" | sed -n 2p)
  [ -n "$victim" ] && break
  sleep 0.1
done
if [ -z "$victim" ]; then
  fail "kill: the ranks did not start"
else
  sleep 0.5
  kill -9 "$victim"
  start=$(date +%s)
  waited=0
  while kill -0 "$job" 2>/dev/null && [ "$waited" -lt 30 ]; do
    sleep 1
    waited=$(($(date +%s) - start))
  done
  if kill -0 "$job" 2>/dev/null; then
    kill -9 "$job"
    fail "kill: the job still runs 30 s after a rank died"
  else
    wait "$job"
    rc=$?
    [ "$rc" != 0 ] || fail "kill: the job exited 0 after a rank died"
    echo "kill: the job ended ${waited} s after a rank died (exit $rc)"
  fi
fi

[ "$fails" = 0 ] || exit 1
echo "mpi_cli: all checks passed"
