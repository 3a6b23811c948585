#!/bin/bash
# Checks that an RPM built on Debian 12 installs and runs on RHEL 9-family
# hosts: every requirement (rpm -qpR) is something those hosts ship, no ELF
# file references a symbol version newer than theirs (glibc 2.34, GCC 11's
# libstdc++ GLIBCXX_3.4.29 / CXXABI_1.3.13, zlib 1.2.11, OpenSSL 3.0,
# systemd 252), no ELF file needs another library or carries an RPATH, and
# rpmlint reports no error and no warning but the missing signature (the
# filters in rpmlint.toml carry their reasons).
#
# Usage: check-rpm-deps.sh RPM     (NODEAGENT_SKIP_RPMLINT=1 skips rpmlint)
# Exit: 0 all good, 1 a check failed (each problem printed), 2 usage/tools.
set -uo pipefail

rpm_file=${1:?usage: check-rpm-deps.sh RPM}
[[ -f $rpm_file ]] || { echo "check-rpm-deps: no such file: $rpm_file" >&2; exit 2; }
rpm_file=$(realpath "$rpm_file")
for tool in rpm rpm2cpio cpio objdump; do
  command -v "$tool" >/dev/null || { echo "check-rpm-deps: $tool missing (apt-get install -y rpm cpio binutils)" >&2; exit 2; }
done
here=$(cd "$(dirname "$0")" && pwd)
failures=0
fail() { echo "check-rpm-deps: FAIL: $*" >&2; failures=$((failures + 1)); }

# version_le A B: true when dotted version A <= B.
version_le() { [[ $(printf '%s\n%s\n' "$1" "$2" | sort -V | head -1) == "$1" ]]; }

# Highest version EL9 ships for a symbol-version prefix ("" = not allowed).
max_version_for() {
  case $1 in
    GLIBC) echo 2.34 ;;
    GLIBCXX) echo 3.4.29 ;;
    CXXABI) echo 1.3.13 ;;
    GCC) echo 11 ;;
    ZLIB) echo 1.2.11 ;;
    OPENSSL) echo 3.0.0 ;;
    LIBSYSTEMD) echo 252 ;;
    # libcurl's symbol version node; EL9's libcurl 7.76 (OpenSSL build).
    CURL_OPENSSL) echo 4 ;;
    *) echo "" ;;
  esac
}

check_symbol_version() {  # <version tag e.g. GLIBC_2.34> <where>
  local tag=$1 where=$2 prefix version max
  prefix=${tag%_*}
  version=${tag##*_}
  max=$(max_version_for "$prefix")
  if [[ -z $max ]]; then
    fail "$where: symbol version $tag is not known to exist on RHEL 9"
  elif ! version_le "$version" "$max"; then
    fail "$where: needs $tag, RHEL 9 has at most ${prefix}_$max"
  fi
}

# Shared libraries RHEL 9 (BaseOS) ships.
allowed_soname='^(libc\.so\.6|libm\.so\.6|libpthread\.so\.0|libdl\.so\.2|librt\.so\.1|ld-linux-x86-64\.so\.2|libgcc_s\.so\.1|libstdc\+\+\.so\.6|libcurl\.so\.4|libsystemd\.so\.0|libz\.so\.1|libssl\.so\.3|libcrypto\.so\.3)$'

echo "check-rpm-deps: requirements of $(basename "$rpm_file")"
while IFS= read -r req; do
  req=${req%% *}  # drop " = version" / " <= version"
  case $req in
    rpmlib\(*\)|rtld\(GNU_HASH\)|/bin/sh|systemd|shadow-utils|config\(nodeagent\)) continue ;;
  esac
  if [[ $req =~ ^([^()]+)\(([^()]*)\)(\(64bit\))?$ ]]; then
    soname=${BASH_REMATCH[1]}
    tag=${BASH_REMATCH[2]}
    if [[ ! $soname =~ $allowed_soname ]]; then
      fail "requirement $req: $soname is not shipped by RHEL 9 (link it statically, see packaging/packaging.cmake)"
    elif [[ -n $tag ]]; then
      check_symbol_version "$tag" "requirement $req"
    fi
  else
    fail "requirement $req is not in the RHEL 9 allow list"
  fi
done < <(rpm -qpR "$rpm_file" 2>/dev/null | sort -u)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && rpm2cpio "$rpm_file" | cpio -idm --quiet) || { fail "cannot unpack $rpm_file"; }
elf_count=0
while IFS= read -r -d '' file; do
  [[ $(head -c 4 "$file" | od -An -c | tr -d ' ') == 177ELF ]] || continue
  elf_count=$((elf_count + 1))
  rel=${file#"$work"}
  while read -r needed; do
    [[ $needed =~ $allowed_soname ]] || fail "$rel needs $needed, which RHEL 9 does not ship"
  done < <(objdump -p "$file" | awk '$1 == "NEEDED" {print $2}')
  if objdump -p "$file" | grep -Eq '^\s*(RPATH|RUNPATH)\s'; then
    fail "$rel carries an RPATH/RUNPATH: $(objdump -p "$file" | awk '$1 ~ /R(UN)?PATH/ {print $2}')"
  fi
  # Versions of undefined (imported) dynamic symbols.
  while read -r tag; do
    check_symbol_version "$tag" "$rel"
  done < <(objdump -T "$file" | awk '$0 ~ /\*UND\*/ {for (i = 1; i <= NF; i++) if ($i ~ /^\(?[A-Z_]+_[0-9.]+\)?$/) {gsub(/[()]/, "", $i); print $i}}' | sort -u)
  highest=$(objdump -T "$file" | grep -o 'GLIBC_[0-9.]*' | sort -V | tail -1)
  echo "check-rpm-deps: $rel: highest glibc symbol ${highest:-none}"
done < <(find "$work" -type f -print0)
[[ $elf_count -gt 0 ]] || fail "the RPM contains no ELF files (daemon, agentctl and plugins missing?)"

if [[ ${NODEAGENT_SKIP_RPMLINT:-0} != 1 ]]; then
  if command -v rpmlint >/dev/null; then
    out=$(rpmlint -c "$here/rpmlint.toml" "$rpm_file" 2>&1)
    echo "$out" | grep -E '^[^ ]+: [EW]: ' || true
    while read -r line; do
      fail "rpmlint: $line"
    done < <(echo "$out" | grep -E '^[^ ]+: [EW]: ' | grep -v ': E: no-signature$')
    # rpmlint 2.4 misses man pages (see rpmlint.toml): check them here.
    for page in /usr/share/man/man1/agentctl.1.gz /usr/share/man/man8/nodeagent.8.gz /usr/share/man/man5/nodeagent.toml.5.gz; do
      grep -qxF "$page" <<<"$(rpm -qlp "$rpm_file" 2>/dev/null)" || fail "no man page $page"
    done
  else
    fail "rpmlint missing (apt-get install -y rpmlint), or set NODEAGENT_SKIP_RPMLINT=1"
  fi
fi

if [[ $failures -gt 0 ]]; then
  echo "check-rpm-deps: $failures problem(s) in $rpm_file" >&2
  exit 1
fi
echo "check-rpm-deps: OK: $rpm_file"
