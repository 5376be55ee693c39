"""The tuning data downloader: upstream's script and HTTP-status checks, run through /bin/sh
against a fake ``curl`` (issue #12, item 15), and URLs refused at plan time (issue #11, item 5)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from kaito_core.errors import SpecError
from kaito_core.render.tuning import tuning_job
from tests.core.render.test_tuning import context, workspace

pytestmark = pytest.mark.skipif(shutil.which("sh") is None, reason="no /bin/sh on this machine")

#: A stand-in for curl: logs its arguments, answers by the URL's path, prints the status code.
FAKE_CURL = """\
#!/bin/sh
printf '%s\\n' "$*" >> "$CURL_LOG"
out=""; url=""
while [ $# -gt 0 ]; do
  case "$1" in
    -o) out="$2"; shift 2 ;;
    --) url="$2"; shift 2 ;;
    *) shift ;;
  esac
done
case "$url" in
  */ok/*) printf 'rows' > "$out"; printf 200 ;;
  */empty/*) : > "$out"; printf 200 ;;
  */missing/*) printf 'not found' > "$out"; printf 404 ;;
  */redirected/*) printf 'moved' > "$out"; printf 302 ;;
  *) printf 000; exit 6 ;;
esac
"""


def _downloader(urls: list[str]) -> dict[str, Any]:
    job = tuning_job(context(workspace(input={"urls": urls}, match_labels={"a": "b"})))
    (init,) = [
        c
        for c in job["spec"]["template"]["spec"]["initContainers"]
        if c["name"] == "data-downloader"
    ]
    return init


def _run(
    tmp_path: Path, urls: list[str], data_urls: str | None = None
) -> tuple[int, str, list[str]]:
    """Run the rendered container command with a fake curl and sleep; (exit, stderr, curl calls)."""
    container = _downloader(urls)
    env = {e["name"]: e["value"] for e in container["env"]}
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in (("curl", FAKE_CURL), ("sleep", "#!/bin/sh\nexit 0\n")):
        path = bin_dir / name
        path.write_text(body)
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "curl.log"
    log.touch()
    env |= {
        "DATA_VOLUME_PATH": str(tmp_path / "data"),
        "CURL_LOG": str(log),
        "PATH": f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}",
    }
    if data_urls is not None:
        env["DATA_URLS"] = data_urls
    work = tmp_path / "cwd"
    planted = work / "https:" / "example.com" / "ok"
    planted.mkdir(parents=True)  # what https://example.com/ok/* would match as a glob
    (planted / "planted").write_text("a glob would find me")
    result = subprocess.run(
        container["command"], cwd=work, env=env, capture_output=True, text=True, timeout=20
    )
    return result.returncode, result.stderr, log.read_text().splitlines()


def test_the_upstream_curl_invocation(tmp_path: Path) -> None:
    """curl -sSL --proto =http,https -w %{http_code} -o FILE URL, as upstream (plus hardening)."""
    url = "https://example.com/ok/train.parquet?download=true#x"
    code, _, calls = _run(tmp_path, [url])
    assert code == 0
    assert calls == [
        "-sSL --proto =http,https --proto-redir =http,https -w %{http_code} "
        f"-o {tmp_path}/data/train.parquet -- {url}"
    ]
    assert (tmp_path / "data" / "train.parquet").read_text() == "rows"


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("missing", id="http-404"),
        pytest.param("redirected", id="http-302-not-followed-to-200"),
        pytest.param("empty", id="empty-body"),
        pytest.param("down", id="curl-error"),
    ],
)
def test_anything_but_a_200_with_a_body_fails_after_three_attempts(
    tmp_path: Path, path: str
) -> None:
    """Upstream's checks: exit code 0, status 200 and a non-empty file, else three tries."""
    code, err, calls = _run(tmp_path, [f"https://example.com/{path}/d.csv"])
    assert code == 1
    assert len(calls) == 3
    assert "after 3 attempts" in err
    assert not (tmp_path / "data" / "d.csv").exists()


def test_every_url_is_fetched_in_order(tmp_path: Path) -> None:
    """Several URLs: each to its own file; the first failure stops the Job's init container."""
    urls = ["https://example.com/ok/a.csv", "https://example.com/ok/b.csv"]
    code, _, calls = _run(tmp_path, urls)
    assert code == 0
    assert [c.rsplit(" ", 1)[1] for c in calls] == urls
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["a.csv", "b.csv"]


def test_a_star_in_a_url_is_not_a_glob(tmp_path: Path) -> None:
    """set -f: the unquoted $DATA_URLS is split on spaces but never expanded as a pattern."""
    code, _, calls = _run(tmp_path, ["https://example.com/ok/*"])
    assert code == 0
    assert calls[0].endswith("-- https://example.com/ok/*")


@pytest.mark.parametrize("tail", ["..", "."])
def test_dot_names_become_data(tmp_path: Path, tail: str) -> None:
    """A URL whose last segment is . or .. is saved as data, never as the directory itself."""
    code, _, _ = _run(tmp_path, [f"https://example.com/ok/{tail}"])
    assert code == 0
    assert (tmp_path / "data" / "data").read_text() == "rows"


def test_no_urls_is_an_error(tmp_path: Path) -> None:
    """An empty DATA_URLS fails as upstream does."""
    code, err, calls = _run(tmp_path, ["https://example.com/ok/a.csv"], data_urls="")
    assert (code, calls) == (1, [])
    assert "No URLs provided" in err


@pytest.mark.parametrize(
    "url",
    [
        "http://169\uff0e254\uff0e169\uff0e254/latest/meta-data",
        "http://minio.storage.svc.cluster.local/x",
        "http://10.0.0.1/x",
    ],
)
def test_plan_refuses_a_url_validation_would_refuse(url: str) -> None:
    """A Workspace that skipped the webhook cannot send the downloader to an internal host."""
    with pytest.raises(SpecError) as info:
        _downloader(["https://example.com/ok/a.csv", url])
    assert info.value.path == "spec.tuning.input.urls[1]"
