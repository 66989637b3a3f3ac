import subprocess
import sys

from typer.testing import CliRunner

from obscura.cli import app

runner = CliRunner()


def test_every_command_has_help():
    import typer

    assert runner.invoke(app, ["--help"]).exit_code == 0

    def walk(group, prefix):
        for name, command in group.commands.items():
            yield [*prefix, name]
            if hasattr(command, "commands"):
                yield from walk(command, [*prefix, name])

    paths = list(walk(typer.main.get_command(app), []))
    assert ["params", "check"] in paths and ["stage"] in paths
    for path in paths:
        sub = runner.invoke(app, [*path, "--help"])
        assert sub.exit_code == 0 and "Usage" in sub.output, (path, sub.output)


def test_params_check_reports_bad_value(tmp_path, raw_params):
    import yaml

    raw_params["prepare"]["faces"] = 500
    bad = tmp_path / "params.yaml"
    bad.write_text(yaml.safe_dump(raw_params))
    proc = subprocess.run([sys.executable, "-m", "obscura", "params", "check", str(bad)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "prepare.faces = 500" in proc.stderr and "less than or equal to 100" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unknown_stage_lists_stages():
    proc = subprocess.run([sys.executable, "-m", "obscura", "stage", "nope"], capture_output=True, text=True)
    assert proc.returncode == 2 and "prepare" in proc.stderr


def test_stage_with_wrong_arguments_gets_usage_not_traceback():
    proc = subprocess.run([sys.executable, "-m", "stages.train_generative"], capture_output=True, text=True)
    assert proc.returncode == 2 and "stage train_generative takes NAME, got none" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "obscura", "stage", "prepare", "extra"], capture_output=True, text=True)
    assert proc.returncode == 2 and "stage prepare takes no arguments" in proc.stderr
    assert "Traceback" not in proc.stderr
