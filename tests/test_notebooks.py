"""The analyst notebooks run from top to bottom on real data."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from layers.store.settings import PROJECT_ROOT, Settings

NOTEBOOKS = sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_and_is_committed_without_outputs(
    path: Path, analysis_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    notebook = nbformat.read(path, as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), "strip the outputs"
    assert analysis_settings.database_url is not None
    monkeypatch.setenv("DATABASE_URL", analysis_settings.database_url)
    monkeypatch.setenv("BAMRUNG_HOME", str(analysis_settings.home))
    NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(PROJECT_ROOT)}},
    ).execute(env=dict(os.environ))
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors
    assert any(
        o.output_type == "display_data" and "image/png" in o.data for c in code for o in c.outputs
    )
