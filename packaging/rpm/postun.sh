# nodeagent %postun: reload unit files; on upgrade ($1 >= 1) restart a running
# service so it uses the new binaries.
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null 2>&1 || :
fi
if [ "$1" -ge 1 ]; then
  systemctl try-restart nodeagent.service >/dev/null 2>&1 || :
fi
