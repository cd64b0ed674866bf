"""What the installed package relies on: moto only for emulator commands, the stack files found.

The wheel itself is built, installed and run outside the checkout by tests/package/check_wheel.sh
(``make package-check``).
"""

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from regionshift import template as cfn
from regionshift.cli import app

runner = CliRunner()

_HELP_WITHOUT_MOTO = """
import sys
from typer.testing import CliRunner
from regionshift.cli import app

runner = CliRunner()
commands = [c.name or c.callback.__name__ for c in app.registered_commands]
for args in [["--help"], *([name, "--help"] for name in commands)]:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, (args, result.output)
print(len(commands), "moto" in sys.modules)
"""


def test_help_of_every_command_does_not_import_moto() -> None:
    # Given a fresh interpreter (this one has moto loaded by other tests)
    # When the top-level help and every command's help are shown
    out = subprocess.run(
        [sys.executable, "-c", _HELP_WITHOUT_MOTO], capture_output=True, text=True, check=True
    ).stdout.split()
    # Then moto was never imported: an operator's install without the emulator extra shows them all
    assert int(out[0]) >= 10
    assert out[1] == "False"


_PLAN_VALIDATE_WITHOUT_MOTO = """
import sys
from typer.testing import CliRunner
from regionshift.cli import app

runner = CliRunner()
good, bad = sys.argv[1:]
valid = runner.invoke(app, ["plan", "validate", good])
invalid = runner.invoke(app, ["plan", "validate", bad])
schema = runner.invoke(app, ["plan", "schema"])
print(valid.exit_code, invalid.exit_code, schema.exit_code, "moto" in sys.modules)
print(valid.output.strip())
print(invalid.output.strip().splitlines()[-1])
"""


def test_plan_validate_does_not_import_moto(tmp_path: Path) -> None:
    # Given the example plan, and a plan with a standby replica missing
    root = Path(__file__).resolve().parents[2]
    example = root / "plans" / "example.yaml"
    bad = tmp_path / "bad.yaml"
    bad.write_text(example.read_text().replace("replicas: {us-west-2: orders-us-west, ", "replicas: {"))
    # When a fresh interpreter validates both and prints the schema
    out = subprocess.run(
        [sys.executable, "-c", _PLAN_VALIDATE_WITHOUT_MOTO, str(example), str(bad)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    # Then the example is valid, the other refused (exit 1), and moto was never imported
    assert out[0].split() == ["0", "1", "0", "False"]
    assert out[1].startswith(f"{example}: plan myapp: 3 regions (primary us-east-1, standbys us-west-2, eu-west-1)")
    assert out[2] == "regionshift: 1 of 1 plan file(s) invalid"


@pytest.mark.parametrize(
    "args", [["drill", "--scenario", "primary-outage"], ["chaos"], ["serve"], ["bench", "--quick"]]
)
def test_emulator_commands_without_moto_name_the_extra(monkeypatch: pytest.MonkeyPatch, args: list[str]) -> None:
    # Given moto is not installed (a None entry makes it unimportable)
    monkeypatch.setitem(sys.modules, "moto", None)
    # When an emulator command runs
    result = runner.invoke(app, args)
    # Then it exits 2 with one line naming the extra to install
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "regionshift: this command needs the emulator: pip install 'regionshift[emulator]'"
    ]


def test_a_checkout_reads_its_own_stack_files() -> None:
    # Given the tests run from the checkout (an editable install)
    # Then the template and the ASL the emulator reads are the checkout's own, never a packaged copy
    root = Path(__file__).resolve().parents[2]
    assert cfn.checkout() == root
    assert cfn.stack_root() == root
    assert not (root / "regionshift" / "stack").exists()


def test_an_installed_package_reads_the_packaged_stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given regionshift installed from a wheel: no template.yaml next to the package
    package = tmp_path / "site-packages" / "regionshift"
    package.mkdir(parents=True)
    monkeypatch.setattr(cfn, "_PACKAGE", package)
    # Then the stack files come from the copy shipped in the package
    assert cfn.checkout() is None
    assert cfn.stack_root() == package / "stack"
