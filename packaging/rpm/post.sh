# nodeagent %post ($1 = number of installed instances: 1 install, 2 upgrade).
# Install: apply sysusers/tmpfiles, enable through the preset (an admin's
# preset "disable nodeagent.service" wins), start when systemd runs.
# Upgrade: the restart happens in %postun, after the old files are gone.
systemd-sysusers nodeagent.conf >/dev/null 2>&1 || :
systemd-tmpfiles --create nodeagent.conf >/dev/null 2>&1 || :
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null 2>&1 || :
fi
if [ "$1" -eq 1 ]; then
  systemctl --no-reload preset nodeagent.service >/dev/null 2>&1 || :
  if [ -d /run/systemd/system ] && systemctl --quiet is-enabled nodeagent.service; then
    systemctl start nodeagent.service >/dev/null 2>&1 || :
  fi
fi
