"""``--injection`` of ``nethelpers suv``: a full date-time or nothing.

A time alone ("10:10") could be on the scan day or the day before: FDG injected 7 h off
would be read 9.9 half-lives away and give SUVs of thousands. It is refused with the format
to use (exit 2, no traceback); a full date-time overrides the header, and the SUV follows
the decay law, checked here against the header's own injection time read with pydicom.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pydicom
import pytest

from nethelpers.cli import main


def _pet_folder(study):
    return study / "dicom" / "P001" / "P001-DOTATATE-PETCT" / "PT"


@pytest.mark.parametrize("text", ["10:10", "2025-01-09", "yesterday"])
def test_a_time_alone_is_refused_with_the_format(ideal_study, tmp_path, capsys, text):
    with pytest.raises(SystemExit) as info:
        main(["suv", str(_pet_folder(ideal_study)), "-o", str(tmp_path / "s.nii.gz"),
              "--injection", text])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument --injection: {text!r} is not a date and time" in err
    assert "YYYY-MM-DDTHH:MM" in err and "Traceback" not in err


def test_a_full_date_time_overrides_the_header(ideal_study, tmp_path, capsys):
    folder = _pet_folder(ideal_study)
    header = pydicom.dcmread(sorted(folder.iterdir())[0], stop_before_pixels=True)
    info = header.RadiopharmaceuticalInformationSequence[0]
    injected = datetime.strptime(str(info.RadiopharmaceuticalStartDateTime)[:14],
                                 "%Y%m%d%H%M%S")
    half_life = float(info.RadionuclideHalfLife)

    def factor(*extra: str) -> float:
        assert main(["suv", str(folder), "-o", str(tmp_path / "s.nii.gz"), *extra]) == 0
        return float(json.loads(capsys.readouterr().out)["factor"])

    same = factor("--injection", injected.isoformat())
    assert same == pytest.approx(factor(), rel=1e-9)
    # injected one half-life earlier: half the activity left at the scan, twice the SUV
    earlier = (injected - timedelta(seconds=half_life)).isoformat(sep=" ")
    assert factor("--injection", earlier) == pytest.approx(2 * same, rel=1e-6)
