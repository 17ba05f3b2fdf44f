# luasup as PID 1 of a container.
#
#   docker build -t luasup .
#   docker run --rm luasup                            # lua/pair.lua: two children
#   docker run --rm luasup /usr/share/luasup/examples/tour.lua    # a script file
#   docker run --rm luasup "print('hi') return 3"     # inline Lua
#   docker run --rm luasup -- sh -c 'exit 3'          # one command, tini-style
#
# Build arguments:
#   BASE        a Debian-based Python >= 3.11 image (default python:3.12-slim)
#   LUASUP_UID  run as this numeric uid and gid instead of root, e.g. 10001
#               (numeric, so Kubernetes' runAsNonRoot can verify it)
ARG BASE=python:3.12-slim

FROM ${BASE} AS build
# strip: uvloop's wheel ships its extension with debug info, 12 of its 14 MB.
RUN apt-get update \
 && apt-get install -y --no-install-recommends binutils \
 && rm -rf /var/lib/apt/lists/*
COPY . /src
# The venv's own pip installs (Debian's system pip given --python installs to
# /usr/local instead), then leaves: the final image gets luasup and its two
# dependencies only. luasup loads lupa.luajit21 alone: the wheel's other Lua
# runtimes (4 MB) go too. The last line fails the build, not the first
# container, should the pruning or stripping break the install.
RUN python3 -m venv /opt/luasup \
 && /opt/luasup/bin/pip install --no-cache-dir --disable-pip-version-check /src \
 && /opt/luasup/bin/pip uninstall --yes --quiet pip setuptools \
 && site=$(/opt/luasup/bin/python -c 'import sysconfig; print(sysconfig.get_path("platlib"))') \
 && rm -f "$site"/lupa/lua5*.so "$site"/lupa/luajit20.*.so \
 && find /opt/luasup -name '*.so' -exec strip --strip-unneeded {} + \
 && /opt/luasup/bin/luasup "return require('init').pid() > 0 and 0 or 1"

FROM ${BASE}
COPY --from=build /opt/luasup /opt/luasup
# On PATH without putting the venv first: `python -m pip` in images built
# on this one must still reach the base image's pip.
RUN ln -s /opt/luasup/bin/luasup /usr/local/bin/luasup
COPY lua/ /usr/share/luasup/examples/
ARG LUASUP_UID=0
# The control socket's directory, owned by the image's user: luasup serves
# /run/luasup/ctl.sock as that user, and `docker exec` finds it whether it
# runs as that user or as root.
RUN install -d -m 0700 -o ${LUASUP_UID} -g ${LUASUP_UID} /run/luasup
USER ${LUASUP_UID}:${LUASUP_UID}
# `luasup ctl health`: 0 while the policy's critical services run and pass
# their health checks (docs/kubernetes.md). Only a policy of the supervise
# library serves the control socket. Where luasup serves none (a plain init
# script such as the default CMD, `luasup -- CMD`) there is nothing to ask,
# and --if-served passes rather than call a working container unhealthy; a
# socket file no luasup answers fails.
# (podman keeps HEALTHCHECK only when building with --format docker.)
HEALTHCHECK --start-period=60s --timeout=10s CMD ["luasup", "ctl", "health", "--if-served"]
ENTRYPOINT ["luasup"]
CMD ["/usr/share/luasup/examples/pair.lua"]
