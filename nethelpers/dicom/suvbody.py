"""Body size of the SUV rules: weight, height, sex and the normaliser of each norm.

Given values (the clinical record) win over the header's and are recorded; a stored SUV
(Philips CNTS factor, Units GML/CM2ML) is converted between norms by the ratio of the
normalisers, the header's body size for the scanner's norm (:mod:`nethelpers.dicom.bodysize`).
"""

from __future__ import annotations

from nethelpers.dicom.bodysize import NORMS, BodySizeError, Normaliser, normaliser
from nethelpers.dicom.errors import SuvError
from nethelpers.dicom.petheader import HeaderReader

__all__ = ["BodySize"]


class BodySize(HeaderReader):
    """The body size of one conversion (a part of the SUV rules)."""

    # -- body size -----------------------------------------------------------------------
    def body_overridden(self) -> bool:
        """Whether a weight, height or sex was given."""
        return any(v is not None for v in (self.o.weight_kg, self.o.height_m, self.o.sex))

    def timing_overridden(self) -> bool:
        """Whether a dose, injection time or half-life was given."""
        return any(v is not None for v in (self.o.dose_bq, self.o.injection, self.o.half_life_s))

    def weight_kg(self, header_only: bool = False) -> float:
        """The weight in kg: given, else PatientWeight (grams read as such)."""
        header = self.number("PatientWeight")
        if self.o.weight_kg is not None and not header_only:
            if header is not None and abs(header - self.o.weight_kg) > 1e-9 * header:
                message = f"weight {self.o.weight_kg:g} kg given overrides PatientWeight {header:g}"
                if message not in self.warnings:
                    self.warnings.append(message)
            self.prov["weight_source"] = "given"
            return float(self.o.weight_kg)
        if header is None or header <= 0:
            raise self.fail(
                "is missing or not positive: SUV needs the body weight",
                "PatientWeight",
                "pass the weight measured on the day (weight_kg= / --weight)",
            )
        if not header_only:
            self.prov["weight_source"] = "PatientWeight"
        if header > 1000.0:
            message = f"PatientWeight {header:g} read as grams ({header / 1000:g} kg)"
            if message not in self.warnings:
                self.warnings.append(message)
            return header / 1000.0
        return header

    def height_m(self, header_only: bool = False) -> float | None:
        """The height in m: given, else PatientSize (cm read as such); None if absent."""
        if self.o.height_m is not None and not header_only:
            self.prov["height_source"] = "given"
            return float(self.o.height_m)
        header = self.number("PatientSize")
        if header is None or header <= 0:
            return None
        if not header_only:
            self.prov["height_source"] = "PatientSize"
        if header > 3.0:
            if 50.0 <= header <= 250.0:
                message = f"PatientSize {header:g} read as cm ({header / 100:g} m)"
                if message not in self.warnings:
                    self.warnings.append(message)
                return header / 100.0
            raise self.fail(f"{header:g} m is not a height", "PatientSize",
                            "pass the height in m (height_m= / --height)")
        return header

    def sex(self, header_only: bool = False) -> str | None:
        """The sex (M, F, O): given, else PatientSex; None if absent."""
        if self.o.sex is not None and not header_only:
            return self.o.sex.upper()
        return self.text("PatientSex")

    def normaliser(self, norm: str, header_only: bool = False) -> Normaliser:
        """The normaliser of ``norm``.

        ``header_only`` ignores the given body-size values (what the scanner used for an SUV
        it stored).
        """
        weight = self.weight_kg(header_only)
        height = self.height_m(header_only) if norm != "bw" else None
        sex = self.sex(header_only) if norm not in ("bw", "bsa") else None
        try:
            result = normaliser(norm, weight, height, sex)
        except BodySizeError as exc:
            keyword = {"height": "PatientSize", "sex": "PatientSex"}.get(exc.needs)
            fix = {
                "height": "pass the height (height_m= / --height)",
                "sex": "pass the sex (sex= / --sex M|F|O)",
            }.get(exc.needs, "choose another norm")
            raise self.fail(str(exc), keyword, fix) from None
        if not header_only:
            self.prov.update(weight_kg=weight, height_m=height, sex=sex)
        self.warnings.extend(w for w in result.warnings if w not in self.warnings)
        return result

    def record_body_size(self, norm: str) -> None:
        """Record the header's body size behind a scanner-computed SUV, when it is there.

        The SUV needs no body size of ours then (the scanner applied its own), but SUL and
        the other norms do: without it the provenance says why (``body_size``).
        """
        try:
            found = self.normaliser(norm)
        except SuvError as exc:
            self.prov["body_size"] = f"not in the header ({exc.tag or ''} {exc.problem})".strip()
            return
        self.prov.update(normaliser=found.value, normaliser_unit=found.unit,
                         normaliser_formula=found.formula)

    def ratio(self, source: str, target: str) -> float:
        """Factor turning a stored SUV normalised by ``source`` into one by ``target``.

        The stored SUV used the header's body size (as the scanner computed it); the target
        uses the given body size when there is one.
        """
        if source == target and not self.body_overridden():
            self.prov.setdefault("normaliser_formula", NORMS[target][0])
            self.record_body_size(target)
            return 1.0
        a = self.normaliser(source, header_only=True)
        b = self.normaliser(target)
        self.prov.update(normaliser=b.value, normaliser_unit=b.unit,
                         normaliser_formula=b.formula, source_normaliser=a.value)
        self.branch.append(f"converted from {source} (header body size) to {target}: "
                           f"× {b.value:g} / {a.value:g}")
        return b.value / a.value
