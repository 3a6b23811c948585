#!/bin/bash
# Checks a nodeagent .deb: lintian (pedantic) shows no error and no warning
# that is not overridden, every shipped lintian override carries a reason,
# the files of the package contract are present, /etc files are conffiles and
# the maintainer scripts parse.
#
# Usage: check-deb.sh DEB
# Exit: 0 all good, 1 a check failed (each problem printed), 2 usage/tools.
set -uo pipefail

deb=${1:?usage: check-deb.sh DEB}
[[ -f $deb ]] || { echo "check-deb: no such file: $deb" >&2; exit 2; }
for tool in dpkg-deb lintian; do
  command -v "$tool" >/dev/null || { echo "check-deb: $tool missing (apt-get install -y lintian)" >&2; exit 2; }
done
failures=0
fail() { echo "check-deb: FAIL: $*" >&2; failures=$((failures + 1)); }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dpkg-deb -x "$deb" "$work/root" || { echo "check-deb: cannot unpack $deb" >&2; exit 1; }
dpkg-deb -e "$deb" "$work/control" || { echo "check-deb: cannot read control of $deb" >&2; exit 1; }

# The package contract (packaging/README.md).
for path in usr/sbin/nodeagent usr/bin/agentctl usr/libexec/nodeagent/nodeagent-runner usr/lib/nodeagent/plugins \
    etc/nodeagent/agent.toml etc/nodeagent/conf.d \
    usr/lib/systemd/system/nodeagent.service usr/lib/sysusers.d/nodeagent.conf \
    usr/lib/tmpfiles.d/nodeagent.conf usr/share/man/man8/nodeagent.8.gz \
    usr/share/man/man1/agentctl.1.gz usr/share/man/man5/nodeagent.toml.5.gz \
    usr/share/bash-completion/completions/agentctl usr/share/doc/nodeagent/copyright \
    usr/share/doc/nodeagent/changelog.gz; do
  [[ -e $work/root/$path ]] || fail "missing /$path"
done
for path in usr/bin/nodeagent usr/sbin/agentctl lib/systemd/system/nodeagent.service; do
  [[ ! -e $work/root/$path ]] || fail "/$path must not exist (wrong install destination)"
done
while IFS= read -r -d '' etc_file; do
  rel=/${etc_file#"$work/root/"}
  grep -qxF "$rel" "$work/control/conffiles" 2>/dev/null || fail "$rel is not listed in conffiles"
done < <(find "$work/root/etc" -type f -print0 2>/dev/null)
for script in preinst postinst prerm postrm; do
  [[ -f $work/control/$script ]] || continue
  sh -n "$work/control/$script" || fail "maintainer script $script does not parse"
done

# Every override needs a comment line right above it (its reason).
overrides=$work/root/usr/share/lintian/overrides/nodeagent
if [[ -f $overrides ]]; then
  awk '/^[[:space:]]*$/ {c = 0; next} /^#/ {c = 1; next} { if (!c) print "line " NR ": " $0; c = 0 }' "$overrides" |
    while read -r line; do echo "$line"; done > "$work/unexplained"
  while read -r line; do
    fail "lintian override without a reason comment above it: $line"
  done < "$work/unexplained"
fi

# lintian: errors and warnings fail, info and pedantic tags are shown.
lintian --pedantic --info --display-info --fail-on error,warning --no-tag-display-limit "$deb" > "$work/lintian.out" 2>&1
lintian_rc=$?
grep -E '^[EWIPX]: ' "$work/lintian.out" | sort -u
if [[ $lintian_rc -ne 0 ]]; then
  fail "lintian reported errors or warnings (exit $lintian_rc):"
  grep -E '^[EW]: ' "$work/lintian.out" | sort -u >&2
fi

if [[ $failures -gt 0 ]]; then
  echo "check-deb: $failures problem(s) in $deb" >&2
  exit 1
fi
echo "check-deb: OK: $deb"
