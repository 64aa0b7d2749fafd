#!/bin/sh
# The public surface of the shared library, checked against the headers:
#   - libfitcl.so exports exactly the functions declared in include/ (no
#     internal fitcl__ name, nothing undeclared, nothing declared missing),
#     and every declaration there is marked FITCL_API;
#   - its SONAME is libfitcl.so.<FITCL_ABI_VERSION>;
#   - neither it nor the fitcl command needs libOpenCL or libclblast (both
#     are loaded at run time).
# usage: exports.sh LIBFITCL_SO FITCL_CLI INCLUDE_DIR C_COMPILER ABI_VERSION
set -eu
export LC_ALL=C
lib=$1 cli=$2 inc=$3 cc=$4 abi=$5
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

nm -D --defined-only "$lib" | awk '{print $NF}' | sort -u >"$tmp/exported"

# The headers preprocessed (comments gone, macros expanded) with FITCL_API
# as a visible marker.  A function declaration is a name followed by its
# parameter list; "(*" would be a function pointer type, not a declaration.
"$cc" -E -P -I"$inc" -DFITCL_API=FITCL_API_MARK "$inc/fitcl.h" | tr '\n' ' ' >"$tmp/pp"
grep -oE '\bfitcl_[A-Za-z0-9_]+[[:space:]]*\([[:space:]]*[^*[:space:]]' "$tmp/pp" |
  sed -E 's/[[:space:]]*\(.*//' | sort -u >"$tmp/declared"
grep -oE 'FITCL_API_MARK[^;(]*\bfitcl_[A-Za-z0-9_]+[[:space:]]*\(' "$tmp/pp" |
  grep -oE 'fitcl_[A-Za-z0-9_]+[[:space:]]*\($' | sed -E 's/[[:space:]]*\($//' |
  sort -u >"$tmp/marked"

# include/fitcl/mpi.h (it needs <mpi.h>, so it is read as text): its
# functions are part of the surface of a library built with MPI.
if grep -qx fitcl_mpi_attach "$tmp/exported"; then
  grep -oE 'FITCL_API[^;(]*\bfitcl_mpi_[A-Za-z0-9_]+\(' "$inc/fitcl/mpi.h" |
    grep -oE 'fitcl_mpi_[A-Za-z0-9_]+' >"$tmp/mpi"
  sort -u "$tmp/declared" "$tmp/mpi" -o "$tmp/declared"
  sort -u "$tmp/marked" "$tmp/mpi" -o "$tmp/marked"
fi

grep -qx fitcl_version "$tmp/declared" || fail "no declaration found in $inc (parsing broke?)"
unmarked=$(comm -23 "$tmp/declared" "$tmp/marked")
[ -z "$unmarked" ] || fail "declared without FITCL_API: $unmarked"
extra=$(comm -23 "$tmp/exported" "$tmp/declared")
[ -z "$extra" ] || fail "$lib exports names not declared in include/: $(echo $extra)"
missing=$(comm -13 "$tmp/exported" "$tmp/declared")
[ -z "$missing" ] || fail "$lib does not export: $(echo $missing)"

soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
[ "$soname" = "libfitcl.so.$abi" ] || fail "SONAME is '$soname', expected libfitcl.so.$abi"

for f in "$lib" "$cli"; do
  needed=$(readelf -d "$f" | grep '(NEEDED)' | grep -iE 'libOpenCL|libclblast' || true)
  [ -z "$needed" ] || fail "$f needs: $needed"
done
echo "libfitcl.so ($soname) exports exactly the $(wc -l <"$tmp/declared") public functions;" \
  "no OpenCL or CLBlast is linked"
