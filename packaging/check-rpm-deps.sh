#!/bin/bash
# Checks that an RPM built on Debian 12 installs (dnf) and runs on RHEL
# 9-family hosts: every requirement (rpm -qpR) is in the list of what EL9's
# own packages provide (below, with its sources), every library an ELF file
# needs and every symbol version it imports is in that list too (so no
# libcurl.so.4(CURL_OPENSSL_4), which only Debian's libcurl defines), an
# executable that uses libcurl starts against a libcurl without symbol
# versions, no ELF file carries an RPATH, and rpmlint reports no error and no
# warning but the missing signature (the filters in rpmlint.toml carry their
# reasons).
#
# Usage: check-rpm-deps.sh RPM     (NODEAGENT_SKIP_RPMLINT=1 skips rpmlint)
# Exit: 0 all good, 1 a check failed (each problem printed), 2 usage/tools.
set -uo pipefail

rpm_file=${1:?usage: check-rpm-deps.sh RPM}
[[ -f $rpm_file ]] || { echo "check-rpm-deps: no such file: $rpm_file" >&2; exit 2; }
rpm_file=$(realpath "$rpm_file")
for tool in rpm rpm2cpio cpio objdump readelf nm; do
  command -v "$tool" >/dev/null || { echo "check-rpm-deps: $tool missing (apt-get install -y rpm cpio binutils)" >&2; exit 2; }
done
here=$(cd "$(dirname "$0")" && pwd)
failures=0
fail() { echo "check-rpm-deps: FAIL: $*" >&2; failures=$((failures + 1)); }

# --- What EL9 provides ----------------------------------------------------------
# The only things the RPM may require: what the packages of a minimal EL9
# (RHEL 9, AlmaLinux 9, Rocky Linux 9) install provide. For an ELF library
# rpm provides "SONAME()(64bit)" and one "SONAME(NODE)(64bit)" per symbol
# version node the library defines; a library built without symbol versions
# provides only "SONAME()(64bit)".
# Sources (the EL9 packages were not downloaded; the lists come from the
# upstream releases EL9 ships, whose version nodes are the same on every
# distribution, and nodes are only ever added, never removed):
#  - glibc 2.34 (glibc-2.34-*.el9): libc.so.6, libm.so.6, ld-linux-x86-64.so.2;
#    the GLIBC_* nodes of glibc's x86_64 abilists up to GLIBC_2.34, e.g.
#    sysdeps/unix/sysv/linux/x86_64/64/libc.abilist (read here with
#    `readelf -V` on Debian 12's glibc 2.36, nodes 2.35 and 2.36 dropped).
#    libpthread/libdl/librt are stubs in 2.34 but still exist (GLIBC_2.2.5).
#  - GCC 11 (libgcc-11.*.el9): libgcc_s.so.1 nodes up to GCC_7.0.0 (GCC 12
#    added GCC_12.0.0). libstdc++ is linked statically (packaging.cmake).
#  - systemd 252 (systemd-libs-252-*.el9): libsystemd.so.0, the
#    LIBSYSTEMD_209..252 nodes of src/libsystemd/libsystemd.sym (Debian 12
#    ships the same 252).
#  - zlib 1.2.11 (zlib-1.2.11-*.el9): ZLIB_* nodes of zlib.map up to 1.2.9
#    (the next node, ZLIB_1.2.12, came with 1.2.12).
#  - OpenSSL 3.0 (openssl-libs-3.0.*.el9): libssl.so.3 and libcrypto.so.3,
#    node OPENSSL_3.0.0.
#  - curl 7.76.1 (libcurl-7.76.1-*.el9): built without
#    --enable-versioned-symbols, so only "libcurl.so.4()(64bit)"; Fedora's
#    libcurl the same (`rpm -q --provides libcurl` on Fedora 43 in
#    github.com/KaringX/karing/issues/1777). Debian's libcurl defines
#    CURL_OPENSSL_4, which is why RPMs built on Debian fail there
#    (LizardByte/Sunshine#577, ente/ente#6752).
#  - libmnl 1.0.4 (libmnl-1.0.4-*.el9, BaseOS; iproute and nftables need
#    it): libmnl.so.0 with the nodes of src/libmnl.map, LIBMNL_1.0 to
#    LIBMNL_1.2 (read here with `readelf -V` on Debian 12's libmnl0 1.0.4).
#  - Packages and files: systemd, shadow-utils, /bin/sh (bash), rtld(GNU_HASH)
#    (glibc), the rpmlib() features of rpm 4.16.
el9_versioned_libs=(
  "libc.so.6:GLIBC_2.2.5 GLIBC_2.2.6 GLIBC_2.3 GLIBC_2.3.2 GLIBC_2.3.3 GLIBC_2.3.4 GLIBC_2.4 GLIBC_2.5 GLIBC_2.6 GLIBC_2.7 GLIBC_2.8 GLIBC_2.9 GLIBC_2.10 GLIBC_2.11 GLIBC_2.12 GLIBC_2.13 GLIBC_2.14 GLIBC_2.15 GLIBC_2.16 GLIBC_2.17 GLIBC_2.18 GLIBC_2.22 GLIBC_2.23 GLIBC_2.24 GLIBC_2.25 GLIBC_2.26 GLIBC_2.27 GLIBC_2.28 GLIBC_2.29 GLIBC_2.30 GLIBC_2.31 GLIBC_2.32 GLIBC_2.33 GLIBC_2.34"
  "libm.so.6:GLIBC_2.2.5 GLIBC_2.4 GLIBC_2.15 GLIBC_2.18 GLIBC_2.23 GLIBC_2.24 GLIBC_2.25 GLIBC_2.26 GLIBC_2.27 GLIBC_2.28 GLIBC_2.29 GLIBC_2.31 GLIBC_2.32"
  "ld-linux-x86-64.so.2:GLIBC_2.2.5 GLIBC_2.3 GLIBC_2.4 GLIBC_2.34"
  "libpthread.so.0:GLIBC_2.2.5"
  "libdl.so.2:GLIBC_2.2.5"
  "librt.so.1:GLIBC_2.2.5"
  "libgcc_s.so.1:GCC_3.0 GCC_3.3 GCC_3.3.1 GCC_3.4 GCC_3.4.2 GCC_3.4.4 GCC_4.0.0 GCC_4.2.0 GCC_4.3.0 GCC_4.7.0 GCC_4.8.0 GCC_7.0.0"
  "libsystemd.so.0:LIBSYSTEMD_209 LIBSYSTEMD_211 LIBSYSTEMD_213 LIBSYSTEMD_214 LIBSYSTEMD_216 LIBSYSTEMD_217 LIBSYSTEMD_219 LIBSYSTEMD_220 LIBSYSTEMD_221 LIBSYSTEMD_222 LIBSYSTEMD_226 LIBSYSTEMD_227 LIBSYSTEMD_229 LIBSYSTEMD_230 LIBSYSTEMD_231 LIBSYSTEMD_232 LIBSYSTEMD_233 LIBSYSTEMD_234 LIBSYSTEMD_236 LIBSYSTEMD_237 LIBSYSTEMD_238 LIBSYSTEMD_239 LIBSYSTEMD_240 LIBSYSTEMD_241 LIBSYSTEMD_243 LIBSYSTEMD_245 LIBSYSTEMD_246 LIBSYSTEMD_247 LIBSYSTEMD_248 LIBSYSTEMD_249 LIBSYSTEMD_250 LIBSYSTEMD_251 LIBSYSTEMD_252"
  "libz.so.1:ZLIB_1.2.0 ZLIB_1.2.0.2 ZLIB_1.2.0.8 ZLIB_1.2.2 ZLIB_1.2.2.3 ZLIB_1.2.2.4 ZLIB_1.2.3.3 ZLIB_1.2.3.4 ZLIB_1.2.3.5 ZLIB_1.2.5.1 ZLIB_1.2.5.2 ZLIB_1.2.7.1 ZLIB_1.2.9"
  "libssl.so.3:OPENSSL_3.0.0"
  "libcrypto.so.3:OPENSSL_3.0.0"
  "libcurl.so.4:"
  "libmnl.so.0:LIBMNL_1.0 LIBMNL_1.1 LIBMNL_1.2"
)
el9_other_provides=(systemd shadow-utils /bin/sh "rtld(GNU_HASH)")
el9_rpmlib_features="CompressedFileNames FileDigests PayloadFilesHavePrefix PayloadIsXz PayloadIsZstd PayloadIsLzma"
declare -A el9_provides=()
el9_sonames=()
for entry in "${el9_versioned_libs[@]}"; do
  soname=${entry%%:*}
  el9_sonames+=("$soname")
  el9_provides["$soname()(64bit)"]=1
  for node in ${entry#*:}; do el9_provides["$soname($node)(64bit)"]=1; done
done
for p in "${el9_other_provides[@]}"; do el9_provides["$p"]=1; done
for f in $el9_rpmlib_features; do el9_provides["rpmlib($f)"]=1; done
el9_provides["config(nodeagent)"]=1  # the package's own %config files

echo "check-rpm-deps: requirements of $(basename "$rpm_file")"
while IFS= read -r req; do
  name=${req%% *}  # drop " = version" / " <= version"
  if [[ -n ${el9_provides[$name]:-} ]]; then
    echo "  ok: $req"
  else
    fail "requirement '$req' is not provided by EL9 (list in packaging/check-rpm-deps.sh)"
  fi
done < <(rpm -qpR "$rpm_file" 2>/dev/null | sort -u)

work=$(mktemp -d)
trap 'rm -rf "$work" "$work.curl"' EXIT
(cd "$work" && rpm2cpio "$rpm_file" | cpio -idm --quiet) || { fail "cannot unpack $rpm_file"; }
elf_count=0
while IFS= read -r -d '' file; do
  [[ $(head -c 4 "$file" | od -An -c | tr -d ' ') == 177ELF ]] || continue
  elf_count=$((elf_count + 1))
  rel=${file#"$work"}
  while read -r needed; do
    [[ -n ${el9_provides["$needed()(64bit)"]:-} ]] || fail "$rel needs $needed, which EL9 does not ship"
  done < <(objdump -p "$file" | awk '$1 == "NEEDED" {print $2}')
  if objdump -p "$file" | grep -Eq '^\s*(RPATH|RUNPATH)\s'; then
    fail "$rel carries an RPATH/RUNPATH: $(objdump -p "$file" | awk '$1 ~ /R(UN)?PATH/ {print $2}')"
  fi
  # Symbol versions the file needs, per library (what rpm turns into
  # requirements): .gnu.version_r, "File: libc.so.6" then "Name: GLIBC_2.34".
  while read -r lib node; do
    [[ -n ${el9_provides["$lib($node)(64bit)"]:-} ]] ||
      fail "$rel needs $lib version $node, which EL9's $lib does not define"
  done < <(readelf -V -W "$file" | awk '/Version needs section/ {inneed = 1; next}
      /Version (definition|symbols) section/ {inneed = 0}
      inneed && / File: / {for (i = 1; i < NF; i++) if ($i == "File:") lib = $(i + 1)}
      inneed && / Name: / {for (i = 1; i < NF; i++) if ($i == "Name:") print lib, $(i + 1)}')
  highest=$(objdump -T "$file" | grep -o 'GLIBC_[0-9.]*' | sort -V | tail -1)
  echo "check-rpm-deps: $rel: highest glibc symbol ${highest:-none}"
  # An executable that uses libcurl must start against a libcurl without
  # symbol versions, as EL9's is: a stand-in with the functions it imports,
  # every symbol bound at start (LD_BIND_NOW). ld.so reports versioned
  # references to it as "no version information available".
  if [[ -x $file ]] && objdump -p "$file" | awk '$1 == "NEEDED" {print $2}' | grep -qx 'libcurl.so.4'; then
    if ! command -v cc >/dev/null; then
      fail "$rel: cc missing, cannot build the unversioned libcurl stand-in (apt-get install -y gcc)"
    else
      mkdir -p "$work.curl"
      nm -D --undefined-only "$file" | awk '$2 ~ /^curl_/ {sub(/@.*/, "", $2); print "void " $2 "(void) {}"}' \
        > "$work.curl/stub.c"
      if cc -shared -fPIC -Wl,-soname,libcurl.so.4 -o "$work.curl/libcurl.so.4" "$work.curl/stub.c"; then
        out=$(LD_BIND_NOW=1 LD_LIBRARY_PATH="$work.curl" timeout 20 "$file" 2>&1 </dev/null)
        if grep -Eq 'no version information|symbol lookup error|error while loading shared libraries' <<<"$out"; then
          fail "$rel does not load against an unversioned libcurl: $(grep -E 'version information|symbol lookup|error while loading' <<<"$out" | head -3)"
        else
          echo "check-rpm-deps: $rel: starts against an unversioned libcurl.so.4"
        fi
      else
        fail "$rel: building the unversioned libcurl stand-in failed"
      fi
      rm -rf "$work.curl"
    fi
  fi
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
