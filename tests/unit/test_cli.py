import subprocess
import sys
from pathlib import Path

from mlcicd.cli import main as run

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_help_lists_stacks_configs_commands_and_imports_nothing_heavy() -> None:
    code = (
        "import contextlib, io, sys, run\n"
        "buf = io.StringIO()\n"
        "with contextlib.redirect_stdout(buf), contextlib.suppress(SystemExit):\n"
        "    run.main(['--help'])\n"
        "print(buf.getvalue())\n"
        "print('heavy:', sorted(m for m in ('zenml', 'mlflow', 'torch', 'great_expectations') "
        "if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "stacks (stacks/*.yaml):   gpu-k8s, local" in out
    assert "configs (configs/*.yaml): local" in out
    for command in ("train", "stacks", "configs"):
        assert command in out
    assert "heavy: []" in out


def test_list_commands(capsys) -> None:
    assert run.main(["stacks"]) == 0
    assert "local" in capsys.readouterr().out.split()
    assert run.main(["configs"]) == 0
    assert "local" in capsys.readouterr().out.split()


def test_unknown_stack_is_an_error_listing_stacks(capsys) -> None:
    assert run.main(["--stack", "nope"]) == run.EXIT_ERROR
    assert "unknown stack 'nope'; available stacks: gpu-k8s, local" in capsys.readouterr().err


def test_monitor_schedule_on_the_local_stack_says_what_to_use_instead(capsys) -> None:
    from mlcicd.cli import main as run

    code = run.main(["monitor", "--schedule"])
    err = capsys.readouterr().err
    assert code == 1, err
    assert "cannot run a schedule" in err and "monitor.yml" in err and "17 * * * *" in err
