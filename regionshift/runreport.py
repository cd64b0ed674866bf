"""Run reports where the operator is: written to a local folder, or read back from the stack's
report bucket, where Finalize wrote them. Building and rendering them is ``failover.report``.
"""

from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from failover.report import build, folder, html_page, markdown, render

__all__ = ["build", "fetch", "html_page", "markdown", "write", "write_files"]


def write(report: dict[str, Any], directory: Path) -> list[Path]:
    """report.md, report.html and report.json of ``report`` in ``directory``."""
    return write_files({name: text for name, (_, text) in render(report).items()}, directory)


def write_files(files: dict[str, str], directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in files.items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def fetch(s3: Any, bucket: str, execution_arn: str) -> dict[str, str] | None:
    """The report files Finalize wrote for the execution, or None when there is none (yet).

    S3 answers NoSuchKey for a missing object to a caller who may list the bucket, and AccessDenied
    (403) to one who may not ("GetObject", Amazon S3 API Reference): the reader policy grants
    s3:GetObject only, so both mean "not there" here.
    """
    files = {}
    for name in ("report.md", "report.html", "report.json"):
        try:
            body = s3.get_object(Bucket=bucket, Key=folder(execution_arn) + name)["Body"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "AccessDenied", "404", "403"):
                return None
            raise
        files[name] = body.read().decode("utf-8")
    return files
