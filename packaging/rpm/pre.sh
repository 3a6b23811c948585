# nodeagent %pre: the nodeagent group exists before any file is unpacked
# (same entry as /usr/lib/sysusers.d/nodeagent.conf).
getent group nodeagent >/dev/null || groupadd -r nodeagent || :
