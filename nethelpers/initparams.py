"""The commented parameters file that ``nethelpers init`` writes into a new study folder.

The file is text written from a template, not ``yaml.dump`` of the model, so its comments
survive: every key carries a comment saying what it does, and every value the user must
still provide is marked ``# FILL IN:``. Values come from the schema's defaults
(:mod:`nethelpers.config`, :mod:`nethelpers.vocabulary`): the file shows the defaults, it
does not define them. Strings are written as JSON strings (valid YAML), so a path or label
with ``:`` or ``#`` stays one value.
"""

from __future__ import annotations

import json
import shlex
import textwrap
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from nethelpers.config import (
    ALL_NOTEBOOKS,
    IndexTestConfig,
    QuantifyConfig,
    ScoresConfig,
    StatsConfig,
    TablePaths,
)
from nethelpers.vocabulary import Vocabulary

__all__ = ["FILL_IN", "params_text"]

FILL_IN = "# FILL IN:"
"""The marker of every value the user must still provide."""

_WIDTH = 96
_MARK = FILL_IN.removeprefix("# ")

_HEAD = """\
# Parameters of the study {name}, written by `nethelpers init` from the DICOM tree
# {dicom}
#
# Lines marked `{fill}` need you. Then, {where}:
#   nethelpers review -f {params} --patient P001
#   nethelpers report -f {params}
# (review: VOIs and calls, patient by patient; report: the statistical report)
# study.name and study.data_root are required; every other key is optional (left out, it
# takes its default; parameters/study_template.yaml of nethelpers documents them); unknown
# keys are an error. Relative paths resolve against this
# file's folder; those under study.tables, study.dicom and study.rois against study.data_root.
# Pseudonyms only: the link to the real patients is in private/, which nothing here refers to.

study:
  # Short name of the study (letters, digits, '_', '-', '.'): names the report.
  name: {name_json}
  # The study folder: this file lives in it, so it is ".".
  data_root: "."
  tables:
    {fill} fill group, final_diagnosis, disease_present, reference_standard per patient
    # (and grade, ki67, primary_site, fgf23_ru_ml, phosphate_mmol_l where known). age, sex,
    # weight_kg and height_cm were read from the DICOM headers of each patient's first scan:
    # check them. Codes: the vocabulary below.
    patients: {patients}
    # One row per scan, found in the DICOM tree. Check the tracer and modality of each scan.
    # pet_dir and anat_dir are DICOM folders relative to data_root: their names come from
    # the DICOM tree and may hold patient names. They make quantification fast; the report
    # never shows them (it shows pseudonyms), but keep this file inside the study.
    scans: {scans}
    {fill} one row per lesion (lesion_id shared by all scans of a patient): patient_id,
    # lesion_id, site, truth (malignant/benign/physiological), malignant, reference_standard.
    # Header only so far: the analyses that need lesions say what they wait for.
    lesions: {lesions}
    {fill} one row per scan x lesion x reader: call (positive/negative/equivocal), krenning
    # (0-4), confidence (1-5), cause. A scan read with no lesion called is one row with
    # lesion_id none and call negative. Header only so far.
    reads: {reads}
  # Root of the DICOM tree: only its headers and pixels are read, it is never written to.
  dicom: {dicom_json}
  # ROI store: label maps and lesion tables saved by `nethelpers review` (empty so far).
  rois: "rois"

report:
  # Report folder: index.html, tables/*.csv, figures, provenance.json. A previous report
  # in it is replaced; any other non-empty folder is refused.
  output: {output_json}
  # Notebooks to execute, in this order. Sections whose input is not there yet (no ROIs,
  # no reads, ...) show what they wait for.
  notebooks: {notebooks}
"""


def _value(value: Any) -> str:
    """A scalar as YAML (JSON strings, numbers and null are YAML)."""
    if isinstance(value, Path):
        value = value.as_posix()
    return json.dumps(value, ensure_ascii=False)


def _comment(text: str, indent: str) -> list[str]:
    return textwrap.wrap(text, _WIDTH, initial_indent=f"{indent}# ",
                         subsequent_indent=f"{indent}# ", break_on_hyphens=False)


def _section(name: str, model: type[BaseModel], values: dict[str, Any] | None = None,
             fill_in: dict[str, str] | None = None) -> str:
    """One section from the schema: each field's description as its comment, then its value."""
    values, fill_in = values or {}, fill_in or {}
    lines = [f"{name}:"]
    for key, spec in model.model_fields.items():
        text = f"{_MARK} {fill_in[key]}" if key in fill_in else spec.description or key
        lines += _comment(text, "  ")
        default = values.get(key, spec.get_default(call_default_factory=True))
        lines.append(f"  {key}: {_value(default)}")
    return "\n".join(lines) + "\n"


def _flow(items: list[str], indent: int = 4) -> str:
    """A YAML flow list starting at column ``indent``, wrapped between its items."""
    lines, line = [], "["
    for k, item in enumerate(items):
        piece = _value(item) + ("]" if k == len(items) - 1 else ",")
        if len(line) > 1 and indent + len(line) + len(piece) >= _WIDTH:
            lines.append(line.rstrip())
            line = " "
        line += piece + " "
    return f"\n{' ' * indent}".join([*lines, line.rstrip() if items else "[]"])


def _vocabulary(vocabulary: Vocabulary, added: dict[str, str]) -> str:
    lines = ["vocabulary:"]
    lines += _comment("The codes the tables may use; a list replaces the default list as a "
                      "whole. Codes and aliases match without regard to case, spaces and "
                      "punctuation.", "  ")
    lines += _comment(f"{_MARK} check that these groups are your "
                      "protocol's (group column of clinical/patients.csv): code, label for "
                      "tables and figures, tio (FGF23 and phosphate in Table 1), prrt "
                      "(Krenning-based PRRT eligibility).", "  ")
    lines.append("  groups:")
    for g in vocabulary.groups:
        lines.append(f"    - {{code: {_value(g.code)}, label: {_value(g.label)}, "
                     f"tio: {_value(g.tio)}, prrt: {_value(g.prrt)}}}")
    lines += _comment("Final diagnoses (final_diagnosis column); none = no disease.", "  ")
    lines.append(f"  diagnoses: {_flow(list(vocabulary.diagnoses))}")
    lines += _comment("Tracers (tracer column of clinical/scans.csv): canonical name, family "
                      "(sstr: somatostatin-receptor ligand; fdg; other) and aliases. The "
                      "analyses ask for the family.", "  ")
    lines.append("  tracers:")
    for t in vocabulary.tracers:
        if t.name in added:
            lines += _comment(f"{_MARK} {t.name}: {added[t.name]}",
                              "    ")
        lines.append(f"    - name: {_value(t.name)}")
        lines.append(f"      family: {_value(t.family)}")
        lines.append(f"      aliases: {_flow(t.aliases, 6 + 9)}")
    lines += _comment("Modalities (modality column): name, system (PET or SPECT), aliases.",
                      "  ")
    lines.append("  modalities:")
    for m in vocabulary.modalities:
        lines.append(f"    - {{name: {_value(m.name)}, system: {_value(m.system)}, "
                     f"aliases: {_flow(m.aliases)}}}")
    return "\n".join(lines) + "\n"


def params_text(name: str, dicom: Path, vocabulary: Vocabulary,
                added: dict[str, str] | None = None, params_file: str = "parameters.yaml") -> str:
    """The parameters file of a new study folder.

    Parameters
    ----------
    name : str
        Study name (already valid for ``study.name``).
    dicom : Path
        Absolute DICOM root.
    vocabulary : Vocabulary
        The default vocabulary plus the tracers found in the headers.
    added : dict, optional
        Tracer name → why the user must check it (a ``# FILL IN:`` comment above it).
    params_file : str
        The file's path, shown in the next steps of its header: absolute, they run from any
        folder; relative, from the study folder.

    Returns
    -------
    str
        YAML text that :func:`nethelpers.config.load_params` validates.
    """
    tables = {key: _value(spec.default) for key, spec in TablePaths.model_fields.items()}
    where = "from any folder" if Path(params_file).is_absolute() else "from the study folder"
    head = _HEAD.format(
        name=name, name_json=_value(name), dicom=dicom.as_posix(), dicom_json=_value(dicom),
        fill=FILL_IN, where=where, params=shlex.quote(params_file),
        output_json=_value(f"reports/{name}"), notebooks=_flow(list(ALL_NOTEBOOKS), 2 + 11),
        **tables)
    reader = ("the reader whose visual calls are the index test (the reader column of "
              "reads/reads.csv).")
    return "\n".join([
        head,
        _section("stats", StatsConfig),
        _section("quantify", QuantifyConfig, {"output": "derived/quantify"}),
        _section("scores", ScoresConfig),
        _section("index_test", IndexTestConfig, fill_in={"reader": reader}),
        _vocabulary(vocabulary, added or {}),
    ])
