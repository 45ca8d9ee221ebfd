"""The newcomer's path through the real command line: the overview names every command, each command's help
works, every config name can be listed, command-line mistakes are one line before torch is imported, and every
refusal (score's included) carries the `xtreme-s: error:` prefix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from unittest import mock

import pytest
from conftest import ROOT, TINY_MODEL

from xtreme_s import registry
from xtreme_s.cli import COMMANDS, main


def user_cli(args: list[str], capsys) -> tuple[int, str, str]:
    """`xtreme-s ARGS` in-process with the one error policy: (exit code, stdout, stderr)."""
    capsys.readouterr()
    code = 0
    with mock.patch.object(sys, "argv", ["xtreme-s", *args]):
        try:
            main()
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
    out = capsys.readouterr()
    return code, out.out, out.err


def one_error_line(code: int, err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("xtreme-s: error: "), (code, err[-2000:])
    return lines[0]


def test_overview_help_and_each_commands_help(capsys):
    for args in ([], ["--help"], ["help"]):
        code, out, _ = user_cli(args, capsys)
        assert code == 0 and all(f"\n  {name} " in out for name in COMMANDS), out
        assert len(out.splitlines()) <= 30  # one screen
    for command in ("tasks", "score", "sources"):
        for args in (["help", command], [command, "--help"]):
            code, out, _ = user_cli(args, capsys)
            assert code == 0 and out.startswith(f"usage: xtreme-s {command}"), (args, out[:300])
    line = one_error_line(*user_cli(["trian"], capsys)[::2])
    assert "unknown command 'trian'" in line and "run, tasks" in line


def test_tasks_lists_every_config_name_or_one_tasks(capsys):
    code, out, _ = user_cli(["tasks", "--configs"], capsys)
    listed = set(out.split())
    assert code == 0 and set(registry.all_config_names()) <= listed
    code, out, _ = user_cli(["tasks", "--configs", "mls"], capsys)
    names = [w for w in out.split() if "." in w]
    assert code == 0 and sorted(names) == sorted(n for n in registry.all_config_names() if n.startswith("mls."))
    line = one_error_line(*user_cli(["tasks", "--configs", "mlss"], capsys)[::2])
    assert "unknown task 'mlss' (did you mean 'mls'?)" in line
    line = one_error_line(*user_cli(["tasks", "--bogus"], capsys)[::2])
    assert line.startswith("xtreme-s: error: tasks: unrecognized arguments: --bogus")


# Each a command-line mistake answered from the command line alone: (argv, what the line says).
EARLY = [
    (["--dataset_config_name", "mls.all", "--do_train"], "--output_dir is required"),
    (["--dataset_config_name", "mls.xx", "--output_dir", "OUT"], "Unknown config name 'mls.xx'"),
    (["--output_dir", "OUT", "--do_train"], "Give --dataset_config_name"),
    (["--dataset_config_name", "mls.pl", "--output_dir", "OUT", "--learnin_rate", "1"],
     "unknown flag(s) 'learnin_rate' (did you mean 'learning_rate'?)"),
    (["MISSING.yaml", "--output_dir", "OUT"], "does not exist"),
    (["--dataset_config_name", "mls.pl", "--output_dir", "OUT", "--mls_english_train_ids", "NOWHERE"],
     "--mls_english_train_ids"),
    (["--dataset_config_name", "mls.pl", "--output_dir", "OUT", "--model_name_or_path", "./NOWHERE"],
     "no such folder"),
    (["--dataset_config_name", "mls.pl", "--output_dir", "OUT", "--unicode_normalization", "nfc"],
     "--unicode_normalization 'nfc': use one of NFC"),
    (["--dataset_config_name", "mls.pl", "--output_dir", "OUT", "--per_device_train_batch_size", "0"],
     "--per_device_train_batch_size 0: must be at least 1"),
    (["--dataset_config_name", "mls.pl", "--output_dir", "OUT", "--protocol", "adapters", "--adapter_language",
      "sw/x"], "--adapter_language 'sw/x'"),
    (["--mini", "--dataset_config_name", "mls.pl", "--dataset_revision", "abc123"],
     "--dataset_revision abc123: the mirror of the bundled mini benchmark (--mini) holds one snapshot"),
]


def test_command_line_mistakes_are_answered_before_torch_is_imported(tmp_path):
    """One process, every mistake of EARLY through the user's entry point; torch must still be unimported at the
    end (what made each answer cost 7-10 s). The same mistakes in a run that imports torch are not needed: the
    line is the same, only later."""
    cases = [[a.replace("OUT", str(tmp_path / "out")).replace("MISSING", str(tmp_path / "missing"))
              .replace("NOWHERE", str(tmp_path / "nowhere")) for a in argv] for argv, _ in EARLY]
    script = (
        "import io, json, sys, contextlib\n"
        "from xtreme_s import cli\n"
        "out = []\n"
        "for argv in json.loads(sys.argv[1]):\n"
        "    err = io.StringIO()\n"
        "    with contextlib.redirect_stderr(err):\n"
        "        try:\n"
        "            cli._main_for_users(argv); code = 0\n"
        "        except SystemExit as e:\n"
        "            code = e.code\n"
        "    out.append([code, err.getvalue()])\n"
        "print(json.dumps({'runs': out, 'torch': 'torch' in sys.modules, 'transformers': 'transformers' in "
        "sys.modules}))\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", script, json.dumps(cases)], capture_output=True, text=True,
                            env=env, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.splitlines()[-1])
    for (argv, expected), (code, err) in zip(EARLY, report["runs"], strict=True):
        assert expected in one_error_line(code, err), (argv, err)
    assert not report["torch"] and not report["transformers"]
    assert not (tmp_path / "out").exists() and not (tmp_path / "trainer_output").exists()


def test_flag_names_read_from_source_are_the_parsers():
    """The early check reads flag names from the dataclasses' source; it must know every flag the parser does
    (or it would refuse a good flag)."""
    from xtreme_s.args import build_parser
    from xtreme_s.argv import known_flag_names

    parser_flags = {o.lstrip("-").replace("-", "_") for a in build_parser()._actions for o in a.option_strings
                    if o.startswith("--")}
    parser_flags = {f[3:] if f.startswith("no_") and f[3:] in parser_flags else f for f in parser_flags}
    assert parser_flags - {"help"} <= known_flag_names()


@pytest.mark.parametrize(("argv", "expected"), [
    (["--use_auth_token", "--do_train"], ["--do_train"]),
    (["--use_auth_token", "True"], []),
    (["--use_auth_token=hf_abc"], ["--hub_token", "hf_abc"]),
    (["--use_auth_token", "hf_abc", "--do_eval"], ["--hub_token", "hf_abc", "--do_eval"]),
])
def test_use_auth_token_maps_to_todays_equivalent(argv, expected):
    from xtreme_s.argv import translate_legacy_flags

    assert translate_legacy_flags(argv) == expected


def test_score_refusals_carry_the_prefix(tmp_path, capsys):
    """score on a folder without results.json, with a damaged one, with a bad flag: one line each; combining runs
    that cannot be combined: one `xtreme-s: error:` line after the report."""
    (tmp_path / "empty").mkdir()
    line = one_error_line(*user_cli(["score", str(tmp_path / "empty")], capsys)[::2])
    assert f"score: {tmp_path / 'empty'}: no results.json" in line
    (tmp_path / "damaged").mkdir()
    (tmp_path / "damaged" / "results.json").write_text('{"task": "mls", "spl', encoding="utf-8")
    line = one_error_line(*user_cli(["score", str(tmp_path / "damaged")], capsys)[::2])
    assert "results.json: not readable as JSON" in line
    line = one_error_line(*user_cli(["score", "--bogus"], capsys)[::2])
    assert line.startswith("xtreme-s: error: score:")
    runs = []
    for task, protocol in (("mls", "finetune"), ("voxpopuli", "probe")):
        run = tmp_path / task
        run.mkdir()
        (run / "results.json").write_text(json.dumps({
            "task": task, "config_name": f"{task}.all", "model": str(TINY_MODEL), "protocol": {"name": protocol},
            "splits": {"test": {"macro": {"wer": 0.2}}}}), encoding="utf-8")
        runs.append(str(run))
    code, _, err = user_cli(["score", *runs, "--output_dir", str(tmp_path / "score")], capsys)
    line = one_error_line(code, err)
    assert "runs of different protocols: finetune: mls; probe: voxpopuli" in line and "--force" in line
    assert json.loads((tmp_path / "score" / "score.json").read_text())["score"] is None



def test_docs_hold_what_they_cite_and_make_help_lists_every_target():
    """Every relative link of the README and docs/ resolves inside the repository (users have no ../shared), and
    `make help` names every target of the Makefile."""
    import re
    import shutil

    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            if not target.startswith(("http://", "https://", "mailto:")):
                assert (page.parent / target).resolve().exists(), f"{page.name} links to missing {target}"
    cited = subprocess.run(["grep", "-rIl", "xtreme_s_spec.md", "README.md", "docs", "xtreme_s", "task_configs"],
                           cwd=ROOT, capture_output=True, text=True).stdout
    assert not cited, f"cite docs/spec.md instead: {cited}"
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    phony = re.search(r"^\.PHONY:((?:.*\\\n)*.*)$", makefile, re.M).group(1).replace("\\\n", " ").split()
    shown = subprocess.run(["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    words = set(re.findall(r"[\w-]+", shown))
    assert not [t for t in phony if t not in words], shown
