#!/bin/sh
# Host keys are made per container (none are baked into the image); sshd stays in the
# foreground as PID 1's only child and logs to stderr (`docker logs rem-dockerhost`).
set -eu
ssh-keygen -A > /dev/null
install -d -m 0755 /run/sshd
exec /usr/sbin/sshd -D -e "$@"
