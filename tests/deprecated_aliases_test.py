"""Names that moved keep working, with a DeprecationWarning."""

import importlib
import subprocess
import sys
import warnings

import pytest


def _fresh_import(code):
    """Runs `code` in a new interpreter (a module warns once, at its first
    import); returns the completed process."""
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_workflows_is_an_alias_of_app_and_warns():
    result = _fresh_import(
        "import warnings\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    import keras_ssl.workflows as w\n"
        "    from keras_ssl.workflows.run_directory import write_json\n"
        "    from keras_ssl.workflows.pretrain import tokenize\n"
        "import keras_ssl.app as app, keras_ssl.app.run_directory as rd\n"
        "assert w.pretrain is app.pretrain and w.finetune is app.finetune\n"
        "assert write_json is rd.write_json\n"
        "assert sorted(w.__all__) == sorted(app.__all__)\n"
        "messages = [str(c.message) for c in caught\n"
        "            if issubclass(c.category, DeprecationWarning)]\n"
        "assert any('keras_ssl.workflows' in m for m in messages), messages\n"
        "print('ok')\n"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("ok")


def test_cli_module_is_an_alias_of_the_app_cli():
    result = _fresh_import(
        "import warnings\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    from keras_ssl.cli import main, build_parser\n"
        "import keras_ssl.app.cli as cli\n"
        "assert main is cli.main and build_parser is cli.build_parser\n"
        "assert any('keras_ssl.cli' in str(c.message) for c in caught)\n"
        "print('ok')\n"
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_moved_library_names_still_import():
    from keras_ssl.callbacks import GradualUnfreezing
    from keras_ssl.cross_replica import assign_on_every_replica, gather_from_replicas
    from keras_ssl.evaluation import GradualUnfreezing as moved

    assert GradualUnfreezing is moved
    old = importlib.import_module("keras_ssl.layers.replica_assign")
    assert old.assign_on_every_replica is assign_on_every_replica
    ssl_model = importlib.import_module("keras_ssl.models.ssl_model")
    assert ssl_model.gather_from_replicas is gather_from_replicas


def test_warmup_cosine_schedule_alias_warns_and_matches():
    from keras_ssl.evaluation.fine_tune import warmup_cosine_schedule
    from keras_ssl.schedules import warmup_cosine

    with pytest.warns(DeprecationWarning):
        old = warmup_cosine_schedule(1e-3, 100, 0.1)
    new = warmup_cosine(1e-3, 100, 10)
    for step in (0, 5, 10, 50, 100):
        assert float(old(step)) == float(new(step))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warmup_cosine(1e-3, 100, 0)
