#!/usr/bin/env bash
# scripts/test.sh [STAGE...] - every check kubeha has, on a fresh Debian 12 machine as root.
#
# Stages (default: all, in this order): lint, sanity, build, unit, molecule.
#   lint       yamllint and ansible-lint (production profile, nothing skipped)
#   sanity     ansible-test sanity on the collection (ignore files stay empty)
#   build      ansible-galaxy collection build, then install of the tarball into a scratch path
#   unit       pytest tests/unit (real etcd on loopback; plain and TLS), in parallel (pytest-xdist, a worker per core)
#   molecule   every scenario under molecule/, one after another; molecule:NAME runs one. Under CI=true the
#              scenarios named in molecule/ci-deferred are left out, each named in the summary with its reason
# Every stage runs even when an earlier one failed; the exit code is non-zero if any failed, and the
# last lines are a summary with pytest's own result line.
set -uo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO" || exit 1
stages=("$@"); [ ${#stages[@]} -gt 0 ] || stages=(lint sanity build unit molecule)

need=(python)
for s in "${stages[@]}"; do
  case $s in molecule*) need+=(hosts release) ;; unit) need+=(etcd release) ;; esac
done
mapfile -t need < <(printf '%s\n' "${need[@]}" | awk '!seen[$0]++')   # each part once, in order
bash scripts/setup.sh "${need[@]}" || { echo "test.sh: set-up failed (scripts/setup.sh ${need[*]})"; exit 1; }
# shellcheck disable=SC1091
source .cache/env.sh
export ANSIBLE_FORCE_COLOR=0 PY_COLORS=0 NO_COLOR=1
# A copy of this collection installed under ~/.ansible by a tool's "prepare environment" step
# would shadow the checkout under test; the checkout comes from ANSIBLE_COLLECTIONS_PATH only.
rm -rf ~/.ansible/collections/ansible_collections/kubeha

results=()
failed_logs=()
pytest_line="pytest: not run"
# Every stage's output also goes to .cache/test-logs/NAME.log; after the summary, the lines around
# each failure of a failed stage are printed again, so that the last screen of a CI log says why.
LOGS=$REPO/.cache/test-logs
rm -rf "$LOGS"; mkdir -p "$LOGS"
run() {   # run NAME CMD... : time it and record the outcome
  local name=$1 t0=$EPOCHREALTIME rc log; shift
  log=$LOGS/${name//[^A-Za-z0-9_.-]/_}.log
  echo "=== [$name] $*"
  "$@" 2>&1 | tee "$log"; rc=${PIPESTATUS[0]}
  record "$name" "$rc" "$t0" "$log"
}
record() {   # record NAME RC T0 LOG: the summary line (wall time since T0), and the log to quote if it failed
  [ "$2" = 0 ] || failed_logs+=("$1|$4")
  results+=("$(printf '%-24s %-6s %6ss' "$1" "$([ "$2" = 0 ] && echo ok || echo FAILED)" \
    "$(awk "BEGIN { printf \"%.0f\", $EPOCHREALTIME - $3 }")")")
  return "$2"
}
# A stage run beside the ones after it (run_beside NAME CMD...), then waited for (waited NAME): its output goes
# to its log only while it runs, and is printed whole when waited for. Its time is its own wall time.
declare -A beside_pid beside_t0
run_beside() {
  local name=$1; shift
  echo "=== [$name] $* (beside the stages below; its output follows when it ends)"
  beside_t0[$name]=$EPOCHREALTIME
  "$@" > "$LOGS/${name//[^A-Za-z0-9_.-]/_}.log" 2>&1 &
  beside_pid[$name]=$!
}
waited() {
  local name=$1 rc log=$LOGS/${1//[^A-Za-z0-9_.-]/_}.log
  wait "${beside_pid[$name]}"; rc=$?
  echo "=== [$name] its output"
  cat "$log"
  record "$name" "$rc" "${beside_t0[$name]}" "$log"
}

stage_build() {
  local out; out=$(mktemp -d)
  ansible-galaxy collection build --force --output-path "$out" . &&
    ansible-galaxy collection install --force --offline --no-deps -p "$out/installed" "$out"/kubeha-cluster-*.tar.gz &&
    test -f "$out/installed/ansible_collections/kubeha/cluster/MANIFEST.json" &&
    ! find "$out/installed/ansible_collections/kubeha/cluster" -path '*/tests/*' -o -name '*stand-in*' | grep -q . &&
    ansible-doc -M "$out/installed/ansible_collections/kubeha/cluster/plugins/modules" -l >/dev/null
  local rc=$?; rm -rf "$out"; return $rc
}

stage_unit() {
  # pytest's 5 (no tests collected) is a failure here: a test stage that tests nothing is broken.
  # -n auto: pytest-xdist, one worker per core (2 on CI's machine); tests/support/etcd_cluster.py's free_port gives
  # each worker its own ports; tmp_path and the etcd data dirs are per process. KUBEHA_PYTEST_WORKERS=0: serial.
  # --durations: the slowest tests in the log, where the stage's time goes
  python -m pytest -q -p no:cacheprovider -n "${KUBEHA_PYTEST_WORKERS:-auto}" --durations=15 tests/unit
}

scenarios() { find molecule -mindepth 2 -maxdepth 2 -name molecule.yml | cut -d/ -f2 | sort; }
# molecule/ci-deferred: "NAME reason" lines (# comments); CI leaves those scenarios out, and says so
deferred() { grep -v -E '^[[:space:]]*(#|$)' molecule/ci-deferred 2>/dev/null; }
# One scenario; then the anonymous volumes its nodes left (containerd's state: molecule removes the
# containers, not their volumes).
scenario() {
  MOLECULE_PODMAN_EXECUTABLE="$PWD/scripts/molecule-podman" molecule test -s "$1"; local rc=$?
  podman volume prune -f >/dev/null 2>&1; return $rc
}

# Molecule default upgrades from the previous minor release's two patch releases: they are built from the start,
# beside every stage before that scenario, at the lowest CPU and I/O priority (the stages' own work goes first; the
# build takes the cores they leave idle), and waited for before it. A build done before is not built again.
previous_release() {
  nice -n 19 ionice -c 3 bash scripts/build_release.sh \
    kubernetes "$KUBEHA_KUBERNETES_PATCH_FROM" kubernetes "$KUBEHA_KUBERNETES_PREVIOUS_VERSION"
}
for s in "${stages[@]}"; do
  case $s in molecule|molecule:default) run_beside previous-release previous_release; break ;; esac
done
# before a scenario (in this shell: run's pipeline is a subshell, which cannot wait for it)
before_scenario() {
  [ "$1" = default ] && [ -n "${beside_pid[previous-release]:-}" ] || return 0
  waited previous-release; local rc=$?; unset 'beside_pid[previous-release]'; return $rc
}

# sanity (ansible-test, mostly one core) runs beside lint (ansible-lint, mostly one core) when lint comes first
sanity_beside='' seen_lint=''
for s in "${stages[@]}"; do
  case $s in lint) seen_lint=1 ;; sanity) sanity_beside=$seen_lint ;; esac
done
for s in "${stages[@]}"; do
  case $s in
    lint) [ -z "$sanity_beside" ] || run_beside sanity bash scripts/sanity.sh
      run yamllint yamllint --strict . ; run ansible-lint ansible-lint --nocolor ;;
    sanity) if [ -n "$sanity_beside" ]; then waited sanity; else run sanity bash scripts/sanity.sh; fi ;;
    build) run build stage_build ;;
    unit) run pytest stage_unit
      pytest_line=$(grep -E '(passed|failed|errors?|skipped|no tests ran).* in [0-9.]+s' "$LOGS/pytest.log" | tail -1)
      [ -n "$pytest_line" ] || pytest_line="pytest: no summary line" ;;
    molecule)
      for sc in $(scenarios); do
        why=$(deferred | awk -v n="$sc" '$1 == n { $1 = ""; sub(/^ /, ""); print }')
        if [ "${CI:-}" = true ] && [ -n "$why" ]; then
          results+=("$(printf '%-24s %-6s %s' "molecule:$sc" "not run in CI:" "$why")"); continue
        fi
        before_scenario "$sc"
        run "molecule:$sc" scenario "$sc"
      done ;;
    molecule:*) before_scenario "${s#molecule:}"; run "$s" scenario "${s#molecule:}" ;;
    *) echo "test.sh: unknown stage '$s'; use lint, sanity, build, unit, molecule or molecule:NAME"; exit 2 ;;
  esac
done

failed=$(printf '%s\n' "${results[@]}" | grep -c ' FAILED ')
for f in "${failed_logs[@]}"; do
  echo
  echo "=== why ${f%%|*} failed (${f#*|}: the lines around each failure)"
  grep -n -B 3 -A 12 -E 'fatal: |FAILED!|failed=[1-9]|^ERROR|Error:|error:|Traceback|CRITICAL|[0-9]+ failed' "${f#*|}" |
    grep -v -E "FAILED - RETRYING" | head -n 40
  # the last task failures of the log, readably (the ones above may be expected failures of nested runs)
  python3 "$REPO/scripts/why_failed.py" "${f#*|}" --last 3
done
echo
echo "=== summary"
printf '%s\n' "${results[@]}"
# one line per failed stage, where a cut CI log still shows it
for f in "${failed_logs[@]}"; do
  echo "${f%%|*}: $(python3 "$REPO/scripts/why_failed.py" "${f#*|}" --brief)"
done
echo "$pytest_line"
[ "$failed" = 0 ] || { echo "test.sh: $failed stage(s) failed"; exit 1; }
echo "test.sh: all stages passed"
