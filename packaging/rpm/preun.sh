# nodeagent %preun: on erase ($1 = 0) stop and disable the service. Nothing on
# upgrade. /etc/nodeagent (modified files are kept as .rpmsave) and
# /var/lib/nodeagent stay: RPM has no purge; remove them by hand.
if [ "$1" -eq 0 ]; then
  systemctl --no-reload disable --now nodeagent.service >/dev/null 2>&1 || :
fi
