"""Every user string that reaches a shell is exactly one word: keys, values, hosts, scripts.

The attack of issue #11: an inference ConfigMap key ``x; echo PWNED >/tmp/p; #`` ran as shell
code in the vLLM container. Validation now refuses such keys, and rendering quotes them anyway
(the ConfigMap may change after admission), which these tests check by parsing the command with
`shlex` and by running it through a real ``/bin/sh`` with the program replaced by ``printf``.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kaito_core.render.commands import VLLM_BASE_COMMAND, flag, flags, vllm_command
from kaito_core.render.inference import inference_statefulset, puller_script
from tests.core.render.test_commands import context, workspace

ATTACKS = [
    "x; echo PWNED >pwned; #",
    "$(touch pwned)",
    "`touch pwned`",
    "a\ntouch pwned",
    "a' ; touch pwned; '",
    '" ; touch pwned; "',
    "*",
    "~root",
    "a|touch pwned",
    "a&&touch pwned",
    "${IFS}touch${IFS}pwned",
    "-",
    "",
]

#: Text without NUL (an argv string cannot hold one; validation refuses it) or lone surrogates.
_TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=24
)
_HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large]


def _expected(key: str, value: str) -> str:
    name = f"--{key}"
    return name if value == "" else f"{name}={value}"


def _through_sh(command: str, cwd: Path, program: str = VLLM_BASE_COMMAND) -> list[str]:
    """The argv the shell would give `program`: it is replaced by ``printf '%s\\0'``."""
    assert command.startswith(program)
    script = "printf '%s\\0'" + command[len(program) :]
    result = subprocess.run(
        ["/bin/sh", "-c", script],
        cwd=cwd,
        capture_output=True,
        timeout=10,
        check=True,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
    )
    return result.stdout.decode("utf-8", "surrogateescape").split("\0")[:-1]


# --- shlex: one word per flag -----------------------------------------------------------------


@pytest.mark.parametrize("key", ATTACKS, ids=repr)
@pytest.mark.parametrize("value", ["", "v", "a b", "$(touch pwned)", "it's"], ids=repr)
def test_every_flag_is_one_word(key: str, value: str) -> None:
    """A hostile key or value parses back as exactly the one argument ``--key=value``."""
    assert shlex.split(flag(key, value)) == [_expected(key, value)]


@settings(max_examples=300, deadline=None, suppress_health_check=_HEALTH)
@given(params=st.dictionaries(_TEXT, _TEXT, max_size=6))
def test_random_flags_parse_back(params: dict[str, str]) -> None:
    """Random keys and values: each pair becomes exactly one argument, in key order."""
    assert shlex.split(flags(params)) == [_expected(k, params[k]) for k in sorted(params)]


@settings(max_examples=150, deadline=None, suppress_health_check=_HEALTH)
@given(user=st.dictionaries(_TEXT.filter(bool), _TEXT, min_size=1, max_size=4))
def test_user_config_reaches_vllm_as_one_argument_each(user: dict[str, str]) -> None:
    """Whatever the ConfigMap holds, the vLLM command carries each user pair as one argument."""
    ctx = context(workspace(config="cfg"), inference_config=user)
    words = shlex.split(vllm_command(ctx))
    assert words[:2] == VLLM_BASE_COMMAND.split()
    for key, value in user.items():
        assert _expected(key, value) in words


# --- a real shell ------------------------------------------------------------------------------

needs_sh = pytest.mark.skipif(shutil.which("sh") is None, reason="no /bin/sh on this machine")


@needs_sh
def test_configmap_key_injection_runs_nothing(tmp_path: Path) -> None:
    """The issue's payloads as ConfigMap keys: /bin/sh runs no part of them."""
    user = {key or "k": "1" for key in ATTACKS}
    ctx = context(workspace(config="cfg"), inference_config=user)
    argv = _through_sh(vllm_command(ctx), tmp_path)
    assert not (tmp_path / "pwned").exists()
    for key, value in user.items():
        assert _expected(key, value) in argv


@needs_sh
@settings(max_examples=25, deadline=None, suppress_health_check=_HEALTH)
@given(user=st.dictionaries(_TEXT.filter(bool), _TEXT, min_size=1, max_size=5))
def test_random_config_through_a_real_shell(user: dict[str, str]) -> None:
    """The shell hands vLLM the user's pairs byte for byte and runs nothing else."""
    ctx = context(workspace(config="cfg"), inference_config=user)
    with tempfile.TemporaryDirectory() as cwd:  # a regression would write here, nowhere else
        argv = _through_sh(vllm_command(ctx), Path(cwd))
        assert os.listdir(cwd) == []
    for key, value in user.items():
        assert _expected(key, value) in argv


@needs_sh
def test_multi_node_command_quotes_the_leader_and_user_flags(tmp_path: Path) -> None:
    """The leader/worker wrapper keeps a hostile user flag inert on every branch."""
    ws = workspace(name="big", namespace="ml", preset="llama-3.3-70b-instruct", config="cfg")
    ctx = context(
        ws,
        model="llama-3.3-70b-instruct",
        node_count=3,
        inference_config={"x; touch pwned; #": "1"},
    )
    command = vllm_command(ctx)
    for index in ("0", "1"):
        script = (
            command.replace("/workspace/vllm/multi-node-serving.sh", "true")
            .replace(VLLM_BASE_COMMAND, "printf '%s\\0'")
            .replace("${POD_INDEX}", index)
        )
        subprocess.run(["/bin/sh", "-c", script], cwd=tmp_path, check=True, timeout=10)
    assert not (tmp_path / "pwned").exists()


def test_probe_commands_are_plain_words() -> None:
    """The multi-node probes' leader address goes through the same quoting."""
    ws = workspace(name="big", namespace="ml", preset="llama-3.3-70b-instruct")
    ctx = context(ws, model="llama-3.3-70b-instruct", node_count=3)
    container = inference_statefulset(ctx)["spec"]["template"]["spec"]["containers"][0]
    for probe in ("livenessProbe", "readinessProbe"):
        shell, dash_c, script = container[probe]["exec"]["command"]
        assert (shell, dash_c) == ("/bin/sh", "-c")
        assert "--leader-address=big-0.big-headless.ml.svc.cluster.local" in shlex.split(script)


@pytest.mark.parametrize("image", ["reg.io/a:1", "reg.io/a:1; touch pwned", "$(touch pwned)"])
def test_adapter_puller_script_quotes_the_image(image: str) -> None:
    """The puller script assigns the image and target as single-quoted shell words."""
    script = puller_script(image, "/mnt/adapter/x; touch pwned")
    lines = script.splitlines()
    (image_line,) = [line for line in lines if line.startswith("image=")]
    (target_line,) = [line for line in lines if line.startswith("target=")]
    assert len(shlex.split(image_line)) == 1
    assert shlex.split(target_line) == ["target=/mnt/adapter/x; touch pwned"]
