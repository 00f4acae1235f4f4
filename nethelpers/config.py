"""Parameters of a study and its report: the schema of ``parameters/*.yaml``.

Every default of the analysis lives here, in one place. A parameters file is YAML with eight
sections (``study``, ``report``, ``stats``, ``quantify``, ``scores``, ``index_test``, ``demo``,
``vocabulary``); every key is optional and falls back to the defaults below, which describe
the synthetic demo study. The vocabulary (groups, diagnoses, tracers, modalities) is in
:mod:`nethelpers.vocabulary`.

Paths
-----
Relative paths are resolved when the file is loaded:

- ``study.data_root``, ``report.output``, ``report.notebooks_dir`` and ``quantify.output``
  against the directory of the YAML file itself (so ``parameters/demo.yaml`` says
  ``data_root: ../data/demo``);
- ``study.tables.*``, ``study.dicom`` and ``study.rois`` against ``study.data_root``.

After :func:`load_params` every path in the returned :class:`Params` is absolute.

Errors
------
Unknown keys are an error (a typo must not silently fall back to a default). A bad value gives
a :class:`ParamsError` whose message names the file, the key path (e.g. ``stats.ci_level``) and
what is allowed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from nethelpers.configexports import EXPORTS_FIELD, ExportFormat
from nethelpers.configreaders import ReadersConfig
from nethelpers.configreading import ReadingConfig
from nethelpers.configregistration import RegistrationConfig
from nethelpers.configresponse import ResponseConfig
from nethelpers.configreview import ReviewConfig
from nethelpers.vocabulary import Vocabulary

__all__ = [
    "CI_METHODS",
    "DemoConfig",
    "Params",
    "ParamsError",
    "QuantifyConfig",
    "ReportConfig",
    "ScoresConfig",
    "StatsConfig",
    "StudyConfig",
    "TablePaths",
    "load_params",
    "params_json_schema",
    "write_json_schema",
]

CI_METHODS = ("wilson", "clopper-pearson", "wilson-cc", "jeffreys", "agresti-coull")
"""Confidence-interval methods for proportions accepted by ``stats.ci_method``."""

CIMethod = Literal["wilson", "clopper-pearson", "wilson-cc", "jeffreys", "agresti-coull"]


ALL_NOTEBOOKS = ("01_cohort", "02_roi_review", "03_quantification", "04_tracer_comparison",
                 "05_diagnostic_accuracy", "06_response")
"""The notebooks of the report, in order (the default of ``report.notebooks``)."""


class ParamsError(ValueError):
    """A parameters file that cannot be read or does not validate."""


class _Section(BaseModel):
    """Base of every section: unknown keys are an error."""

    model_config = ConfigDict(extra="forbid")


def _resolve(path: Path | None, base: Path) -> Path | None:
    """Return ``path`` made absolute against ``base`` (``None`` stays ``None``)."""
    if path is None:
        return None
    path = Path(path).expanduser()
    return path if path.is_absolute() else (base / path).resolve()


def _base_dir(info: ValidationInfo) -> Path:
    """Return the folder relative paths resolve against (the YAML file's, else cwd)."""
    context = info.context or {}
    return Path(context.get("base_dir", Path.cwd()))


class TablePaths(_Section):
    """Tabular inputs, relative to ``study.data_root``."""

    patients: Path = Field(
        Path("clinical/patients.csv"),
        description="One row per patient: pseudonym, group, demographics, reference standard.",
    )
    scans: Path = Field(
        Path("clinical/scans.csv"),
        description="One row per scan: scan_id, patient_id, tracer, modality, date, series.",
    )
    lesions: Path = Field(
        Path("truth/lesions.csv"),
        description="One row per lesion (shared by all scans of a patient) with its truth.",
    )
    reads: Path = Field(
        Path("reads/reads.csv"),
        description="One row per scan x lesion x reader: visual call, Krenning, confidence.",
    )


class StudyConfig(_Section):
    """Where the study's data live."""

    name: str = Field(
        min_length=1,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        description="Short name of the study (letters, digits, '_', '-', '.'); names reports. "
        "Required: no study falls back to the demo's name.",
    )
    data_root: Path = Field(
        description="Folder holding the study data; relative to the parameters file. "
        "Required: a study never falls back to the demo (parameters/demo.yaml runs the demo).",
    )
    tables: TablePaths = Field(default_factory=TablePaths)
    dicom: Path = Field(Path("dicom"), description="Root of the DICOM tree; relative to data_root.")
    rois: Path = Field(Path("rois"), description="ROI store folder; relative to data_root.")

    @model_validator(mode="after")
    def _resolve_paths(self, info: ValidationInfo) -> StudyConfig:
        root = _resolve(self.data_root, _base_dir(info))
        self.data_root = root
        self.dicom = _resolve(self.dicom, root)
        self.rois = _resolve(self.rois, root)
        for key in TablePaths.model_fields:
            setattr(self.tables, key, _resolve(getattr(self.tables, key), root))
        return self


class ReportConfig(_Section):
    """What the report runs and where it goes."""

    output: Path | None = Field(
        None,
        description="Report folder (index.html, tables, figures); relative to the file "
        "(null: ../reports/<study.name>).",
    )
    notebooks: list[str] = Field(
        default_factory=lambda: list(ALL_NOTEBOOKS),
        min_length=1,
        description="Notebooks to execute, in order, by name without '.ipynb'.",
    )
    notebooks_dir: Path | None = Field(
        None,
        description="Folder of the notebooks; default: the notebooks/ folder of nethelpers.",
    )
    kernel: str = Field("python3", min_length=1, description="Jupyter kernel name.")
    calendar_dates: bool = Field(
        False, description="Show calendar dates in the report's tables; false: study days "
        "(days from the patient's first scan), since dates identify patients.",
    )
    timeout: int | None = Field(
        600, gt=0, description="Seconds a single cell may run (null: no limit)."
    )
    exports: list[ExportFormat] = EXPORTS_FIELD

    @model_validator(mode="after")
    def _resolve_paths(self, info: ValidationInfo) -> ReportConfig:
        base = _base_dir(info)
        self.output = _resolve(self.output, base)
        self.notebooks_dir = _resolve(self.notebooks_dir, base)
        return self

    @field_validator("notebooks")
    @classmethod
    def _check_notebook_names(cls, names: list[str]) -> list[str]:
        for name in names:
            if "/" in name or "\\" in name or name.endswith(".ipynb") or not name.strip():
                raise ValueError(
                    f"notebook {name!r}: give the bare name without folder or '.ipynb', "
                    "e.g. '01_cohort'"
                )
        return names


class StatsConfig(_Section):
    """Statistical conventions of the report."""

    ci_method: CIMethod = Field(
        "wilson", description="Confidence interval for proportions: " + ", ".join(CI_METHODS)
    )
    ci_level: float = Field(
        0.95, gt=0.5, lt=1.0, description="Confidence level, strictly between 0.5 and 1."
    )
    seed: int = Field(20240601, ge=0, description="Seed of bootstrap and other resampling.")


class QuantifyConfig(_Section):
    """How every scan's ROIs are measured (``nethelpers quantify``)."""

    output: Path | None = Field(
        None,
        description="Folder of measurements.csv, patients.csv and qc.csv; relative to the file "
        "(null: ../derived/<study.name>).",
    )
    norm: Literal["bw", "lbm", "lbm-james", "lbm-james120", "bsa", "ibw"] = Field(
        "bw", description="SUV normalisation of the suv_* columns (bw: body weight)."
    )
    sul_norm: Literal["lbm", "lbm-james", "lbm-james120"] = Field(
        "lbm", description="Lean body mass formula of the sul_* columns (lbm: Janmahasatian)."
    )
    slice_tolerance: float = Field(
        0.10, ge=0, lt=0.5, description="PET slices within this fraction of the slice spacing "
        "of a uniform grid are placed on it (scanner rounding, stated in the QC); beyond it "
        "the scan fails.",
    )
    max_decay_h: dict[str, float] = Field(
        default_factory=lambda: {"18F": 6.0, "68Ga": 4.0, "99mTc": 30.0, "64Cu": 48.0,
                                 "89Zr": 168.0, "124I": 168.0, "11C": 2.0, "13N": 0.5,
                                 "15O": 0.25, "82Rb": 0.2},
        description="Longest plausible time (h) from the injection to the decay reference or "
        "frame start, by radionuclide; beyond it the scan fails (a wrong injection date or "
        "time, e.g. a time-only injection read as the previous day). From the latest imaging "
        "time of each nuclide's protocols with a margin: 18F 6 h (FDG 55-75 min, delayed and "
        "dual-time-point to 3-4 h), 68Ga 4 h (SSTR PET 45-90 min, delayed to 2-3 h), 99mTc "
        "30 h (2-4 h and 24 h SPECT), 64Cu 48 h, 89Zr and 124I 7 days, 11C 2 h, 13N 0.5 h, "
        "15O 0.25 h, 82Rb 0.2 h. Nuclides left out keep these defaults.",
    )
    max_decay_half_lives: float = Field(
        5.0, gt=0, le=20, description="The same window, in half-lives, for a radionuclide "
        "not in max_decay_h (5: 3 % of the activity left)."
    )
    peak_radius_mm: float = Field(
        6.2035, gt=0, le=30, description="SUVpeak sphere radius in mm (6.2035: 1 cm3)."
    )
    mtv_fraction: float = Field(
        0.41, gt=0, lt=1, description="MTV threshold as a fraction of the lesion's SUVmax."
    )
    percist_mean_factor: float = Field(
        1.5, gt=0, description="PERCIST threshold: this x liver SUVmean + ..."
    )
    percist_sd_factor: float = Field(
        2.0, ge=0, description="... + this x liver SD."
    )
    shell_gap_mm: float = Field(
        5.0, ge=0, le=50, description="Background shell: distance from the lesion VOI (mm)."
    )
    shell_width_mm: float = Field(
        10.0, gt=0, le=50, description="Background shell: thickness (mm)."
    )
    shell_hot_factor: float | None = Field(
        1.5, gt=1, description="Shell leaves out voxels above this x liver SUVmean (hot "
        "organs); null: keep them.",
    )
    shell_min_suv: float = Field(
        0.1, ge=0, description="Shell leaves out voxels below this SUV (air outside the body)."
    )
    shell_min_liver_fraction: float = Field(
        0.02, ge=0, lt=1, description="Counts-only SPECT: the shell leaves out voxels below "
        "this x the liver mean (air; no liver: voxels <= 0)."
    )
    shell_min_ml: float = Field(
        1.0, ge=0, description="A shell smaller than this (ml) gives no tb_shell."
    )
    workers: int | None = Field(
        None, ge=1, le=256, description="Local worker processes (null: one per core)."
    )
    scheduler: str | None = Field(
        None, description="Address of a running dask.distributed scheduler (null: local "
        "workers; 'sync': in this process).",
    )
    lock_timeout: float = Field(
        600.0, ge=0, description="Seconds a quantify run waits for another one writing into "
        "the same output folder (its lock names its PID, host and start); 0: refuse at once.",
    )

    @field_validator("max_decay_h")
    @classmethod
    def _decay_windows(cls, value: dict[str, float]) -> dict[str, float]:
        bad = [f"{k}: {v}" for k, v in value.items()
               if not (k[:1].isdigit() and k[-1:].isalpha() and v > 0)]
        if bad:
            raise ValueError("keys are radionuclides, mass number first (18F, 68Ga, 99mTc), "
                             f"values hours > 0; got {', '.join(bad)}")
        return value

    @model_validator(mode="after")
    def _resolve_paths(self, info: ValidationInfo) -> QuantifyConfig:
        self.output = _resolve(self.output, _base_dir(info))
        return self


class ScoresConfig(_Section):
    """Rules of positivity, the modified Krenning score and NETPET (see nethelpers.scores)."""

    lesion_statistic: Literal["suv_max", "suv_peak"] = Field(
        "suv_max", description="Lesion value compared with the references."
    )
    reference_statistic: Literal["suv_mean", "suv_peak", "suv_max"] = Field(
        "suv_mean", description="Value of a reference region (liver, spleen, ...)."
    )
    positivity_reference: Literal["liver", "spleen", "blood_pool", "muscle"] = Field(
        "liver", description="A lesion is positive when above this region's reference value ..."
    )
    positivity_factor: float = Field(
        1.0, gt=0, description="... times this factor (protocol: uptake higher than liver)."
    )
    krenning_faint: float = Field(
        0.5, gt=0, lt=1, description="Krenning 1 (faint) when the lesion <= this x liver."
    )
    netpet_similar: float = Field(
        0.2, ge=0, description="NETPET P3 when FDG/SSTR intensity lies in [1/(1+x), 1+x]."
    )
    netpet_modality_pairing: Literal["same", "any"] = Field(
        "same", description="Pair the FDG scan with the SSTR scan of the same modality first."
    )


class IndexTestConfig(_Section):
    """The index test of the accuracy analyses: whose calls, and how equivocal calls count."""

    reader: str = Field(
        "R1", min_length=1, description="Reader whose visual calls are the index test."
    )
    equivocal: Literal["negative", "positive", "exclude"] = Field(
        "negative", description="How an equivocal (indeterminate) call counts in the main "
        "analysis: negative, positive or exclude.",
    )
    equivocal_sensitivity: Literal["negative", "positive", "exclude"] = Field(
        "positive", description="The rule of the sensitivity analysis reported beside it."
    )


class DemoConfig(_Section):
    """Size and seed of the synthetic demo study."""

    patients: int = Field(60, ge=1, le=10000, description="Number of synthetic patients.")
    seed: int = Field(0, ge=0, description="Seed of the demo generator.")


class Params(_Section):
    """All parameters of a study and its report (the content of one YAML file)."""

    study: StudyConfig
    report: ReportConfig = Field(default_factory=ReportConfig)
    stats: StatsConfig = Field(default_factory=StatsConfig)
    quantify: QuantifyConfig = Field(default_factory=QuantifyConfig)
    scores: ScoresConfig = Field(default_factory=ScoresConfig)
    index_test: IndexTestConfig = Field(default_factory=IndexTestConfig)
    reading: ReadingConfig = Field(default_factory=ReadingConfig)
    readers: ReadersConfig = Field(default_factory=ReadersConfig)
    registration: RegistrationConfig = Field(default_factory=RegistrationConfig)
    response: ResponseConfig = Field(default_factory=ResponseConfig)
    review: ReviewConfig = Field(default_factory=ReviewConfig)
    demo: DemoConfig = Field(default_factory=DemoConfig)
    vocabulary: Vocabulary = Field(default_factory=Vocabulary)

    @model_validator(mode="before")
    @classmethod
    def _defaults_resolve_too(cls, data: Any) -> Any:
        # Sections left out are still built through validation, so their default paths
        # resolve against the file's directory like explicit ones.
        if isinstance(data, dict):
            data = dict(data)
            for key in ("study", "report", "stats", "quantify", "scores", "index_test", "demo",
                        "vocabulary"):
                if data.get(key) is None:
                    data[key] = {}
        return data

    @model_validator(mode="after")
    def _outputs_named_after_the_study(self, info: ValidationInfo) -> Params:
        base = _base_dir(info)
        if self.report.output is None:
            self.report.output = _resolve(Path("../reports") / self.study.name, base)
        if self.quantify.output is None:
            self.quantify.output = _resolve(Path("../derived") / self.study.name, base)
        return self


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The model of a field annotation: ``X`` or the items of ``list[X]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    args = getattr(annotation, "__args__", ())
    if getattr(annotation, "__origin__", None) is list and args:
        return _model_of(args[0])
    return None


def _section_and_field(loc: tuple[Any, ...]) -> tuple[type[BaseModel] | None, Any]:
    """Return the model holding the last key of ``loc`` and that key's field (or None)."""
    model: type[BaseModel] = Params
    keys = [part for part in loc if not isinstance(part, int)]
    for part in keys[:-1]:
        field = model.model_fields.get(str(part))
        inner = _model_of(getattr(field, "annotation", None))
        if inner is None:
            return None, None
        model = inner
    return model, model.model_fields.get(str(keys[-1])) if keys else None


def _describe(error: dict[str, Any]) -> str:
    """One readable line for one pydantic error: key path, problem, what is allowed."""
    loc = tuple(error["loc"])
    key = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
    key = key or "(top level)"
    model, field = _section_and_field(loc)
    if error["type"] == "extra_forbidden":
        allowed = ", ".join(model.model_fields) if model is not None else "?"
        return f"{key}: unknown key; allowed keys here: {allowed}"
    value = error.get("input")
    shown = "" if isinstance(value, dict) else f" (got {value!r})"
    message = error["msg"].removeprefix("Value error, ")
    expected = f"; expected: {field.description}" if getattr(field, "description", None) else ""
    return f"{key}: {message}{shown}{expected}"


def _format_errors(source: str, exc: ValidationError) -> str:
    lines = [_describe(err) for err in exc.errors(include_url=False)]
    return f"{source}: invalid parameters:\n  " + "\n  ".join(lines)


def _read_yaml(path: Path) -> dict[str, Any]:
    """Read a YAML mapping, turning every failure into a :class:`ParamsError`."""
    if not path.is_file():
        raise ParamsError(f"{path}: parameters file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ParamsError(
            f"{path}: the file must hold a mapping with sections study, report, stats, "
            f"quantify, scores, index_test, demo, vocabulary; got {type(data).__name__}"
        )
    return data


def load_params(path: str | Path) -> Params:
    """Read and validate a parameters YAML file.

    Parameters
    ----------
    path : str or Path
        The YAML file, e.g. ``parameters/demo.yaml``.

    Returns
    -------
    Params
        Validated parameters; every path is absolute (see the module docstring).

    Raises
    ------
    ParamsError
        The file is missing, is not YAML, has unknown keys or bad values. The message names
        the file, each offending key path and what is allowed.
    """
    path = Path(path).expanduser().resolve()
    data = _read_yaml(path)
    return params_from_dict(data, base_dir=path.parent, source=str(path))


def params_from_dict(
    data: dict[str, Any], base_dir: str | Path | None = None, source: str = "<parameters>"
) -> Params:
    """Validate parameters given as a mapping.

    Parameters
    ----------
    data : dict
        The same structure as a YAML file.
    base_dir : str or Path, optional
        Folder relative paths resolve against; default: the current directory.
    source : str
        Name used in error messages.

    Returns
    -------
    Params
        Validated parameters with absolute paths.

    Raises
    ------
    ParamsError
        On unknown keys or bad values.
    """
    base = Path(base_dir).resolve() if base_dir is not None else Path.cwd()
    try:
        return Params.model_validate(data, context={"base_dir": base})
    except ValidationError as exc:
        raise ParamsError(_format_errors(source, exc)) from None


def params_json_schema() -> dict[str, Any]:
    """JSON schema of a parameters file (pydantic's, draft 2020-12).

    Returns
    -------
    dict
        The schema; ``additionalProperties`` is false in every section.
    """
    schema = Params.model_json_schema(mode="validation")
    schema["title"] = "nethelpers parameters"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def write_json_schema(path: str | Path) -> Path:
    """Write :func:`params_json_schema` to ``path`` (for editors with YAML schema support).

    Parameters
    ----------
    path : str or Path
        Destination ``.json`` file.

    Returns
    -------
    Path
        The written file.
    """
    path = Path(path)
    path.write_text(json.dumps(params_json_schema(), indent=2) + "\n", encoding="utf-8")
    return path
