#!/usr/bin/env bash
# What an operator installs: build the wheel from the working tree, install it in a clean virtualenv
# outside the checkout and run the CLI from there, first without the `emulator` extra, then with it.
# Usage: PYTHON=python3.13 tests/package/check_wheel.sh   (make package-check)
set -euo pipefail

checkout=$(cd "$(dirname "$0")/../.." && pwd)
python=${PYTHON:-python3.13}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
started=$SECONDS

step() { echo "package-check: $*"; }
fail() {
  echo "package-check: FAILED: $*" >&2
  exit 1
}

# Build from a copy of the working tree (tracked and new files, not ignored ones): a build/ directory
# left in the checkout by an earlier `pip install .` could otherwise slip deleted files into the wheel.
step "copying the working tree"
mkdir "$work/src" "$work/dist" "$work/run"
git -C "$checkout" ls-files -z --cached --others --exclude-standard |
  while IFS= read -r -d '' file; do [[ -e "$checkout/$file" ]] && printf '%s\0' "$file"; done |
  tar -C "$checkout" --null -T - -cf - | tar -C "$work/src" -xf -

step "creating a clean virtualenv with $python"
"$python" -m venv "$work/venv"
venv="$work/venv/bin"
pip=("$venv/python" -m pip --quiet --disable-pip-version-check)

step "building the wheel"
"${pip[@]}" wheel --no-deps --wheel-dir "$work/dist" "$work/src"
wheel=$(echo "$work"/dist/regionshift-*.whl)
[[ -f "$wheel" ]] || fail "no wheel built"

"$venv/python" - "$wheel" <<'PY' || fail "the wheel's contents"
import sys, zipfile

names = zipfile.ZipFile(sys.argv[1]).namelist()
required = [
    "failover/steps/intake.py",
    "failover/steps/target_health.py",
    "failover/plan.py",
    "failover/settings.py",
    "failover/report.py",
    "handlers/intake.py",
    "handlers/target_health.py",
    "regionshift/plans.py",
    "regionshift/cli/__init__.py",
    "regionshift/cli/plan.py",
    "regionshift/emulator/engine.py",
    "regionshift/scenarios/primary-outage.yaml",
    "regionshift/stack/template.yaml",
    "regionshift/stack/detector.yaml",
    "regionshift/stack/statemachine/failover.asl.json",
    "regionshift/stack/statemachine/manual.asl.json",
]
missing = [n for n in required if n not in names]
extra = [n for n in names if n.startswith(("tests/", "functions/", "regionshift/lambda_code"))]
top = sorted({n.split("/")[0] for n in names})
print(f"package-check: wheel {sys.argv[1].rsplit('/', 1)[-1]}: {len(names)} files; top level: {' '.join(top)}")
if missing or extra:
    sys.exit(f"missing {missing}, unexpected {extra}")
PY

step "installing the wheel (no extras)"
"${pip[@]}" install -c "$checkout/constraints.txt" "$wheel"

# From outside the checkout and without PYTHONPATH: only the installed package can answer.
cd "$work/run"
unset PYTHONPATH
"$venv/python" -c '
import sys
import failover, handlers, regionshift
from regionshift import template
paths = [failover.__file__, handlers.__file__, regionshift.__file__, str(template.stack_root())]
outside = [p for p in paths if not p.startswith(sys.prefix)]
sys.exit(f"imported from outside the virtualenv: {outside}" if outside else 0)
' || fail "the packages do not come from the virtualenv"
"$venv/regionshift" --help >/dev/null || fail "regionshift --help"
"$venv/regionshift" status --help >/dev/null || fail "regionshift status --help"
"$venv/python" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("moto") is not None)' ||
  fail "moto is installed without the emulator extra"
# Plan files are validated without the emulator. The example plan is not in the wheel: a copy is
# written here, with a broken twin (a database without its us-west-2 replica).
cp "$checkout/plans/example.yaml" plan.yaml
sed 's/replicas: {us-west-2: orders-us-west, /replicas: {/' plan.yaml >broken.yaml
cmp -s plan.yaml broken.yaml && fail "broken.yaml: the example plan no longer has the line this check breaks"
step "regionshift plan validate (no emulator)"
message=$("$venv/regionshift" plan validate plan.yaml 2>&1) || fail "plan validate plan.yaml: $message"
[[ $message == "plan.yaml: plan myapp: 3 regions"* ]] || fail "plan validate plan.yaml printed: $message"
status=0
message=$("$venv/regionshift" plan validate broken.yaml 2>&1) || status=$?
[[ $status -eq 1 && $message == *"us-west-2"* && $message == *"1 of 1 plan file(s) invalid"* ]] ||
  fail "plan validate broken.yaml should exit 1 naming the missing replica; got $status: $message"
"$venv/regionshift" plan schema | "$venv/python" -c 'import json, sys; assert json.load(sys.stdin)["title"]' ||
  fail "regionshift plan schema"
status=0
message=$("$venv/regionshift" drill --scenario primary-outage 2>&1) || status=$?
[[ $status -eq 2 && $message == *"regionshift[emulator]"* ]] ||
  fail "drill without the emulator should exit 2 naming the extra; got $status: $message"

step "installing the emulator extra"
"${pip[@]}" install -c "$checkout/constraints.txt" "$wheel[emulator]"
step "regionshift drill --scenario primary-outage"
"$venv/regionshift" drill --scenario primary-outage --report-dir "$work/reports" >"$work/drill.log" 2>&1 ||
  { cat "$work/drill.log" >&2; fail "regionshift drill from the installed wheel"; }
[[ -s "$work/reports/primary-outage/report.html" ]] || fail "the drill wrote no report"

step "passed in $((SECONDS - started)) s"
