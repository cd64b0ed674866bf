"""The wheel's one build step beyond pyproject.toml: the deployable stack goes inside the package."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
# What the emulator reads besides the Lambda code (see regionshift.template.stack_root).
STACK_FILES = ["template.yaml", "detector.yaml", "statemachine"]


class BuildWithStack(build_py):
    """Copy the SAM template, the detector template and the ASL into the built package (regionshift/stack).

    At build time only, never into the source tree: a checkout reads its own files, so no copy goes stale.
    """

    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return  # an editable install reads the checkout's own files
        stack = Path(self.build_lib) / "regionshift" / "stack"
        shutil.rmtree(stack, ignore_errors=True)  # a file deleted from the checkout must not linger in build/
        stack.mkdir(parents=True)
        for name in STACK_FILES:
            source = ROOT / name
            if source.is_dir():
                shutil.copytree(source, stack / name)
            else:
                shutil.copyfile(source, stack / name)


setup(cmdclass={"build_py": BuildWithStack})
