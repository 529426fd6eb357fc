#!/usr/bin/env bash
# One idempotent setup for a fresh machine: npm packages, the tracer's Python environment, and the
# Temporal CLI + k6 built from the Go module proxy. Each step records a stamp of its inputs and is
# skipped while they are unchanged, so a second run takes seconds.
#
#   scripts/setup.sh                 what `make demo` and `make dev` run
#   scripts/setup.sh --test-cluster  also the test cluster's Kubernetes binaries (`make test`): only the
#                                    tests start that cluster, and building it is most of a first setup
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

test_cluster=0
for arg in "$@"; do
  case $arg in
    --test-cluster) test_cluster=1 ;;
    *) echo "usage: scripts/setup.sh [--test-cluster]" >&2; exit 2 ;;
  esac
done

TEMPORAL_CLI_VERSION=v1.5.1   # v1.6.0+ carry a replace directive and cannot be `go install`ed
K6_VERSION=v1.4.2
# chromium: the Temporal UI browser test; buildah + docker-registry: image builds pushed to a loopback
# registry; podman + runc: the tests that start those images (runc, not Debian's default crun, which refuses
# hosts whose cgroups are in hybrid v1/v2 mode). (etcd is built with the cluster binaries: Debian's 3.4 sends no watch progress notifications,
# and kwok then sees pod changes up to 90 s late.)
APT_PACKAGES=(chromium buildah docker-registry podman runc)

stamps=.stowage/setup
mkdir -p "$stamps" .tools/bin
say() { printf '[setup] %s\n' "$*" >&2; }
fingerprint() { cat "$@" 2>/dev/null | sha256sum | cut -c1-16; }
fresh() { [ -f "$stamps/$1" ] && [ "$(cat "$stamps/$1")" = "$2" ]; }
stamp() { echo "$2" > "$stamps/$1"; }

apt_step() {
  [ ${#APT_PACKAGES[@]} -gt 0 ] || return 0
  local key; key=$(echo "${APT_PACKAGES[*]}" | sha256sum | cut -c1-16)
  fresh apt "$key" && return 0
  say "Debian packages: ${APT_PACKAGES[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${APT_PACKAGES[@]}" >/dev/null
  stamp apt "$key"
}

go_tool() { # name module version
  local name=$1 module=$2 version=$3
  if fresh "$name" "$version" && [ -x ".tools/bin/$name" ]; then return 0; fi
  say "building $name $version from the Go module proxy (a few minutes the first time)"
  local log=.stowage/logs/setup-$name.log
  mkdir -p .stowage/logs
  if ! GOBIN="$root/.tools/bin" GOFLAGS=-mod=mod go install "$module@$version" > "$log" 2>&1; then
    tail -20 "$log" >&2
    say "building $name failed; the whole log is $log"
    return 1
  fi
  stamp "$name" "$version"
}

# The test cluster's binaries (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok) from the
# module in tools/kube: its go.mod pins k8s.io/kubernetes, its staging modules, kwok and etcd, so go.mod +
# go.sum are the whole input. One `go build` for the four k8s.io commands shares their compiled packages.
KUBE_BINARIES=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)
kube_step() {
  local key log=.stowage/logs/setup-kube.log bin missing=0
  key=$(fingerprint tools/kube/go.mod tools/kube/go.sum)
  for bin in "${KUBE_BINARIES[@]}"; do [ -x ".tools/bin/$bin" ] || missing=1; done
  if fresh kube "$key" && [ "$missing" = 0 ]; then return 0; fi
  say "building the Kubernetes test cluster (${KUBE_BINARIES[*]}) from the Go module proxy (7 minutes on 2 idle cores the first time, 20 on busy ones)"
  mkdir -p .stowage/logs
  local version; version=$(awk '$1 == "k8s.io/kubernetes" { print $2; exit }' tools/kube/go.mod)
  local v=k8s.io/component-base/version minor=${version#v1.}
  minor=${minor%%.*}
  # The version stamp is what `kubectl version` and the API server's /version report.
  if ! (cd tools/kube && GOFLAGS="-mod=readonly -buildvcs=false" go build -trimpath \
      -ldflags "-s -w -X $v.gitVersion=$version -X $v.gitMajor=1 -X $v.gitMinor=$minor" \
      -o "$root/.tools/bin/" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
      k8s.io/kubernetes/cmd/kube-scheduler sigs.k8s.io/kwok/cmd/kwok &&
      GOFLAGS="-mod=readonly -buildvcs=false" go build -trimpath -ldflags "-s -w" -o "$root/.tools/bin/etcd" \
      go.etcd.io/etcd/server/v3) > "$log" 2>&1; then
    tail -20 "$log" >&2
    say "building the Kubernetes test cluster failed; the whole log is $log"
    return 1
  fi
  stamp kube "$key"
}

node_step() {
  local key; key=$(fingerprint package-lock.json)
  if fresh npm "$key" && [ -d node_modules ]; then return 0; fi
  say "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  stamp npm "$key"
}

python_step() {
  local venv=python-tracer/.venv key
  key=$(fingerprint python-tracer/requirements.txt)
  if fresh python "$key" && [ -x "$venv/bin/python" ]; then return 0; fi
  say "Python environment for python-tracer/ (torch from PyPI; about 3 GB the first time)"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r python-tracer/requirements.txt
  stamp python "$key"
}

build_step() {
  say "compiling TypeScript"
  npx tsc -p tsconfig.json
}

# The same probe as `stowage doctor`: where containers cannot run, the tests that start images are skipped.
containers_step() {
  say "containers: $(node -e 'require("./dist/src/images/container-runtime").probeContainerRuntime().then((c) =>
    console.log(c.runtime ?? `cannot run here (${c.reason}); the tests that start images will be skipped`))')"
}

apt_step
# The Go builds are CPU-bound and the Python download is network-bound: run them side by side.
( go_tool temporal github.com/temporalio/cli/cmd/temporal "$TEMPORAL_CLI_VERSION" &&
  go_tool k6 go.k6.io/k6 "$K6_VERSION" &&
  if [ "$test_cluster" = 1 ]; then kube_step; fi ) &
tools_pid=$!
python_step
node_step
wait "$tools_pid"
build_step
containers_step
if [ "$test_cluster" = 0 ] && [ ! -x .tools/bin/kube-apiserver ]; then
  say "the Kubernetes test cluster is not built: only the tests start it (\`make test\` builds it)"
fi
say "ready"
